//! The first layer's category gather: the sum of the selected `i8` rows, one `i32` per output.
//!
//! Sixteen outputs per AVX2 register (thirty-two per AVX-512 register) as `i16` lanes: each
//! row adds one sign-extending load (`vpmovsxbw`) and one `vpaddw` per register. A pass keeps
//! up to [`PASS`] registers of sums, plus one for the last outputs when the width is not a
//! multiple of the register's: that register ends at the last output and overlaps the one
//! before it, so the overlapping outputs are summed twice, identically, and no read goes past
//! a row's last weight. For the default model (138 outputs) one pass covers the whole width,
//! so each row offset is read once. The sums are sign-extended to `i32` when stored.

use core::arch::x86_64::{
    __m256i, _mm256_add_epi16, _mm256_castsi256_si128, _mm256_cvtepi16_epi32, _mm256_cvtepi8_epi16,
    _mm256_extracti128_si256, _mm256_setzero_si256, _mm256_storeu_si256, _mm_loadu_si128,
};
#[cfg(feature = "avx512")]
use core::arch::x86_64::{
    __m512i, _mm256_loadu_si256, _mm512_add_epi16, _mm512_castsi512_si256, _mm512_cvtepi16_epi32,
    _mm512_cvtepi8_epi16, _mm512_extracti64x4_epi64, _mm512_setzero_si512, _mm512_storeu_si512,
};

/// The most full registers of sums a pass keeps (the width's last outputs may take one more).
const PASS: usize = 8;

/// Whether every row's weights, up to the output count rounded up to a word as the portable
/// gather reads them, lie inside `table` (the model view's constructor proves it).
fn rows_fit(table: &[i8], rows: &[u32], outputs: usize) -> bool {
    let padded = outputs.div_ceil(4) * 4;
    rows.iter().all(|&s| {
        (s as usize)
            .checked_add(padded)
            .is_some_and(|end| end <= table.len())
    })
}

/// Runs the passes of `LANES`-output registers over `out`: `pass(v, tail, c0)` sums `v` full
/// registers from output `c0` on, plus, with `tail`, the register that ends at the last
/// output.
#[inline(always)]
fn passes<const LANES: usize>(outputs: usize, mut pass: impl FnMut(usize, bool, usize)) {
    let full = outputs / LANES;
    let tail = !outputs.is_multiple_of(LANES);
    let mut done = 0;
    while done < full {
        let v = (full - done).min(PASS);
        pass(v, tail && done + v == full, done * LANES);
        done += v;
    }
}

macro_rules! dispatch {
    ($pass:ident, $v:expr, $tail:expr, ($($arg:expr),*)) => {
        match ($v, $tail) {
            (1, false) => $pass::<1, false>($($arg),*),
            (1, true) => $pass::<1, true>($($arg),*),
            (2, false) => $pass::<2, false>($($arg),*),
            (2, true) => $pass::<2, true>($($arg),*),
            (3, false) => $pass::<3, false>($($arg),*),
            (3, true) => $pass::<3, true>($($arg),*),
            (4, false) => $pass::<4, false>($($arg),*),
            (4, true) => $pass::<4, true>($($arg),*),
            (5, false) => $pass::<5, false>($($arg),*),
            (5, true) => $pass::<5, true>($($arg),*),
            (6, false) => $pass::<6, false>($($arg),*),
            (6, true) => $pass::<6, true>($($arg),*),
            (7, false) => $pass::<7, false>($($arg),*),
            (7, true) => $pass::<7, true>($($arg),*),
            (8, false) => $pass::<8, false>($($arg),*),
            (8, true) => $pass::<8, true>($($arg),*),
            _ => {}
        }
    };
}

