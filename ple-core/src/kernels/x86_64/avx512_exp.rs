//! `expf` on sixteen lanes, AVX-512F, bit for bit libm's: the sequence of `exp.rs` (libm's
//! argument reduction, rational approximation and scaling, each `f32` operation rounded on
//! its own, never fused) with mask registers in place of the AVX2 blends. A vector holding
//! a lane libm treats specially (`|x| >= 87.33`) goes through libm itself.

use core::arch::x86_64::{
    __m512, _mm512_add_epi32, _mm512_add_ps, _mm512_and_si512, _mm512_castps_si512,
    _mm512_castsi512_ps, _mm512_cmpgt_epi32_mask, _mm512_cvtepi32_ps, _mm512_cvttps_epi32,
    _mm512_div_ps, _mm512_loadu_ps, _mm512_mask_blend_epi32, _mm512_mask_blend_ps, _mm512_mul_ps,
    _mm512_set1_epi32, _mm512_set1_ps, _mm512_setzero_si512, _mm512_slli_epi32, _mm512_storeu_ps,
    _mm512_sub_ps,
};

use super::exp::{INV_LN2, LN2_HI, LN2_LO, P1, P2};

/// `v = libm::expf(v)` for every value.
///
/// # Safety
/// The CPU must have AVX-512F, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn exp(values: &mut [f32]) {
    let mut chunks = values.chunks_exact_mut(16);
    for chunk in &mut chunks {
        // SAFETY: the chunk holds sixteen values; AVX-512F is present.
        unsafe {
            let x = _mm512_loadu_ps(chunk.as_ptr());
            _mm512_storeu_ps(chunk.as_mut_ptr(), exp16_or_libm(x));
        }
    }
    // SAFETY: the CPU has AVX2.
    unsafe { super::exp::exp(chunks.into_remainder()) };
}

/// Sixteen lanes of `expf`, through libm itself when a lane needs its special cases.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) fn exp16_or_libm(x: __m512) -> __m512 {
    // SAFETY: AVX-512F is present (this function's features).
    if let Some(y) = unsafe { exp16(x) } {
        return y;
    }
    let mut lanes = [0.0f32; 16];
    // SAFETY: `lanes` holds sixteen values; `storeu`/`loadu` need no alignment.
    unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), x) };
    super::scalar::exp(&mut lanes);
    // SAFETY: as above.
    unsafe { _mm512_loadu_ps(lanes.as_ptr()) }
}

/// Sixteen lanes of `expf`, or `None` when a lane needs libm's special cases.
///
/// # Safety
/// The CPU must have AVX-512F.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn exp16(x: __m512) -> Option<__m512> {
    let int = _mm512_set1_epi32;
    let bits = _mm512_castps_si512(x);
    // |x| as an integer; all comparisons below are on non-negative values, so signed
    // integer comparisons order them as the floats.
    let hx = _mm512_and_si512(bits, int(0x7fff_ffff));
    if _mm512_cmpgt_epi32_mask(hx, int(0x42ae_ac4f)) != 0 {
        return None;
    }
    let zero = _mm512_setzero_si512();
    let negative = _mm512_cmpgt_epi32_mask(zero, bits);
    // k: |x| > 1.5 ln2: (INV_LN2·x ± 0.5) truncated; 0.5 ln2 < |x| <= 1.5 ln2: ±1; else 0.
    let far = _mm512_cmpgt_epi32_mask(hx, int(0x3f85_1592));
    let near = _mm512_cmpgt_epi32_mask(hx, int(0x3eb1_7218));
    let half = _mm512_mask_blend_ps(negative, _mm512_set1_ps(0.5), _mm512_set1_ps(-0.5));
    let k_far = _mm512_cvttps_epi32(_mm512_add_ps(
        _mm512_mul_ps(_mm512_set1_ps(INV_LN2), x),
        half,
    ));
    let k_near = _mm512_mask_blend_epi32(negative, int(1), int(-1));
    let k = _mm512_mask_blend_epi32(far, _mm512_mask_blend_epi32(near, zero, k_near), k_far);
    // With k = 0 these give libm's hi = x, lo = 0 exactly.
    let kf = _mm512_cvtepi32_ps(k);
    let hi = _mm512_sub_ps(x, _mm512_mul_ps(kf, _mm512_set1_ps(LN2_HI)));
    let lo = _mm512_mul_ps(kf, _mm512_set1_ps(LN2_LO));
    let r = _mm512_sub_ps(hi, lo);
    let rr = _mm512_mul_ps(r, r);
    let poly = _mm512_add_ps(_mm512_set1_ps(P1), _mm512_mul_ps(rr, _mm512_set1_ps(P2)));
    let c = _mm512_sub_ps(r, _mm512_mul_ps(rr, poly));
    let quotient = _mm512_div_ps(_mm512_mul_ps(r, c), _mm512_sub_ps(_mm512_set1_ps(2.0), c));
    let one = _mm512_set1_ps(1.0);
    let y = _mm512_add_ps(one, _mm512_add_ps(_mm512_sub_ps(quotient, lo), hi));
    // 2^k (k = 0 multiplies by one, exactly y).
    let scale = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(k, int(127))));
    let scaled = _mm512_mul_ps(y, scale);
    // |x| <= 2^-14: libm returns 1 + x.
    let tiny = _mm512_cmpgt_epi32_mask(int(0x3900_0001), hx);
    Some(_mm512_mask_blend_ps(tiny, scaled, _mm512_add_ps(one, x)))
}
