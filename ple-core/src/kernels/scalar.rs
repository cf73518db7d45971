//! The portable kernels: plain Rust, on every target, and the twin every SIMD kernel is
//! tested against.
//!
//! They use separate multiply and add (not fused), which is what a Cortex-M4F or a core
//! without FMA does anyway; SIMD kernels with FMA round once per multiply-add and so differ
//! in the last bits.

use super::Kernels;
use crate::weight::Weight;

/// The portable kernels.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scalar;

impl<W: Weight> Kernels<W> for Scalar {
    fn gemv_acc(&self, x: &[f32], w: &[W], out: &mut [f32]) {
        let n = out.len();
        if n == 0 {
            return;
        }
        let mut rest = w;
        for &xi in x {
            let Some((row, tail)) = rest.split_at_checked(n) else {
                return;
            };
            for (o, &wv) in out.iter_mut().zip(row) {
                *o += xi * wv.to_f32();
            }
            rest = tail;
        }
    }

    fn add_row(&self, row: &[W], out: &mut [f32]) {
        for (o, &wv) in out.iter_mut().zip(row) {
            *o += wv.to_f32();
        }
    }
}