/// `out[o]` = the sum of `table[r + o]` over the row offsets `r` of `rows`, in wrapping `i16`
/// then sign-extended (as the packed portable gather gives it). Returns `false`, touching
/// nothing, for fewer than 16 outputs or a row that does not fit `table`.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn gather_sums_avx2(table: &[i8], rows: &[u32], out: &mut [i32]) -> bool {
    let n = out.len();
    if n < 16 || !rows_fit(table, rows, n) {
        return false;
    }
    let (base, dst) = (table.as_ptr(), out.as_mut_ptr());
    passes::<16>(n, |v, tail, c0| {
        // SAFETY: every row holds `n` weights inside `table` (checked above); a pass reads
        // and writes outputs `c0..c0 + 16 * v <= n` and, with `tail`, `n - 16..n` (n >= 16).
        unsafe { dispatch!(pass16, v, tail, (base, rows, c0, n, dst)) }
    });
    true
}

/// One pass of [`gather_sums_avx2`].
///
/// # Safety
/// AVX2; `row + c0 + 16 * V` (and `row + n` with `TAIL`, `n >= 16`) readable for every row
/// offset of `rows` from `base`, and `out + c0 + 16 * V` (and `out + n`) writable.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn pass16<const V: usize, const TAIL: bool>(
    base: *const i8,
    rows: &[u32],
    c0: usize,
    n: usize,
    out: *mut i32,
) {
    let mut acc = [_mm256_setzero_si256(); V];
    let mut last = _mm256_setzero_si256();
    for &start in rows {
        // SAFETY: see the function's contract.
        let row = unsafe { base.add(start as usize) };
        for (v, a) in acc.iter_mut().enumerate() {
            // SAFETY: bytes `c0 + 16v..c0 + 16v + 16` of the row are readable.
            let w = unsafe { _mm_loadu_si128(row.add(c0 + 16 * v).cast()) };
            *a = _mm256_add_epi16(*a, _mm256_cvtepi8_epi16(w));
        }
        if TAIL {
            // SAFETY: bytes `n - 16..n` of the row are readable.
            let w = unsafe { _mm_loadu_si128(row.add(n - 16).cast()) };
            last = _mm256_add_epi16(last, _mm256_cvtepi8_epi16(w));
        }
    }
    for (v, &a) in acc.iter().enumerate() {
        // SAFETY: outputs `c0 + 16v..c0 + 16v + 16` are writable.
        unsafe { store16(out.add(c0 + 16 * v), a) };
    }
    if TAIL {
        // SAFETY: outputs `n - 16..n` are writable.
        unsafe { store16(out.add(n - 16), last) };
    }
}

/// Stores sixteen `i16` lanes as `i32`s.
///
/// # Safety
/// AVX2; `out..out + 16` writable.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store16(out: *mut i32, sums: __m256i) {
    let low = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(sums));
    let high = _mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(sums));
    // SAFETY: the caller guarantees sixteen writable values.
    unsafe {
        _mm256_storeu_si256(out.cast(), low);
        _mm256_storeu_si256(out.add(8).cast(), high);
    }
}

/// [`gather_sums_avx2`] with thirty-two outputs per register (AVX-512BW); at least 32
/// outputs, else `false`.
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512BW.
#[cfg(feature = "avx512")]
#[target_feature(enable = "avx512f,avx512bw,avx2")]
pub(super) unsafe fn gather_sums_avx512(table: &[i8], rows: &[u32], out: &mut [i32]) -> bool {
    let n = out.len();
    if n < 32 {
        // SAFETY: AVX-512 implies AVX2.
        return unsafe { gather_sums_avx2(table, rows, out) };
    }
    if !rows_fit(table, rows, n) {
        return false;
    }
    let (base, dst) = (table.as_ptr(), out.as_mut_ptr());
    passes::<32>(n, |v, tail, c0| {
        // SAFETY: as in `gather_sums_avx2`, with 32 outputs per register (n >= 32).
        unsafe { dispatch!(pass32, v, tail, (base, rows, c0, n, dst)) }
    });
    true
}

