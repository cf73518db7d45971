//! The first layer on sixteen lanes, AVX-512F: `out = bias + x · W + Σ one-hot rows`.
//!
//! The sparse first layer is most of a sparse row's work: 41 weight rows (bias, 11 numeric
//! inputs, 29 categories) of 138 columns for the default model. With 32 sixteen-lane
//! registers the whole width fits in one pass of 9 accumulators, so each row index is read
//! and each weight row walked once, with half the vector operations of the 8-lane kernel.
//! The accumulators go through exactly the operations of the AVX2 kernels (`0 + bias`, one
//! fused multiply-add per input in order, one addition per one-hot row in order), so the
//! results are bit-identical to them and to the composed primitive kernels. The last
//! vector of a pass may overlap the one before it (it ends at the last column): the
//! overlapping columns are computed twice, identically. That needs at least 16 columns;
//! narrower layers go to the AVX2 kernels.
//!
//! Rust has the AVX-512 intrinsics from 1.89, the crate's minimum is 1.85: hence the opt-in
//! `avx512` feature, which needs 1.89.
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::{
    __m512, _mm256_loadu_si256, _mm256_set1_epi16, _mm512_add_ps, _mm512_cvtph_ps, _mm512_fmadd_ps,
    _mm512_loadu_ps, _mm512_mask_cmpge_epu32_mask, _mm512_maskz_loadu_epi32, _mm512_set1_epi32,
    _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

use half::f16;

use super::Lanes;

/// A weight type the AVX-512 kernel can widen to sixteen `f32` lanes.
pub(super) trait Wide: Lanes {
    /// Loads sixteen values from `p` as `f32`s.
    ///
    /// # Safety
    /// `p..p + 16` must be readable, and the CPU must have AVX-512F.
    unsafe fn load16(p: *const Self) -> __m512;

    /// Loads the value at `p` as an `f32` into all sixteen lanes, widened as `load16` widens.
    ///
    /// # Safety
    /// `p` must be readable, and the CPU must have AVX-512F.
    unsafe fn broadcast16(p: *const Self) -> __m512;
}

impl Wide for f32 {
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    unsafe fn load16(p: *const Self) -> __m512 {
        // SAFETY: the caller guarantees sixteen readable values.
        unsafe { _mm512_loadu_ps(p) }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    unsafe fn broadcast16(p: *const Self) -> __m512 {
        // SAFETY: the caller guarantees a readable value.
        unsafe { _mm512_set1_ps(*p) }
    }
}

impl Wide for f16 {
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    unsafe fn load16(p: *const Self) -> __m512 {
        // SAFETY: the caller guarantees sixteen readable values (32 bytes); `loadu` has no
        // alignment requirement.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    unsafe fn broadcast16(p: *const Self) -> __m512 {
        // SAFETY: the caller guarantees a readable value; the conversion widens it in
        // every lane.
        unsafe { _mm512_cvtph_ps(_mm256_set1_epi16((*p).to_bits() as i16)) }
    }
}

/// The most accumulators of one pass: 16 of the 32 registers (256 columns).
pub(super) const PASS: usize = 16;

/// `out = bias + x · W[..x.len()] + Σ_{r in rows} W[r]`. Returns `false`, touching nothing,
/// when `out` is narrower than 16 or a slice does not fit (a row index past the matrix, `x`
/// longer than it, a bias of another width).
///
/// # Safety
/// The CPU must have AVX-512F, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn sparse_layer<W: Wide>(
    x: &[f32],
    w: &[W],
    bias: &[W],
    rows: &[u32],
    out: &mut [f32],
) -> bool {
    let n = out.len();
    if n < 16 || bias.len() != n {
        return false;
    }
    let height = w.len() / n;
    if x.len() > height || !rows_below(rows, height) {
        return false;
    }
    let mut start = 0;
    while start < n {
        let vectors = (n - start).div_ceil(16).min(PASS);
        // The pass's last vector ends at column n at the latest; the others follow `start`.
        let last = (start + 16 * (vectors - 1)).min(n - 16) - start;
        // SAFETY: vector k < vectors - 1 covers start + 16k .. start + 16k + 16 <= n (there
        // are at least 16 more columns after it, in the last vector's range), the last one
        // start + last .. start + last + 16 <= n; all inside `out`, `bias` and every row below
        // `height`, which bounds both the x rows and the one-hot rows (checked above).
        unsafe {
            let w0 = w.as_ptr().add(start);
            let b0 = bias.as_ptr().add(start);
            let o0 = out.as_mut_ptr().add(start);
            let at = Pass { stride: n, last };
            match vectors {
                1 => pass::<W, 1>(x, w0, b0, rows, o0, at),
                2 => pass::<W, 2>(x, w0, b0, rows, o0, at),
                3 => pass::<W, 3>(x, w0, b0, rows, o0, at),
                4 => pass::<W, 4>(x, w0, b0, rows, o0, at),
                5 => pass::<W, 5>(x, w0, b0, rows, o0, at),
                6 => pass::<W, 6>(x, w0, b0, rows, o0, at),
                7 => pass::<W, 7>(x, w0, b0, rows, o0, at),
                8 => pass::<W, 8>(x, w0, b0, rows, o0, at),
                9 => pass::<W, 9>(x, w0, b0, rows, o0, at),
                10 => pass::<W, 10>(x, w0, b0, rows, o0, at),
                11 => pass::<W, 11>(x, w0, b0, rows, o0, at),
                12 => pass::<W, 12>(x, w0, b0, rows, o0, at),
                13 => pass::<W, 13>(x, w0, b0, rows, o0, at),
                14 => pass::<W, 14>(x, w0, b0, rows, o0, at),
                15 => pass::<W, 15>(x, w0, b0, rows, o0, at),
                _ => pass::<W, PASS>(x, w0, b0, rows, o0, at),
            }
        }
        start += last + 16;
    }
    true
}

/// Whether every row index is below `height`: sixteen indices a compare (a row's one-hot
/// rows are checked in two instead of one branch each).
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) fn rows_below(rows: &[u32], height: usize) -> bool {
    // Every u32 index is below a larger height.
    let Ok(height) = u32::try_from(height) else {
        return true;
    };
    let limit = _mm512_set1_epi32(height as i32);
    let (mut above, mut at) = (0u16, 0);
    while at < rows.len() {
        let left = rows.len() - at;
        let mask = if left >= 16 {
            u16::MAX
        } else {
            (1u16 << left) - 1
        };
        // SAFETY: at < rows.len(); the mask covers only indices at .. rows.len().
        let v = unsafe { _mm512_maskz_loadu_epi32(mask, rows.as_ptr().add(at).cast()) };
        above |= _mm512_mask_cmpge_epu32_mask(mask, v, limit);
        at += 16;
    }
    above == 0
}

