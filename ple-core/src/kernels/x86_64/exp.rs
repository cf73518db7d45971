//! `expf` on eight lanes, AVX2, bit for bit libm's.
//!
//! libm's `expf` (FreeBSD's `e_expf.c`) is a short sequence of separately rounded `f32`
//! operations: an argument reduction `x = k·ln2 + r` with `k` chosen by the magnitude of `x`,
//! a rational approximation on `r`, and a scaling by `2^k`. Each of those operations is done
//! here on eight lanes with the same rounding (multiply and add apart, never fused), so every
//! lane equals the scalar result exactly. The scaling is one multiplication by `2^k`, which
//! is what libm's `scalbnf` does for the `k` in range here (`-126 <= k <= 126`). Lanes that
//! libm treats specially (`|x| >= 87.33`: overflow, underflow towards subnormals, infinities,
//! NaN) are rare in a softmax or sigmoid; a vector holding one goes through libm itself.

use core::arch::x86_64::{
    __m256, __m256i, _mm256_add_epi32, _mm256_add_ps, _mm256_and_si256, _mm256_blendv_ps,
    _mm256_castps_si256, _mm256_castsi256_ps, _mm256_cmpgt_epi32, _mm256_cvtepi32_ps,
    _mm256_cvttps_epi32, _mm256_div_ps, _mm256_loadu_ps, _mm256_movemask_ps, _mm256_mul_ps,
    _mm256_or_si256, _mm256_set1_epi32, _mm256_set1_ps, _mm256_setzero_si256, _mm256_slli_epi32,
    _mm256_srai_epi32, _mm256_storeu_ps, _mm256_sub_ps,
};

// libm's constants, by their bits.
pub(super) const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
pub(super) const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
pub(super) const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
pub(super) const P1: f32 = f32::from_bits(0x3e2a_aa8f);
pub(super) const P2: f32 = f32::from_bits(0xbb35_5215);

/// `v = libm::expf(v)` for every value.
///
/// # Safety
/// The CPU must have AVX2 (and FMA and F16C, like every kernel of this module).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn exp(values: &mut [f32]) {
    let mut chunks = values.chunks_exact_mut(8);
    for chunk in &mut chunks {
        // SAFETY: the chunk holds eight values; AVX2 is present.
        unsafe {
            let x = _mm256_loadu_ps(chunk.as_ptr());
            match exp8(x) {
                Some(y) => _mm256_storeu_ps(chunk.as_mut_ptr(), y),
                None => super::scalar::exp(chunk),
            }
        }
    }
    let rest = chunks.into_remainder();
    if rest.is_empty() {
        return;
    }
    // The last values through an eight-lane buffer (zeros past them, whose exp is unused).
    let mut lanes = [0.0f32; 8];
    for (l, &v) in lanes.iter_mut().zip(rest.iter()) {
        *l = v;
    }
    // SAFETY: `lanes` holds eight values; AVX2 is present.
    match unsafe { exp8(_mm256_loadu_ps(lanes.as_ptr())) } {
        Some(y) => {
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), y) };
            for (v, &l) in rest.iter_mut().zip(lanes.iter()) {
                *v = l;
            }
        }
        None => super::scalar::exp(rest),
    }
}

/// Eight lanes of `expf`, or `None` when a lane needs libm's special cases.
///
/// # Safety
/// The CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn exp8(x: __m256) -> Option<__m256> {
    let int = _mm256_set1_epi32;
    let bits = _mm256_castps_si256(x);
    // |x| as an integer; all comparisons below are on non-negative values, so signed
    // integer comparisons order them as the floats.
    let hx = _mm256_and_si256(bits, int(0x7fff_ffff));
    if _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(
        hx,
        int(0x42ae_ac4f),
    ))) != 0
    {
        return None;
    }
    let negative = _mm256_srai_epi32::<31>(bits);
    let is = |m: __m256i| _mm256_castsi256_ps(m);
    // k: |x| > 1.5 ln2: (INV_LN2·x ± 0.5) truncated; 0.5 ln2 < |x| <= 1.5 ln2: ±1; else 0.
    let far = _mm256_cmpgt_epi32(hx, int(0x3f85_1592));
    let near = _mm256_cmpgt_epi32(hx, int(0x3eb1_7218));
    let half = _mm256_blendv_ps(_mm256_set1_ps(0.5), _mm256_set1_ps(-0.5), is(negative));
    let k_far = _mm256_cvttps_epi32(_mm256_add_ps(
        _mm256_mul_ps(_mm256_set1_ps(INV_LN2), x),
        half,
    ));
    let k_near = _mm256_or_si256(negative, int(1));
    let k = _mm256_castps_si256(_mm256_blendv_ps(
        _mm256_blendv_ps(is(_mm256_setzero_si256()), is(k_near), is(near)),
        is(k_far),
        is(far),
    ));
    // With k = 0 these give libm's hi = x, lo = 0 exactly.
    let kf = _mm256_cvtepi32_ps(k);
    let hi = _mm256_sub_ps(x, _mm256_mul_ps(kf, _mm256_set1_ps(LN2_HI)));
    let lo = _mm256_mul_ps(kf, _mm256_set1_ps(LN2_LO));
    let r = _mm256_sub_ps(hi, lo);
    let rr = _mm256_mul_ps(r, r);
    let poly = _mm256_add_ps(_mm256_set1_ps(P1), _mm256_mul_ps(rr, _mm256_set1_ps(P2)));
    let c = _mm256_sub_ps(r, _mm256_mul_ps(rr, poly));
    let quotient = _mm256_div_ps(_mm256_mul_ps(r, c), _mm256_sub_ps(_mm256_set1_ps(2.0), c));
    let one = _mm256_set1_ps(1.0);
    let y = _mm256_add_ps(one, _mm256_add_ps(_mm256_sub_ps(quotient, lo), hi));
    // 2^k (k = 0 multiplies by one, exactly y).
    let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(k, int(127))));
    let scaled = _mm256_mul_ps(y, scale);
    // |x| <= 2^-14: libm returns 1 + x.
    let tiny = _mm256_cmpgt_epi32(int(0x3900_0001), hx);
    Some(_mm256_blendv_ps(scaled, _mm256_add_ps(one, x), is(tiny)))
}
