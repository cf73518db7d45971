//! The C ABI: plain `#[repr(C)]` structs a C program (or a generated header) fills in, and
//! `extern "C"` functions returning an `int32_t` status.
//!
//! The static library `libple_core.a` (crate `ple-core/capi`) exports these symbols, and
//! `ple-core/capi/include/ple_core.h` declares them. Every function checks its arguments
//! before it forms a Rust slice: null pointers with a non-zero length, misaligned pointers,
//! lengths too large to address, and output buffers that overlap each other or an input are
//! reported as errors, never undefined behaviour. What no function can check is that a
//! pointer really addresses as many values as its length says; that stays the caller's
//! promise, as with any C API.
//!
//! A pointer whose length is 0 may be null.
//!
//! The f32 and f16 models are one packed weight array each (`ple_model_f32`,
//! `ple_model_f16`), plus, optionally, the mean and std of each numeric column
//! (`numeric_mean`, `numeric_std`, both `layout.numeric` long): with them the model takes
//! raw numeric values and standardises them as the trainer did (see
//! [`crate::normalise`]); with both null it takes the values as given (weights with the
//! standardisation folded in, or values standardised by the caller). The int8 model
//! (`ple_model_int8`, [`PleModelInt8`]) mirrors the arrays of [`crate::int8::Int8Model`] and
//! has its own predict function with integer inputs and outputs.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

mod int8;

pub use int8::{
    int8_error_code, ple_int8_gates_len, ple_int8_handle_init, ple_int8_scratch_len,
    ple_predict_int8, ple_predict_int8_validated, ple_validate_int8, PleInt8Handle, PleModelInt8,
    PLE_ERR_HANDLE, PLE_INT8_HANDLE_WORDS,
};

use core::mem::size_of;

use half::f16;

use crate::error::PleError;
use crate::input::{Input, InputLayout};
use crate::kernels::{Detected, Kernels};
use crate::model::PleModel;
use crate::normalise::Standardisation;
use crate::packed;
use crate::shape::PleShape;
use crate::weight::Weight;

/// Success.
pub const PLE_OK: i32 = 0;
/// A required pointer is null (or a pointer with a non-zero length is).
pub const PLE_ERR_NULL: i32 = -1;
/// The network shape is invalid.
pub const PLE_ERR_SHAPE: i32 = -2;
/// The input layout does not describe the shape's input.
pub const PLE_ERR_INPUT_LAYOUT: i32 = -3;
/// The weight count differs from the packed length of the shape.
pub const PLE_ERR_WEIGHTS_LENGTH: i32 = -4;
/// The scratch buffer is shorter than `ple_scratch_len`.
pub const PLE_ERR_SCRATCH_LENGTH: i32 = -5;
/// An input has the wrong number of values or categories.
pub const PLE_ERR_INPUT_LENGTH: i32 = -6;
/// The probability buffer does not have one entry per task.
pub const PLE_ERR_OUTPUT_LENGTH: i32 = -7;
/// The gate buffer is not `ple_gates_len` long.
pub const PLE_ERR_GATES_LENGTH: i32 = -8;
/// A category index is outside its field's vocabulary (and not `PLE_UNKNOWN_CATEGORY`).
pub const PLE_ERR_CATEGORY: i32 = -9;
/// An input value is NaN or infinite.
pub const PLE_ERR_NON_FINITE: i32 = -10;
/// A canonical parameter buffer has the wrong length.
pub const PLE_ERR_CANONICAL_LENGTH: i32 = -11;
/// A pointer is not aligned for its type, or a length is too large to address.
pub const PLE_ERR_POINTER: i32 = -12;
/// An output buffer overlaps another buffer of the call.
pub const PLE_ERR_OVERLAP: i32 = -13;
/// An int8 model's entry is outside the bounds that make its integer arithmetic exact (a
/// requantisation multiplier or shift, a first-layer shift, bias or numeric weight sum, a
/// mixing ratio).
pub const PLE_ERR_RANGE: i32 = -14;
/// A model's numeric standardisation is invalid: a mean that is not finite, or a std that
/// is not finite and positive.
pub const PLE_ERR_STANDARDISATION: i32 = -15;

/// The shape of a network (see `ple_core::shape`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PleShapeC {
    pub input_dim: u32,
    pub tasks: u32,
    pub experts_per_task: u32,
    pub shared_experts: u32,
    pub levels: u32,
    /// `expert_layers` widths.
    pub expert_units: *const u32,
    pub expert_layers: u32,
    /// `tower_layers` widths (may be null when 0).
    pub tower_units: *const u32,
    pub tower_layers: u32,
}

