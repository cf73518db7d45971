//! Arm FPU kernels for hard-float cores: Cortex-M4F, M7, M33 with an FPU (FPv4-SP / FPv5),
//! and Cortex-A cores with VFPv4.
//!
//! These FPUs have no SIMD lanes (Cortex-M has no NEON), but they have 32 single-precision
//! registers and `VLDM`, which loads up to 16 of them in one instruction. The kernels keep a
//! tile of up to 16 output columns in `s8`..`s23` (sums) or `s16`..`s31` (dense layers) across
//! every row, and load each row's part of the tile eight weights at a time: per weight one
//! `VADD` (or one `VMLA`) and an eighth of a load, where compiled Rust spends a load, an add,
//! a store and loop bookkeeping. `f16` weights are widened by the FPU itself
//! (`VCVTB`/`VCVTT.F32.F16` convert the bottom or top half of a register), one instruction
//! per weight, instead of the software conversion of the portable kernels.
//!
//! The results are bit-identical to the [`scalar`](super::scalar) kernels: `VMLA.F32` is the
//! *chained* multiply-accumulate (the product is rounded before the addition, unlike the
//! fused `VFMA`), the rows are added in the same order, and the half-to-single conversion is
//! exact. A firmware built with these kernels therefore predicts exactly what the host
//! predicts with the portable ones.
//!
//! `VLDM` needs word-aligned addresses. `f32` data always is; an `f16` matrix is used with
//! `VLDM` when its start and its row length in bytes are multiples of four, and otherwise
//! (and for an odd last column) one weight at a time through the same conversion
//! instruction.
//!
//! Stable Rust cannot tell at compile time whether an Arm core has an FPU with half-precision
//! conversion (Arm `target_feature`s are unstable), so the module is compiled only with the
//! crate feature `arm-fpu` on a hard-float (`eabihf`) target, and [`ArmFpu::new`] returns the
//! kernels there. The workspace tests them against their scalar twins under `qemu-arm` on
//! `thumbv7neon-unknown-linux-gnueabihf` (see `.cargo/config.toml`).
#![allow(clippy::too_many_arguments)]

/// `asm!` with every single-precision FPU register declared clobbered: the kernels name
/// their registers explicitly, and the compiler saves the callee-saved `s16`..`s31` around
/// the call (two instructions).
macro_rules! fpu_asm {
    ($($body:tt)*) => {
        core::arch::asm!(
            $($body)*
            out("s0") _, out("s1") _, out("s2") _, out("s3") _, out("s4") _, out("s5") _,
            out("s6") _, out("s7") _, out("s8") _, out("s9") _, out("s10") _, out("s11") _,
            out("s12") _, out("s13") _, out("s14") _, out("s15") _, out("s16") _,
            out("s17") _, out("s18") _, out("s19") _, out("s20") _, out("s21") _,
            out("s22") _, out("s23") _, out("s24") _, out("s25") _, out("s26") _,
            out("s27") _, out("s28") _, out("s29") _, out("s30") _, out("s31") _,
            options(nostack),
        )
    };
}

#[macro_use]
mod tile;

mod f16_tiles;
mod f32_tiles;

use half::f16;

use super::Kernels;

/// Row pointers handed to the tiles at a time (a fixed stack array, whatever the model).
const ROW_CHUNK: usize = 32;

/// The Arm FPU kernels.
#[derive(Clone, Copy, Debug)]
pub struct ArmFpu {
    _proof: (),
}

impl ArmFpu {
    /// The kernels. The crate feature `arm-fpu` on an `eabihf` target is the promise that
    /// the core has a VFPv4-class FPU (32 single registers, half-precision conversion).
    pub fn new() -> Option<Self> {
        Some(ArmFpu { _proof: () })
    }
}

/// The weight types with FPU tiles.
trait Tiles: Copy {
    /// `out[..n] += Σ rows[r][..n]`.
    ///
    /// # Safety
    /// Every pointer of `rows` is readable for `n` values; `out` is writable for `n`.
    unsafe fn sum_rows(rows: &[*const Self], n: usize, out: *mut f32);

    /// `out[..n] += Σ_i x[i] · w[i·n..][..n]` over `i < rows`.
    ///
    /// # Safety
    /// `rows <= x.len()`, `w` readable for `rows · n` values, `out` writable for `n`.
    unsafe fn gemv(x: &[f32], rows: usize, w: *const Self, n: usize, out: *mut f32);
}

