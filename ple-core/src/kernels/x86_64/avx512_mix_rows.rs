//! The gate mixing of experts still in rows on AVX-512F: `Kernels::mix_relu_rows`.
//!
//! The first layer leaves a tile's rows as rows: each row's experts side by side, sixteen
//! values an expert in the default model, one register. Turning all of them into lanes
//! before the mixing (144 columns a row) cost more than the mixing itself; mixing in rows
//! needs only the gates in lanes (ten columns) and afterwards the mixed tower inputs (32).
//! A row's gate weight is one broadcast from the gate's lanes, each expert vector one
//! load, its ReLU one `max`, and every value goes through the operations of
//! `avx512_lanes::mix_relu_lanes` on zeroed outputs (the product rounded, then added), so
//! the two give the same bits. One call mixes every task of every row of the tile, so the
//! work of a row (ten products in the default model) is not drowned in per-call costs.
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::{
    _mm512_add_ps, _mm512_loadu_ps, _mm512_max_ps, _mm512_mul_ps, _mm512_set1_ps,
    _mm512_setzero_ps, _mm512_storeu_ps,
};

use crate::kernels::{RowMix, LANES};

/// The widest expert this kernel takes, in sixteen-value vectors.
const MAX_VECTORS: usize = 4;

/// See `Kernels::mix_relu_rows`. Returns `false`, touching nothing, for experts that are
/// not 16 to 64 values in whole vectors, or slices that do not hold every row's experts,
/// gate weights and outputs (the caller then goes value by value, which skips what does
/// not fit).
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
    let ept = mix.experts_per_task;
    let Some(plan) = Plan::new(mix) else {
        return false;
    };
    // The last row's end in each slice; earlier rows end before it.
    let last = rows.saturating_sub(1);
    let ends = |stride: usize, len: usize| last.checked_mul(stride)?.checked_add(len);
    let fits = |end: Option<usize>, len: usize| end.is_some_and(|end| end <= len);
    if !fits(ends(mix.out_stride, plan.outputs), out.len())
        || !fits(ends(mix.stride, plan.experts), experts.len())
        || !fits(plan.gates.checked_mul(LANES), weights.len())
    {
        return false;
    }
    for t in 0..mix.tasks {
        // SAFETY: task t < tasks: its outputs r * out_stride + t * n .. + n and its
        // experts r * stride .. + experts are inside the slices for every row r < rows
        // (the last row's are, checked above), and weights 0..rows of its gates, below
        // `plan.gates`, inside `weights`.
        unsafe {
            let e = experts.as_ptr();
            let task = Task {
                weights: weights.as_ptr().add(t * plan.gate_width * LANES),
                own: e.add(t * ept * n),
                own_gates: ept,
                shared: e.add(mix.tasks * ept * n),
                gates: plan.gate_width,
                stride: mix.stride,
                out: out.as_mut_ptr().add(t * n),
                out_stride: mix.out_stride,
            };
            match vectors {
                1 => task_rows::<1, 16>(task, rows),
                2 => task_rows::<2, 8>(task, rows),
                3 => task_rows::<3, 5>(task, rows),
                _ => task_rows::<MAX_VECTORS, 4>(task, rows),
            }
        }
    }
    true
}

/// The sizes a mixing's slices must hold, checked for overflow.
struct Plan {
    /// Gates of a task: its own experts and the shared ones.
    gate_width: usize,
    /// Gates of all the tasks.
    gates: usize,
    /// Values of a row's experts.
    experts: usize,
    /// Values of a row's outputs.
    outputs: usize,
}

impl Plan {
    fn new(mix: RowMix) -> Option<Self> {
        let gate_width = mix.experts_per_task.checked_add(mix.shared_experts)?;
        let own = mix.tasks.checked_mul(mix.experts_per_task)?;
        Some(Plan {
            gate_width,
            gates: mix.tasks.checked_mul(gate_width)?,
            experts: own
                .checked_add(mix.shared_experts)?
                .checked_mul(mix.width)?,
            outputs: mix.tasks.checked_mul(mix.width)?,
        })
    }
}

/// A task's gate weights ([`LANES`] apart, one a row), its experts (own then shared, row
/// 0's, rows `stride` apart) and its outputs (row 0's, rows `out_stride` apart).
#[derive(Clone, Copy)]
struct Task {
    weights: *const f32,
    own: *const f32,
    own_gates: usize,
    shared: *const f32,
    gates: usize,
    stride: usize,
    out: *mut f32,
    out_stride: usize,
}

/// A task's `rows` rows of `V` vectors: `R` rows at a time (`R * V <= 16` accumulators),
/// so that each gate's expert and weight addresses serve `R` rows, then the rows left one
/// at a time.
///
/// # Safety
/// As [`block`] for every row below `rows`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn task_rows<const V: usize, const R: usize>(task: Task, rows: usize) {
    let mut r = 0;
    // SAFETY: every block's rows are below `rows`.
    unsafe {
        while r + R <= rows {
            block::<V, R>(task, r);
            r += R;
        }
        while r < rows {
            block::<V, 1>(task, r);
            r += 1;
        }
    }
}

/// Rows `first..first + R` of a task, `V` output vectors each, over its gates.
///
/// # Safety
/// For each of those rows `r` and each gate `k < task.gates`: `task.weights + k * LANES +
/// r` readable; `own + r * stride + k * 16V .. + 16V` readable for `k < own_gates`,
/// `shared + r * stride + (k - own_gates) * 16V .. + 16V` for the others; `out + r *
/// out_stride .. + 16V` writable; AVX-512F present.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn block<const V: usize, const R: usize>(task: Task, first: usize) {
    // SAFETY: every access stays inside the ranges the caller guarantees.
    unsafe {
        // The outputs start from zero, as the lanes' mixing starts from zeroed outputs.
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        let weights = task.weights.add(first);
        let rows = first * task.stride;
        for k in 0..task.gates {
            let expert = match k.checked_sub(task.own_gates) {
                None => task.own.add(rows + k * 16 * V),
                Some(shared) => task.shared.add(rows + shared * 16 * V),
            };
            let w = weights.add(k * LANES);
            for (r, row) in acc.iter_mut().enumerate() {
                let wv = _mm512_set1_ps(*w.add(r));
                let e = expert.add(r * task.stride);
                for (v, a) in row.iter_mut().enumerate() {
                    // As the ReLU kernel: `max(e, +0)` gives +0 for -0 and for a NaN.
                    let e = _mm512_max_ps(_mm512_loadu_ps(e.add(16 * v)), _mm512_setzero_ps());
                    *a = _mm512_add_ps(*a, _mm512_mul_ps(wv, e));
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            let out = task.out.add((first + r) * task.out_stride);
            for (v, a) in row.iter().enumerate() {
                _mm512_storeu_ps(out.add(16 * v), *a);
            }
        }
    }
}