/// The input layout: `numeric` numeric columns, then `fields` one-hot blocks.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PleInputLayoutC {
    pub numeric: u32,
    /// `fields` vocabulary sizes (may be null when 0).
    pub vocab_sizes: *const u16,
    pub fields: u32,
}

/// A model with `f32` weights in the packed layout.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PleModelF32 {
    pub shape: PleShapeC,
    pub layout: PleInputLayoutC,
    pub weights: *const f32,
    pub weights_len: usize,
    /// Mean of each numeric column (`layout.numeric` values), or null together with
    /// `numeric_std` for a model that takes the numeric values as given.
    pub numeric_mean: *const f32,
    /// Standard deviation of each numeric column (`layout.numeric` values), or null
    /// together with `numeric_mean`.
    pub numeric_std: *const f32,
}

/// A model with `f16` weights (IEEE binary16 bit patterns) in the packed layout.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PleModelF16 {
    pub shape: PleShapeC,
    pub layout: PleInputLayoutC,
    pub weights: *const u16,
    pub weights_len: usize,
    /// As in [`PleModelF32`] (the tables are `f32` at every precision).
    pub numeric_mean: *const f32,
    /// As in [`PleModelF32`].
    pub numeric_std: *const f32,
}

/// The status code of an error.
pub const fn error_code(e: PleError) -> i32 {
    match e {
        PleError::Shape(_) => PLE_ERR_SHAPE,
        PleError::InputLayout => PLE_ERR_INPUT_LAYOUT,
        PleError::WeightsLength => PLE_ERR_WEIGHTS_LENGTH,
        PleError::CanonicalLength => PLE_ERR_CANONICAL_LENGTH,
        PleError::ScratchLength => PLE_ERR_SCRATCH_LENGTH,
        PleError::InputLength => PLE_ERR_INPUT_LENGTH,
        PleError::OutputLength => PLE_ERR_OUTPUT_LENGTH,
        PleError::GatesLength => PLE_ERR_GATES_LENGTH,
        PleError::CategoryOutOfRange { .. } => PLE_ERR_CATEGORY,
        PleError::NonFiniteInput { .. } => PLE_ERR_NON_FINITE,
        PleError::Standardisation => PLE_ERR_STANDARDISATION,
        // The C API makes no aligned first layer; the buffer is caller memory like a scratch.
        PleError::AlignedLength => PLE_ERR_SCRATCH_LENGTH,
    }
}

/// A byte range `[start, end)` of one argument, for the overlap check.
#[derive(Clone, Copy)]
struct Span(usize, usize);

impl Span {
    fn of<T>(ptr: *const T, len: usize) -> Span {
        let start = ptr as usize;
        Span(
            start,
            start.saturating_add(len.saturating_mul(size_of::<T>())),
        )
    }

    fn overlaps(self, other: Span) -> bool {
        self.0 < self.1 && other.0 < other.1 && self.0 < other.1 && other.0 < self.1
    }
}

/// `PLE_ERR_OVERLAP` when an output overlaps a later output or any span of `inputs`.
fn check_no_overlap(outputs: &[Span], inputs: &[&[Span]]) -> Result<(), i32> {
    for (i, out) in outputs.iter().enumerate() {
        let clash = outputs
            .iter()
            .skip(i + 1)
            .chain(inputs.iter().copied().flatten())
            .any(|other| out.overlaps(*other));
        if clash {
            return Err(PLE_ERR_OVERLAP);
        }
    }
    Ok(())
}

/// The status code a C function returns for a result.
fn status<T>(result: Result<T, i32>) -> i32 {
    match result {
        Ok(_) => PLE_OK,
        Err(code) => code,
    }
}

/// Checks what `slice::from_raw_parts` requires of a pointer and a length, short of the
/// memory's extent. A pointer to one struct is checked with a length of 1.
fn check_ptr<T>(ptr: *const T, len: usize) -> Result<(), i32> {
    if len == 0 {
        return Ok(());
    }
    if ptr.is_null() {
        return Err(PLE_ERR_NULL);
    }
    if !(ptr as usize).is_multiple_of(core::mem::align_of::<T>())
        || len > isize::MAX as usize / size_of::<T>().max(1)
    {
        return Err(PLE_ERR_POINTER);
    }
    Ok(())
}

/// # Safety
/// `ptr` must address `len` values (when `len > 0`) that live for `'a` and are not written
/// meanwhile; [`check_ptr`] must have passed.
unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if len == 0 {
        &[]
    } else {
        // SAFETY: non-null, aligned and of addressable size (`check_ptr`); extent and
        // lifetime are the caller's promise.
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }
}

