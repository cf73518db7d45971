//! AVX2 + FMA kernels for x86_64, with F16C to widen `f16` weights, and with the `avx512`
//! feature (on by default), on CPUs that also have AVX-512F, a sixteen-lane first layer and
//! batch tile (`Avx512`): the transposition into lanes, the ReLU, the gates' softmax, the
//! mixing, the towers and the sigmoid each on sixteen-lane registers, two for the tile's 32
//! rows.
//!
//! [`Avx2::new`] and `Avx512::new` are the only ways to get the kernels, and they return
//! `None` unless the CPU has every feature they use: at run time with the `std` feature,
//! otherwise from the compile-time `target_feature`s. Holding an [`Avx2`] or an `Avx512`
//! is therefore the proof the `unsafe` `#[target_feature]` functions below may be called.

mod add_row;
#[cfg(feature = "avx512")]
mod avx512;
#[cfg(feature = "avx512")]
mod avx512_exp;
#[cfg(feature = "avx512")]
mod avx512_front;
#[cfg(feature = "avx512")]
mod avx512_lanes;
#[cfg(feature = "avx512")]
mod avx512_mix_rows;
#[cfg(feature = "avx512")]
mod avx512_rows;
#[cfg(feature = "avx512")]
mod avx512_transpose;
mod elementwise;
mod exp;
mod front;
mod gemv;
mod lanes;
mod layer;
mod mix;
mod nonzero;

use core::arch::x86_64::{
    __m256, _mm256_broadcast_ss, _mm256_cvtph_ps, _mm256_loadu_ps, _mm_loadu_si128, _mm_set1_epi16,
};

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

/// The AVX2 kernels with the first layer and the batch tile's lanes on sixteen-lane
/// registers (AVX-512F) and the sparse rows' categories a row per vector (AVX-512BW): bit-identical
/// to [`Avx2`], with half its vector operations in the sparse first layer. Behind the
/// `avx512` feature (a default one), so a build can leave it out.
#[cfg(feature = "avx512")]
#[derive(Clone, Copy, Debug)]
pub struct Avx512 {
    avx2: Avx2,
}

#[cfg(feature = "avx512")]
impl Avx512 {
    /// The kernels, if this CPU has AVX-512F and BW as well as AVX2, FMA and F16C.
    pub fn new() -> Option<Self> {
        #[cfg(any(feature = "std", test))]
        let present =
            std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw");
        #[cfg(not(any(feature = "std", test)))]
        let present = cfg!(all(target_feature = "avx512f", target_feature = "avx512bw"));
        let avx2 = Avx2::new()?;
        present.then_some(Avx512 { avx2 })
    }
}

/// A weight type the AVX2 kernels can widen to eight `f32` lanes.
trait Lanes: Weight {
    /// Loads eight values from `p` as `f32`s.
    ///
    /// # Safety
    /// `p..p + 8` must be readable, and the CPU must have AVX2, FMA and F16C.
    unsafe fn load8(p: *const Self) -> __m256;

    /// Loads the value at `p` as an `f32` into all eight lanes, widened as `load8` widens.
    ///
    /// # Safety
    /// `p` must be readable, and the CPU must have AVX2, FMA and F16C.
    unsafe fn broadcast(p: *const Self) -> __m256;
}

