//! Whole layers, NEON: `out = bias + x · W (+ Σ one-hot rows)`, for one row or a tile
//! of rows.
//!
//! The accumulators start at `0 + bias`, take one fused multiply-add per input in input
//! order, then one addition per one-hot row in the given order, and are stored once: every
//! output value goes through exactly the operations of the composed kernels (clear, add the
//! bias, `gemv`, `add_rows`), so the fused kernels are bit-identical to them and to each
//! other, whatever the tile. Because a pass computes its columns from scratch rather than
//! from `out`, the last pass may overlap the one before it (it ends at the last column
//! instead of running past it): the overlapping columns are computed twice, identically.
//! That needs at least 4 columns (one vector); narrower layers return `false` and the caller
//! composes.
//!
//! These are the four-lane twins of the AVX2 kernels (`kernels/x86_64/layer.rs`), with more
//! accumulators per pass since aarch64 has 32 vector registers.

use core::arch::aarch64::{float32x4_t, vaddq_f32, vdupq_n_f32, vfmaq_f32, vst1q_f32};

use super::Lanes;

/// The most accumulators a one-row pass keeps (16 of the 32 vector registers, 64 columns;
/// the rest hold the broadcast input and the loaded weights).
const PASS: usize = 16;

/// `out = bias + x · W[..x.len()] + Σ_{r in rows} W[r]`. Returns `false`, touching nothing,
/// when `out` is narrower than 4 or a slice does not fit (a row index past the matrix, `x`
/// longer than it, a bias of another width).
///
/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn sparse_layer<W: Lanes>(
    x: &[f32],
    w: &[W],
    bias: &[W],
    rows: &[u32],
    out: &mut [f32],
) -> bool {
    let n = out.len();
    if n < 4 || bias.len() != n {
        return false;
    }
    let height = w.len() / n;
    if x.len() > height || rows.iter().any(|&r| r as usize >= height) {
        return false;
    }
    let mut start = 0;
    while start < n {
        let vectors = (n - start).div_ceil(4).min(n / 4).min(PASS);
        // Shifted left so that the pass ends at column n at the latest (n >= 4 * vectors).
        let c0 = start.min(n - 4 * vectors);
        // SAFETY: columns c0..c0 + 4 * vectors lie inside `out`, `bias` and every row below
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
                9 => pass::<W, 9>(x, w0, n, b0, rows, o0),
                10 => pass::<W, 10>(x, w0, n, b0, rows, o0),
                11 => pass::<W, 11>(x, w0, n, b0, rows, o0),
                12 => pass::<W, 12>(x, w0, n, b0, rows, o0),
                13 => pass::<W, 13>(x, w0, n, b0, rows, o0),
                14 => pass::<W, 14>(x, w0, n, b0, rows, o0),
                15 => pass::<W, 15>(x, w0, n, b0, rows, o0),
                _ => pass::<W, PASS>(x, w0, n, b0, rows, o0),
            }
        }
        start = c0 + 4 * vectors;
    }
    true
}

/// `A` vectors of columns of one row, all inputs and one-hot rows.
///
/// # Safety
/// `w + i*stride .. + 4A` readable for `i < x.len()` and for every `i` in `rows`,
/// `bias .. + 4A` readable, `out .. + 4A` writable; NEON present.
#[inline]
#[target_feature(enable = "neon")]
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
        let mut acc = [vdupq_n_f32(0.0); A];
        for (k, a) in acc.iter_mut().enumerate() {
            *a = vaddq_f32(*a, W::load4(bias.add(4 * k)));
        }
        let mut row = w;
        for &xi in x {
            let xv = vdupq_n_f32(xi);
            for (k, a) in acc.iter_mut().enumerate() {
                *a = vfmaq_f32(*a, xv, W::load4(row.add(4 * k)));
            }
            row = row.wrapping_add(stride);
        }
        for &r in rows {
            let row = w.add(r as usize * stride);
            for (k, a) in acc.iter_mut().enumerate() {
                *a = vaddq_f32(*a, W::load4(row.add(4 * k)));
            }
        }
        for (k, a) in acc.iter().enumerate() {
            vst1q_f32(out.add(4 * k), *a);
        }
    }
}

/// Rows of a [`layer_rows`] micro-tile: each weight vector loaded once serves them all.
const TILE_ROWS: usize = 4;

/// `layer` for `tile.rows` rows (see `Kernels::layer_rows`). Returns `false`, touching
/// nothing, when the layer is narrower than 4 or a row's slices do not fit.
///
/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn layer_rows<W: Lanes>(
    x: &[f32],
    w: &[W],
    bias: &[W],
    out: &mut [f32],
    tile: crate::kernels::RowTile,
) -> bool {
    let n = bias.len();
    if n < 4 || tile.rows == 0 {
        return n >= 4;
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
    let vectors = if n >= 16 {
        4
    } else if n >= 8 {
        2
    } else {
        1
    };
    let mut r = 0;
    while r < tile.rows {
        let here = (tile.rows - r).min(TILE_ROWS);
        let mut start = 0;
        while start < n {
            let c0 = start.min(n - 4 * vectors);
            // SAFETY: rows r..r + here are below tile.rows, so their inputs (k values) and
            // outputs (n values) are inside `x` and `out` (checked above); columns
            // c0..c0 + 4 * vectors are inside every weight row and the bias.
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
                    (1, 2) => micro::<W, 1, 2>(xs, k, w0, b0, os, strides),
                    (2, 2) => micro::<W, 2, 2>(xs, k, w0, b0, os, strides),
                    (3, 2) => micro::<W, 3, 2>(xs, k, w0, b0, os, strides),
                    (_, 2) => micro::<W, TILE_ROWS, 2>(xs, k, w0, b0, os, strides),
                    (1, _) => micro::<W, 1, 4>(xs, k, w0, b0, os, strides),
                    (2, _) => micro::<W, 2, 4>(xs, k, w0, b0, os, strides),
                    (3, _) => micro::<W, 3, 4>(xs, k, w0, b0, os, strides),
                    (_, _) => micro::<W, TILE_ROWS, 4>(xs, k, w0, b0, os, strides),
                }
            }
            start = c0 + 4 * vectors;
        }
        r += here;
    }
    true
}

/// `R` rows by `A` vectors of columns over all `k` inputs.
///
/// # Safety
/// For every `r < R`: `x + r*x_stride .. + k` readable and `out + r*out_stride .. + 4A`
/// writable; `w + i*w_stride .. + 4A` readable for `i < k`; `bias .. + 4A` readable; NEON
/// present.
#[inline]
#[target_feature(enable = "neon")]
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
        let mut acc: [[float32x4_t; A]; R] = [[vdupq_n_f32(0.0); A]; R];
        for row in acc.iter_mut() {
            for (v, a) in row.iter_mut().enumerate() {
                *a = vaddq_f32(*a, W::load4(bias.add(4 * v)));
            }
        }
        for i in 0..k {
            let mut wv = [vdupq_n_f32(0.0); A];
            for (v, slot) in wv.iter_mut().enumerate() {
                *slot = W::load4(w.add(i * w_stride + 4 * v));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let xv = vdupq_n_f32(*x.add(r * x_stride + i));
                for (a, &wj) in row.iter_mut().zip(&wv) {
                    *a = vfmaq_f32(*a, xv, wj);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, a) in row.iter().enumerate() {
                vst1q_f32(out.add(r * out_stride + 4 * v), *a);
            }
        }
    }
}
