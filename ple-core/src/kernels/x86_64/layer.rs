//! Whole layers, AVX2 + FMA: `out = bias + x · W (+ Σ one-hot rows)`, for one row or a tile
//! of rows.
//!
//! The accumulators start at `0 + bias`, take one fused multiply-add per input in input
//! order, then one addition per one-hot row in the given order, and are stored once: every
//! output value goes through exactly the operations of the composed kernels (clear, add the
//! bias, `gemv`, `add_rows`), so the fused kernels are bit-identical to them and to each
//! other, whatever the tile. Because a pass computes its columns from scratch rather than
//! from `out`, the last pass may overlap the one before it (it ends at the last column
//! instead of running past it): the overlapping columns are computed twice, identically.
//! That needs at least 8 columns; narrower single rows return `false` and the caller
//! composes, narrower tiles (the one-unit output layers) take one scalar FMA per input.

use core::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    _mm_cvtss_f32, _mm_fmadd_ss, _mm_set_ss,
};

use super::Lanes;

/// The most accumulators a one-row pass keeps (nine of the sixteen ymm registers; the rest
/// hold the broadcast input and addresses).
const PASS: usize = 9;

/// `out = bias + x · W[..x.len()] + Σ_{r in rows} W[r]`. Returns `false`, touching nothing,
/// when `out` is narrower than 8 or a slice does not fit (a row index past the matrix, `x`
/// longer than it, a bias of another width).
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn sparse_layer<W: Lanes>(
    x: &[f32],
    w: &[W],
    bias: &[W],
    rows: &[u32],
    out: &mut [f32],
) -> bool {
    let n = out.len();
    if n < 8 || bias.len() != n {
        return false;
    }
    let height = w.len() / n;
    if x.len() > height || rows.iter().any(|&r| r as usize >= height) {
        return false;
    }
    let mut start = 0;
    while start < n {
        let vectors = (n - start).div_ceil(8).min(n / 8).min(PASS);
        // Shifted left so that the pass ends at column n at the latest (n >= 8 * vectors).
        let c0 = start.min(n - 8 * vectors);
        // SAFETY: columns c0..c0 + 8 * vectors lie inside `out`, `bias` and every row below
        // `height`, which bounds both the x rows and the one-hot rows (checked above).
        unsafe {
            let w0 = w.as_ptr().add(c0);
            let b0 = bias.as_ptr().add(c0);
            let o0 = out.as_mut_ptr().add(c0);
            match vectors {
                1 => pass::<W, 1>(x, w0, n, b0, rows, o0),
                2 => pass::<W, 2>(x, w0, n, b0, rows, o0),
                3 => pass::<W, 3>(x, w0, n, b0, rows, o0),
                4 => pass::<W, 4>(x, w0, n, b0, rows, o0),
                5 => pass::<W, 5>(x, w0, n, b0, rows, o0),
                6 => pass::<W, 6>(x, w0, n, b0, rows, o0),
                7 => pass::<W, 7>(x, w0, n, b0, rows, o0),
                8 => pass::<W, 8>(x, w0, n, b0, rows, o0),
                _ => pass::<W, PASS>(x, w0, n, b0, rows, o0),
            }
        }
        start = c0 + 8 * vectors;
    }
    true
}

/// `A` vectors of columns of one row, all inputs and one-hot rows.
///
/// # Safety
/// `w + i*stride .. + 8A` readable for `i < x.len()` and for every `i` in `rows`,
/// `bias .. + 8A` readable, `out .. + 8A` writable; AVX2, FMA and F16C present.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn pass<W: Lanes, const A: usize>(
    x: &[f32],
    w: *const W,
    stride: usize,
    bias: *const W,
    rows: &[u32],
    out: *mut f32,
) {
    // SAFETY: every access stays inside the ranges the caller guarantees; the x-row pointer
    // uses `wrapping_add` because after the last row it may point past the matrix, unread.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); A];
        for (k, a) in acc.iter_mut().enumerate() {
            *a = _mm256_add_ps(*a, W::load8(bias.add(8 * k)));
        }
        let mut row = w;
        for &xi in x {
            let xv = _mm256_set1_ps(xi);
            for (k, a) in acc.iter_mut().enumerate() {
                *a = _mm256_fmadd_ps(xv, W::load8(row.add(8 * k)), *a);
            }
            row = row.wrapping_add(stride);
        }
        for &r in rows {
            let row = w.add(r as usize * stride);
            for (k, a) in acc.iter_mut().enumerate() {
                *a = _mm256_add_ps(*a, W::load8(row.add(8 * k)));
            }
        }
        for (k, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(out.add(8 * k), *a);
        }
    }
}

/// Rows of a [`layer_rows`] micro-tile: each weight vector loaded once serves them all.
const TILE_ROWS: usize = 4;

