//! Gate mixing on eight outputs at a time (AVX2): every expert's values times its scaled gate
//! weight (`vpmulld`, which keeps the low 32 bits: the wrapping product) added into the sums
//! held in the destination, one expert after the other, then rounded back to the activation
//! format.

use core::arch::x86_64::{
    _mm256_add_epi32, _mm256_loadu_si256, _mm256_min_epi32, _mm256_mullo_epi32, _mm256_set1_epi32,
    _mm256_setzero_si256, _mm256_srai_epi32, _mm256_storeu_si256,
};

use crate::int8::fixed::ACTIVATION_MAX;

/// The whole blocks of eight outputs of `dst` from the start: `dst[k]` is the sum over the
/// experts `e` (the consecutive `dst.len()`-value outputs of the two `spans`, in the order of
/// `weights`) of `weights[e] * y_e[k]`, wrapping, rounded back to the activation format.
/// Returns how many outputs it computed; the caller computes the rest.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn mix_blocks(spans: [&[i32]; 2], weights: &[u16], dst: &mut [i32]) -> usize {
    let width = dst.len();
    let blocks = width / 8;
    let [own, shared] = spans;
    let members = own
        .chunks_exact(width.max(1))
        .chain(shared.chunks_exact(width.max(1)))
        .zip(weights);
    // Every expert in turn into the sums held in `dst` (a wrapping sum does not depend on the
    // order of its terms).
    let mut first = true;
    for (y, &g) in members {
        let g = _mm256_set1_epi32(i32::from(g));
        for (d, y) in dst.chunks_exact_mut(8).zip(y.chunks_exact(8)) {
            // SAFETY: eight `i32`s each.
            unsafe {
                let product = _mm256_mullo_epi32(g, _mm256_loadu_si256(y.as_ptr().cast()));
                let sum = if first {
                    product
                } else {
                    _mm256_add_epi32(_mm256_loadu_si256(d.as_ptr().cast()), product)
                };
                _mm256_storeu_si256(d.as_mut_ptr().cast(), sum);
            }
        }
        first = false;
    }
    let (half, limit) = (
        _mm256_set1_epi32(1 << 14),
        _mm256_set1_epi32(ACTIVATION_MAX),
    );
    for d in dst.chunks_exact_mut(8) {
        // SAFETY: eight `i32`s.
        unsafe {
            let sum = if first {
                _mm256_setzero_si256()
            } else {
                _mm256_loadu_si256(d.as_ptr().cast())
            };
            let rounded = _mm256_srai_epi32::<15>(_mm256_add_epi32(sum, half));
            _mm256_storeu_si256(d.as_mut_ptr().cast(), _mm256_min_epi32(rounded, limit));
        }
    }
    8 * blocks
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::super::Avx2;
    use crate::int8::mix::mix;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    proptest! {
        /// The vector mixing gives the portable mixing's bits for any width, any numbers of
        /// own and shared experts, any weights, ratios and values (wrapping included).
        #[test]
        fn vector_mixing_equals_the_portable_mixing(
            width in 1usize..40,
            own in 0usize..5,
            shared in 0usize..5,
            seed in proptest::collection::vec((0u16..=32768, 0u16..=32768, any::<i32>()), 10),
            small in any::<bool>(),
        ) {
            let Some(simd) = Avx2::detect() else { return Ok(()); };
            let members = own + shared;
            let weights: Vec<u16> = seed.iter().take(members).map(|s| s.0).collect();
            let ratios: Vec<u16> = seed.iter().take(members).map(|s| s.1).collect();
            let y: Vec<i32> = (0..members * width)
                .map(|i| {
                    let v = seed.iter().cycle().nth(i).map_or(0, |s| s.2.rotate_left(i as u32));
                    if small { v & 0x7FFF } else { v }
                })
                .collect();
            let (a, b) = y.split_at(own * width);
            let mut expected = vec![-1i32; width];
            mix([a, b], &mut weights.clone(), &ratios, &mut expected);
            let mut out = vec![-1i32; width];
            simd.mix([a, b], &mut weights.clone(), &ratios, &mut out);
            prop_assert_eq!(out, expected);
        }
    }
}
