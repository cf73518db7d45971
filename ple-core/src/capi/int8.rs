//! The int8 model ([`crate::int8`]) in the C ABI: a `#[repr(C)]` struct of pointers and
//! lengths mirroring [`Int8Model`]'s arrays, a validating check, and two predict functions.
//!
//! Validation is [`Int8Model::new`] itself: the bounds it checks are what proves the integer
//! arithmetic cannot overflow. [`ple_predict_int8`] runs it on every call; since that scan
//! of every entry is about a third of a Census prediction, [`handle`] offers the same
//! prediction on a handle checked once ([`ple_int8_handle_init`],
//! [`ple_predict_int8_validated`]). The outputs are the integer ones of the Rust API: Q16
//! logits and Q15 probabilities (`32768 == 1.0`) per task, and optionally the task gates'
//! Q15 weights. A caller may omit the logits or the probabilities (not both); the omitted
//! ones are then computed in `tasks` extra words at the end of the scratch buffer, which
//! [`ple_int8_scratch_len`] includes, so nothing is kept on the stack that grows with the
//! model.

use super::{
    check_no_overlap, check_ptr, layout_from, shape_from, slice, slice_mut, status,
    PleInputLayoutC, PleShapeC, Span, PLE_ERR_CATEGORY, PLE_ERR_GATES_LENGTH, PLE_ERR_INPUT_LAYOUT,
    PLE_ERR_INPUT_LENGTH, PLE_ERR_NULL, PLE_ERR_OUTPUT_LENGTH, PLE_ERR_RANGE,
    PLE_ERR_SCRATCH_LENGTH, PLE_ERR_SHAPE, PLE_ERR_WEIGHTS_LENGTH,
};

/// An `extern "C"` int8 predict function: its first argument `$source: $source_ty`, which
/// `$resolve` turns into the checked model view and the spans no output may overlap, then
/// the buffers of every int8 prediction (see [`ple_predict_int8`]).
macro_rules! int8_predict_fn {
    ($(#[$doc:meta])* $name:ident($source:ident: $source_ty:ty) via $resolve:path) => {
        $(#[$doc])*
        #[no_mangle]
        #[allow(clippy::too_many_arguments)]
        pub unsafe extern "C" fn $name(
            $source: $source_ty,
            numeric: *const i32,
            numeric_len: usize,
            categories: *const u16,
            categories_len: usize,
            scratch: *mut i32,
            scratch_len: usize,
            logits: *mut i32,
            logits_len: usize,
            probabilities: *mut u16,
            probabilities_len: usize,
            gates: *mut u16,
            gates_len: usize,
        ) -> i32 {
            let call = Buffers {
                numeric: (numeric, numeric_len),
                categories: (categories, categories_len),
                scratch: (scratch, scratch_len),
                logits: (logits, logits_len),
                probabilities: (probabilities, probabilities_len),
                gates: (gates, gates_len),
            };
            // SAFETY: forwarded from the caller.
            status(unsafe { $resolve($source) }.and_then(|(view, read_only)| {
                // SAFETY: forwarded from the caller.
                unsafe { predict_view(&view, &read_only, call) }
            }))
        }
    };
}

mod handle;

pub use handle::{
    ple_int8_handle_init, ple_predict_int8_validated, PleInt8Handle, PLE_ERR_HANDLE,
    PLE_INT8_HANDLE_WORDS,
};

use crate::int8::{
    DenseLayers, Int8Error, Int8Input, Int8Model, Requant, SparseLayer, SparseOutput,
};
use crate::shape::PleShape;

/// An int8 model: the shape, the input layout, and the arrays of
/// [`SparseLayer`](crate::int8::SparseLayer), [`DenseLayers`](crate::int8::DenseLayers) and
/// the gate mixing ratios, each a pointer and a length. `ple_requant` is [`Requant`] and
/// `ple_sparse_output` is [`SparseOutput`], both `#[repr(C)]`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PleModelInt8 {
    pub shape: PleShapeC,
    pub layout: PleInputLayoutC,
    /// Numeric inputs are `round(raw * 2^numeric_frac_bits)`.
    pub numeric_frac_bits: u8,
    /// One per numeric column.
    pub numeric_prescale: *const Requant,
    pub numeric_prescale_len: usize,
    pub category_weights: *const i8,
    pub category_weights_len: usize,
    pub numeric_weights: *const i16,
    pub numeric_weights_len: usize,
    /// Bias, shifts and requantisation of each first-layer output.
    pub sparse_outputs: *const SparseOutput,
    pub sparse_outputs_len: usize,
    pub dense_weights: *const i8,
    pub dense_weights_len: usize,
    pub dense_bias: *const i32,
    pub dense_bias_len: usize,
    pub dense_requant: *const Requant,
    pub dense_requant_len: usize,
    /// Q15, one per (gate, mixed expert) pair over all levels.
    pub mix_ratios: *const u16,
    pub mix_ratios_len: usize,
}

/// The status code of an int8 error.
pub const fn int8_error_code(e: Int8Error) -> i32 {
    match e {
        Int8Error::Shape(_) | Int8Error::LayerTooWide { .. } => PLE_ERR_SHAPE,
        Int8Error::Layout | Int8Error::TooManyFields { .. } => PLE_ERR_INPUT_LAYOUT,
        Int8Error::Length { .. } => PLE_ERR_WEIGHTS_LENGTH,
        Int8Error::Range { .. } => PLE_ERR_RANGE,
        Int8Error::NumericInputs { .. } | Int8Error::CategoricalInputs { .. } => {
            PLE_ERR_INPUT_LENGTH
        }
        Int8Error::CategoryOutOfRange { .. } => PLE_ERR_CATEGORY,
        Int8Error::Scratch { .. } => PLE_ERR_SCRATCH_LENGTH,
        Int8Error::Output { .. } => PLE_ERR_OUTPUT_LENGTH,
    }
}

/// The model's arrays as byte ranges, for the overlap check of the outputs.
type ModelSpans = [Span; 11];

/// # Safety
/// `ptr` and `len` as for [`slice`], after [`check_ptr`].
unsafe fn checked<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], i32> {
    check_ptr(ptr, len)?;
    // SAFETY: checked above; the extent is the caller's promise.
    Ok(unsafe { slice(ptr, len) })
}