/// `layer` for `tile.rows` rows (see `Kernels::layer_rows`). Returns `false`, touching
/// nothing, when a row's slices do not fit.
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn layer_rows<W: Lanes>(
    x: &[f32],
    w: &[W],
    bias: &[W],
    out: &mut [f32],
    tile: crate::kernels::RowTile,
) -> bool {
    let n = bias.len();
    if n == 0 || tile.rows == 0 {
        return n > 0;
    }
    let k = w.len() / n;
    let last = tile.rows - 1;
    let fits = |stride: usize, width: usize, len: usize| {
        last.checked_mul(stride)
            .and_then(|s| s.checked_add(width))
            .is_some_and(|end| end <= len)
    };
    if !fits(tile.x_stride, k, x.len()) || !fits(tile.out_stride, n, out.len()) {
        return false;
    }
    if n < 8 {
        // SAFETY: AVX2, FMA and F16C are present (this function's contract).
        unsafe { narrow(x, w, bias, out, tile) };
        return true;
    }
    let vectors = if n >= 16 { 2 } else { 1 };
    let mut r = 0;
    while r < tile.rows {
        let here = (tile.rows - r).min(TILE_ROWS);
        let mut start = 0;
        while start < n {
            let c0 = start.min(n - 8 * vectors);
            // SAFETY: rows r..r + here are below tile.rows, so their inputs (k values) and
            // outputs (n values) are inside `x` and `out` (checked above); columns
            // c0..c0 + 8 * vectors are inside every weight row and the bias.
            unsafe {
                let xs = x.as_ptr().add(r * tile.x_stride);
                let os = out.as_mut_ptr().add(r * tile.out_stride + c0);
                let w0 = w.as_ptr().add(c0);
                let b0 = bias.as_ptr().add(c0);
                let strides = (tile.x_stride, n, tile.out_stride);
                match (here, vectors) {
                    (1, 1) => micro::<W, 1, 1>(xs, k, w0, b0, os, strides),
                    (2, 1) => micro::<W, 2, 1>(xs, k, w0, b0, os, strides),
                    (3, 1) => micro::<W, 3, 1>(xs, k, w0, b0, os, strides),
                    (_, 1) => micro::<W, TILE_ROWS, 1>(xs, k, w0, b0, os, strides),
                    (1, _) => micro::<W, 1, 2>(xs, k, w0, b0, os, strides),
                    (2, _) => micro::<W, 2, 2>(xs, k, w0, b0, os, strides),
                    (3, _) => micro::<W, 3, 2>(xs, k, w0, b0, os, strides),
                    (_, _) => micro::<W, TILE_ROWS, 2>(xs, k, w0, b0, os, strides),
                }
            }
            start = c0 + 8 * vectors;
        }
        r += here;
    }
    true
}

/// `R` rows by `A` vectors of columns over all `k` inputs.
///
/// # Safety
/// For every `r < R`: `x + r*x_stride .. + k` readable and `out + r*out_stride .. + 8A`
/// writable; `w + i*w_stride .. + 8A` readable for `i < k`; `bias .. + 8A` readable; AVX2,
/// FMA and F16C present.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn micro<W: Lanes, const R: usize, const A: usize>(
    x: *const f32,
    k: usize,
    w: *const W,
    bias: *const W,
    out: *mut f32,
    (x_stride, w_stride, out_stride): (usize, usize, usize),
) {
    // SAFETY: every access stays inside the ranges the caller guarantees.
    unsafe {
        let mut acc: [[__m256; A]; R] = [[_mm256_setzero_ps(); A]; R];
        for row in acc.iter_mut() {
            for (v, a) in row.iter_mut().enumerate() {
                *a = _mm256_add_ps(*a, W::load8(bias.add(8 * v)));
            }
        }
        for i in 0..k {
            let mut wv = [_mm256_setzero_ps(); A];
            for (v, slot) in wv.iter_mut().enumerate() {
                *slot = W::load8(w.add(i * w_stride + 8 * v));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let xv = _mm256_set1_ps(*x.add(r * x_stride + i));
                for (a, &wj) in row.iter_mut().zip(&wv) {
                    *a = _mm256_fmadd_ps(xv, wj, *a);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, a) in row.iter().enumerate() {
                _mm256_storeu_ps(out.add(r * out_stride + 8 * v), *a);
            }
        }
    }
}

/// [`layer_rows`] of fewer than 8 columns (a task's one-unit output layer): each value as
/// the composed kernels compute it, `0 + bias`, then one scalar fused multiply-add per input
/// in order (what `gemv`'s last columns do), without a call per row.
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn narrow<W: Lanes>(
    x: &[f32],
    w: &[W],
    bias: &[W],
    out: &mut [f32],
    tile: crate::kernels::RowTile,
) {
    let n = bias.len().max(1);
    let k = w.len() / n;
    for r in 0..tile.rows {
        let x_start = r.saturating_mul(tile.x_stride);
        let out_start = r.saturating_mul(tile.out_stride);
        let (Some(xs), Some(os)) = (
            x.get(x_start..x_start.saturating_add(k)),
            out.get_mut(out_start..out_start.saturating_add(n)),
        ) else {
            continue;
        };
        if let ([o], [b]) = (&mut *os, bias) {
            // One column: the weights are a plain vector.
            let mut acc = _mm_set_ss(0.0 + b.to_f32());
            for (&xi, wv) in xs.iter().zip(w) {
                acc = _mm_fmadd_ss(_mm_set_ss(xi), _mm_set_ss(wv.to_f32()), acc);
            }
            *o = _mm_cvtss_f32(acc);
            continue;
        }
        for (j, (o, b)) in os.iter_mut().zip(bias).enumerate() {
            let mut acc = _mm_set_ss(0.0 + b.to_f32());
            for (&xi, row) in xs.iter().zip(w.chunks_exact(n)) {
                let wv = row.get(j).map_or(0.0, |v| v.to_f32());
                acc = _mm_fmadd_ss(_mm_set_ss(xi), _mm_set_ss(wv), acc);
            }
            *o = _mm_cvtss_f32(acc);
        }
    }
}
