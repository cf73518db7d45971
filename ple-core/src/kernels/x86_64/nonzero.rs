//! The non-zero positions of a slice, AVX2: sixteen values compared with zero per step.
//!
//! A one-hot input is mostly zeros (Census: 29 ones among 488 columns), so the scan costs a
//! comparison and a mask test per sixteen values, and the set bits of the mask give the
//! positions. `!=` against zero is the unordered comparison, so a NaN is non-zero and both
//! zeros are zero, as in the scalar twin.

use core::arch::x86_64::{
    __m256, _mm256_cmp_ps, _mm256_loadu_ps, _mm256_movemask_ps, _mm256_setzero_ps, _CMP_NEQ_UQ,
};

/// See `Kernels::nonzero`.
///
/// # Safety
/// The CPU must have AVX2 (and FMA and F16C, like every kernel of this module).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn nonzero(values: &[f32], start: usize, found: &mut [u32]) -> (usize, usize) {
    let end = values.len().min(u32::MAX as usize);
    let mut count = 0;
    let mut at = start;
    let mut emit = |mask: u32, base: usize, count: &mut usize| -> Option<usize> {
        let mut mask = mask;
        while mask != 0 {
            let position = base + mask.trailing_zeros() as usize;
            let Some(slot) = found.get_mut(*count) else {
                return Some(position);
            };
            *slot = position as u32;
            *count += 1;
            mask &= mask - 1;
        }
        None
    };
    while at.saturating_add(16) <= end {
        // SAFETY: `at + 16 <= end <= values.len()`, so both eight-value loads are inside
        // `values`; AVX2 is present.
        let mask = unsafe {
            let p = values.as_ptr().add(at);
            mask8(_mm256_loadu_ps(p)) | (mask8(_mm256_loadu_ps(p.add(8))) << 8)
        };
        if mask != 0 {
            if let Some(resume) = emit(mask, at, &mut count) {
                return (count, resume);
            }
        }
        at += 16;
    }
    if at.saturating_add(8) <= end {
        // SAFETY: as above, for one load.
        let mask = unsafe { mask8(_mm256_loadu_ps(values.as_ptr().add(at))) };
        if let Some(resume) = emit(mask, at, &mut count) {
            return (count, resume);
        }
        at += 8;
    }
    let tail = values.get(..end).unwrap_or(&[]);
    let (more, resume) =
        super::scalar::nonzero(tail, at, found.get_mut(count..).unwrap_or(&mut []));
    (
        count + more,
        if resume == end { values.len() } else { resume },
    )
}

/// Bit `i` set when lane `i` is not zero.
///
/// # Safety
/// The CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn mask8(v: __m256) -> u32 {
    _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NEQ_UQ>(v, _mm256_setzero_ps())) as u32
}
