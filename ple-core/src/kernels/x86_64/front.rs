//! The front of a sparse batch, AVX2: validating the rows' categories, turning a row's
//! categories into the dense rows of its one-hot blocks, and standardising the numeric
//! values.
//!
//! A Census row has 29 category fields and 11 numeric values; done value by value these
//! steps cost about as many instructions as everything after the first layer. Here a row's
//! range check is two 16-lane compares against the vocabulary sizes (up to 32 fields; the
//! unknown category wraps to 0 on the `+ 1`, so it passes like the scalar twin's), its
//! dense rows are a widening and an addition of the block starts eight fields at a time
//! (the last eight end at the last field, so some are computed twice, identically), and
//! the standardisation is the scalar `(x - mean) / std`, a subtraction and a division each
//! rounded once, on eight values at a time.

use core::arch::x86_64::{
    __m256i, _mm256_add_epi16, _mm256_add_epi32, _mm256_and_si256, _mm256_cmpeq_epi16,
    _mm256_cmpeq_epi32, _mm256_cmpgt_epi32, _mm256_cvtepu16_epi32, _mm256_div_ps, _mm256_loadu_ps,
    _mm256_loadu_si256, _mm256_maskload_ps, _mm256_maskstore_ps, _mm256_max_epu16,
    _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi16, _mm256_set1_epi32, _mm256_setr_epi32,
    _mm256_setzero_si256, _mm256_storeu_ps, _mm256_storeu_si256, _mm256_sub_ps, _mm256_testz_si256,
    _mm_loadu_si128,
};

use super::scalar;
use crate::input::UNKNOWN_CATEGORY;

/// The most fields a row may have for the vector kernels (two vectors of sixteen).
pub(super) const MAX_VECTOR_FIELDS: usize = 32;

/// See `Kernels::categories_valid`. Rows of more than [`MAX_VECTOR_FIELDS`] fields go to
/// the scalar twin.
///
/// # Safety
/// The CPU must have AVX2 (and FMA and F16C, like every kernel of this module).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn categories_valid(categories: &[u16], vocab_sizes: &[u16]) -> bool {
    let fields = vocab_sizes.len();
    if fields == 0 || fields > MAX_VECTOR_FIELDS {
        return scalar::categories_valid(categories, vocab_sizes);
    }
    // Lanes past the fields compare against the largest u16, which every value passes.
    let mut padded = [u16::MAX; MAX_VECTOR_FIELDS];
    for (p, &v) in padded.iter_mut().zip(vocab_sizes) {
        *p = v;
    }
    let (one, mut ok) = (_mm256_set1_epi16(1), _mm256_set1_epi16(-1));
    // SAFETY: `padded` holds 32 values.
    let vocab = unsafe { load32(padded.as_ptr()) };
    let check = |ok: __m256i, c: [__m256i; 2]| {
        let pass = |c: __m256i, v: __m256i| {
            _mm256_cmpeq_epi16(_mm256_max_epu16(_mm256_add_epi16(c, one), v), v)
        };
        _mm256_and_si256(
            ok,
            _mm256_and_si256(pass(c[0], vocab[0]), pass(c[1], vocab[1])),
        )
    };
    let len = categories.len();
    let mut start = 0;
    // Rows read 32 values straight from the slice while they are there (the lanes past the
    // row hold the next row's values, which pass); the last rows go through a buffer.
    while start + MAX_VECTOR_FIELDS <= len {
        super::elementwise::prefetch_ahead(categories.as_ptr().wrapping_add(start));
        // SAFETY: start + 32 <= len: the 32 values are inside `categories`.
        ok = check(ok, unsafe { load32(categories.as_ptr().add(start)) });
        start += fields;
    }
    while start < len {
        let mut row = [UNKNOWN_CATEGORY; MAX_VECTOR_FIELDS];
        let rest = categories.get(start..).unwrap_or(&[]);
        for (r, &c) in row.iter_mut().zip(rest.iter().take(fields)) {
            *r = c;
        }
        // SAFETY: `row` holds 32 values.
        ok = check(ok, unsafe { load32(row.as_ptr()) });
        start += fields;
    }
    _mm256_movemask_epi8(ok) == -1
}

