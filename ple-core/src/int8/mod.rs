//! The int8 backend: integer-only inference, bit-exact on every target.
//!
//! No floating-point value or instruction appears anywhere on this path, so a model runs on a
//! Cortex-M0 without an FPU and gives the same bits on x86_64, aarch64, Cortex-M and RISC-V.
//! Every operation is an integer operation whose result Rust defines exactly; rounding is
//! always "to nearest, halves towards +infinity" done with an added half and an arithmetic
//! shift; nothing depends on evaluation order except wrapping sums, which are
//! order-independent. The model is produced on the host by `ple_codegen::quantise`, which
//! chooses every scale below.
//!
//! # Input
//!
//! A record is given in sparse form ([`Int8Input`]): for each categorical field, the index of
//! its category in the field's vocabulary ([`NO_CATEGORY`] for a value outside it, whose
//! one-hot block is all zeros), and each numeric column as an `i32` in the fixed-point format
//! `round(raw * 2^numeric_frac_bits)` ([`SparseLayer::numeric_frac_bits`], chosen at
//! quantisation time so that four times the largest training value still fits). For Census,
//! values up to 99,999 (capital gains) give 12 fraction bits, finer than the two decimals of
//! `instance_weight`.
//!
//! # First layer (level 0): gathered rows and folded normalisation
//!
//! The first layers of all level-0 experts and the level-0 gates are one layer of `N` outputs
//! (138 for the default model), evaluated at once ([`SparseLayer`]). Its pre-activation for
//! output `o` is, in units `u_o` chosen per output,
//!
//! `acc_o = (G_o << category_shift_o) + D_o + bias_o`
//!
//! - `G_o` is the sum of the `i8` weights of the selected category of every field. Each
//!   category's weights for all `N` outputs are one contiguous row; rows follow each other with
//!   no padding (the table alone is padded at its end to a multiple of 4 bytes, see
//!   [`category_weights_len`]), so the sum is a gather of at most 29 rows read a 32-bit word at
//!   a time. It is accumulated in 16-bit lanes, two outputs per 32-bit word with `SXTAB16` on
//!   Arm DSP cores (see [`kernels`]), which is exact because a model has at most
//!   [`kernels::ROWS_PER_I16_CHUNK`] fields. The weight scale `s_o = u_o << category_shift_o`
//!   is per output channel and symmetric.
//! - `D_o` is the numeric part with the normalisation `(x - mean) / std` folded in: the
//!   `1/std` goes into the weights, the mean into the bias. Each numeric input is first
//!   rescaled by its own [`Requant`] to an `i16` column value `q_j` (saturating at
//!   `±32767`, which the calibration places at twice the training range), and
//!   `D_o = sum_j q_j * w_oj` with `i16` weights: pairs of multiply-accumulates with `SMLAD`.
//! - The quantiser chooses `u_o` so that `|G_o << shift| <= 2^28`, `sum_j |w_oj| <= 2^15` and
//!   `|bias_o| <= 2^29`; the constructor checks these bounds, which prove that `acc_o` never
//!   overflows `i32`.
//! - Everything else an output needs (bias, category shift, requantisation) is one 12-byte
//!   `#[repr(C)]` record per output ([`SparseOutput`]), so the per-output step reads a single
//!   stream of parameters besides its numeric weights.
//! - The per-output step is compiled for a fixed number of numeric pairs (one to eight), so
//!   that the dot product is a straight run of `SMLAD`s; [`Int8Model::predict`] picks the
//!   step at run time, [`Int8Model::predict_fixed`] at compile time (a firmware built for one
//!   model links one step only).
//! - On Arm cores with the DSP extension (feature `arm-dsp`) the two hot loops are Thumb-2
//!   assembly functions that use every register: the gather in passes of four weight words
//!   (eight `SXTAB16` accumulators, each pass storing its sixteen sums unpacked), and the
//!   step of the expert outputs with the numeric words held in registers (`SMLAD`, `SMMUL`,
//!   `USAT`; 30 instructions an output for Census). So are the dense ReLU layers after the
//!   first and the gate mixing (the `arm_dsp` module). They compute exactly what the portable
//!   code computes, which their twin tests check under `qemu-arm`; an output whose
//!   requantisation needs the 64-bit form (a right shift below 33) is handed back to Rust.
//!
//! # Activations, requantisation, gates
//!
//! Activations after a ReLU are non-negative `i16` values (`0..=32767`) with one scale per
//! tensor, calibrated on training rows (their largest value maps to 32767). A dense layer
//! multiplies them by `i8` weights with per-output-channel symmetric scales and accumulates in
//! `i32` (exact for up to [`MAX_DENSE_INPUTS`] inputs; with the packed kernels, two
//! multiply-accumulates per `SMLAD`: a word of four weights split by `SXTB16` into two lane
//! pairs, against the input packed in the same lane order), adds an `i32` bias (saturating), and
//! requantises with a fixed-point multiplier ([`Requant`]: a 31-bit mantissa and a right
//! shift, one 32x32->64 multiply, as in TFLite and CMSIS-NN) to the next activation scale,
//! clamping to `0..=32767` (the ReLU) or, for gate and output layers, to a Q16 logit.
//!
//! A gate's softmax takes Q16 logits to Q15 weights through a fixed-point `exp` (a 65-entry
//! table of `2^(-i/64)` with linear interpolation, see [`fixed`]) and one 32-bit division per
//! weight; the sigmoid needs one 32-bit division. No 64-bit division is left on the path
//! (a Cortex-M has none in hardware). Experts mixed by a gate may have different activation scales;
//! each gate weight is first multiplied by the expert's scale relative to the largest of
//! them (the Q15 `mix_ratios`), so the mixed output's scale is that largest scale and needs no
//! calibration of its own.
//!
//! # Output
//!
//! Each task's logit is a Q16 `i32` (use it to rank, e.g. for AUC) and its probability a Q15
//! `u16` (`32768 == 1.0`) from an integer sigmoid. The task gates' weights are available as
//! Q15 values too.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
mod arm_dsp;
mod batch;
mod dense;
mod first_layer;
pub mod fixed;
mod forward;
pub mod kernels;
mod mix;
mod model;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use batch::{Int8BatchError, Int8Rows};
pub use fixed::{Requant, LOGIT_FRAC_BITS, Q15_ONE};
pub use model::{
    category_weights_len, scratch_words, DenseLayers, Int8Kernel, Int8Model, SparseLayer,
    SparseOutput,
};

