//! Rows in lanes, NEON: the dense layer of a batch tile on vectors of its [`LANES`] rows.
//!
//! Value `c` of every row of the tile is one vector of `LANES / 4` registers. Each output
//! keeps one such vector accumulator, which starts at `0 + bias` and takes one fused
//! multiply-add per input in input order with the weight broadcast: per row, exactly the
//! operations of the one-row kernels (`layer.rs`, and `gemv` for the columns it leaves to
//! composition), so every lane is bit for bit that row's `layer`. Four outputs go together,
//! so that four independent chains of fused multiply-adds are in flight.

use core::arch::aarch64::{float32x4_t, vaddq_f32, vdupq_n_f32, vfmaq_f32, vld1q_f32, vst1q_f32};

use super::Lanes;
use crate::kernels::{layer_lanes_inputs, LANES};

/// Registers a value of the tile takes (its rows, four to a register).
const REGS: usize = LANES / 4;

/// Outputs computed together.
const GROUP: usize = 4;

/// See `Kernels::layer_lanes`. Returns `false`, touching nothing, when the slices do not
/// hold the `k x n` matrix and the `n` output vectors.
///
/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn layer_lanes<W: Lanes>(
    x: &[f32],
    w: &[W],
    bias: &[W],
    out: &mut [f32],
) -> bool {
    let n = bias.len();
    let Some(k) = layer_lanes_inputs(x.len(), w.len(), n, out.len()) else {
        return false;
    };
    let mut j = 0;
    while j < n {
        // SAFETY: outputs j..j + C are below n: their weights (column j + c of each of the
        // k rows), biases and output vectors are inside the slices (checked above), and the
        // k input vectors inside `x`.
        unsafe {
            let (xs, w0, b0) = (x.as_ptr(), w.as_ptr().add(j), bias.as_ptr().add(j));
            let o0 = out.as_mut_ptr().add(j * LANES);
            if j + GROUP <= n {
                outputs::<W, GROUP>(xs, k, w0, n, b0, o0);
                j += GROUP;
            } else {
                outputs::<W, 1>(xs, k, w0, n, b0, o0);
                j += 1;
            }
        }
    }
    true
}

/// `C` outputs over all `k` inputs.
///
/// # Safety
/// `x .. + k * LANES` readable, `w + i * stride .. + C` readable for `i < k`, `bias .. + C`
/// readable, `out .. + C * LANES` writable; NEON present.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn outputs<W: Lanes, const C: usize>(
    x: *const f32,
    k: usize,
    w: *const W,
    stride: usize,
    bias: *const W,
    out: *mut f32,
) {
    // SAFETY: every access stays inside the ranges the caller guarantees.
    unsafe {
        let mut acc: [[float32x4_t; REGS]; C] = [[vdupq_n_f32(0.0); REGS]; C];
        for (c, a) in acc.iter_mut().enumerate() {
            let b = vaddq_f32(vdupq_n_f32(0.0), vdupq_n_f32((*bias.add(c)).to_f32()));
            *a = [b; REGS];
        }
        for i in 0..k {
            let xi = x.add(i * LANES);
            let mut xv = [vdupq_n_f32(0.0); REGS];
            for (r, v) in xv.iter_mut().enumerate() {
                *v = vld1q_f32(xi.add(4 * r));
            }
            let row = w.add(i * stride);
            for (c, a) in acc.iter_mut().enumerate() {
                let wv = vdupq_n_f32((*row.add(c)).to_f32());
                for (v, &xr) in a.iter_mut().zip(&xv) {
                    *v = vfmaq_f32(*v, xr, wv);
                }
            }
        }
        for (c, a) in acc.iter().enumerate() {
            for (r, v) in a.iter().enumerate() {
                vst1q_f32(out.add(c * LANES + 4 * r), *v);
            }
        }
    }
}