/// Two vectors of sixteen `u16` from `p`.
///
/// # Safety
/// `p..p + 32` must be readable, and the CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn load32(p: *const u16) -> [__m256i; 2] {
    // SAFETY: the caller guarantees 32 readable values; `loadu` needs no alignment.
    unsafe {
        [
            _mm256_loadu_si256(p.cast()),
            _mm256_loadu_si256(p.add(16).cast()),
        ]
    }
}

/// See `Kernels::category_rows`. Rows of fewer than 8 or more than [`MAX_VECTOR_FIELDS`]
/// fields, and a `rows` shorter than the fields, go to the scalar twin.
///
/// # Safety
/// The CPU must have AVX2 (and FMA and F16C, like every kernel of this module).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn category_rows(categories: &[u16], starts: &[u32], rows: &mut [u32]) -> usize {
    let fields = categories.len().min(starts.len());
    if !(8..=MAX_VECTOR_FIELDS).contains(&fields) || rows.len() < fields {
        return scalar::category_rows(categories, starts, rows);
    }
    let unknown = _mm256_set1_epi32(i32::from(UNKNOWN_CATEGORY));
    let mut any_unknown = _mm256_setzero_si256();
    let mut at = 0;
    loop {
        // The last eight fields end at the last field.
        let f = at.min(fields - 8);
        // SAFETY: f + 8 <= fields, which is at most the length of `categories`, `starts`
        // and `rows`.
        unsafe {
            let c = _mm256_cvtepu16_epi32(_mm_loadu_si128(categories.as_ptr().add(f).cast()));
            let start = _mm256_loadu_si256(starts.as_ptr().add(f).cast());
            let row = _mm256_add_epi32(start, c);
            _mm256_storeu_si256(rows.as_mut_ptr().add(f).cast(), row);
            any_unknown = _mm256_or_si256(any_unknown, _mm256_cmpeq_epi32(c, unknown));
        }
        if f + 8 >= fields {
            break;
        }
        at = f + 8;
    }
    if _mm256_testz_si256(any_unknown, any_unknown) == 1 {
        return fields;
    }
    // Rare: an unknown category. Move the known fields' rows up, in order.
    let mut known = 0;
    for (field, &c) in categories.iter().enumerate().take(fields) {
        if c != UNKNOWN_CATEGORY {
            let row = rows.get(field).copied().unwrap_or(0);
            if let Some(slot) = rows.get_mut(known) {
                *slot = row;
            }
            known += 1;
        }
    }
    known
}

/// See `Kernels::standardise`.
///
/// # Safety
/// The CPU must have AVX2 (and FMA and F16C, like every kernel of this module).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn standardise(raw: &[f32], mean: &[f32], std: &[f32], out: &mut [f32]) {
    let columns = mean.len().min(std.len());
    if columns == 0 {
        return;
    }
    let n = raw.len().min(out.len());
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mut row = 0;
    while row < n {
        let here = (n - row).min(columns);
        let mut c = 0;
        while c < here {
            let left = here - c;
            // SAFETY: values row + c .. row + c + min(left, 8) are inside `raw` and `out`
            // (row + here <= n) and c .. c + min(left, 8) inside `mean` and `std` (here <=
            // columns); the masked loads and stores touch no lane past `left`.
            unsafe {
                let (x, o) = (raw.as_ptr().add(row + c), out.as_mut_ptr().add(row + c));
                let (m, s) = (mean.as_ptr().add(c), std.as_ptr().add(c));
                if left >= 8 {
                    let v = _mm256_sub_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(m));
                    _mm256_storeu_ps(o, _mm256_div_ps(v, _mm256_loadu_ps(s)));
                } else {
                    let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(left as i32), lane);
                    let v = _mm256_sub_ps(_mm256_maskload_ps(x, mask), _mm256_maskload_ps(m, mask));
                    let v = _mm256_div_ps(v, _mm256_maskload_ps(s, mask));
                    _mm256_maskstore_ps(o, mask, v);
                }
            }
            c += 8;
        }
        row += here;
    }
}
