//! Eight-lane helpers shared by the AVX2 kernels: horizontal sums and the requantisation.

use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_blend_epi32, _mm256_cmpgt_epi32,
    _mm256_hadd_epi32, _mm256_max_epi32, _mm256_min_epi32, _mm256_movemask_epi8, _mm256_mul_epi32,
    _mm256_permute2x128_si256, _mm256_set1_epi32, _mm256_srai_epi32, _mm256_srav_epi32,
    _mm256_srli_epi64, _mm256_sub_epi32,
};

/// Lane `j` of the result is the (wrapping) sum of the eight lanes of `v[j]`.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn sum_each(v: [__m256i; 8]) -> __m256i {
    let [a, b, c, d, e, f, g, h] = v;
    // Per 128-bit half: [a0+a1, a2+a3, b0+b1, b2+b3], then [a0..3, b0..3, c0..3, d0..3].
    let ab = _mm256_hadd_epi32(a, b);
    let cd = _mm256_hadd_epi32(c, d);
    let ef = _mm256_hadd_epi32(e, f);
    let gh = _mm256_hadd_epi32(g, h);
    let abcd = _mm256_hadd_epi32(ab, cd);
    let efgh = _mm256_hadd_epi32(ef, gh);
    // The low halves hold the sums of lanes 0..4, the high halves those of lanes 4..8.
    let low = _mm256_permute2x128_si256::<0x20>(abcd, efgh);
    let high = _mm256_permute2x128_si256::<0x31>(abcd, efgh);
    _mm256_add_epi32(low, high)
}

/// Whether every lane of `right_shift` lies in `33..=63`, the shifts [`requant`] takes.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn high_word_shifts(right_shift: __m256i) -> bool {
    let above = _mm256_cmpgt_epi32(right_shift, _mm256_set1_epi32(32));
    let below = _mm256_cmpgt_epi32(_mm256_set1_epi32(64), right_shift);
    _mm256_movemask_epi8(_mm256_and_si256(above, below)) == -1
}

/// [`Requant::apply_clamped`](super::super::Requant::apply_clamped) on eight lanes, for right
/// shifts in `33..=63` (checked by the caller with [`high_word_shifts`]): the high word of
/// the signed 64-bit product, shifted right by `shift - 33`, plus one, halved; clamped to
/// `lo..=hi` (`lo <= hi`).
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn requant(
    x: __m256i,
    multiplier: __m256i,
    right_shift: __m256i,
    lo: __m256i,
    hi: __m256i,
) -> __m256i {
    // Products of the even lanes, then of the odd lanes moved down; each high word back in
    // its lane.
    let even = _mm256_mul_epi32(x, multiplier);
    let odd = _mm256_mul_epi32(
        _mm256_srli_epi64::<32>(x),
        _mm256_srli_epi64::<32>(multiplier),
    );
    let high = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
    // |high| <= 2^30, so adding 1 cannot overflow.
    let k = _mm256_sub_epi32(right_shift, _mm256_set1_epi32(33));
    let y = _mm256_add_epi32(_mm256_srav_epi32(high, k), _mm256_set1_epi32(1));
    let y = _mm256_srai_epi32::<1>(y);
    _mm256_min_epi32(_mm256_max_epi32(y, lo), hi)
}