/// # Safety
/// As [`slice`], and the values must be writable and not aliased by any other slice in use.
unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize) -> &'a mut [T] {
    if len == 0 {
        &mut []
    } else {
        // SAFETY: as `slice`; the caller has checked that no other argument overlaps it.
        unsafe { core::slice::from_raw_parts_mut(ptr, len) }
    }
}

/// # Safety
/// The pointers of `shape` must address as many values as their counts say.
unsafe fn shape_from<'a>(shape: &PleShapeC) -> Result<PleShape<'a>, i32> {
    let (eu, el) = (shape.expert_units, shape.expert_layers as usize);
    let (tu, tl) = (shape.tower_units, shape.tower_layers as usize);
    check_ptr(eu, el)?;
    check_ptr(tu, tl)?;
    // SAFETY: checked above; the extent is the caller's promise.
    let (expert_units, tower_units) = unsafe { (slice(eu, el), slice(tu, tl)) };
    Ok(PleShape {
        input_dim: shape.input_dim,
        tasks: shape.tasks,
        experts_per_task: shape.experts_per_task,
        shared_experts: shape.shared_experts,
        levels: shape.levels,
        expert_units,
        tower_units,
    })
}

/// # Safety
/// The pointers of `layout` must address as many values as their counts say.
unsafe fn layout_from<'a>(layout: &PleInputLayoutC) -> Result<InputLayout<'a>, i32> {
    let fields = layout.fields as usize;
    check_ptr(layout.vocab_sizes, fields)?;
    // SAFETY: checked above; the extent is the caller's promise.
    let vocab_sizes = unsafe { slice(layout.vocab_sizes, fields) };
    Ok(InputLayout {
        numeric: layout.numeric,
        vocab_sizes,
    })
}

/// The parts of both model structs.
struct PartsC<'m, W> {
    shape: &'m PleShapeC,
    layout: &'m PleInputLayoutC,
    weights: (*const W, usize),
    numeric_mean: *const f32,
    numeric_std: *const f32,
}

trait ModelC {
    type W: Weight;
    fn parts(&self) -> PartsC<'_, Self::W>;
}

impl ModelC for PleModelF32 {
    type W = f32;
    fn parts(&self) -> PartsC<'_, f32> {
        PartsC {
            shape: &self.shape,
            layout: &self.layout,
            weights: (self.weights, self.weights_len),
            numeric_mean: self.numeric_mean,
            numeric_std: self.numeric_std,
        }
    }
}

impl ModelC for PleModelF16 {
    type W = f16;
    fn parts(&self) -> PartsC<'_, f16> {
        PartsC {
            shape: &self.shape,
            layout: &self.layout,
            // `f16` is `repr(transparent)` over `u16`: the same bits, size and alignment.
            weights: (self.weights.cast(), self.weights_len),
            numeric_mean: self.numeric_mean,
            numeric_std: self.numeric_std,
        }
    }
}

/// Byte ranges of a model's arrays, for the overlap check of the outputs.
type ModelSpansF = [Span; 3];

/// The standardisation tables of a model struct: none when both pointers are null (or there
/// are no numeric columns); `PLE_ERR_NULL` when only one is.
///
/// # Safety
/// Non-null pointers must address `numeric` values that live for `'a`.
unsafe fn standardisation_from<'a>(
    mean: *const f32,
    std: *const f32,
    numeric: usize,
) -> Result<Option<Standardisation<'a>>, i32> {
    if numeric == 0 || (mean.is_null() && std.is_null()) {
        return Ok(None);
    }
    check_ptr(mean, numeric)?;
    check_ptr(std, numeric)?;
    // SAFETY: checked above; the extent is the caller's promise.
    let (mean, std) = unsafe { (slice(mean, numeric), slice(std, numeric)) };
    Standardisation::new(mean, std)
        .map(Some)
        .map_err(error_code)
}

/// # Safety
/// `model` must be null or point to a model struct whose pointers address as many values
/// as their counts say.
unsafe fn model_from<'a, M: ModelC>(
    model: *const M,
) -> Result<(PleModel<'a, M::W>, ModelSpansF), i32> {
    check_ptr(model, 1)?;
    // SAFETY: non-null and aligned; that it points to a model struct is the caller's promise.
    let m = unsafe { &*model };
    let parts = m.parts();
    // SAFETY: the struct's pointers are the caller's promise, as documented.
    let (shape, layout) = unsafe { (shape_from(parts.shape)?, layout_from(parts.layout)?) };
    let (weights, len) = parts.weights;
    check_ptr(weights, len)?;
    // SAFETY: checked above.
    let weights = unsafe { slice(weights, len) };
    let mut model = PleModel::new(shape, layout, weights).map_err(error_code)?;
    let numeric = layout.numeric as usize;
    // SAFETY: the struct's pointers are the caller's promise, as documented.
    let standardisation =
        unsafe { standardisation_from(parts.numeric_mean, parts.numeric_std, numeric)? };
    let mut spans = [Span::of(weights.as_ptr(), weights.len()); 3];
    if let Some(st) = standardisation {
        model = model.with_standardisation(st).map_err(error_code)?;
        spans[1] = Span::of(st.mean().as_ptr(), st.len());
        spans[2] = Span::of(st.std().as_ptr(), st.len());
    }
    Ok((model, spans))
}

