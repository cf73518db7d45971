//! Eight-lane helpers shared by the AVX2 kernels: horizontal sums and the requantisation.

use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_add_epi64, _mm256_and_si256, _mm256_blend_epi32,
    _mm256_blendv_epi8, _mm256_cmpgt_epi32, _mm256_cmpgt_epi64, _mm256_hadd_epi32,
    _mm256_max_epi32, _mm256_max_epu32, _mm256_min_epi32, _mm256_min_epu32, _mm256_movemask_epi8,
    _mm256_mul_epi32, _mm256_permute2x128_si256, _mm256_set1_epi32, _mm256_set1_epi64x,
    _mm256_setr_epi32, _mm256_setzero_si256, _mm256_slli_epi64, _mm256_sllv_epi64,
    _mm256_srai_epi32, _mm256_srav_epi32, _mm256_srli_epi64, _mm256_srlv_epi64, _mm256_sub_epi32,
    _mm256_sub_epi64, _mm256_xor_si256,
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

/// Whether every lane of `right_shift` lies in `33..=63`, the shifts [`requant_high`] takes.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn high_word_shifts(right_shift: __m256i) -> bool {
    let above = _mm256_cmpgt_epi32(right_shift, _mm256_set1_epi32(32));
    let below = _mm256_cmpgt_epi32(_mm256_set1_epi32(64), right_shift);
    _mm256_movemask_epi8(_mm256_and_si256(above, below)) == -1
}

/// [`Requant::apply_clamped`](super::super::Requant::apply_clamped) on eight lanes, for any
/// right shifts: [`requant_high`] when every lane's is in `33..=63`, else [`requant_wide`];
/// clamped to `lo..=hi` (`lo <= hi`).
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn requant(
    x: __m256i,
    multiplier: __m256i,
    right_shift: __m256i,
    (lo, hi): (i32, i32),
) -> __m256i {
    if high_word_shifts(right_shift) {
        requant_high(
            x,
            multiplier,
            right_shift,
            _mm256_set1_epi32(lo),
            _mm256_set1_epi32(hi),
        )
    } else {
        requant_wide(x, multiplier, right_shift, lo, hi)
    }
}

/// [`Requant::apply_clamped`](super::super::Requant::apply_clamped) on eight lanes, for right
/// shifts in `33..=63` (checked by the caller with [`high_word_shifts`]): the high word of
/// the signed 64-bit product, shifted right by `shift - 33`, plus one, halved; clamped to
/// `lo..=hi` (`lo <= hi`).
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn requant_high(
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

/// [`Requant::apply_clamped`](super::super::Requant::apply_clamped) on eight lanes through its
/// 64-bit form (`apply_wide`, which equals the high-word form wherever both apply), for any
/// right shift (taken into `1..=63` as `apply_wide` takes it): `(x * m + 2^(s - 1)) >> s` on
/// the signed 64-bit product, clamped to `lo..=hi` (`lo <= hi`, the same in every lane), the
/// even lanes and the odd lanes in turn.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn requant_wide(
    x: __m256i,
    multiplier: __m256i,
    right_shift: __m256i,
    lo: i32,
    hi: i32,
) -> __m256i {
    let shift = _mm256_min_epu32(
        _mm256_max_epu32(right_shift, _mm256_set1_epi32(1)),
        _mm256_set1_epi32(63),
    );
    let bounds = (
        _mm256_set1_epi64x(i64::from(lo)),
        _mm256_set1_epi64x(i64::from(hi)),
    );
    let low_dwords = _mm256_set1_epi64x(0xFFFF_FFFF);
    let even = wide_lanes(x, multiplier, _mm256_and_si256(shift, low_dwords), bounds);
    let odd = wide_lanes(
        _mm256_srli_epi64::<32>(x),
        _mm256_srli_epi64::<32>(multiplier),
        _mm256_srli_epi64::<32>(shift),
        bounds,
    );
    _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd))
}

/// [`requant_wide`] of the even lanes (`shift` zero-extended in each 64-bit lane, in
/// `1..=63`; the bounds as 64-bit lanes): the clamped results in the low halves of the 64-bit
/// lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn wide_lanes(
    x: __m256i,
    multiplier: __m256i,
    shift: __m256i,
    (lo, hi): (__m256i, __m256i),
) -> __m256i {
    // |x * multiplier| < 2^62 and the rounding term 2^(shift - 1) <= 2^62: no overflow.
    let product = _mm256_mul_epi32(x, multiplier);
    let half = _mm256_sllv_epi64(
        _mm256_set1_epi64x(1),
        _mm256_sub_epi64(shift, _mm256_set1_epi64x(1)),
    );
    let sum = _mm256_add_epi64(product, half);
    // An arithmetic shift from the logical one: complement negative values around it.
    let negative = _mm256_cmpgt_epi64(_mm256_setzero_si256(), sum);
    let y = _mm256_xor_si256(
        _mm256_srlv_epi64(_mm256_xor_si256(sum, negative), shift),
        negative,
    );
    let y = _mm256_blendv_epi8(y, lo, _mm256_cmpgt_epi64(lo, y));
    _mm256_blendv_epi8(y, hi, _mm256_cmpgt_epi64(y, hi))
}

/// One `i32` taken from each of eight records, the first record's in lane 0.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn lanes_of<T>(records: &[T; 8], field: impl Fn(&T) -> i32) -> __m256i {
    let [a, b, c, d, e, f, g, h] = records.each_ref().map(field);
    _mm256_setr_epi32(a, b, c, d, e, f, g, h)
}
