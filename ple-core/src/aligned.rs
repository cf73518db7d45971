//! The first layer's weights on whole cache lines, for batches:
//! [`PleModel::with_aligned_first_layer`].
//!
//! The sparse first layer adds one weight row per input to a row's accumulators: 41 rows of
//! 138 values for the default model, nine 16-lane vectors a row, most of a batch row's work.
//! In the packed layout a row is `138 * 4 = 552` bytes long, so rows start at every multiple
//! of 8 bytes within a cache line and nearly every vector load straddles two lines. A load
//! that straddles takes the load port twice, which halves the kernel's speed.
//!
//! An aligned first layer is a copy of the bias and the weight rows in caller memory, as
//! `f32`, each row padded with zeros to a multiple of 16 values ([`ALIGNED_MULTIPLE`]) and
//! the first one at a 64-byte boundary: every 16-value load is then one whole line. An `f16`
//! model's weights are widened in the copy, exactly (every `f16` is an `f32`): its kernels
//! widen each weight before they use it anyway, so the `f32` kernels on the widened copy do
//! the same operations, without the conversions that took the ports the additions need (an
//! `f16` batch ran at two thirds of the `f32` speed). The padding columns compute
//! `0 + Σ 0 · x = 0` and are never read; the real columns go through exactly the operations
//! they go through on the packed rows, so the results are the same bit for bit.
//!
//! Only [`PleModel::predict_batch`] uses the copy (single rows read the packed weights: one
//! row does not pay for a copy). The copy is made once, when the model is set up, like a
//! runtime's weight reordering at session creation; it costs [`aligned_first_layer_len`]
//! `f32`s of memory.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use crate::error::PleError;
use crate::forward::Cursor;
use crate::model::PleModel;
use crate::packed::{level0_width, to_usize};
use crate::shape::PleShape;
use crate::weight::Weight;

/// An aligned row's length is a multiple of this many values (one 16-lane vector).
pub const ALIGNED_MULTIPLE: usize = 16;

/// Byte boundary of the first aligned row: one cache line.
const LINE: usize = 64;

/// `f32`s a buffer may need before its first 64-byte boundary.
pub(crate) const SLACK: usize = LINE / 4 - 1;

/// The part of `buffer` from its first 64-byte boundary on (an `f32` is never more than
/// [`SLACK`] values from one): the aligned first layer, and a batch tile's first layers,
/// whose stores then fill whole lines.
pub(crate) fn from_line(buffer: &mut [f32]) -> Option<&mut [f32]> {
    let skip = buffer.as_ptr().align_offset(LINE).min(SLACK);
    buffer.get_mut(skip..)
}

/// The width of an aligned row: the first layer's width rounded up to [`ALIGNED_MULTIPLE`].
pub const fn aligned_width(shape: &PleShape<'_>) -> usize {
    let width = level0_width(shape);
    let multiple = ALIGNED_MULTIPLE as u64;
    to_usize(width.div_ceil(multiple).saturating_mul(multiple))
}

/// `f32`s a buffer for [`PleModel::with_aligned_first_layer`] holds at least: the bias and
/// one row per input, [`aligned_width`] each, and room to start at a 64-byte boundary.
/// 0 for an invalid shape.
pub const fn aligned_first_layer_len(shape: &PleShape<'_>) -> usize {
    if shape.validate().is_err() {
        return 0;
    }
    let rows = shape.input_dim as usize + 1;
    rows.saturating_mul(aligned_width(shape))
        .saturating_add(SLACK)
}

/// The first layer of a model on whole cache lines, in `f32`: the bias and the weight
/// rows, `width` values apart (the layer's own width rounded up to [`ALIGNED_MULTIPLE`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AlignedLayer<'a> {
    pub(crate) w: &'a [f32],
    pub(crate) bias: &'a [f32],
    pub(crate) width: usize,
}

impl<'a, W: Weight> PleModel<'a, W> {
    /// The same model with a copy of its first layer in `buffer`, in `f32` (an `f16`
    /// model's weights widened, exactly), each weight row on whole 64-byte lines, which
    /// [`predict_batch`](Self::predict_batch) then reads (see the
    /// [module documentation](crate::aligned)). `buffer` holds at least
    /// [`aligned_first_layer_len`] values, or the result is [`PleError::AlignedLength`]; the
    /// probabilities are the same bit for bit with and without the copy.
    pub fn with_aligned_first_layer(self, buffer: &'a mut [f32]) -> Result<Self, PleError> {
        let shape = *self.shape();
        let width = level0_width(&shape);
        let width = usize::try_from(width).map_err(|_| PleError::AlignedLength)?;
        let stride = aligned_width(&shape);
        let inputs = shape.input_dim as usize;
        let len = inputs
            .checked_add(1)
            .and_then(|rows| rows.checked_mul(stride))
            .ok_or(PleError::AlignedLength)?;
        // A buffer of any address works: the copy starts at its first 64-byte boundary.
        let region = from_line(buffer)
            .and_then(|from| from.get_mut(..len))
            .ok_or(PleError::AlignedLength)?;
        let (w, bias) = Cursor {
            rest: self.weights(),
        }
        .layer(inputs, width)?;
        for (to, from) in region
            .chunks_exact_mut(stride.max(1))
            .zip(core::iter::once(bias).chain(w.chunks_exact(width.max(1))))
        {
            let (values, padding) = to.split_at_mut(width.min(to.len()));
            for (to, &from) in values.iter_mut().zip(from) {
                *to = from.to_f32();
            }
            padding.fill(0.0);
        }
        let region: &'a [f32] = region;
        let (bias, w) = region.split_at(stride.min(region.len()));
        Ok(self.with_aligned(AlignedLayer {
            w,
            bias,
            width: stride,
        }))
    }
}