/// One pass of [`gather_sums_avx512`].
///
/// # Safety
/// As [`pass16`] with 32 outputs per register, and AVX-512F and AVX-512BW.
#[cfg(feature = "avx512")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2")]
unsafe fn pass32<const V: usize, const TAIL: bool>(
    base: *const i8,
    rows: &[u32],
    c0: usize,
    n: usize,
    out: *mut i32,
) {
    let mut acc = [_mm512_setzero_si512(); V];
    let mut last = _mm512_setzero_si512();
    for &start in rows {
        // SAFETY: see the function's contract.
        let row = unsafe { base.add(start as usize) };
        for (v, a) in acc.iter_mut().enumerate() {
            // SAFETY: bytes `c0 + 32v..c0 + 32v + 32` of the row are readable.
            let w = unsafe { _mm256_loadu_si256(row.add(c0 + 32 * v).cast()) };
            *a = _mm512_add_epi16(*a, _mm512_cvtepi8_epi16(w));
        }
        if TAIL {
            // SAFETY: bytes `n - 32..n` of the row are readable.
            let w = unsafe { _mm256_loadu_si256(row.add(n - 32).cast()) };
            last = _mm512_add_epi16(last, _mm512_cvtepi8_epi16(w));
        }
    }
    for (v, &a) in acc.iter().enumerate() {
        // SAFETY: outputs `c0 + 32v..c0 + 32v + 32` are writable.
        unsafe { store32(out.add(c0 + 32 * v), a) };
    }
    if TAIL {
        // SAFETY: outputs `n - 32..n` are writable.
        unsafe { store32(out.add(n - 32), last) };
    }
}

/// Stores thirty-two `i16` lanes as `i32`s.
///
/// # Safety
/// AVX-512F and AVX-512BW; `out..out + 32` writable.
#[cfg(feature = "avx512")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2")]
unsafe fn store32(out: *mut i32, sums: __m512i) {
    let low = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(sums));
    let high = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64::<1>(sums));
    // SAFETY: the caller guarantees thirty-two writable values.
    unsafe {
        _mm512_storeu_si512(out.cast(), low);
        _mm512_storeu_si512(out.add(16).cast(), high);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::super::Avx2;
    use crate::int8::kernels::{Dsp, PortableDsp};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// A table of `rows` rows of `outputs` weights as the model view lays it out, and up to
    /// 40 selected row offsets (some repeated, as any offsets may be).
    fn case() -> impl Strategy<Value = (Vec<i8>, Vec<u32>, usize)> {
        (1usize..300, 1usize..12).prop_flat_map(|(outputs, rows)| {
            let len = crate::int8::category_weights_len(rows, outputs);
            (
                proptest::collection::vec(any::<i8>(), len),
                proptest::collection::vec((0..rows).prop_map(move |r| (r * outputs) as u32), 0..40),
                Just(outputs),
            )
        })
    }

    proptest! {
        /// The AVX2 and AVX-512 gathers give the portable packed gather's sums, for every
        /// width (narrow ones fall back to it) and any rows, including the table's last.
        #[test]
        fn vector_gathers_equal_the_portable_gather((table, rows, outputs) in case()) {
            let Some(simd) = Avx2::detect() else { return Ok(()); };
            let mut packed = vec![0u32; outputs.div_ceil(4) * 2];
            let mut expected = vec![0i32; outputs];
            PortableDsp::gather_sums(&table, &rows, &mut packed, &mut expected);
            for simd in [simd, simd.narrow()] {
                let mut out = vec![-7i32; outputs];
                simd.gather_sums(&table, &rows, &mut packed, &mut out);
                prop_assert_eq!(&out, &expected);
            }
        }
    }

    /// Sums that wrap in `i16` lanes wrap the same way (300 rows of -128 is below `i16::MIN`):
    /// the vector gather is the packed gather's twin even outside the model view's bounds.
    #[test]
    fn wrapped_sums_equal_the_portable_gather() {
        let Some(simd) = Avx2::detect() else { return };
        let outputs = 70;
        let table = vec![-128i8; crate::int8::category_weights_len(2, outputs)];
        let rows = vec![0u32; 300];
        let mut packed = vec![0u32; outputs.div_ceil(4) * 2];
        let mut expected = vec![0i32; outputs];
        PortableDsp::gather_sums(&table, &rows, &mut packed, &mut expected);
        for simd in [simd, simd.narrow()] {
            let mut out = vec![0i32; outputs];
            simd.gather_sums(&table, &rows, &mut packed, &mut out);
            assert_eq!(out, expected);
        }
    }
}