/// Where a pass's vectors are: rows `stride` apart; vector `k < A - 1` at column `16k`, the
/// last at column `last`.
#[derive(Clone, Copy)]
pub(super) struct Pass {
    pub(super) stride: usize,
    pub(super) last: usize,
}

/// Column offset of vector `k` of an `A`-vector pass.
#[inline(always)]
fn offset<const A: usize>(k: usize, at: Pass) -> usize {
    if k + 1 == A {
        at.last
    } else {
        16 * k
    }
}

/// `A` vectors of columns of one row, all inputs and one-hot rows.
///
/// # Safety
/// For every vector `k` (at `offset::<A>(k)`): `w + i*stride + offset .. + 16` readable for
/// `i < x.len()` and for every `i` in `rows`, `bias + offset .. + 16` readable,
/// `out + offset .. + 16` writable; AVX-512F, AVX2, FMA and F16C present.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn pass<W: Wide, const A: usize>(
    x: &[f32],
    w: *const W,
    bias: *const W,
    rows: &[u32],
    out: *mut f32,
    at: Pass,
) {
    // SAFETY: the caller guarantees what `start` and `pass_from` need.
    unsafe { pass_from::<W, A>(start::<W, A>(bias, at), x, w, rows, out, at) }
}

/// The accumulators every row of a pass starts from: `0 + bias`. A tile of rows computes
/// them once and starts each row from copies, which the register renamer makes for free:
/// the same values as a row's own `0 + bias`, without its loads and additions.
///
/// # Safety
/// `bias + offset .. + 16` readable for every vector `k` (at `offset::<A>(k)`); AVX-512F,
/// AVX2, FMA and F16C present.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn start<W: Wide, const A: usize>(bias: *const W, at: Pass) -> [__m512; A] {
    let mut acc = [_mm512_setzero_ps(); A];
    for (k, a) in acc.iter_mut().enumerate() {
        // SAFETY: the caller guarantees the bias vector is readable.
        *a = _mm512_add_ps(*a, unsafe { W::load16(bias.add(offset::<A>(k, at))) });
    }
    acc
}

/// [`pass`] from accumulators already holding `0 + bias` ([`start`]).
///
/// # Safety
/// As for [`pass`], without the bias.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn pass_from<W: Wide, const A: usize>(
    mut acc: [__m512; A],
    x: &[f32],
    w: *const W,
    rows: &[u32],
    out: *mut f32,
    at: Pass,
) {
    // SAFETY: every access stays inside the ranges the caller guarantees; the x-row pointer
    // uses `wrapping_add` because after the last row it may point past the matrix, unread.
    unsafe {
        let mut row = w;
        for &xi in x {
            let xv = _mm512_set1_ps(xi);
            for (k, a) in acc.iter_mut().enumerate() {
                *a = _mm512_fmadd_ps(xv, W::load16(row.add(offset::<A>(k, at))), *a);
            }
            row = row.wrapping_add(at.stride);
        }
        for &r in rows {
            let row = w.add(r as usize * at.stride);
            for (k, a) in acc.iter_mut().enumerate() {
                *a = _mm512_add_ps(*a, W::load16(row.add(offset::<A>(k, at))));
            }
        }
        for (k, a) in acc.iter().enumerate() {
            _mm512_storeu_ps(out.add(offset::<A>(k, at)), *a);
        }
    }
}
