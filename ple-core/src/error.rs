//! The one error type of the inference API.

use core::fmt;

use crate::shape::ShapeError;

/// Why a model view could not be made, or why a prediction was refused.
///
/// A small `Copy` value so that it costs nothing to return on a microcontroller; the C ABI maps
/// every variant to a distinct error code (see [`crate::capi`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PleError {
    /// The network shape itself is invalid.
    Shape(ShapeError),
    /// The input layout does not describe the model input: the numeric count plus the
    /// vocabulary sizes do not add up to the shape's `input_dim`, or a vocabulary is empty.
    InputLayout,
    /// The weight slice does not hold exactly [`packed_len`](crate::packed_len) values.
    WeightsLength,
    /// A canonical parameter slice given to a pack function does not hold exactly
    /// [`PleShape::parameter_count`](crate::PleShape::parameter_count) values.
    CanonicalLength,
    /// The scratch slice is shorter than [`scratch_len`](crate::scratch_len).
    ScratchLength,
    /// A dense input is not `input_dim` long, or a sparse input does not have one numeric
    /// value per numeric column and one category per categorical field.
    InputLength,
    /// The probability slice does not have one entry per task.
    OutputLength,
    /// The gate slice is not [`gates_len`](crate::gates_len) long.
    GatesLength,
    /// A category index is neither below its field's vocabulary size nor
    /// [`UNKNOWN_CATEGORY`](crate::UNKNOWN_CATEGORY). Carries the field's position.
    CategoryOutOfRange {
        /// 0-based position of the categorical field.
        field: u32,
    },
    /// An input value is NaN or infinite. Carries its position in the (dense or numeric)
    /// input slice.
    NonFiniteInput {
        /// 0-based position of the value.
        index: u32,
    },
    /// The numeric standardisation does not fit the model: its mean and std tables do not
    /// both have one value per numeric column, a mean is not finite, or a std is not finite
    /// and positive.
    Standardisation,
    /// The buffer of an aligned first layer is shorter than
    /// [`aligned_first_layer_len`](crate::aligned_first_layer_len).
    AlignedLength,
}

impl From<ShapeError> for PleError {
    fn from(e: ShapeError) -> Self {
        PleError::Shape(e)
    }
}

impl fmt::Display for PleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PleError::Shape(e) => write!(f, "invalid network shape: {e}"),
            PleError::InputLayout => f.write_str(
                "input layout does not match the shape: numeric columns plus vocabulary sizes \
                 must equal input_dim and every vocabulary must be non-empty",
            ),
            PleError::WeightsLength => {
                f.write_str("weight slice length differs from packed_len(shape)")
            }
            PleError::CanonicalLength => {
                f.write_str("canonical parameter slice length differs from the parameter count")
            }
            PleError::ScratchLength => {
                f.write_str("scratch slice is shorter than scratch_len(shape)")
            }
            PleError::InputLength => {
                f.write_str("input slice length differs from the input layout")
            }
            PleError::OutputLength => {
                f.write_str("probability slice length differs from the task count")
            }
            PleError::GatesLength => f.write_str("gate slice length differs from gates_len(shape)"),
            PleError::CategoryOutOfRange { field } => {
                write!(
                    f,
                    "category index of field {field} is outside its vocabulary"
                )
            }
            PleError::NonFiniteInput { index } => write!(f, "input value {index} is not finite"),
            PleError::AlignedLength => f.write_str(
                "aligned first layer buffer is shorter than aligned_first_layer_len(shape)",
            ),
            PleError::Standardisation => f.write_str(
                "numeric standardisation does not fit: one finite mean and one finite, positive \
                 std per numeric column are needed",
            ),
        }
    }
}
