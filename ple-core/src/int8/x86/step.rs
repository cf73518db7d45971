//! The first layer's per-output step on eight outputs at a time (AVX2):
//! `acc = (G << category_shift) + bias + sum_k x_k * w_k`, requantised and clamped.
//!
//! The numeric weights are stored output by output (`P` pairs each), so each output's pairs
//! are one masked load (`vpmaskmovd`, which reads only the `P` pairs of that output) multiplied
//! with the input pairs by one `vpmaddwd`; eight such vectors are summed across by a tree of
//! `vphaddd`, which leaves output `j`'s dot product in lane `j`. The category sum, its shift
//! (`vpsllvd`), the bias and the requantisation are then lane-wise. The records' fields are
//! read one by one (a record has padding bytes, which must not be loaded).

use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_loadu_si256, _mm256_madd_epi16,
    _mm256_maskload_epi32, _mm256_set1_epi32, _mm256_setzero_si256, _mm256_sllv_epi32,
    _mm256_srli_epi32, _mm256_storeu_si256,
};

use super::lanes::{lanes_of, requant, sum_each};
use crate::int8::SparseOutput;

/// The step for the whole blocks of eight outputs at the start of `out` (category sums in,
/// outputs out), output `o` with the pairs `pairs[o * P..(o + 1) * P]` and the record
/// `records[o]`, as far as every array reaches. Returns the number of outputs computed (a
/// multiple of 8), none if `P` is 0 or above 8.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn steps<const P: usize>(
    x: &[u32; P],
    out: &mut [i32],
    records: &[SparseOutput],
    pairs: &[[i16; 2]],
    bounds: (i32, i32),
) -> usize {
    if P == 0 || P > 8 {
        return 0;
    }
    let (mut words, mut lanes) = ([0i32; 8], [0i32; 8]);
    for (k, (word, lane)) in words.iter_mut().zip(&mut lanes).enumerate() {
        if let Some(&w) = x.get(k) {
            (*word, *lane) = (w as i32, -1);
        }
    }
    // SAFETY: two arrays of eight `i32`s.
    let (x, mask) = unsafe {
        (
            _mm256_loadu_si256(words.as_ptr().cast()),
            _mm256_loadu_si256(lanes.as_ptr().cast()),
        )
    };
    let blocks = out.len().min(records.len()).min(pairs.len() / P) / 8;
    let mut done = 0;
    for block in records.chunks_exact(8).take(blocks) {
        let Ok(block) = <&[SparseOutput; 8]>::try_from(block) else {
            break;
        };
        let (bias, multiplier, shifts) = fields(block);
        let right_shift = _mm256_and_si256(shifts, _mm256_set1_epi32(0xFF));
        // `wrapping_shl` takes the shift modulo 32.
        let category_shift =
            _mm256_and_si256(_mm256_srli_epi32::<8>(shifts), _mm256_set1_epi32(31));
        let mut dots = [_mm256_setzero_si256(); 8];
        for (j, dot) in dots.iter_mut().enumerate() {
            // SAFETY: `(done + j + 1) * P <= 8 * blocks * P <= pairs.len()`; the mask reads
            // the first `P` pairs of the output only, and has no alignment requirement.
            let w = unsafe {
                _mm256_maskload_epi32(pairs.as_ptr().add((done + j) * P).cast::<i32>(), mask)
            };
            *dot = _mm256_madd_epi16(w, x);
        }
        let dot = sum_each(dots);
        // SAFETY: `done + 8 <= 8 * blocks <= out.len()`.
        let sums = unsafe { _mm256_loadu_si256(out.as_ptr().add(done).cast()) };
        let acc = _mm256_sllv_epi32(sums, category_shift);
        let acc = _mm256_add_epi32(_mm256_add_epi32(acc, bias), dot);
        let y = requant(acc, multiplier, right_shift, bounds);
        // SAFETY: as for the load.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(done).cast(), y) };
        done += 8;
    }
    done
}

