//! A dense layer after the first (AVX2): `i16` activations times `i8` weights, every output
//! finished in the same loop.
//!
//! The input is narrowed to `i16` once per layer and held in registers, sixteen values per
//! register (up to [`MAX_INPUTS`], zero beyond the input). Each output's weight row is read
//! sixteen weights at a time, sign-extended (`vpmovsxbw`) and multiplied with the input by
//! `vpmaddwd`; a row's last load may run into the next row, whose weights meet the zero lanes
//! of the input and add nothing (the layer's very last loads, which would leave the array, go
//! through a copy). Eight outputs' vectors are summed across at once, then the bias is added
//! (saturating) and the eight are requantised and clamped together.

use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_blendv_ps, _mm256_castps_si256,
    _mm256_castsi256_ps, _mm256_castsi256_si128, _mm256_cvtepi8_epi16, _mm256_extracti128_si256,
    _mm256_loadu_si256, _mm256_madd_epi16, _mm256_packs_epi32, _mm256_permute4x64_epi64,
    _mm256_set1_epi32, _mm256_setzero_si256, _mm256_srai_epi32, _mm256_storeu_si256,
    _mm256_xor_si256, _mm_add_epi32, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_shuffle_epi32,
};

use super::lanes::{lanes_of, requant, sum_each};
use crate::int8::Requant;

/// The widest input the kernel holds in registers (four of them).
pub(in crate::int8) const MAX_INPUTS: usize = 64;

/// One dense layer: `out[o] = clamp(requant[o](sum_i input[i] * w[o * n + i] + bias[o]))`
/// with the sum wrapping and the bias added saturating, exactly as the portable layers.
/// `input` must lie within `i16` (the forward pass feeds it activations). Returns `false`,
/// touching nothing, for an empty or too wide input or arrays too short for `out`.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn dense_layer(
    weights: &[i8],
    input: &[i32],
    bias: &[i32],
    requant: &[Requant],
    out: &mut [i32],
    bounds: (i32, i32),
) -> bool {
    let (inputs, outputs) = (input.len(), out.len());
    let fits = inputs
        .checked_mul(outputs)
        .is_some_and(|n| n <= weights.len());
    if inputs == 0 || inputs > MAX_INPUTS || !fits || bias.len() < outputs {
        return false;
    }
    if requant.len() < outputs {
        return false;
    }
    let layer = Layer {
        weights,
        inputs,
        bias,
        requant,
        bounds,
    };
    match inputs.div_ceil(16) {
        1 => layer.run::<1>(input, out),
        2 => layer.run::<2>(input, out),
        3 => layer.run::<3>(input, out),
        _ => layer.run::<4>(input, out),
    }
    true
}

/// A layer's parameters, checked against its widths by [`dense_layer`].
struct Layer<'p> {
    weights: &'p [i8],
    inputs: usize,
    bias: &'p [i32],
    requant: &'p [Requant],
    bounds: (i32, i32),
}

impl Layer<'_> {
    /// The layer with `C` registers of input (`16 * C >= inputs`).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn run<const C: usize>(&self, input: &[i32], out: &mut [i32]) {
        let x = narrow::<C>(input);
        let mut blocks = out.chunks_exact_mut(8);
        let mut o = 0;
        for block in &mut blocks {
            let mut dots = [_mm256_setzero_si256(); 8];
            for (j, dot) in dots.iter_mut().enumerate() {
                *dot = self.dot::<C>(o + j, &x);
            }
            self.finish_block(o, sum_each(dots), block);
            o += 8;
        }
        for y in blocks.into_remainder() {
            let sum = sum_lanes(self.dot::<C>(o, &x));
            *y = self.finish(o, sum);
            o += 1;
        }
    }

    /// The products of output `o`'s weights with the input, in eight lanes to be summed.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn dot<const C: usize>(&self, o: usize, x: &[__m256i; C]) -> __m256i {
        let row = o * self.inputs;
        let mut acc = _mm256_setzero_si256();
        for (c, &xc) in x.iter().enumerate() {
            let w = weights16(self.weights, row + 16 * c);
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_cvtepi8_epi16(w), xc));
        }
        acc
    }

    /// Outputs `o..o + 8` from their dot products: bias, requantisation, clamp.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn finish_block(&self, o: usize, sums: __m256i, out: &mut [i32]) {
        let (Some(Ok(bias)), Some(Ok(requant))) = (
            self.bias.get(o..o + 8).map(<&[i32; 8]>::try_from),
            self.requant.get(o..o + 8).map(<&[Requant; 8]>::try_from),
        ) else {
            return;
        };
        // SAFETY: eight `i32`s.
        let bias = unsafe { _mm256_loadu_si256(bias.as_ptr().cast()) };
        let acc = saturating_add(sums, bias);
        let right_shift = lanes_of(requant, |r| i32::from(r.right_shift));
        let multiplier = lanes_of(requant, |r| r.multiplier);
        let y = requant_lanes(acc, multiplier, right_shift, self.bounds);
        if let Ok(out) = <&mut [i32; 8]>::try_from(out) {
            // SAFETY: eight `i32`s.
            unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), y) };
        }
    }

    /// Output `o` from its dot product, as the portable layers finish it.
    #[inline]
    fn finish(&self, o: usize, sum: i32) -> i32 {
        match (self.bias.get(o), self.requant.get(o)) {
            (Some(&bias), Some(r)) => {
                r.apply_clamped(sum.saturating_add(bias), self.bounds.0, self.bounds.1)
            }
            _ => 0,
        }
    }
}