/// A model struct's arrays as slices, before any check of their lengths or entries.
struct Parts<'a> {
    shape: PleShape<'a>,
    sparse: SparseLayer<'a>,
    dense: DenseLayers<'a>,
    mix_ratios: &'a [u16],
    spans: ModelSpans,
}

/// Reads the model struct at `model` by value (the caller may alias it with anything).
///
/// # Safety
/// `model` must be null or point to a model struct.
unsafe fn read_model(model: *const PleModelInt8) -> Result<PleModelInt8, i32> {
    check_ptr(model, 1)?;
    // SAFETY: non-null and aligned; that it points to a model struct is the caller's promise.
    Ok(unsafe { core::ptr::read(model) })
}

/// # Safety
/// The pointers of `m` must address as many values as their lengths say.
unsafe fn parts_of<'a>(m: &PleModelInt8) -> Result<Parts<'a>, i32> {
    // SAFETY (this block): every pointer and length is the caller's promise, as documented;
    // `checked` verifies what can be verified.
    let (shape, layout) = unsafe { (shape_from(&m.shape)?, layout_from(&m.layout)?) };
    let (prescale, category_weights, numeric_weights, sparse_outputs) = unsafe {
        (
            checked(m.numeric_prescale, m.numeric_prescale_len)?,
            checked(m.category_weights, m.category_weights_len)?,
            checked(m.numeric_weights, m.numeric_weights_len)?,
            checked(m.sparse_outputs, m.sparse_outputs_len)?,
        )
    };
    // SAFETY: as above.
    let (dense_weights, dense_bias, dense_requant, mix_ratios) = unsafe {
        (
            checked(m.dense_weights, m.dense_weights_len)?,
            checked(m.dense_bias, m.dense_bias_len)?,
            checked(m.dense_requant, m.dense_requant_len)?,
            checked(m.mix_ratios, m.mix_ratios_len)?,
        )
    };
    let spans = [
        Span::of(shape.expert_units.as_ptr(), shape.expert_units.len()),
        Span::of(shape.tower_units.as_ptr(), shape.tower_units.len()),
        Span::of(layout.vocab_sizes.as_ptr(), layout.vocab_sizes.len()),
        Span::of(prescale.as_ptr(), prescale.len()),
        Span::of(category_weights.as_ptr(), category_weights.len()),
        Span::of(numeric_weights.as_ptr(), numeric_weights.len()),
        Span::of(sparse_outputs.as_ptr(), sparse_outputs.len()),
        Span::of(dense_weights.as_ptr(), dense_weights.len()),
        Span::of(dense_bias.as_ptr(), dense_bias.len()),
        Span::of(dense_requant.as_ptr(), dense_requant.len()),
        Span::of(mix_ratios.as_ptr(), mix_ratios.len()),
    ];
    let sparse = SparseLayer {
        numeric_frac_bits: m.numeric_frac_bits,
        numeric_prescale: prescale,
        layout,
        category_weights,
        numeric_weights,
        outputs: sparse_outputs,
    };
    let dense = DenseLayers {
        weights: dense_weights,
        bias: dense_bias,
        requant: dense_requant,
    };
    Ok(Parts {
        shape,
        sparse,
        dense,
        mix_ratios,
        spans,
    })
}