use core::fmt;

/// The category index that stands for "not in the vocabulary" (an all-zero one-hot block),
/// as for the other backends.
pub use crate::input::UNKNOWN_CATEGORY as NO_CATEGORY;

/// The widest input a dense (non-first) layer may have: `512 * 32767 * 128 < 2^31`, so its
/// `i32` accumulator cannot overflow.
pub const MAX_DENSE_INPUTS: u32 = 512;

/// Bound on `|G_o << category_shift_o|` in the first layer.
pub const CATEGORY_SUM_LIMIT: i64 = 1 << 28;
/// Bound on `sum_j |w_oj|` of the first layer's numeric weights of one output.
pub const NUMERIC_WEIGHT_SUM_LIMIT: i64 = 1 << 15;
/// Bound on `|bias_o|` of the first layer.
pub const FIRST_BIAS_LIMIT: i64 = 1 << 29;

/// One record for the int8 path, in sparse form (see the [module documentation](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Int8Input<'a> {
    /// Numeric columns in feature-spec order, each `round(raw * 2^numeric_frac_bits)`.
    pub numeric: &'a [i32],
    /// Per categorical field, the category's index in the field's vocabulary, or
    /// [`NO_CATEGORY`].
    pub categories: &'a [u16],
}

/// Which array of an int8 model a validation error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Array {
    /// [`SparseLayer::numeric_prescale`].
    NumericPrescale,
    /// [`SparseLayer::category_weights`].
    CategoryWeights,
    /// [`SparseLayer::numeric_weights`].
    NumericWeights,
    /// [`SparseLayer::outputs`] (its length).
    SparseOutputs,
    /// [`SparseOutput::bias`].
    FirstBias,
    /// [`SparseOutput::category_shift`].
    CategoryShift,
    /// [`SparseOutput::multiplier`] and [`SparseOutput::right_shift`].
    FirstRequant,
    /// [`DenseLayers::weights`].
    DenseWeights,
    /// [`DenseLayers::bias`].
    DenseBias,
    /// [`DenseLayers::requant`].
    DenseRequant,
    /// The gate mixing ratios.
    MixRatios,
}

