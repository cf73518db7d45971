//! The front of a sparse batch on AVX-512F and BW: a row's 32 category fields in one
//! vector.
//!
//! With masked loads a row of up to 32 fields is one load that reads nothing past the row:
//! its range check is one compare against the vocabulary sizes into a mask, its dense rows
//! two widenings and additions of the block starts, and the unknown categories leave by
//! compression (the known rows packed to the front of the vector) instead of a scalar
//! loop. The standardisation of up to sixteen numeric values is one masked subtraction and
//! division per row, rounded as the scalar `(x - mean) / std`. Wider rows go to the AVX2
//! kernels.

use core::arch::x86_64::{
    _mm512_add_epi16, _mm512_add_epi32, _mm512_castsi512_si256, _mm512_cvtepu16_epi32,
    _mm512_div_ps, _mm512_extracti64x4_epi64, _mm512_mask_cmpgt_epu16_mask,
    _mm512_mask_cmpneq_epi16_mask, _mm512_mask_loadu_epi16, _mm512_mask_storeu_ps,
    _mm512_maskz_compress_epi32, _mm512_maskz_loadu_epi16, _mm512_maskz_loadu_epi32,
    _mm512_maskz_loadu_ps, _mm512_set1_epi16, _mm512_storeu_si512, _mm512_sub_ps,
};

use super::front::{self, MAX_VECTOR_FIELDS};

/// The mask of the first `n` of 32 lanes.
#[inline(always)]
fn first_lanes(n: usize) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        (1u32 << n) - 1
    }
}

/// See `Kernels::categories_valid`.
///
/// # Safety
/// The CPU must have AVX-512F and BW, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
pub(super) unsafe fn categories_valid(categories: &[u16], vocab_sizes: &[u16]) -> bool {
    let fields = vocab_sizes.len();
    if fields == 0 || fields > MAX_VECTOR_FIELDS {
        // SAFETY: the CPU has AVX2, FMA and F16C.
        return unsafe { front::categories_valid(categories, vocab_sizes) };
    }
    let row_mask = first_lanes(fields);
    // SAFETY: the mask covers the `fields` values of `vocab_sizes`; the lanes past them
    // hold the largest u16, which every value passes.
    let vocab = unsafe {
        _mm512_mask_loadu_epi16(_mm512_set1_epi16(-1), row_mask, vocab_sizes.as_ptr().cast())
    };
    let one = _mm512_set1_epi16(1);
    let len = categories.len();
    let (mut bad, mut start) = (0u32, 0);
    while start < len {
        let mask = row_mask & first_lanes(len - start);
        // SAFETY: start < len; the mask covers only values start .. len of `categories`.
        let c = unsafe { _mm512_maskz_loadu_epi16(mask, categories.as_ptr().add(start).cast()) };
        super::elementwise::prefetch_ahead(categories.as_ptr().wrapping_add(start));
        bad |= _mm512_mask_cmpgt_epu16_mask(mask, _mm512_add_epi16(c, one), vocab);
        start += fields;
    }
    bad == 0
}

/// See `Kernels::category_rows`. Needs room for 32 rows in `rows`.
///
/// # Safety
/// The CPU must have AVX-512F and BW, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
pub(super) unsafe fn category_rows(categories: &[u16], starts: &[u32], rows: &mut [u32]) -> usize {
    let fields = categories.len().min(starts.len());
    match rows.first_chunk_mut::<MAX_VECTOR_FIELDS>() {
        // SAFETY: the CPU has the features.
        Some(room) if (1..=MAX_VECTOR_FIELDS).contains(&fields) => unsafe {
            category_rows_of_32(categories, starts, room)
        },
        // SAFETY: the CPU has AVX2, FMA and F16C.
        _ => unsafe { front::category_rows(categories, starts, rows) },
    }
}

/// [`category_rows`] of the first 32 fields at most, without its fallback for wider rows:
/// a tile's loop over its rows (`avx512_rows`) then calls no function, and keeps its
/// accumulators in registers.
///
/// # Safety
/// The CPU must have AVX-512F and BW, AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
pub(super) unsafe fn category_rows_of_32(
    categories: &[u16],
    starts: &[u32],
    rows: &mut [u32; MAX_VECTOR_FIELDS],
) -> usize {
    let fields = categories.len().min(starts.len());
    let mask = first_lanes(fields);
    // SAFETY: the masks cover only the first `fields` values of `categories` and `starts`
    // (the second half's pointer is made with `wrapping_add` and read only under its
    // mask); the two stores write rows 0..16 and known_low..known_low + 16 <= 32, inside
    // `rows`.
    let known = unsafe {
        let c = _mm512_maskz_loadu_epi16(mask, categories.as_ptr().cast());
        let known = _mm512_mask_cmpneq_epi16_mask(mask, c, _mm512_set1_epi16(-1));
        let starts = starts.as_ptr();
        let low_starts = _mm512_maskz_loadu_epi32(mask as u16, starts.cast());
        let high_starts =
            _mm512_maskz_loadu_epi32((mask >> 16) as u16, starts.wrapping_add(16).cast());
        let low = _mm512_add_epi32(low_starts, _mm512_cvtepu16_epi32(_mm512_castsi512_si256(c)));
        let high = _mm512_add_epi32(
            high_starts,
            _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64::<1>(c)),
        );
        let (known_low, known_high) = (known as u16, (known >> 16) as u16);
        let out = rows.as_mut_ptr();
        _mm512_storeu_si512(out.cast(), _mm512_maskz_compress_epi32(known_low, low));
        let after = known_low.count_ones() as usize;
        _mm512_storeu_si512(
            out.add(after).cast(),
            _mm512_maskz_compress_epi32(known_high, high),
        );
        known
    };
    known.count_ones() as usize
}

/// See `Kernels::standardise`. Rows of more than sixteen columns go to the AVX2 kernel.
///
/// # Safety
/// The CPU must have AVX-512F and BW, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
pub(super) unsafe fn standardise(raw: &[f32], mean: &[f32], std: &[f32], out: &mut [f32]) {
    let columns = mean.len().min(std.len());
    if columns == 0 || columns > 16 {
        // SAFETY: the CPU has AVX2, FMA and F16C.
        return unsafe { front::standardise(raw, mean, std, out) };
    }
    let n = raw.len().min(out.len());
    let row_mask = first_lanes(columns) as u16;
    // SAFETY: the mask covers the `columns` values of `mean` and `std`.
    let (m, s) = unsafe {
        (
            _mm512_maskz_loadu_ps(row_mask, mean.as_ptr()),
            _mm512_maskz_loadu_ps(row_mask, std.as_ptr()),
        )
    };
    let mut row = 0;
    while row < n {
        let mask = row_mask & first_lanes(n - row) as u16;
        // SAFETY: row < n; the mask covers only values row .. n of `raw` and `out`.
        unsafe {
            let x = _mm512_maskz_loadu_ps(mask, raw.as_ptr().add(row));
            let v = _mm512_div_ps(_mm512_sub_ps(x, m), s);
            _mm512_mask_storeu_ps(out.as_mut_ptr().add(row), mask, v);
        }
        row += columns;
    }
}
