//! The int8 model view: borrowed arrays, their validation, and the scratch layout.

use super::fixed::Requant;
use super::kernels::ROWS_PER_I16_CHUNK;
use super::{
    Int8Array, Int8Error, CATEGORY_SUM_LIMIT, FIRST_BIAS_LIMIT, MAX_DENSE_INPUTS,
    NUMERIC_WEIGHT_SUM_LIMIT,
};
use crate::input::{InputLayout, UNKNOWN_CATEGORY};
use crate::shape::{Block, PleShape};

/// The level-0 first layer of every expert and gate, evaluated as one sparse layer.
///
/// Outputs are ordered as the experts of [`PleShape::layers`] (each with `expert_units[0]`
/// outputs), then the level-0 task gates, then the level-0 shared gate (if the shape has
/// more than one level). See the [module documentation](super) for the arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SparseLayer<'a> {
    /// Numeric inputs are `round(raw * 2^numeric_frac_bits)`.
    pub numeric_frac_bits: u8,
    /// Per numeric column, the rescaling of its input to the `i16` column value.
    pub numeric_prescale: &'a [Requant],
    /// Numeric columns and vocabulary sizes of the input (the same value the f32 and f16
    /// models use); category rows follow fields and vocabularies in order.
    pub layout: InputLayout<'a>,
    /// `[rows, outputs]` weights, one row per category of every field, rows back to back,
    /// followed by zero bytes up to a multiple of 4 ([`category_weights_len`]): kernels
    /// read rows a 32-bit word at a time, and the last word of a row may run into the next.
    pub category_weights: &'a [i8],
    /// `[outputs, numeric rounded up to even]` numeric weights (padding 0).
    pub numeric_weights: &'a [i16],
    /// `[outputs]` bias, category shift and requantisation of every output, in one record
    /// each so that the per-output step reads one stream.
    pub outputs: &'a [SparseOutput],
}

/// What the first layer needs per output besides its weights (see the [module
/// documentation](super)): `acc = (G << category_shift) + D + bias`, then
/// `Requant::new(multiplier, right_shift)` to the activation or Q16 logit.
///
/// `#[repr(C)]`, 12 bytes: the same record serves C callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(C)]
pub struct SparseOutput {
    /// Bias in accumulator units (`|bias| <= FIRST_BIAS_LIMIT`).
    pub bias: i32,
    /// Mantissa of the requantisation from accumulator units ([`Requant::multiplier`]).
    pub multiplier: i32,
    /// Right shift of the requantisation ([`Requant::right_shift`]).
    pub right_shift: u8,
    /// Left shift of the category sum into accumulator units.
    pub category_shift: u8,
}

impl SparseOutput {
    /// The requantisation from accumulator units.
    #[inline(always)]
    pub const fn requant(&self) -> Requant {
        Requant::new(self.multiplier, self.right_shift)
    }
}

/// Length of [`SparseLayer::category_weights`] for `rows` category rows of `outputs` weights.
///
/// The gather reads every row a word at a time, up to `outputs` rounded up to a multiple of 4,
/// so the table extends past the start of its last row by that rounded-up width (and its
/// length is a multiple of 4): `rows * outputs` alone would leave the last row's final word
/// outside the table whenever `outputs` is not a multiple of 4.
pub const fn category_weights_len(rows: usize, outputs: usize) -> usize {
    if rows == 0 {
        return 0;
    }
    ((rows - 1) * outputs + outputs.div_ceil(4) * 4).div_ceil(4) * 4
}

/// Every other dense layer, in the order of [`PleShape::layers`] without the layers of the
/// [`SparseLayer`]: weights `[outputs, inputs]` concatenated, then biases and
/// requantisations per output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseLayers<'a> {
    /// Weights of every layer, each `[outputs, inputs]` row-major.
    pub weights: &'a [i8],
    /// Biases (in units of input scale times weight scale) of every output of every layer.
    pub bias: &'a [i32],
    /// Requantisation of every output of every layer (to an activation or a Q16 logit).
    pub requant: &'a [Requant],
}

/// The kernels a model view runs with, chosen once when the view is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Kernel {
    /// Plain scalar loops.
    Scalar,
    /// The lane-packed kernels with the DSP primitives emulated in portable Rust.
    PortablePacked,
    /// The lane-packed kernels with Arm DSP instructions.
    #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
    ArmDsp,
    /// AVX2 kernels (an AVX-512BW category gather with the `avx512` feature) when the CPU has
    /// them, checked at run time with the `std` feature and from the compile-time
    /// `target_feature`s otherwise; the scalar loops on a CPU without AVX2.
    #[cfg(target_arch = "x86_64")]
    X86Simd,
}

