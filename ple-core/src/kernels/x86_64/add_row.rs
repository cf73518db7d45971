//! `out += row` and `out += Σ rows`, AVX2: the contribution of one one-hot input column.

use core::arch::x86_64::{_mm256_add_ps, _mm256_loadu_ps, _mm256_storeu_ps};

use super::Lanes;

/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn add_row<W: Lanes>(row: &[W], out: &mut [f32]) {
    let n = row.len().min(out.len());
    let mut j = 0;
    while j + 8 <= n {
        // SAFETY: `j + 8 <= n` keeps both eight-value accesses inside `row` and `out`.
        unsafe {
            let o = out.as_mut_ptr().add(j);
            _mm256_storeu_ps(
                o,
                _mm256_add_ps(_mm256_loadu_ps(o), W::load8(row.as_ptr().add(j))),
            );
        }
        j += 8;
    }
    // A scalar add rounds exactly like one lane of the vector add.
    let rest = out
        .get_mut(j..n)
        .unwrap_or(&mut [])
        .iter_mut()
        .zip(row.get(j..n).unwrap_or(&[]));
    for (o, &v) in rest {
        *o += v.to_f32();
    }
}

/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn add_rows<W: Lanes, I: Iterator<Item = usize> + Clone>(
    w: &[W],
    rows: I,
    out: &mut [f32],
) {
    let n = out.len();
    if n == 0 {
        return;
    }
    let limit = w.len() / n;
    let rows = rows.filter(move |&r| r < limit);
    if rows.clone().next().is_none() {
        return;
    }
    let mut j = 0;
    // SAFETY (all tiles): at least one row exists, so `w` holds at least `n` values and
    // columns `j..j + 8A` (j + 8A <= n) are inside `out` and inside every row `r < limit`.
    while j + 64 <= n {
        unsafe { tile::<W, _, 8>(w.as_ptr().add(j), n, rows.clone(), out.as_mut_ptr().add(j)) };
        j += 64;
    }
    if j + 32 <= n {
        unsafe { tile::<W, _, 4>(w.as_ptr().add(j), n, rows.clone(), out.as_mut_ptr().add(j)) };
        j += 32;
    }
    if j + 16 <= n {
        unsafe { tile::<W, _, 2>(w.as_ptr().add(j), n, rows.clone(), out.as_mut_ptr().add(j)) };
        j += 16;
    }
    if j + 8 <= n {
        unsafe { tile::<W, _, 1>(w.as_ptr().add(j), n, rows.clone(), out.as_mut_ptr().add(j)) };
        j += 8;
    }
    let (tail, w_len) = (out.get_mut(j..).unwrap_or(&mut []), w.len());
    for r in rows {
        let start = r * n + j;
        let row = w.get(start..(start + tail.len()).min(w_len)).unwrap_or(&[]);
        for (o, &v) in tail.iter_mut().zip(row) {
            *o += v.to_f32();
        }
    }
}

/// `A` accumulators of 8 lanes summing the rows `rows` of a matrix with `stride` columns.
///
/// # Safety
/// `w + r*stride .. + 8A` readable for every `r` of `rows`, `out .. out + 8A` writable,
/// and the CPU has AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn tile<W: Lanes, I: Iterator<Item = usize>, const A: usize>(
    w: *const W,
    stride: usize,
    rows: I,
    out: *mut f32,
) {
    // SAFETY: every access stays inside the ranges the caller guarantees.
    unsafe {
        let mut acc = [_mm256_loadu_ps(out); A];
        for (k, a) in acc.iter_mut().enumerate() {
            *a = _mm256_loadu_ps(out.add(8 * k));
        }
        for r in rows {
            let row = w.add(r * stride);
            for (k, a) in acc.iter_mut().enumerate() {
                *a = _mm256_add_ps(*a, W::load8(row.add(8 * k)));
            }
        }
        for (k, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(out.add(8 * k), *a);
        }
    }
}