/// The checked view of a model struct: every length and entry (O(outputs) work).
///
/// # Safety
/// The pointers of `m` must address as many values as their lengths say.
unsafe fn view_of<'a>(m: &PleModelInt8) -> Result<(Int8Model<'a>, ModelSpans), i32> {
    // SAFETY: forwarded from the caller.
    let p = unsafe { parts_of(m)? };
    let view = Int8Model::new(p.shape, p.sparse, p.dense, p.mix_ratios).map_err(int8_error_code)?;
    Ok((view, p.spans))
}

/// # Safety
/// `model` must be null or point to a model struct whose pointers address as many values as
/// their lengths say.
unsafe fn model_from<'a>(model: *const PleModelInt8) -> Result<(Int8Model<'a>, ModelSpans), i32> {
    // SAFETY: forwarded from the caller.
    unsafe { view_of(&read_model(model)?) }
}

/// Checks an int8 model struct: `PLE_OK`, or why it cannot run (`PLE_ERR_RANGE` for an entry
/// outside the bounds that prove the arithmetic exact, `PLE_ERR_WEIGHTS_LENGTH` for an array
/// of the wrong length).
///
/// # Safety
/// `model` must be null or point to a model struct whose pointers address as many values as
/// their lengths say.
#[no_mangle]
pub unsafe extern "C" fn ple_validate_int8(model: *const PleModelInt8) -> i32 {
    // SAFETY: forwarded from the caller.
    status(unsafe { model_from(model) })
}

/// `int32_t` words of scratch [`ple_predict_int8`] needs for any choice of outputs (the
/// engine's words plus one per task); 0 for a null or invalid model.
///
/// # Safety
/// As [`ple_validate_int8`].
#[no_mangle]
pub unsafe extern "C" fn ple_int8_scratch_len(model: *const PleModelInt8) -> usize {
    // SAFETY: forwarded from the caller.
    match unsafe { model_from(model) } {
        Ok((view, _)) => view.scratch_words() + view.shape().tasks as usize,
        Err(_) => 0,
    }
}

/// Number of gate weights [`ple_predict_int8`] reports; 0 for a null or invalid model.
///
/// # Safety
/// As [`ple_validate_int8`].
#[no_mangle]
pub unsafe extern "C" fn ple_int8_gates_len(model: *const PleModelInt8) -> usize {
    // SAFETY: forwarded from the caller.
    match unsafe { model_from(model) } {
        Ok((view, _)) => view.gate_weight_count(),
        Err(_) => 0,
    }
}

/// An optional output: null with length 0 means "not wanted".
fn wanted<T>((ptr, len): (*mut T, usize)) -> bool {
    !(ptr.is_null() && len == 0)
}

int8_predict_fn!(
    /// Predicts one record given as fixed-point numeric values (`round(raw *
    /// 2^numeric_frac_bits)`) and one category index per field (`PLE_UNKNOWN_CATEGORY` for an
    /// unseen value). Writes per task the Q16 logit into `logits` and the Q15 probability into
    /// `probabilities` (either may be null with length 0, not both), and, when `gates` is not
    /// null, the task gates' Q15 weights (`ple_int8_gates_len` of them). Returns `PLE_OK` or a
    /// negative status code; outputs are only written on success.
    ///
    /// # Safety
    /// Every pointer must be null or address as many values as its length says (the model's
    /// as for [`ple_validate_int8`]), and the outputs must be writable.
    ple_predict_int8(model: *const PleModelInt8) via model_from
);

