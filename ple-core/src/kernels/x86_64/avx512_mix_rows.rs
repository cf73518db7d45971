//! The gate mixing of experts still in rows on AVX-512F: `Kernels::mix_relu_rows`.
//!
//! The first layer leaves a tile's rows as rows: each row's experts side by side, sixteen
//! values an expert in the default model, one register. Turning all of them into lanes
//! before the mixing (144 columns a row) cost more than the mixing itself; mixing in rows
//! needs only the gates in lanes (ten columns) and afterwards the mixed tower inputs (32).
//! A row's gate weight is one broadcast from the gate's lanes, each expert vector one
//! load, its ReLU one `max`, and every value goes through the operations of
//! `avx512_lanes::mix_relu_lanes` (the product rounded, then added), so the two give the
//! same bits.
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_loadu_ps, _mm512_max_ps, _mm512_mul_ps, _mm512_set1_ps,
    _mm512_setzero_ps, _mm512_storeu_ps,
};

use crate::kernels::{RowMix, LANES};

/// The widest expert this kernel takes, in sixteen-value vectors.
const MAX_VECTORS: usize = 4;

/// See `Kernels::mix_relu_rows`. Returns `false`, touching nothing, for experts that are
/// not 16 to 64 values in whole vectors, or slices that do not hold every row's experts
/// and output (the caller then goes value by value, which skips what does not fit).
///
/// # Safety
/// The CPU must have AVX-512F, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn mix_relu_rows(
    weights: &[f32],
    experts: &[f32],
    out: &mut [f32],
    mix: RowMix,
) -> bool {
    let n = mix.width;
    let vectors = n / 16;
    if !n.is_multiple_of(16) || !(1..=MAX_VECTORS).contains(&vectors) {
        return false;
    }
    let rows = mix.rows.min(LANES);
    let gates = weights.len() / LANES;
    // The last row's end in each slice; earlier rows end before it.
    let last = rows.saturating_sub(1);
    let ends = |stride: usize, len: usize| last.checked_mul(stride)?.checked_add(len);
    let fits = ends(mix.out_stride, n).is_some_and(|end| end <= out.len())
        && gates
            .checked_mul(n)
            .and_then(|len| ends(mix.stride, len))
            .is_some_and(|end| end <= experts.len());
    if !fits {
        return false;
    }
    for r in 0..rows {
        // SAFETY: row r < rows: its output r * out_stride .. + n and its experts
        // r * stride .. + gates * n are inside the slices (the last row's are, checked
        // above), and weight r of every gate below `gates` is inside `weights`.
        unsafe {
            let w = weights.as_ptr().add(r);
            let e = experts.as_ptr().add(r * mix.stride);
            let o = out.as_mut_ptr().add(r * mix.out_stride);
            match vectors {
                1 => row::<1>(w, gates, e, o),
                2 => row::<2>(w, gates, e, o),
                3 => row::<3>(w, gates, e, o),
                _ => row::<MAX_VECTORS>(w, gates, e, o),
            }
        }
    }
    true
}

/// One row's `V` output vectors over all the gates.
///
/// # Safety
/// `weights + g * LANES` readable and `experts + g * 16V .. + 16V` readable for every
/// `g < gates`, `out .. + 16V` readable and writable; AVX-512F present.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn row<const V: usize>(
    weights: *const f32,
    gates: usize,
    experts: *const f32,
    out: *mut f32,
) {
    // SAFETY: every access stays inside the ranges the caller guarantees.
    unsafe {
        let mut acc: [__m512; V] = core::array::from_fn(|v| _mm512_loadu_ps(out.add(16 * v)));
        for g in 0..gates {
            let wv = _mm512_set1_ps(*weights.add(g * LANES));
            let expert = experts.add(g * 16 * V);
            for (v, a) in acc.iter_mut().enumerate() {
                // As the ReLU kernel: `max(e, +0)` gives +0 for -0 and for a NaN.
                let e = _mm512_max_ps(_mm512_loadu_ps(expert.add(16 * v)), _mm512_setzero_ps());
                *a = _mm512_add_ps(*a, _mm512_mul_ps(wv, e));
            }
        }
        for (v, a) in acc.iter().enumerate() {
            _mm512_storeu_ps(out.add(16 * v), *a);
        }
    }
}