/// [`requant`] under another name, so that `Layer`'s field of that name does not hide it.
#[inline]
#[target_feature(enable = "avx2")]
fn requant_lanes(x: __m256i, m: __m256i, s: __m256i, bounds: (i32, i32)) -> __m256i {
    requant(x, m, s, bounds)
}

/// The input as `C` registers of sixteen `i16` lanes, zero past its end.
#[inline]
#[target_feature(enable = "avx2")]
fn narrow<const C: usize>(input: &[i32]) -> [__m256i; C] {
    let mut wide = [0i32; MAX_INPUTS];
    for (w, &v) in wide.iter_mut().zip(input) {
        *w = v;
    }
    let mut x = [_mm256_setzero_si256(); C];
    for (xc, chunk) in x.iter_mut().zip(wide.chunks_exact(16)) {
        // SAFETY: sixteen `i32`s.
        let (low, high) = unsafe {
            (
                _mm256_loadu_si256(chunk.as_ptr().cast()),
                _mm256_loadu_si256(chunk.as_ptr().add(8).cast()),
            )
        };
        // `packs` interleaves the halves' 128-bit lanes; the permutation puts them in order.
        *xc = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(low, high));
    }
    x
}

/// The sixteen weights from `at` on, read in place when they lie inside `weights`, else
/// copied (the ones past the end as 0).
#[inline]
#[target_feature(enable = "avx2")]
fn weights16(weights: &[i8], at: usize) -> core::arch::x86_64::__m128i {
    match weights.get(at..at + 16) {
        // SAFETY: sixteen bytes.
        Some(w) => unsafe { _mm_loadu_si128(w.as_ptr().cast()) },
        None => {
            let mut copy = [0i8; 16];
            for (c, &w) in copy.iter_mut().zip(weights.get(at..).unwrap_or(&[])) {
                *c = w;
            }
            // SAFETY: sixteen bytes.
            unsafe { _mm_loadu_si128(copy.as_ptr().cast()) }
        }
    }
}

/// The wrapping sum of the eight lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn sum_lanes(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// `i32::saturating_add` on eight lanes: where the wrapped sum's sign differs from both
/// operands' it overflowed, and the result is `i32::MAX` or `i32::MIN` after `a`'s sign.
#[inline]
#[target_feature(enable = "avx2")]
fn saturating_add(a: __m256i, b: __m256i) -> __m256i {
    let sum = _mm256_add_epi32(a, b);
    let overflow = _mm256_and_si256(_mm256_xor_si256(a, sum), _mm256_xor_si256(b, sum));
    let saturated = _mm256_xor_si256(_mm256_srai_epi32::<31>(a), _mm256_set1_epi32(i32::MAX));
    _mm256_castps_si256(_mm256_blendv_ps(
        _mm256_castsi256_ps(sum),
        _mm256_castsi256_ps(saturated),
        _mm256_castsi256_ps(overflow),
    ))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::super::Avx2;
    use super::MAX_INPUTS;
    use crate::int8::kernels::dense_scalar;
    use crate::int8::Requant;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    type Case = (Vec<i8>, Vec<i32>, Vec<i32>, Vec<Requant>);

    fn case() -> impl Strategy<Value = Case> {
        (1usize..=MAX_INPUTS + 4, 1usize..30).prop_flat_map(|(inputs, outputs)| {
            let shift = prop_oneof![1 => 33u8..=63, 1 => 0u8..=255];
            let requant = ((1i32 << 30)..=i32::MAX, shift)
                .prop_map(|(multiplier, shift)| Requant::new(multiplier, shift));
            let bias = prop_oneof![any::<i32>(), -(1i32 << 24)..(1 << 24)];
            (
                proptest::collection::vec(any::<i8>(), inputs * outputs),
                proptest::collection::vec(i32::from(i16::MIN)..=i32::from(i16::MAX), inputs),
                proptest::collection::vec(bias, outputs),
                proptest::collection::vec(requant, outputs),
            )
        })
    }

    proptest! {
        /// The vector layer gives the bits of the dot products, the saturating bias and the
        /// requantisation of the definition, for any `i16` input, with either clamp; it
        /// takes every layer up to its widest input.
        #[test]
        fn vector_layer_equals_the_definition(
            (weights, input, bias, requant) in case(),
            relu in any::<bool>(),
        ) {
            let Some(simd) = Avx2::detect() else { return Ok(()); };
            let bounds = if relu { (0, 32767) } else { (-(256 << 16), 256 << 16) };
            let mut expected = vec![0i32; bias.len()];
            dense_scalar(&weights, &input, &mut expected);
            for ((y, &b), r) in expected.iter_mut().zip(&bias).zip(&requant) {
                *y = r.apply_clamped(y.saturating_add(b), bounds.0, bounds.1);
            }
            let mut out = vec![-1i32; bias.len()];
            let took = simd.dense_layer(&weights, &input, &bias, &requant, &mut out, bounds);
            prop_assert_eq!(took, input.len() <= MAX_INPUTS);
            if took {
                prop_assert_eq!(out, expected);
            } else {
                prop_assert!(out.iter().all(|&y| y == -1));
            }
        }
    }
}
