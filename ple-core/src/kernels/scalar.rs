//! The portable kernels: plain Rust, on every target, and the twin every SIMD kernel is
//! tested against.
//!
//! They use separate multiply and add (not fused), which is what a Cortex-M4F or a core
//! without FMA does anyway; SIMD kernels with FMA round once per multiply-add and so differ
//! in the last bits.

use super::{Kernels, RowMix, RowTile, LANES, LANES_MAX_WIDTH, MAX_SPARSE_FIELDS};
use crate::forward::{sigmoid_exponent, sigmoid_from_exp};
use crate::input::UNKNOWN_CATEGORY;
use crate::normalise::standardise_values;
use crate::weight::Weight;

/// The portable kernels.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scalar;

impl<W: Weight> Kernels<W> for Scalar {
    type F32 = Scalar;

    fn f32_kernels(&self) -> Scalar {
        Scalar
    }

    fn gemv_acc(&self, x: &[f32], w: &[W], out: &mut [f32]) {
        let n = out.len();
        if n == 0 {
            return;
        }
        let mut rest = w;
        for &xi in x {
            let Some((row, tail)) = rest.split_at_checked(n) else {
                return;
            };
            for (o, &wv) in out.iter_mut().zip(row) {
                *o += xi * wv.to_f32();
            }
            rest = tail;
        }
    }

    fn add_row(&self, row: &[W], out: &mut [f32]) {
        for (o, &wv) in out.iter_mut().zip(row) {
            *o += wv.to_f32();
        }
    }
}

/// [`Kernels::relu`]: `max(v, 0)` with a NaN and both zeros giving `+0.0`.
pub(crate) fn relu(values: &mut [f32]) {
    for v in values {
        *v = if *v > 0.0 { *v } else { 0.0 };
    }
}

/// [`Kernels::all_finite`]: no value has the all-ones exponent (infinity or NaN). The
/// exponent plus one carries into the top bit exactly when it is all ones; eight lanes of
/// ORs without branches.
pub(crate) fn all_finite(values: &[f32]) -> bool {
    const EXPONENT: u32 = 0x7f80_0000;
    let carry = |v: &f32| (v.to_bits() & EXPONENT).wrapping_add(0x0080_0000);
    let mut lanes = [0u32; 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane |= carry(v);
        }
    }
    let rest = chunks.remainder().iter().fold(0, |any, v| any | carry(v));
    lanes.iter().fold(rest, |any, &lane| any | lane) & 0x8000_0000 == 0
}

/// [`Kernels::exp`] value by value with libm.
pub(crate) fn exp(values: &mut [f32]) {
    for v in values {
        *v = libm::expf(*v);
    }
}

/// [`Kernels::mix`] expert by expert.
pub(crate) fn mix(weights: &[f32], experts: &[f32], out: &mut [f32]) {
    let width = out.len().max(1);
    for (&weight, expert) in weights.iter().zip(experts.chunks_exact(width)) {
        for (o, &e) in out.iter_mut().zip(expert) {
            *o += weight * e;
        }
    }
}

/// [`Kernels::mix_lanes`] expert by expert.
pub(crate) fn mix_lanes(weights: &[f32], experts: &[f32], out: &mut [f32]) {
    let out = out.as_chunks_mut::<LANES>().0;
    let n = out.len().max(1);
    let experts = experts.as_chunks::<LANES>().0.chunks_exact(n);
    for (weight, expert) in weights.as_chunks::<LANES>().0.iter().zip(experts) {
        for (o, e) in out.iter_mut().zip(expert) {
            for ((o, &e), &w) in o.iter_mut().zip(e).zip(weight) {
                *o += w * e;
            }
        }
    }
}