/// The arguments of one prediction.
struct Call {
    input: (*const f32, usize),
    categories: Option<(*const u16, usize)>,
    scratch: (*mut f32, usize),
    probabilities: (*mut f32, usize),
    gates: (*mut f32, usize),
}

/// # Safety
/// Every pointer must address as many values as its length says (the model's as for
/// [`model_from`]); the output buffers must be writable.
unsafe fn predict<M: ModelC>(model: *const M, call: Call) -> Result<(), i32>
where
    Detected: Kernels<M::W>,
{
    // SAFETY: forwarded from the caller.
    let (model, [weights, mean, std]) = unsafe { model_from(model)? };
    let categories = call.categories.unwrap_or((core::ptr::null(), 0));
    check_ptr(call.input.0, call.input.1)?;
    check_ptr(categories.0, categories.1)?;
    check_ptr(call.scratch.0, call.scratch.1)?;
    check_ptr(call.probabilities.0, call.probabilities.1)?;
    check_ptr(call.gates.0, call.gates.1)?;
    let outputs = [
        Span::of(call.scratch.0, call.scratch.1),
        Span::of(call.probabilities.0, call.probabilities.1),
        Span::of(call.gates.0, call.gates.1),
    ];
    let inputs = [
        Span::of(call.input.0, call.input.1),
        Span::of(categories.0, categories.1),
        weights,
        mean,
        std,
    ];
    check_no_overlap(&outputs, &[&inputs])?;
    // SAFETY: every pointer passed `check_ptr`, no output overlaps anything else, and the
    // extents are the caller's promise.
    let (values, cats, scratch, probabilities, gates) = unsafe {
        (
            slice(call.input.0, call.input.1),
            slice(categories.0, categories.1),
            slice_mut(call.scratch.0, call.scratch.1),
            slice_mut(call.probabilities.0, call.probabilities.1),
            slice_mut(call.gates.0, call.gates.1),
        )
    };
    let input = match call.categories {
        Some(_) => Input::Sparse {
            numeric: values,
            categories: cats,
        },
        None => Input::Dense(values),
    };
    let gates = if call.gates.0.is_null() && call.gates.1 == 0 {
        None
    } else {
        Some(gates)
    };
    model
        .predict_using(&Detected::new(), input, scratch, probabilities, gates)
        .map_err(error_code)
}

/// Checks a model struct: `PLE_OK`, or why it cannot run.
///
/// # Safety
/// `model` must be null or point to a model struct whose pointers address as many values
/// as their counts say.
#[no_mangle]
pub unsafe extern "C" fn ple_validate_f32(model: *const PleModelF32) -> i32 {
    // SAFETY: forwarded from the caller.
    status(unsafe { model_from(model) })
}

/// [`ple_validate_f32`] for an f16 model.
///
/// # Safety
/// As [`ple_validate_f32`].
#[no_mangle]
pub unsafe extern "C" fn ple_validate_f16(model: *const PleModelF16) -> i32 {
    // SAFETY: forwarded from the caller.
    status(unsafe { model_from(model) })
}

/// Applies a size function to a C shape; 0 for a null pointer or an invalid shape.
///
/// # Safety
/// As [`ple_scratch_len`].
unsafe fn shape_size(shape: *const PleShapeC, size: fn(&PleShape<'_>) -> usize) -> usize {
    if check_ptr(shape, 1).is_err() {
        return 0;
    }
    // SAFETY: non-null and aligned; the rest is the caller's promise.
    match unsafe { shape_from(&*shape) } {
        Ok(s) => size(&s),
        Err(_) => 0,
    }
}

/// Number of `float`s of scratch a prediction needs; 0 for a null or invalid shape.
///
/// # Safety
/// `shape` must be null or point to a shape whose pointers address as many values as their
/// counts say.
#[no_mangle]
pub unsafe extern "C" fn ple_scratch_len(shape: *const PleShapeC) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { shape_size(shape, packed::scratch_len) }
}