/// Why an int8 model view cannot be made, or a prediction cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Error {
    /// The shape itself is invalid.
    Shape(crate::ShapeError),
    /// The input layout does not describe the shape's input.
    Layout,
    /// An array has the wrong length.
    Length {
        array: Int8Array,
        expected: usize,
        found: usize,
    },
    /// An entry is out of its documented range (a requantisation multiplier, a shift, a
    /// mixing ratio, or a first-layer bound that proves no overflow).
    Range { array: Int8Array, index: usize },
    /// A dense layer is wider than [`MAX_DENSE_INPUTS`].
    LayerTooWide { inputs: u32 },
    /// More categorical fields than the 16-bit category sums hold exactly
    /// ([`kernels::ROWS_PER_I16_CHUNK`]).
    TooManyFields { fields: usize },
    /// The input has `found` numeric values instead of `expected`.
    NumericInputs { expected: usize, found: usize },
    /// The input has `found` categories instead of `expected` (one per field).
    CategoricalInputs { expected: usize, found: usize },
    /// The category of `field` is neither in its vocabulary (of `size` entries) nor
    /// [`NO_CATEGORY`].
    CategoryOutOfRange {
        field: usize,
        category: u16,
        size: usize,
    },
    /// The scratch buffer holds fewer than `needed` words.
    Scratch { needed: usize, found: usize },
    /// An output buffer has the wrong length.
    Output { expected: usize, found: usize },
}

impl fmt::Display for Int8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Int8Error::Shape(e) => write!(f, "invalid shape: {e}"),
            Int8Error::Layout => f.write_str("the input layout does not match the shape's input"),
            Int8Error::Length {
                array,
                expected,
                found,
            } => {
                write!(f, "{array:?} has {found} entries, expected {expected}")
            }
            Int8Error::Range { array, index } => write!(f, "{array:?}[{index}] is out of range"),
            Int8Error::LayerTooWide { inputs } => {
                write!(
                    f,
                    "a dense layer has {inputs} inputs, more than {MAX_DENSE_INPUTS}"
                )
            }
            Int8Error::TooManyFields { fields } => write!(
                f,
                "{fields} categorical fields, more than {}",
                kernels::ROWS_PER_I16_CHUNK
            ),
            Int8Error::NumericInputs { expected, found } => {
                write!(f, "input has {found} numeric values, expected {expected}")
            }
            Int8Error::CategoricalInputs { expected, found } => {
                write!(f, "input has {found} categories, expected {expected}")
            }
            Int8Error::CategoryOutOfRange {
                field,
                category,
                size,
            } => write!(
                f,
                "category {category} of field {field} is outside its vocabulary of {size}"
            ),
            Int8Error::Scratch { needed, found } => {
                write!(f, "scratch has {found} words, needs {needed}")
            }
            Int8Error::Output { expected, found } => {
                write!(f, "output buffer has {found} entries, expected {expected}")
            }
        }
    }
}

impl From<crate::ShapeError> for Int8Error {
    fn from(e: crate::ShapeError) -> Self {
        Int8Error::Shape(e)
    }
}