/// [`Kernels::mix_relu_rows`] value by value: the ReLU as [`relu`] takes it, each product
/// rounded before it is added.
pub(crate) fn mix_relu_rows(weights: &[f32], experts: &[f32], out: &mut [f32], mix: RowMix) {
    let (n, ept) = (mix.width, mix.experts_per_task);
    let gate_width = ept.saturating_add(mix.shared_experts);
    let gates = weights.as_chunks::<LANES>().0;
    let at = |start: usize| start..start.saturating_add(n);
    for r in 0..mix.rows.min(LANES) {
        let row = r.saturating_mul(mix.stride);
        for t in 0..mix.tasks {
            let start = r
                .saturating_mul(mix.out_stride)
                .saturating_add(t.saturating_mul(n));
            let Some(o) = out.get_mut(at(start)) else {
                continue;
            };
            o.fill(0.0);
            for k in 0..gate_width {
                let expert = match k.checked_sub(ept) {
                    None => t.saturating_mul(ept).saturating_add(k),
                    Some(shared) => mix.tasks.saturating_mul(ept).saturating_add(shared),
                };
                let gate = t.saturating_mul(gate_width).saturating_add(k);
                let weight = gates.get(gate).and_then(|g| g.get(r));
                let values = experts.get(at(row.saturating_add(expert.saturating_mul(n))));
                let (Some(&w), Some(e)) = (weight, values) else {
                    continue;
                };
                for (o, &e) in o.iter_mut().zip(e) {
                    let e = if e > 0.0 { e } else { 0.0 };
                    *o += w * e;
                }
            }
        }
    }
}

/// [`Kernels::mix_relu_lanes`] as [`Kernels::relu`] then [`Kernels::mix_lanes`], a gate
/// and at most [`LANES_MAX_WIDTH`] output vectors at a time through a stack copy (an
/// output vector depends only on the same vector of each expert, and the gates are added
/// in order either way).
pub(crate) fn composed_mix_relu_lanes<W: Weight, K: Kernels<W> + ?Sized>(
    kernels: &K,
    weights: &[f32],
    experts: &[f32],
    out: &mut [f32],
) {
    let n = out.len() / LANES;
    if n == 0 {
        return;
    }
    let mut copy = [0.0f32; LANES_MAX_WIDTH * LANES];
    for (weight, expert) in weights
        .chunks_exact(LANES)
        .zip(experts.chunks_exact(n * LANES))
    {
        for (out, part) in out
            .chunks_mut(LANES_MAX_WIDTH * LANES)
            .zip(expert.chunks(LANES_MAX_WIDTH * LANES))
        {
            let Some(copy) = copy.get_mut(..part.len()) else {
                return;
            };
            for (c, &e) in copy.iter_mut().zip(part) {
                *c = e;
            }
            kernels.relu(copy);
            kernels.mix_lanes(weight, copy, out);
        }
    }
}

/// [`Kernels::nonzero`] value by value.
pub(crate) fn nonzero(values: &[f32], start: usize, found: &mut [u32]) -> (usize, usize) {
    let end = values.len().min(u32::MAX as usize);
    let mut count = 0;
    for (at, &v) in values.iter().enumerate().take(end).skip(start) {
        if v != 0.0 {
            let Some(slot) = found.get_mut(count) else {
                return (count, at);
            };
            *slot = at as u32;
            count += 1;
        }
    }
    (count, values.len())
}

/// [`Kernels::categories_valid`] row by row: one OR of comparisons per row, no branch per
/// field.
pub(crate) fn categories_valid(categories: &[u16], vocab_sizes: &[u16]) -> bool {
    categories.chunks(vocab_sizes.len().max(1)).all(|row| {
        row.iter().zip(vocab_sizes).fold(0u16, |bad, (&c, &vocab)| {
            bad | u16::from(c.wrapping_add(1) > vocab)
        }) == 0
    })
}

/// [`Kernels::category_rows`] field by field.
pub(crate) fn category_rows(categories: &[u16], starts: &[u32], rows: &mut [u32]) -> usize {
    let mut known = 0;
    for (&c, &start) in categories.iter().zip(starts) {
        if c == UNKNOWN_CATEGORY {
            continue;
        }
        let Some(slot) = rows.get_mut(known) else {
            break;
        };
        *slot = start.wrapping_add(u32::from(c));
        known += 1;
    }
    known
}

