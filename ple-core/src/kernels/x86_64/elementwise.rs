//! Element-wise kernels, AVX2: the experts' ReLU and the finiteness check of dense rows,
//! eight values per step.
//!
//! `maxps` returns its second operand when the two compare equal (both zeros) or when either
//! is a NaN, so `max(v, +0.0)` gives `+0.0` for `-0.0` and for a NaN, as the scalar twin's
//! `if v > 0 { v } else { 0 }` does. A value is not finite exactly when its exponent bits
//! are all ones, which one integer compare per lane finds.

use core::arch::x86_64::{
    __m256i, _mm256_and_si256, _mm256_castps_si256, _mm256_cmpeq_epi32, _mm256_loadu_ps,
    _mm256_max_ps, _mm256_or_si256, _mm256_set1_epi32, _mm256_setzero_ps, _mm256_setzero_si256,
    _mm256_storeu_ps, _mm256_testz_si256, _mm_prefetch, _MM_HINT_T0,
};

use super::scalar;

/// Bytes ahead of its reads a batch's validation asks for. The validation is the first
/// pass over a batch's input, which comes from memory; with the hardware prefetcher alone
/// it ran at about half the speed it reaches when each line is asked for 2 KiB early.
const AHEAD: usize = 2048;

/// Asks for the cache line [`AHEAD`] bytes past `p`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn prefetch_ahead<T>(p: *const T) {
    // SAFETY: a prefetch is a hint: it never faults, whatever the address, and changes
    // nothing the program can read. (Compilers before 1.87 declare it `unsafe`.)
    #[allow(unused_unsafe)]
    unsafe {
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>().wrapping_add(AHEAD))
    }
}

/// See `Kernels::relu`.
///
/// # Safety
/// The CPU must have AVX2 (and FMA and F16C, like every kernel of this module).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn relu(values: &mut [f32]) {
    let mut chunks = values.chunks_exact_mut(8);
    let zero = _mm256_setzero_ps();
    for chunk in &mut chunks {
        // SAFETY: the chunk holds eight values; `loadu`/`storeu` need no alignment.
        unsafe {
            let p = chunk.as_mut_ptr();
            _mm256_storeu_ps(p, _mm256_max_ps(_mm256_loadu_ps(p), zero));
        }
    }
    scalar::relu(chunks.into_remainder());
}

/// See `Kernels::all_finite`.
///
/// # Safety
/// The CPU must have AVX2 (and FMA and F16C, like every kernel of this module).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn all_finite(values: &[f32]) -> bool {
    let exponent = _mm256_set1_epi32(0x7f80_0000);
    let mut chunks = values.chunks_exact(16);
    let mut bad: __m256i = _mm256_setzero_si256();
    for chunk in &mut chunks {
        // SAFETY: the chunk holds sixteen values; `loadu` needs no alignment.
        unsafe {
            let p = chunk.as_ptr();
            prefetch_ahead(p);
            let a = _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(p)), exponent);
            let b = _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(p.add(8))), exponent);
            bad = _mm256_or_si256(
                bad,
                _mm256_or_si256(
                    _mm256_cmpeq_epi32(a, exponent),
                    _mm256_cmpeq_epi32(b, exponent),
                ),
            );
        }
    }
    _mm256_testz_si256(bad, bad) == 1 && scalar::all_finite(chunks.remainder())
}
