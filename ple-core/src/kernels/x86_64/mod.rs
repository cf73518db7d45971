//! AVX2 + FMA kernels for x86_64, with F16C to widen `f16` weights.
//!
//! [`Avx2::new`] is the only way to get the kernels, and it returns `None` unless the CPU
//! has all three features: at run time with the `std` feature, otherwise from the
//! compile-time `target_feature`s. Holding an [`Avx2`] is therefore the proof the `unsafe`
//! `#[target_feature]` functions below may be called.

mod add_row;
mod gemv;
mod layer;

use core::arch::x86_64::{__m256, _mm256_cvtph_ps, _mm256_loadu_ps, _mm_loadu_si128};

use half::f16;

use super::{scalar, Kernels, RowTile};
use crate::weight::Weight;

/// The AVX2 + FMA + F16C kernels.
#[derive(Clone, Copy, Debug)]
pub struct Avx2 {
    _proof: (),
}

impl Avx2 {
    /// The kernels, if this CPU has AVX2, FMA and F16C.
    pub fn new() -> Option<Self> {
        #[cfg(any(feature = "std", test))]
        let present = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c");
        #[cfg(not(any(feature = "std", test)))]
        let present = cfg!(all(
            target_feature = "avx2",
            target_feature = "fma",
            target_feature = "f16c"
        ));
        present.then_some(Avx2 { _proof: () })
    }
}

/// A weight type the AVX2 kernels can widen to eight `f32` lanes.
trait Lanes: Weight {
    /// Loads eight values from `p` as `f32`s.
    ///
    /// # Safety
    /// `p..p + 8` must be readable, and the CPU must have AVX2, FMA and F16C.
    unsafe fn load8(p: *const Self) -> __m256;
}

impl Lanes for f32 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load8(p: *const Self) -> __m256 {
        // SAFETY: the caller guarantees eight readable values.
        unsafe { _mm256_loadu_ps(p) }
    }
}

impl Lanes for f16 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load8(p: *const Self) -> __m256 {
        // SAFETY: the caller guarantees eight readable values (16 bytes); `loadu` has no
        // alignment requirement and F16C is present.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }
}

macro_rules! avx2_kernels {
    ($w:ty) => {
        impl Kernels<$w> for Avx2 {
            #[inline]
            fn gemv_acc(&self, x: &[f32], w: &[$w], out: &mut [f32]) {
                // SAFETY: an `Avx2` exists only on a CPU with AVX2, FMA and F16C (see `new`);
                // the kernel bounds every access by the slices' lengths.
                unsafe { gemv::gemv(x, w, out) }
            }

            #[inline]
            fn add_row(&self, row: &[$w], out: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                unsafe { add_row::add_row(row, out) }
            }

            #[inline]
            fn add_rows<I: Iterator<Item = usize> + Clone>(
                &self,
                w: &[$w],
                rows: I,
                out: &mut [f32],
            ) {
                // SAFETY: as for `gemv_acc`.
                unsafe { add_row::add_rows(w, rows, out) }
            }

            #[inline]
            fn layer(&self, x: &[f32], w: &[$w], bias: &[$w], out: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                if !unsafe { layer::sparse_layer(x, w, bias, &[], out) } {
                    scalar::composed_layer(self, x, w, bias, out);
                }
            }

            #[inline]
            fn sparse_layer(
                &self,
                x: &[f32],
                w: &[$w],
                bias: &[$w],
                rows: &[u32],
                out: &mut [f32],
            ) {
                // SAFETY: as for `gemv_acc`.
                if !unsafe { layer::sparse_layer(x, w, bias, rows, out) } {
                    scalar::composed_sparse_layer(self, x, w, bias, rows, out);
                }
            }

            #[inline]
            fn layer_rows(&self, x: &[f32], w: &[$w], bias: &[$w], out: &mut [f32], tile: RowTile) {
                // SAFETY: as for `gemv_acc`.
                if !unsafe { layer::layer_rows(x, w, bias, out, tile) } {
                    scalar::composed_layer_rows(self, x, w, bias, out, tile);
                }
            }
        }
    };
}

avx2_kernels!(f32);
avx2_kernels!(f16);
