//! NEON kernels for aarch64: the primitive kernels (`gemv`, row additions) and the fused
//! whole-layer kernels built on them (`layer.rs`), bit-identical to their composition, and
//! the element-wise kernels and gate mixing (`elementwise.rs`), bit-identical to their
//! scalar twins, and the batch tile's dense layer on rows in lanes (`lanes.rs`),
//! bit-identical to one `layer` per row.
//!
//! NEON is part of the aarch64 baseline, but the kernels still come only from
//! [`Neon::new`], which checks for it (at run time with the `std` feature), so that holding a
//! [`Neon`] is the proof the `unsafe` `#[target_feature]` functions below may be called.
//!
//! `f16` weights are widened with integer NEON operations rather than the FP16 conversion
//! intrinsics, whose `float16x4_t` type is not stable Rust: the 15 magnitude bits shifted
//! into an `f32`'s place and scaled by 2^112 give every finite half exactly (normals and
//! subnormals alike), infinities and NaNs get the all-ones exponent, and the sign is moved
//! over.

mod add_row;
mod elementwise;
mod gemv;
mod lanes;
mod layer;

use core::arch::aarch64::{
    float32x4_t, vandq_u32, vbslq_u32, vcgeq_u32, vdupq_n_f32, vdupq_n_u32, vld1_u16, vld1q_f32,
    vmovl_u16, vmulq_f32, vorrq_u32, vreinterpretq_f32_u32, vreinterpretq_u32_f32, vshlq_n_u32,
};

use half::f16;

use super::{scalar, Kernels, RowTile};
use crate::weight::Weight;

/// The NEON kernels.
#[derive(Clone, Copy, Debug)]
pub struct Neon {
    _proof: (),
}

impl Neon {
    /// The kernels, if this CPU has NEON.
    pub fn new() -> Option<Self> {
        #[cfg(any(feature = "std", test))]
        let present = std::arch::is_aarch64_feature_detected!("neon");
        #[cfg(not(any(feature = "std", test)))]
        let present = cfg!(target_feature = "neon");
        present.then_some(Neon { _proof: () })
    }
}

/// A weight type the NEON kernels can widen to four `f32` lanes.
trait Lanes: Weight {
    /// Loads four values from `p` as `f32`s.
    ///
    /// # Safety
    /// `p..p + 4` must be readable, and the CPU must have NEON.
    unsafe fn load4(p: *const Self) -> float32x4_t;
}

impl Lanes for f32 {
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load4(p: *const Self) -> float32x4_t {
        // SAFETY: the caller guarantees four readable values.
        unsafe { vld1q_f32(p) }
    }
}

impl Lanes for f16 {
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load4(p: *const Self) -> float32x4_t {
        // SAFETY: the caller guarantees four readable values (8 bytes); `f16` is a `u16`
        // bit pattern.
        unsafe {
            let h = vmovl_u16(vld1_u16(p.cast()));
            let magnitude = vandq_u32(h, vdupq_n_u32(0x7fff));
            let shifted = vshlq_n_u32::<13>(magnitude);
            let scaled = vmulq_f32(
                vreinterpretq_f32_u32(shifted),
                vdupq_n_f32(f32::from_bits(0x7780_0000)),
            );
            let special = vcgeq_u32(magnitude, vdupq_n_u32(0x7c00));
            let bits = vbslq_u32(
                special,
                vorrq_u32(shifted, vdupq_n_u32(0x7f80_0000)),
                vreinterpretq_u32_f32(scaled),
            );
            let sign = vshlq_n_u32::<16>(vandq_u32(h, vdupq_n_u32(0x8000)));
            vreinterpretq_f32_u32(vorrq_u32(bits, sign))
        }
    }
}

macro_rules! neon_kernels {
    ($w:ty) => {
        impl Kernels<$w> for Neon {
            type F32 = Neon;

            #[inline]
            fn f32_kernels(&self) -> Neon {
                *self
            }

            #[inline]
            fn gemv_acc(&self, x: &[f32], w: &[$w], out: &mut [f32]) {
                // SAFETY: a `Neon` exists only on a CPU with NEON (see `new`); the kernel
                // bounds every access by the slices' lengths.
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
            fn mix(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                unsafe { elementwise::mix(weights, experts, out) }
            }

            #[inline]
            fn mix_lanes(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                unsafe { elementwise::mix_lanes(weights, experts, out) }
            }

            #[inline]
            fn layer_lanes(&self, x: &[f32], w: &[$w], bias: &[$w], out: &mut [f32]) {
                // SAFETY: as for `gemv_acc`.
                if !unsafe { lanes::layer_lanes(x, w, bias, out) } {
                    scalar::composed_layer_lanes(self, x, w, bias, out);
                }
            }

            #[inline]
            fn nonzero(&self, values: &[f32], start: usize, found: &mut [u32]) -> (usize, usize) {
                // SAFETY: as for `gemv_acc`.
                unsafe { elementwise::nonzero(values, start, found) }
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

neon_kernels!(f32);
neon_kernels!(f16);