impl Int8Kernel {
    /// The fastest kernel available on the target this crate is compiled for.
    pub const fn best() -> Self {
        #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
        {
            Int8Kernel::ArmDsp
        }
        #[cfg(target_arch = "x86_64")]
        {
            Int8Kernel::X86Simd
        }
        #[cfg(not(any(all(target_arch = "arm", feature = "arm-dsp"), target_arch = "x86_64")))]
        {
            Int8Kernel::Scalar
        }
    }
}

/// An int8 PLE model borrowing its arrays (typically `static`s emitted by `ple-codegen`).
#[derive(Clone, Copy, Debug)]
pub struct Int8Model<'a> {
    pub(super) shape: PleShape<'a>,
    pub(super) sparse: SparseLayer<'a>,
    pub(super) dense: DenseLayers<'a>,
    pub(super) mix_ratios: &'a [u16],
    pub(super) kernel: Int8Kernel,
    /// Where a prediction's scratch regions lie: fixed by the shape and the input layout, so
    /// computed once here rather than on every prediction.
    pub(super) layout: ScratchLayout,
}

/// Number of outputs of the sparse first layer.
pub(super) const fn sparse_outputs(shape: &PleShape<'_>) -> usize {
    let first = match shape.expert_units.first() {
        Some(&u) => u as usize,
        None => 0,
    };
    shape.total_experts() as usize * first + gate_outputs(shape, 0)
}

/// Outputs of the gates of `level`: task gates, then the shared gate if there is one.
pub(super) const fn gate_outputs(shape: &PleShape<'_>, level: u32) -> usize {
    let shared = if shape.has_shared_gate(level) {
        shape.total_experts() as usize
    } else {
        0
    };
    shape.tasks as usize * shape.task_gate_width() as usize + shared
}

/// Number of mixing ratios: one per (gate, expert mixed) pair over all levels.
pub(super) const fn mix_ratio_count(shape: &PleShape<'_>) -> usize {
    let mut total = 0;
    let mut level = 0;
    while level < shape.levels {
        total += gate_outputs(shape, level);
        level += 1;
    }
    total
}

const fn max_units(shape: &PleShape<'_>) -> usize {
    let (a, b) = (max_of(shape.expert_units), max_of(shape.tower_units));
    if a > b {
        a
    } else {
        b
    }
}

/// The largest entry of `units`, at least 1.
const fn max_of(mut units: &[u32]) -> usize {
    let mut max = 1;
    while let [first, rest @ ..] = units {
        if *first as usize > max {
            max = *first as usize;
        }
        units = rest;
    }
    max
}

/// Offsets (in `i32` words) of the scratch regions of a prediction.
#[derive(Clone, Copy, Debug)]
pub(super) struct ScratchLayout {
    pub sparse: usize,
    pub packed: usize,
    pub rows: usize,
    pub numeric: usize,
    pub experts: usize,
    pub ping: usize,
    pub pong: usize,
    pub gate_logits: usize,
    pub gate_weights: usize,
    pub mixed: [usize; 2],
    pub mixed_len: usize,
    pub end: usize,
}

impl ScratchLayout {
    pub const fn of(shape: &PleShape<'_>, numeric: usize, fields: usize) -> Self {
        let experts_total = shape.total_experts() as usize;
        let width = shape.expert_width() as usize;
        let sparse = 0;
        let packed = sparse + sparse_outputs(shape);
        let rows = packed + packed_words(shape);
        let numeric_at = rows + fields;
        let experts = numeric_at + numeric.div_ceil(2);
        let separate_experts = shape.expert_units.len() > 1 || shape.levels > 1;
        let ping = experts
            + if separate_experts {
                experts_total * width
            } else {
                0
            };
        let pong = ping + max_units(shape);
        let gate_logits = pong + max_units(shape);
        let gate_weights = gate_logits + if shape.levels > 1 { experts_total } else { 0 };
        let mixed0 = gate_weights + experts_total;
        let slots = shape.tasks as usize + if shape.levels > 1 { 1 } else { 0 };
        let mixed_len = slots * width;
        let mixed1 = mixed0 + mixed_len;
        let end = mixed1 + if shape.levels > 1 { mixed_len } else { 0 };
        ScratchLayout {
            sparse,
            packed,
            rows,
            numeric: numeric_at,
            experts,
            ping,
            pong,
            gate_logits,
            gate_weights,
            mixed: [mixed0, mixed1],
            mixed_len,
            end,
        }
    }
}