/// [`Kernels::standardise`] value by value: the subtraction, then the division, each
/// rounded once.
pub(crate) fn standardise(raw: &[f32], mean: &[f32], std: &[f32], out: &mut [f32]) {
    let columns = mean.len().min(std.len());
    if columns == 0 {
        return;
    }
    for (raw, out) in raw.chunks(columns).zip(out.chunks_mut(columns)) {
        standardise_values(raw, mean, std, out);
    }
}

/// [`Kernels::layer`] built from the primitive kernels: the sequence every fused kernel
/// must reproduce bit for bit.
pub(crate) fn composed_layer<W: Weight, K: Kernels<W> + ?Sized>(
    kernels: &K,
    x: &[f32],
    w: &[W],
    bias: &[W],
    out: &mut [f32],
) {
    // 0 + b is b (and turns a -0 bias into +0, which the fused kernels reproduce).
    out.fill(0.0);
    kernels.add_row(bias, out);
    kernels.gemv_acc(x, w, out);
}

/// [`Kernels::sparse_layer`] built from the primitive kernels.
pub(crate) fn composed_sparse_layer<W: Weight, K: Kernels<W> + ?Sized>(
    kernels: &K,
    x: &[f32],
    w: &[W],
    bias: &[W],
    rows: &[u32],
    out: &mut [f32],
) {
    kernels.layer(x, w, bias, out);
    kernels.add_rows(w, rows.iter().map(|&r| r as usize), out);
}

/// [`Kernels::sparse_rows`] from row `from` on, as one [`Kernels::category_rows`] and one
/// [`Kernels::sparse_layer`] per row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn composed_sparse_rows<W: Weight, K: Kernels<W> + ?Sized>(
    kernels: &K,
    x: &[f32],
    w: &[W],
    bias: &[W],
    categories: &[u16],
    starts: &[u32],
    out: &mut [f32],
    from: usize,
) {
    let n = bias.len().max(1);
    let count = out.len() / n;
    let fields = starts.len();
    let columns = x.len().checked_div(count).unwrap_or(0);
    let mut rows = [0u32; MAX_SPARSE_FIELDS];
    for (r, row_out) in out.chunks_exact_mut(n).enumerate().skip(from) {
        let values = x.get(r * columns..(r + 1) * columns).unwrap_or(&[]);
        let row_categories = categories.get(r * fields..(r + 1) * fields).unwrap_or(&[]);
        let known = kernels.category_rows(row_categories, starts, &mut rows);
        let found = rows.get(..known).unwrap_or(&[]);
        kernels.sparse_layer(values, w, bias, found, row_out);
    }
}

/// [`Kernels::layer_rows`] as one [`Kernels::layer`] per row.
pub(crate) fn composed_layer_rows<W: Weight, K: Kernels<W> + ?Sized>(
    kernels: &K,
    x: &[f32],
    w: &[W],
    bias: &[W],
    out: &mut [f32],
    tile: RowTile,
) {
    let n = bias.len();
    let k = w.len().checked_div(n).unwrap_or(0);
    for r in 0..tile.rows {
        let x_row = r
            .checked_mul(tile.x_stride)
            .and_then(|start| x.get(start..start.checked_add(k)?));
        let out_start = r.saturating_mul(tile.out_stride);
        let out_row = out.get_mut(out_start..out_start.saturating_add(n));
        if let (Some(x_row), Some(out_row)) = (x_row, out_row) {
            kernels.layer(x_row, w, bias, out_row);
        }
    }
}