impl Lanes for f32 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load8(p: *const Self) -> __m256 {
        // SAFETY: the caller guarantees eight readable values.
        unsafe { _mm256_loadu_ps(p) }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn broadcast(p: *const Self) -> __m256 {
        // SAFETY: the caller guarantees a readable value.
        unsafe { _mm256_broadcast_ss(&*p) }
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

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn broadcast(p: *const Self) -> __m256 {
        // SAFETY: the caller guarantees a readable value; F16C widens it in every lane.
        unsafe { _mm256_cvtph_ps(_mm_set1_epi16((*p).to_bits() as i16)) }
    }
}

macro_rules! avx2_kernels {
    ($w:ty) => {
        impl Kernels<$w> for Avx2 {
            type F32 = Avx2;

            #[inline]
            fn f32_kernels(&self) -> Avx2 {
                *self
            }

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
            fn exp(&self, values: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                unsafe { exp::exp(values) }
            }

            #[inline]
            fn mix(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                unsafe { mix::mix(weights, experts, out) }
            }

            #[inline]
            fn nonzero(&self, values: &[f32], start: usize, found: &mut [u32]) -> (usize, usize) {
                // SAFETY: as for `gemv_acc`.
                unsafe { nonzero::nonzero(values, start, found) }
            }

            #[inline]
            fn relu(&self, values: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                unsafe { elementwise::relu(values) }
            }

            #[inline]
            fn all_finite(&self, values: &[f32]) -> bool {
                // SAFETY: as for `gemv_acc`.
                unsafe { elementwise::all_finite(values) }
            }

            #[inline]
            fn categories_valid(&self, categories: &[u16], vocab_sizes: &[u16]) -> bool {
                // SAFETY: as for `gemv_acc`.
                unsafe { front::categories_valid(categories, vocab_sizes) }
            }

            #[inline]
            fn category_rows(&self, categories: &[u16], starts: &[u32], rows: &mut [u32]) -> usize {
                // SAFETY: as for `gemv_acc`.
                unsafe { front::category_rows(categories, starts, rows) }
            }

            #[inline]
            fn standardise(&self, raw: &[f32], mean: &[f32], std: &[f32], out: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                unsafe { front::standardise(raw, mean, std, out) }
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

            #[inline]
            fn to_lanes(&self, rows: &[f32], stride: usize, count: usize, lanes: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                if !unsafe { lanes::to_lanes(rows, stride, count, lanes) } {
                    scalar::to_lanes(rows, stride, count, lanes);
                }
            }

            #[inline]
            fn mix_lanes(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                unsafe { lanes::mix_lanes(weights, experts, out) }
            }

            #[inline]
            fn mix_relu_lanes(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                unsafe { lanes::mix_relu_lanes(weights, experts, out) }
            }

            #[inline]
            fn layer_lanes(&self, x: &[f32], w: &[$w], bias: &[$w], out: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                if !unsafe { lanes::layer_lanes(x, w, bias, out) } {
                    scalar::composed_layer_lanes(self, x, w, bias, out);
                }
            }
        }
    };
}

avx2_kernels!(f32);
avx2_kernels!(f16);

#[cfg(feature = "avx512")]
macro_rules! avx512_kernels {
    ($w:ty) => {
        impl Kernels<$w> for Avx512 {
            type F32 = Avx512;

            #[inline]
            fn f32_kernels(&self) -> Avx512 {
                *self
            }

            #[inline]
            fn gemv_acc(&self, x: &[f32], w: &[$w], out: &mut [f32]) {
                self.avx2.gemv_acc(x, w, out)
            }

            #[inline]
            fn add_row(&self, row: &[$w], out: &mut [f32]) {
                self.avx2.add_row(row, out)
            }

            #[inline]
            fn add_rows<I: Iterator<Item = usize> + Clone>(
                &self,
                w: &[$w],
                rows: I,
                out: &mut [f32],
            ) {
                self.avx2.add_rows(w, rows, out)
            }

            #[inline]
            fn exp(&self, values: &mut [f32]) {
                // SAFETY: as for `relu`.
                unsafe { avx512_exp::exp(values) }
            }

            #[inline]
            fn mix(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
                Kernels::<$w>::mix(&self.avx2, weights, experts, out)
            }

            #[inline]
            fn nonzero(&self, values: &[f32], start: usize, found: &mut [u32]) -> (usize, usize) {
                Kernels::<$w>::nonzero(&self.avx2, values, start, found)
            }

            #[inline]
            fn relu(&self, values: &mut [f32]) {
                // SAFETY: an `Avx512` exists only on a CPU with AVX-512F and BW, AVX2, FMA
                // and F16C (see `new`); the kernel bounds every access by the slices' lengths.
                unsafe { avx512_lanes::relu(values) }
            }

            #[inline]
            fn all_finite(&self, values: &[f32]) -> bool {
                Kernels::<$w>::all_finite(&self.avx2, values)
            }

            #[inline]
            fn categories_valid(&self, categories: &[u16], vocab_sizes: &[u16]) -> bool {
                // SAFETY: an `Avx512` exists only on a CPU with AVX-512F and BW, AVX2, FMA
                // and F16C (see `new`); the kernel bounds every access by the slices' lengths.
                unsafe { avx512_front::categories_valid(categories, vocab_sizes) }
            }

            #[inline]
            fn category_rows(&self, categories: &[u16], starts: &[u32], rows: &mut [u32]) -> usize {
                // SAFETY: as for `categories_valid`.
                unsafe { avx512_front::category_rows(categories, starts, rows) }
            }

            #[inline]
            fn standardise(&self, raw: &[f32], mean: &[f32], std: &[f32], out: &mut [f32]) {
                // SAFETY: as for `categories_valid`.
                unsafe { avx512_front::standardise(raw, mean, std, out) }
            }

            #[inline]
            fn layer(&self, x: &[f32], w: &[$w], bias: &[$w], out: &mut [f32]) {
                // SAFETY: an `Avx512` exists only on a CPU with AVX-512F and BW, AVX2, FMA and F16C
                // (see `new`); the kernel bounds every access by the slices' lengths.
                if !unsafe { avx512::sparse_layer(x, w, bias, &[], out) } {
                    self.avx2.layer(x, w, bias, out);
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
                // SAFETY: as for `layer`.
                if !unsafe { avx512::sparse_layer(x, w, bias, rows, out) } {
                    self.avx2.sparse_layer(x, w, bias, rows, out);
                }
            }

            #[inline]
            fn sparse_rows(
                &self,
                x: &[f32],
                w: &[$w],
                bias: &[$w],
                categories: &[u16],
                starts: &[u32],
                out: &mut [f32],
            ) {
                // SAFETY: as for `layer`.
                let done = unsafe { avx512_rows::sparse_rows(x, w, bias, categories, starts, out) };
                // Rows the tile kernel did not take (a shape it does not handle, or from a row
                // whose categories fall outside the matrix) go row by row.
                if done < out.len() / bias.len().max(1) {
                    scalar::composed_sparse_rows(self, x, w, bias, categories, starts, out, done);
                }
            }

            #[inline]
            fn layer_rows(&self, x: &[f32], w: &[$w], bias: &[$w], out: &mut [f32], tile: RowTile) {
                self.avx2.layer_rows(x, w, bias, out, tile)
            }

            #[inline]
            fn to_lanes(&self, rows: &[f32], stride: usize, count: usize, lanes: &mut [f32]) {
                // SAFETY: as for `relu`.
                if !unsafe { avx512_transpose::to_lanes(rows, stride, count, lanes) } {
                    Kernels::<$w>::to_lanes(&self.avx2, rows, stride, count, lanes)
                }
            }

            #[inline]
            fn mix_lanes(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
                // SAFETY: as for `relu`.
                unsafe { avx512_lanes::mix_lanes(weights, experts, out) }
            }

            #[inline]
            fn mix_relu_lanes(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
                // SAFETY: as for `relu`.
                unsafe { avx512_lanes::mix_relu_lanes(weights, experts, out) }
            }

            #[inline]
            fn mix_relu_rows(
                &self,
                weights: &[f32],
                experts: &[f32],
                out: &mut [f32],
                mix: super::RowMix,
            ) {
                // SAFETY: as for `relu`.
                if !unsafe { avx512_mix_rows::mix_relu_rows(weights, experts, out, mix) } {
                    scalar::mix_relu_rows(weights, experts, out, mix);
                }
            }

            #[inline]
            fn mix_rows(&self) -> bool {
                true
            }

            #[inline]
            fn softmax_lanes(&self, gates: &mut [f32], width: usize) {
                // SAFETY: as for `relu`.
                unsafe { avx512_lanes::softmax_lanes(gates, width) }
            }

            #[inline]
            fn sigmoid(&self, values: &mut [f32]) {
                // SAFETY: as for `relu`.
                unsafe { avx512_lanes::sigmoid(values) }
            }

            #[inline]
            fn layer_lanes(&self, x: &[f32], w: &[$w], bias: &[$w], out: &mut [f32]) {
                // SAFETY: as for `relu`.
                if !unsafe { avx512_lanes::layer_lanes(x, w, bias, out) } {
                    scalar::composed_layer_lanes(self, x, w, bias, out);
                }
            }
        }
    };
}

#[cfg(feature = "avx512")]
avx512_kernels!(f32);
#[cfg(feature = "avx512")]
avx512_kernels!(f16);