/// Words of the region that holds the first layer's category sums packed as `i16` pairs
/// (two words per four outputs) and, once the first layer is done, the input of each dense
/// layer packed the same way ([`super::kernels::pack_activations`]).
pub(super) const fn packed_words(shape: &PleShape<'_>) -> usize {
    let sums = sparse_outputs(shape).div_ceil(4) * 2;
    let inputs = super::kernels::packed_input_words(max_units(shape));
    if sums > inputs {
        sums
    } else {
        inputs
    }
}

/// Scratch words (`i32`) a prediction needs for a model of `shape` with `numeric` numeric
/// columns and `fields` categorical fields; usable in a `static` array's length.
pub const fn scratch_words(shape: &PleShape<'_>, numeric: usize, fields: usize) -> usize {
    ScratchLayout::of(shape, numeric, fields).end
}

fn check_len(array: Int8Array, expected: usize, found: usize) -> Result<(), Int8Error> {
    if expected == found {
        Ok(())
    } else {
        Err(Int8Error::Length {
            array,
            expected,
            found,
        })
    }
}

fn check_requants(array: Int8Array, requants: &[Requant]) -> Result<(), Int8Error> {
    match requants.iter().position(|r| !r.is_valid()) {
        Some(index) => Err(Int8Error::Range { array, index }),
        None => Ok(()),
    }
}

/// Whether a layer is computed by the sparse first layer.
pub(super) fn is_sparse(block: Block) -> bool {
    matches!(
        block,
        Block::TaskExpert {
            level: 0,
            layer: 0,
            ..
        } | Block::SharedExpert {
            level: 0,
            layer: 0,
            ..
        } | Block::TaskGate { level: 0, .. }
            | Block::SharedGate { level: 0 }
    )
}

impl<'a> Int8Model<'a> {
    /// Checks every array against the shape and every bound the arithmetic relies on, and
    /// makes the view with [`Int8Kernel::best`].
    pub fn new(
        shape: PleShape<'a>,
        sparse: SparseLayer<'a>,
        dense: DenseLayers<'a>,
        mix_ratios: &'a [u16],
    ) -> Result<Self, Int8Error> {
        shape.validate()?;
        validate_sparse(&shape, &sparse)?;
        validate_dense(&shape, &dense)?;
        check_len(
            Int8Array::MixRatios,
            mix_ratio_count(&shape),
            mix_ratios.len(),
        )?;
        if let Some(index) = mix_ratios.iter().position(|&r| r > super::Q15_ONE) {
            return Err(Int8Error::Range {
                array: Int8Array::MixRatios,
                index,
            });
        }
        Ok(Int8Model {
            shape,
            sparse,
            dense,
            mix_ratios,
            kernel: Int8Kernel::best(),
            layout: ScratchLayout::of(
                &shape,
                sparse.layout.numeric as usize,
                sparse.layout.fields(),
            ),
        })
    }

    /// The view [`new`](Self::new) returned for these exact arguments, without checking them
    /// again: for a caller that keeps proof of an earlier check (the C ABI's validated
    /// handle) and must not pay the checks' O(outputs) scan on every prediction.
    ///
    /// Not `unsafe`: every kernel bounds-checks its reads (the Arm DSP gather checks each row
    /// once), so arrays that were never checked give wrong results or an error, never
    /// undefined behaviour; but the no-overflow proof of the arithmetic is lost.
    pub(crate) const fn from_validated_parts(
        shape: PleShape<'a>,
        sparse: SparseLayer<'a>,
        dense: DenseLayers<'a>,
        mix_ratios: &'a [u16],
    ) -> Self {
        Int8Model {
            shape,
            sparse,
            dense,
            mix_ratios,
            kernel: Int8Kernel::best(),
            layout: ScratchLayout::of(
                &shape,
                sparse.layout.numeric as usize,
                sparse.layout.fields(),
            ),
        }
    }

    /// The same model running with other kernels (results are identical).
    pub const fn with_kernel(self, kernel: Int8Kernel) -> Self {
        Int8Model { kernel, ..self }
    }

    /// The kernels this view runs with.
    pub const fn kernel(&self) -> Int8Kernel {
        self.kernel
    }