fn add_rows<W: Tiles, I: Iterator<Item = usize>>(w: &[W], rows: I, out: &mut [f32]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    let limit = w.len() / n;
    let mut rows = rows.filter(|&r| r < limit);
    let mut chunk = [core::ptr::null::<W>(); ROW_CHUNK];
    loop {
        let mut filled = 0;
        for (slot, r) in chunk.iter_mut().zip(&mut rows) {
            // In bounds: `r < limit` so `r · n + n <= w.len()`.
            *slot = w.as_ptr().wrapping_add(r * n);
            filled += 1;
        }
        let Some(now) = chunk.get(..filled) else {
            return;
        };
        if !now.is_empty() {
            // SAFETY: each pointer starts a full row of `n` values inside `w` (see above).
            unsafe { W::sum_rows(now, n, out.as_mut_ptr()) };
        }
        if filled < ROW_CHUNK {
            return;
        }
    }
}

macro_rules! arm_kernels {
    ($w:ty) => {
        impl Kernels<$w> for ArmFpu {
            type F32 = ArmFpu;

            #[inline]
            fn f32_kernels(&self) -> ArmFpu {
                *self
            }

            #[inline]
            fn gemv_acc(&self, x: &[f32], w: &[$w], out: &mut [f32]) {
                let n = out.len();
                if n == 0 {
                    return;
                }
                let rows = x.len().min(w.len() / n);
                // SAFETY: `rows` rows of `n` values fit in `w`, and `rows <= x.len()`.
                unsafe { <$w as Tiles>::gemv(x, rows, w.as_ptr(), n, out.as_mut_ptr()) }
            }

            #[inline]
            fn add_row(&self, row: &[$w], out: &mut [f32]) {
                let n = row.len().min(out.len());
                // SAFETY: `row` holds at least `n` values and `out` at least `n` slots.
                unsafe { <$w as Tiles>::sum_rows(&[row.as_ptr()], n, out.as_mut_ptr()) }
            }

            #[inline]
            fn add_rows<I: Iterator<Item = usize> + Clone>(
                &self,
                w: &[$w],
                rows: I,
                out: &mut [f32],
            ) {
                add_rows(w, rows, out);
            }
        }
    };
}

arm_kernels!(f32);
arm_kernels!(f16);

#[cfg(test)]
mod tests {
    //! Beyond the shared twin properties (`twin_tests`): these kernels promise the scalar
    //! kernels' exact bits for dense layers too, and the `f16` one-weight-at-a-time path
    //! (matrices not word-aligned) must agree as well.
    extern crate std;

    use std::vec::Vec;

    use half::f16;
    use proptest::prelude::*;

    use super::ArmFpu;
    use crate::kernels::scalar::Scalar;
    use crate::kernels::Kernels;
    use crate::weight::Weight;

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|f| f.to_bits()).collect()
    }

    /// All three kernels of `ArmFpu` against `Scalar`, bit for bit.
    fn check<W: Weight>(w: &[W], x: &[f32], out: &[f32]) -> Result<(), TestCaseError>
    where
        ArmFpu: Kernels<W>,
    {
        let arm = ArmFpu::new().ok_or_else(|| TestCaseError::fail("no Arm FPU kernels"))?;
        let n = out.len();
        let rows: Vec<usize> = (0..w.len() / n.max(1) + 2).rev().collect();
        let (mut expected, mut actual) = (out.to_vec(), out.to_vec());
        Scalar.add_rows(w, rows.iter().copied(), &mut expected);
        arm.add_rows(w, rows.iter().copied(), &mut actual);
        prop_assert_eq!(bits(&actual), bits(&expected), "add_rows");
        let (mut expected, mut actual) = (out.to_vec(), out.to_vec());
        Scalar.add_row(w, &mut expected);
        arm.add_row(w, &mut actual);
        prop_assert_eq!(bits(&actual), bits(&expected), "add_row");
        let (mut expected, mut actual) = (out.to_vec(), out.to_vec());
        Scalar.gemv_acc(x, w, &mut expected);
        arm.gemv_acc(x, w, &mut actual);
        prop_assert_eq!(bits(&actual), bits(&expected), "gemv_acc");
        Ok(())
    }

    fn case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>, usize)> {
        (
            prop::collection::vec(-1.0f32..1.0, 0..700),
            prop::collection::vec(-2.0f32..2.0, 0..24),
            prop::collection::vec(-1.0f32..1.0, 0..60),
            0usize..3,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn f32_kernels_match_scalar_bit_for_bit((w, x, out, skip) in case()) {
            check(w.get(skip..).unwrap_or(&[]), &x, &out)?;
        }

        /// `skip` of 1 moves the matrix half a word off its (word-aligned) allocation.
        #[test]
        fn f16_kernels_match_scalar_bit_for_bit_aligned_or_not((w, x, out, skip) in case()) {
            let halves: Vec<f16> = w.iter().map(|&v| f16::from_f32(v)).collect();
            check(halves.get(skip..).unwrap_or(&[]), &x, &out)?;
        }
    }
}