/// [`Kernels::to_lanes`] value by value.
pub(crate) fn to_lanes(rows: &[f32], stride: usize, count: usize, lanes: &mut [f32]) {
    let count = count.min(LANES);
    for (c, column) in lanes.chunks_exact_mut(LANES).enumerate() {
        for (r, lane) in column.iter_mut().enumerate() {
            if r >= count {
                *lane = 0.0;
            } else if let Some(&v) = r
                .checked_mul(stride)
                .and_then(|start| start.checked_add(c))
                .and_then(|at| rows.get(at))
            {
                *lane = v;
            }
        }
    }
}

/// [`Kernels::softmax_lanes`] lane by lane, with one [`Kernels::exp`] of the backend for
/// all the gates: the sequence every SIMD twin reproduces bit for bit.
pub(crate) fn softmax_lanes<W: Weight, K: Kernels<W> + ?Sized>(
    kernels: &K,
    gates: &mut [f32],
    width: usize,
) {
    let whole = LANES * width * (gates.len() / (LANES * width).max(1));
    let Some(gates) = gates.get_mut(..whole).filter(|g| !g.is_empty()) else {
        return;
    };
    for gate in gates
        .as_chunks_mut::<LANES>()
        .0
        .chunks_exact_mut(width.max(1))
    {
        let mut max = [f32::NEG_INFINITY; LANES];
        for v in gate.iter() {
            for (m, &v) in max.iter_mut().zip(v) {
                *m = if v > *m { v } else { *m };
            }
        }
        for v in gate.iter_mut() {
            for (v, &m) in v.iter_mut().zip(&max) {
                *v -= m;
            }
        }
    }
    kernels.exp(gates);
    for gate in gates
        .as_chunks_mut::<LANES>()
        .0
        .chunks_exact_mut(width.max(1))
    {
        let mut sum = [0.0f32; LANES];
        for v in gate.iter() {
            for (s, &v) in sum.iter_mut().zip(v) {
                *s += v;
            }
        }
        for v in gate.iter_mut() {
            for (v, &s) in v.iter_mut().zip(&sum) {
                *v /= s;
            }
        }
    }
}

/// [`Kernels::sigmoid`] value by value, with one [`Kernels::exp`] of the backend for a few
/// values at a time: the sequence every SIMD twin reproduces bit for bit.
pub(crate) fn sigmoid<W: Weight, K: Kernels<W> + ?Sized>(kernels: &K, values: &mut [f32]) {
    let mut negated = [0.0f32; LANES];
    for chunk in values.chunks_mut(LANES) {
        let e = negated.get_mut(..chunk.len()).unwrap_or(&mut []);
        for (e, &x) in e.iter_mut().zip(chunk.iter()) {
            *e = sigmoid_exponent(x);
        }
        kernels.exp(e);
        for (x, &e) in chunk.iter_mut().zip(e.iter()) {
            *x = sigmoid_from_exp(*x, e);
        }
    }
}

/// [`Kernels::layer_lanes`] as one [`Kernels::layer`] per lane, through row buffers of
/// [`LANES_MAX_WIDTH`] values (wider layers leave `out` as it is).
pub(crate) fn composed_layer_lanes<W: Weight, K: Kernels<W> + ?Sized>(
    kernels: &K,
    x: &[f32],
    w: &[W],
    bias: &[W],
    out: &mut [f32],
) {
    const MAX: usize = LANES_MAX_WIDTH;
    let k = x.len() / LANES;
    let n = bias.len();
    if k > MAX || n > MAX || out.len() < n * LANES {
        return;
    }
    let (mut x_row, mut out_row) = ([0.0f32; MAX], [0.0f32; MAX]);
    let (Some(x_row), Some(out_row)) = (x_row.get_mut(..k), out_row.get_mut(..n)) else {
        return;
    };
    for l in 0..LANES {
        for (i, v) in x_row.iter_mut().enumerate() {
            *v = x.get(i * LANES + l).copied().unwrap_or(0.0);
        }
        kernels.layer(x_row, w, bias, out_row);
        for (j, &v) in out_row.iter().enumerate() {
            if let Some(o) = out.get_mut(j * LANES + l) {
                *o = v;
            }
        }
    }
}