/// The buffers of one prediction, as the caller passed them: pointer and length each.
struct Buffers {
    numeric: (*const i32, usize),
    categories: (*const u16, usize),
    scratch: (*mut i32, usize),
    logits: (*mut i32, usize),
    probabilities: (*mut u16, usize),
    gates: (*mut u16, usize),
}

/// Checks the buffers of a call against a checked model view and predicts.
///
/// # Safety
/// Every pointer of `call` must be null or address as many values as its length says, and
/// the outputs must be writable; `read_only` are the view's arrays and whatever else no
/// output may overlap.
unsafe fn predict_view(view: &Int8Model<'_>, read_only: &[Span], call: Buffers) -> Result<(), i32> {
    let Buffers {
        numeric,
        categories,
        scratch,
        logits,
        probabilities,
        gates,
    } = call;
    check_ptr(numeric.0, numeric.1)?;
    check_ptr(categories.0, categories.1)?;
    check_ptr(scratch.0, scratch.1)?;
    check_ptr(logits.0, logits.1)?;
    check_ptr(probabilities.0, probabilities.1)?;
    check_ptr(gates.0, gates.1)?;
    let (want_logits, want_probabilities) = (wanted(logits), wanted(probabilities));
    if !want_logits && !want_probabilities {
        return Err(PLE_ERR_NULL);
    }
    let tasks = view.shape().tasks as usize;
    if (want_logits && logits.1 != tasks) || (want_probabilities && probabilities.1 != tasks) {
        return Err(PLE_ERR_OUTPUT_LENGTH);
    }
    let want_gates = wanted(gates);
    if want_gates && gates.1 != view.gate_weight_count() {
        return Err(PLE_ERR_GATES_LENGTH);
    }
    let engine_words = view.scratch_words();
    let needed = if want_logits && want_probabilities {
        engine_words
    } else {
        engine_words + tasks
    };
    if scratch.1 < needed {
        return Err(PLE_ERR_SCRATCH_LENGTH);
    }
    let outputs = [
        Span::of(scratch.0, scratch.1),
        Span::of(logits.0, logits.1),
        Span::of(probabilities.0, probabilities.1),
        Span::of(gates.0, gates.1),
    ];
    let inputs = [
        Span::of(numeric.0, numeric.1),
        Span::of(categories.0, categories.1),
    ];
    check_no_overlap(&outputs, &[&inputs, read_only])?;
    // SAFETY: every pointer passed `check_ptr`, no output overlaps anything else, and the
    // extents are the caller's promise.
    let (numeric, categories, scratch, logits, probabilities, gates) = unsafe {
        (
            slice(numeric.0, numeric.1),
            slice(categories.0, categories.1),
            slice_mut(scratch.0, scratch.1),
            slice_mut(logits.0, logits.1),
            slice_mut(probabilities.0, probabilities.1),
            slice_mut(gates.0, gates.1),
        )
    };
    // An omitted output goes to the words after the engine's scratch.
    let Some((scratch, spare)) = scratch.split_at_mut_checked(engine_words) else {
        return Err(PLE_ERR_SCRATCH_LENGTH);
    };
    let input = Int8Input {
        numeric,
        categories,
    };
    let mut run = |logits: &mut [i32], probabilities: &mut [u16]| {
        if want_gates {
            view.predict_with_gates(&input, scratch, logits, probabilities, gates)
        } else {
            view.predict(&input, scratch, logits, probabilities)
        }
    };
    let spare = spare.get_mut(..tasks).unwrap_or_default();
    let result = match (want_logits, want_probabilities) {
        (true, true) => run(logits, probabilities),
        (true, false) => {
            let halves: &mut [u16] = bytemuck::try_cast_slice_mut(spare).unwrap_or_default();
            run(logits, halves.get_mut(..tasks).unwrap_or_default())
        }
        _ => run(spare, probabilities),
    };
    result.map_err(int8_error_code)
}