    /// The network's shape.
    pub const fn shape(&self) -> &PleShape<'a> {
        &self.shape
    }

    /// The first layer.
    pub const fn sparse(&self) -> &SparseLayer<'a> {
        &self.sparse
    }

    /// Number of numeric input columns.
    pub const fn numeric_inputs(&self) -> usize {
        self.sparse.layout.numeric as usize
    }

    /// Number of categorical fields.
    pub const fn fields(&self) -> usize {
        self.sparse.layout.fields()
    }

    /// Scratch words a prediction needs.
    pub const fn scratch_words(&self) -> usize {
        self.layout.end
    }

    /// Number of gate weights [`predict_with_gates`](Self::predict_with_gates) reports:
    /// for every level, every task gate's weights (its own experts, then the shared ones).
    pub const fn gate_weight_count(&self) -> usize {
        self.shape.levels as usize
            * self.shape.tasks as usize
            * self.shape.task_gate_width() as usize
    }
}

fn validate_sparse(shape: &PleShape<'_>, sparse: &SparseLayer<'_>) -> Result<(), Int8Error> {
    let outputs = sparse_outputs(shape);
    let numeric = sparse.numeric_prescale.len();
    check_requants(Int8Array::NumericPrescale, sparse.numeric_prescale)?;
    if sparse.layout.validate_for(shape).is_err() || UNKNOWN_CATEGORY != u16::MAX {
        return Err(Int8Error::Layout);
    }
    check_len(
        Int8Array::NumericPrescale,
        sparse.layout.numeric as usize,
        numeric,
    )?;
    let rows = shape.input_dim as usize - numeric;
    check_len(
        Int8Array::CategoryWeights,
        category_weights_len(rows, outputs),
        sparse.category_weights.len(),
    )?;
    let numeric_stride = numeric.div_ceil(2) * 2;
    check_len(
        Int8Array::NumericWeights,
        outputs * numeric_stride,
        sparse.numeric_weights.len(),
    )?;
    check_len(Int8Array::SparseOutputs, outputs, sparse.outputs.len())?;
    if let Some(index) = sparse.outputs.iter().position(|o| !o.requant().is_valid()) {
        return Err(Int8Error::Range {
            array: Int8Array::FirstRequant,
            index,
        });
    }
    // Bounds that prove the first layer's accumulator stays inside i32.
    // The packed kernels sum category rows in 16-bit lanes.
    if sparse.layout.fields() > ROWS_PER_I16_CHUNK {
        return Err(Int8Error::TooManyFields {
            fields: sparse.layout.fields(),
        });
    }
    let fields = sparse.layout.fields() as i64;
    let category_max = fields * 128;
    for (index, output) in sparse.outputs.iter().enumerate() {
        let shift = output.category_shift;
        if shift > 28 || category_max << shift > CATEGORY_SUM_LIMIT {
            return Err(Int8Error::Range {
                array: Int8Array::CategoryShift,
                index,
            });
        }
    }
    if let Some(index) = sparse
        .outputs
        .iter()
        .position(|o| i64::from(o.bias).abs() > FIRST_BIAS_LIMIT)
    {
        return Err(Int8Error::Range {
            array: Int8Array::FirstBias,
            index,
        });
    }
    if numeric_stride > 0 {
        for (index, row) in sparse.numeric_weights.chunks(numeric_stride).enumerate() {
            let sum: i64 = row.iter().map(|&w| i64::from(w).abs()).sum();
            if sum > NUMERIC_WEIGHT_SUM_LIMIT {
                return Err(Int8Error::Range {
                    array: Int8Array::NumericWeights,
                    index,
                });
            }
        }
    }
    Ok(())
}

fn validate_dense(shape: &PleShape<'_>, dense: &DenseLayers<'_>) -> Result<(), Int8Error> {
    let (mut weights, mut outputs) = (0usize, 0usize);
    for layer in shape.layers().filter(|l| !is_sparse(l.block)) {
        if layer.inputs > MAX_DENSE_INPUTS {
            return Err(Int8Error::LayerTooWide {
                inputs: layer.inputs,
            });
        }
        weights += layer.inputs as usize * layer.outputs as usize;
        outputs += layer.outputs as usize;
    }
    check_len(Int8Array::DenseWeights, weights, dense.weights.len())?;
    check_len(Int8Array::DenseBias, outputs, dense.bias.len())?;
    check_len(Int8Array::DenseRequant, outputs, dense.requant.len())?;
    check_requants(Int8Array::DenseRequant, dense.requant)
}
