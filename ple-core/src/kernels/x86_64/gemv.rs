//! `out += x · W` for a `[rows, n]` matrix, AVX2 + FMA.
//!
//! The output is cut into column tiles of 64, 32, 16 and 8 lanes; a tile's accumulators stay
//! in registers for the whole pass over the rows, so each weight is loaded once and each
//! output once. Several independent accumulators hide the FMA latency. The last columns
//! (fewer than 8) go through an 8-lane buffer, so every value is computed by the same fused
//! multiply-add whatever its column.

use core::arch::x86_64::{
    _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    _mm_cvtss_f32, _mm_fmadd_ss, _mm_set_ss,
};

use super::Lanes;

/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn gemv<W: Lanes>(x: &[f32], w: &[W], out: &mut [f32]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    let rows = x.len().min(w.len() / n);
    if rows == 0 {
        return;
    }
    let x = x.get(..rows).unwrap_or(&[]);
    let mut j = 0;
    // SAFETY (all four tiles): columns `j..j + 8A` are inside both `out` (j + 8A <= n) and
    // every one of the `rows` rows of `w` (row i spans i*n..i*n + n, and rows*n <= w.len()).
    while j + 64 <= n {
        unsafe { tile::<W, 8>(x, w.as_ptr().add(j), n, out.as_mut_ptr().add(j)) };
        j += 64;
    }
    if j + 32 <= n {
        unsafe { tile::<W, 4>(x, w.as_ptr().add(j), n, out.as_mut_ptr().add(j)) };
        j += 32;
    }
    if j + 16 <= n {
        unsafe { tile::<W, 2>(x, w.as_ptr().add(j), n, out.as_mut_ptr().add(j)) };
        j += 16;
    }
    if j + 8 <= n {
        unsafe { tile::<W, 1>(x, w.as_ptr().add(j), n, out.as_mut_ptr().add(j)) };
        j += 8;
    }
    if let Some(rest) = out.get_mut(j..) {
        if !rest.is_empty() {
            // SAFETY: as above, for the columns `j..n`, which `tail` reads one by one.
            unsafe { tail(x, w.as_ptr().wrapping_add(j), n, rest) };
        }
    }
}

/// `A` accumulators of 8 lanes over `x.len()` rows.
///
/// # Safety
/// `w + i*stride .. + 8A` readable for every `i < x.len()`, `out .. out + 8A` writable, and
/// the CPU has AVX2, FMA and F16C.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn tile<W: Lanes, const A: usize>(x: &[f32], w: *const W, stride: usize, out: *mut f32) {
    // SAFETY: every pointer below stays inside the ranges the caller guarantees; the row
    // pointer is advanced with `wrapping_add` because after the last row it may point past
    // the end, where it is never read.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); A];
        for (k, a) in acc.iter_mut().enumerate() {
            *a = _mm256_loadu_ps(out.add(8 * k));
        }
        let mut row = w;
        for &xi in x {
            let xv = _mm256_set1_ps(xi);
            for (k, a) in acc.iter_mut().enumerate() {
                *a = _mm256_fmadd_ps(xv, W::load8(row.add(8 * k)), *a);
            }
            row = row.wrapping_add(stride);
        }
        for (k, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(out.add(8 * k), *a);
        }
    }
}

/// The last `out.len() < 8` columns, one at a time with the scalar fused multiply-add,
/// which rounds exactly as one lane of the vector one.
///
/// # Safety
/// `w + i*stride .. + out.len()` readable for every `i < x.len()`, and the CPU has AVX2, FMA
/// and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn tail<W: Lanes>(x: &[f32], w: *const W, stride: usize, out: &mut [f32]) {
    for (j, o) in out.iter_mut().enumerate() {
        let mut acc = _mm_set_ss(*o);
        let mut at = w.wrapping_add(j);
        for &xi in x {
            // SAFETY: row `i`'s column `j < out.len()` is readable (the caller's guarantee);
            // `at` advances with `wrapping_add` since past the last row it is never read.
            let wv = unsafe { *at }.to_f32();
            acc = _mm_fmadd_ss(_mm_set_ss(xi), _mm_set_ss(wv), acc);
            at = at.wrapping_add(stride);
        }
        *o = _mm_cvtss_f32(acc);
    }
}