/// Number of gate weights a prediction reports; 0 for a null or invalid shape.
///
/// # Safety
/// As [`ple_scratch_len`].
#[no_mangle]
pub unsafe extern "C" fn ple_gates_len(shape: *const PleShapeC) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { shape_size(shape, packed::gates_len) }
}

/// Number of packed weights of a shape; 0 for a null or invalid shape.
///
/// # Safety
/// As [`ple_scratch_len`].
#[no_mangle]
pub unsafe extern "C" fn ple_packed_len(shape: *const PleShapeC) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { shape_size(shape, packed::packed_len) }
}

/// An `extern "C"` predict function over `$model`: the model, the input arguments `$arg`
/// (the call's `input` and `categories` are made of them), then the three output buffers of
/// every prediction.
macro_rules! predict_fn {
    (
        $(#[$doc:meta])*
        $name:ident($model:ty; $($arg:ident: $arg_ty:ty),+)
            => input $input:expr, categories $categories:expr
    ) => {
        $(#[$doc])*
        #[no_mangle]
        #[allow(clippy::too_many_arguments)]
        pub unsafe extern "C" fn $name(
            model: *const $model,
            $($arg: $arg_ty,)+
            scratch: *mut f32,
            scratch_len: usize,
            probabilities: *mut f32,
            probabilities_len: usize,
            gates: *mut f32,
            gates_len: usize,
        ) -> i32 {
            let call = Call {
                input: $input,
                categories: $categories,
                scratch: (scratch, scratch_len),
                probabilities: (probabilities, probabilities_len),
                gates: (gates, gates_len),
            };
            // SAFETY: forwarded from the caller.
            status(unsafe { predict(model, call) })
        }
    };
}

/// The dense and the sparse predict function of one model type.
macro_rules! predict_fns {
    ($dense:ident, $sparse:ident, $model:ty) => {
        predict_fn!(
            /// Predicts one dense row: `input_len` values in, one probability per task out,
            /// and, when `gates` is not null, the gate weights. Returns `PLE_OK` or an error.
            ///
            /// # Safety
            /// Every pointer must be null or address as many values as its length says (the
            /// model's as for `ple_validate_*`), and the outputs must be writable.
            $dense($model; input: *const f32, input_len: usize)
                => input (input, input_len), categories None
        );

        predict_fn!(
            /// Predicts one sparse row: the numeric values and one category index per field
            /// (`PLE_UNKNOWN_CATEGORY` for an unseen value). Otherwise as the dense function.
            ///
            /// # Safety
            /// As the dense function.
            $sparse(
                $model;
                numeric: *const f32,
                numeric_len: usize,
                categories: *const u16,
                categories_len: usize
            ) => input (numeric, numeric_len), categories Some((categories, categories_len))
        );
    };
}

predict_fns!(ple_predict_dense_f32, ple_predict_sparse_f32, PleModelF32);
predict_fns!(ple_predict_dense_f16, ple_predict_sparse_f16, PleModelF16);

/// A static, NUL-terminated English description of a status code.
#[no_mangle]
pub extern "C" fn ple_error_message(code: i32) -> *const core::ffi::c_char {
    let text: &'static core::ffi::CStr = match code {
        PLE_OK => c"ok",
        PLE_ERR_NULL => c"a required pointer is null",
        PLE_ERR_SHAPE => c"invalid network shape",
        PLE_ERR_INPUT_LAYOUT => c"input layout does not match the shape",
        PLE_ERR_WEIGHTS_LENGTH => c"weight count differs from the packed length",
        PLE_ERR_SCRATCH_LENGTH => c"scratch buffer is too short",
        PLE_ERR_INPUT_LENGTH => c"input length differs from the input layout",
        PLE_ERR_OUTPUT_LENGTH => c"probability buffer length differs from the task count",
        PLE_ERR_GATES_LENGTH => c"gate buffer length differs from ple_gates_len",
        PLE_ERR_CATEGORY => c"category index outside its vocabulary",
        PLE_ERR_NON_FINITE => c"input value is not finite",
        PLE_ERR_CANONICAL_LENGTH => c"canonical parameter count is wrong",
        PLE_ERR_POINTER => c"misaligned pointer or unaddressable length",
        PLE_ERR_OVERLAP => c"an output buffer overlaps another buffer",
        PLE_ERR_RANGE => c"an int8 model entry is out of its range",
        PLE_ERR_HANDLE => c"not a handle ple_int8_handle_init filled, or its model changed",
        PLE_ERR_STANDARDISATION => {
            c"numeric standardisation invalid: a mean not finite or a std not finite and positive"
        }
        _ => c"unknown status code",
    };
    text.as_ptr()
}