/// Biases, multipliers, and `right_shift | category_shift << 8` of eight records.
#[inline]
#[target_feature(enable = "avx2")]
fn fields(records: &[SparseOutput; 8]) -> (__m256i, __m256i, __m256i) {
    (
        lanes_of(records, |r| r.bias),
        lanes_of(records, |r| r.multiplier),
        lanes_of(records, |r| {
            i32::from(r.right_shift) | (i32::from(r.category_shift) << 8)
        }),
    )
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::super::Avx2;
    use crate::int8::kernels::{Dsp, PortableDsp};
    use crate::int8::SparseOutput;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// The portable step of one output (as `first_layer` computes it).
    fn portable(
        x: &[u32],
        sum: i32,
        record: &SparseOutput,
        pairs: &[[i16; 2]],
        bounds: (i32, i32),
    ) -> i32 {
        let mut acc = sum
            .wrapping_shl(u32::from(record.category_shift))
            .wrapping_add(record.bias);
        for (&xk, &[lo, hi]) in x.iter().zip(pairs) {
            let w = u32::from(lo as u16) | (u32::from(hi as u16) << 16);
            acc = PortableDsp::smlad(xk, w, acc);
        }
        record.requant().apply_clamped(acc, bounds.0, bounds.1)
    }

    fn record() -> impl Strategy<Value = SparseOutput> {
        (
            any::<i32>(),
            (1i32 << 30)..=i32::MAX,
            prop_oneof![3 => 33u8..=63, 1 => 0u8..=255],
            any::<u8>(),
        )
            .prop_map(
                |(bias, multiplier, right_shift, category_shift)| SparseOutput {
                    bias,
                    multiplier,
                    right_shift,
                    category_shift,
                },
            )
    }

    fn check<const P: usize>(
        x: &[u32],
        sums: &[i32],
        records: &[SparseOutput],
        weights: &[i16],
        bounds: (i32, i32),
    ) -> Result<(), TestCaseError> {
        let Some(simd) = Avx2::detect() else {
            return Ok(());
        };
        let Some(Ok(x)) = x.get(..P).map(<&[u32; P]>::try_from) else {
            return Ok(());
        };
        let pairs: Vec<[i16; 2]> = bytemuck::cast_slice::<i16, [i16; 2]>(
            weights.get(..weights.len() / 2 * 2).unwrap_or(&[]),
        )
        .to_vec();
        let outputs = sums.len().min(records.len()).min(pairs.len() / P);
        let mut out = sums.to_vec();
        let done = simd.steps::<P>(x, &mut out, records, &pairs, bounds);
        prop_assert!(done % 8 == 0 && done <= outputs);
        prop_assert_eq!(done, outputs / 8 * 8);
        let rows = pairs.chunks_exact(P);
        for (o, (((&y, &sum), record), row)) in
            out.iter().zip(sums).zip(records).zip(rows).enumerate()
        {
            let expected = if o < done {
                portable(x, sum, record, row, bounds)
            } else {
                sum
            };
            prop_assert_eq!(y, expected, "output {}", o);
        }
        Ok(())
    }

    proptest! {
        /// Every output the vector step computes has the portable step's bits, for every
        /// numeric width, any sums, shifts and weights (beyond the model view's bounds too,
        /// where the sums wrap), with either clamp; it takes every whole block whose shifts
        /// allow it.
        #[test]
        fn vector_steps_equal_the_portable_step(
            pairs in 1usize..=8,
            x in proptest::collection::vec(any::<u32>(), 8),
            sums in proptest::collection::vec(any::<i32>(), 0..40),
            records in proptest::collection::vec(record(), 40),
            weights in proptest::collection::vec(any::<i16>(), 0..700),
            relu in any::<bool>(),
        ) {
            let bounds = if relu { (0, 32767) } else { (-(256 << 16), 256 << 16) };
            let records = records.get(..sums.len()).unwrap_or(&[]);
            match pairs {
                1 => check::<1>(&x, &sums, records, &weights, bounds)?,
                2 => check::<2>(&x, &sums, records, &weights, bounds)?,
                3 => check::<3>(&x, &sums, records, &weights, bounds)?,
                4 => check::<4>(&x, &sums, records, &weights, bounds)?,
                5 => check::<5>(&x, &sums, records, &weights, bounds)?,
                6 => check::<6>(&x, &sums, records, &weights, bounds)?,
                7 => check::<7>(&x, &sums, records, &weights, bounds)?,
                _ => check::<8>(&x, &sums, records, &weights, bounds)?,
            }
        }
    }
}
