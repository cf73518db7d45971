//! Every SIMD kernel against its scalar twin, over many shapes and lengths.
//!
//! One macro instantiates the same properties for each backend: the dense-layer kernel
//! within a rounding tolerance (FMA rounds once where scalar rounds twice), the row
//! addition exactly, and both on mismatched slice lengths, where they must neither panic nor
//! touch anything the scalar twin does not.

// Tests index freely: a panic is a failure report.
#![allow(clippy::indexing_slicing)]

extern crate std;

use std::vec::Vec;

use half::f16;
use proptest::prelude::*;

use super::scalar::Scalar;
use super::{Kernels, RowMix, RowTile, LANES, LANES_MAX_WIDTH};
use crate::weight::Weight;

/// A dense-layer case: `x`, a weight matrix (possibly shorter or longer than `x.len() * n`)
/// and the initial output.
fn gemv_case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>)> {
    (0usize..24, 0usize..150, -3i32..20).prop_flat_map(|(rows, n, extra)| {
        let w_len = ((rows * n) as i64 + extra as i64 * (n as i64 / 3)).max(0) as usize;
        (
            prop::collection::vec(-2.0f32..2.0, rows),
            prop::collection::vec(-1.0f32..1.0, w_len),
            prop::collection::vec(-1.0f32..1.0, n),
        )
    })
}

fn row_case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (0usize..150, 0usize..150).prop_flat_map(|(a, b)| {
        (
            prop::collection::vec(-1.0f32..1.0, a),
            prop::collection::vec(-1.0f32..1.0, b),
        )
    })
}

/// A one-hot case: a matrix of `n` columns, row indices (some past its end) and the output.
fn rows_case() -> impl Strategy<Value = (Vec<f32>, Vec<usize>, Vec<f32>)> {
    (0usize..12, 0usize..150).prop_flat_map(|(height, n)| {
        (
            prop::collection::vec(-1.0f32..1.0, height * n),
            prop::collection::vec(0usize..height + 3, 0..40),
            prop::collection::vec(-1.0f32..1.0, n),
        )
    })
}

fn check_add_rows<W: Weight, K: Kernels<W>>(
    kernels: &K,
    w: &[W],
    rows: &[usize],
    out: &[f32],
) -> Result<(), TestCaseError> {
    let mut expected = out.to_vec();
    Scalar.add_rows(w, rows.iter().copied(), &mut expected);
    let mut actual = out.to_vec();
    kernels.add_rows(w, rows.iter().copied(), &mut actual);
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    prop_assert_eq!(bits(&actual), bits(&expected));
    Ok(())
}

/// The largest difference FMA rounding can make to `out += x · W`, column by column.
fn tolerance<W: Weight>(x: &[f32], w: &[W], out: &[f32]) -> Vec<f32> {
    let n = out.len();
    out.iter()
        .enumerate()
        .map(|(j, &o)| {
            let magnitude: f32 = x
                .iter()
                .enumerate()
                .filter_map(|(i, &xi)| w.get(i * n + j).map(|&v| (xi * v.to_f32()).abs()))
                .sum();
            1e-5 * (magnitude + o.abs()) + 1e-6
        })
        .collect()
}

fn check_gemv<W: Weight, K: Kernels<W>>(
    kernels: &K,
    x: &[f32],
    w: &[W],
    out: &[f32],
) -> Result<(), TestCaseError> {
    let mut expected = out.to_vec();
    Scalar.gemv_acc(x, w, &mut expected);
    let mut actual = out.to_vec();
    kernels.gemv_acc(x, w, &mut actual);
    for ((a, e), t) in actual.iter().zip(&expected).zip(tolerance(x, w, out)) {
        prop_assert!((a - e).abs() <= t, "simd {a} vs scalar {e} (tolerance {t})");
    }
    Ok(())
}

fn check_add_row<W: Weight, K: Kernels<W>>(
    kernels: &K,
    row: &[W],
    out: &[f32],
) -> Result<(), TestCaseError> {
    let mut expected = out.to_vec();
    Scalar.add_row(row, &mut expected);
    let mut actual = out.to_vec();
    kernels.add_row(row, &mut actual);
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    prop_assert_eq!(bits(&actual), bits(&expected));
    Ok(())
}

/// A whole-layer case: inputs, a `[k, n]` matrix with its bias, one-hot row indices inside
/// the matrix, and a few rows of inputs for the tiled product.
#[allow(clippy::type_complexity)]
fn layer_case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<u32>, Vec<f32>, usize)>
{
    (0usize..20, 1usize..150, 0usize..12, 0usize..11).prop_flat_map(|(k, n, extra, rows)| {
        let height = k + extra;
        (
            prop::collection::vec(-2.0f32..2.0, k),
            prop::collection::vec(-1.0f32..1.0, height * n),
            prop::collection::vec(-1.0f32..1.0, n),
            prop::collection::vec(
                0u32..height.max(1) as u32,
                if height == 0 { 0..1 } else { 0..40 },
            ),
            prop::collection::vec(-2.0f32..2.0, rows * (k + 3)),
            Just(rows),
        )
    })
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

/// A tile of sparse rows: numeric values, the weight matrix, the bias, the categories, the
/// block starts of the fields and the output. Each field has one to four categories; the
/// matrix may stop before the last fields' blocks (rows past it, which the kernels skip),
/// a category may be unknown, and there may be more fields than one vector holds.
#[allow(clippy::type_complexity)]
fn sparse_rows_case(
) -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<u16>, Vec<u32>, Vec<f32>)> {
    (
        0usize..12,
        1usize..170,
        prop::collection::vec(1u16..5, 0..40),
        0usize..6,
        0usize..3,
    )
        .prop_flat_map(|(columns, n, vocab, count, short)| {
            let mut starts = Vec::new();
            let mut block = columns as u32;
            for &v in &vocab {
                starts.push(block);
                block += u32::from(v);
            }
            let height = (block as usize).saturating_sub(short).max(columns);
            let fields = vocab.len();
            let categories = prop::collection::vec(0u16..6, count * fields).prop_map(move |c| {
                c.iter()
                    .enumerate()
                    .map(|(i, &c)| {
                        let v = vocab[i % fields];
                        if c >= v {
                            crate::input::UNKNOWN_CATEGORY
                        } else {
                            c
                        }
                    })
                    .collect::<Vec<u16>>()
            });
            (
                prop::collection::vec(-2.0f32..2.0, count * columns),
                prop::collection::vec(-1.0f32..1.0, height * n),
                prop::collection::vec(-1.0f32..1.0, n),
                categories,
                Just(starts),
                Just(std::vec![f32::from_bits(0x7fc0_1234); count * n]),
            )
        })
}

/// `sparse_rows` gives every row what the backend's own `category_rows` and `sparse_layer`
/// give it, bit for bit.
fn check_sparse_rows<W: Weight, K: Kernels<W>>(
    kernels: &K,
    x: &[f32],
    w: &[W],
    bias: &[W],
    categories: &[u16],
    starts: &[u32],
    out: &[f32],
) -> Result<(), TestCaseError> {
    let mut composed = out.to_vec();
    super::scalar::composed_sparse_rows(kernels, x, w, bias, categories, starts, &mut composed, 0);
    let mut tile = out.to_vec();
    kernels.sparse_rows(x, w, bias, categories, starts, &mut tile);
    prop_assert_eq!(bits(&tile), bits(&composed));
    Ok(())
}

/// The fused layer kernels give exactly what the backend's own primitive kernels give in
/// sequence (the property that makes a batch equal to single rows), and stay within FMA
/// rounding of the scalar twin.
fn check_layers<W: Weight, K: Kernels<W>>(
    kernels: &K,
    x: &[f32],
    w: &[W],
    bias: &[W],
    rows: &[u32],
    tile_x: &[f32],
    tile_rows: usize,
) -> Result<(), TestCaseError> {
    let n = bias.len();
    let k = x.len();
    let matrix = &w[..k * n];
    let garbage = f32::from_bits(0x7fc0_1234);

    let mut composed = std::vec![garbage; n];
    super::scalar::composed_layer(kernels, x, matrix, bias, &mut composed);
    let mut fused = std::vec![garbage; n];
    kernels.layer(x, matrix, bias, &mut fused);
    prop_assert_eq!(bits(&fused), bits(&composed));

    let mut scalar = std::vec![garbage; n];
    Scalar.layer(x, matrix, bias, &mut scalar);
    let zeros = std::vec![0.0f32; n];
    for ((a, e), t) in fused.iter().zip(&scalar).zip(tolerance(x, matrix, &zeros)) {
        let t = t + 1e-6 * e.abs();
        prop_assert!((a - e).abs() <= t, "simd {a} vs scalar {e} (tolerance {t})");
    }

    let mut composed = std::vec![garbage; n];
    super::scalar::composed_sparse_layer(kernels, x, w, bias, rows, &mut composed);
    let mut fused = std::vec![garbage; n];
    kernels.sparse_layer(x, w, bias, rows, &mut fused);
    prop_assert_eq!(bits(&fused), bits(&composed));

    // Rows of k inputs at a stride of k + 3; outputs at a stride of n + 2.
    let tile = RowTile {
        rows: tile_rows,
        x_stride: k + 3,
        out_stride: n + 2,
    };
    let mut expected = std::vec![garbage; tile_rows * (n + 2)];
    let mut actual = expected.clone();
    for r in 0..tile_rows {
        let start = r * (k + 3);
        kernels.layer(
            &tile_x[start..start + k],
            matrix,
            bias,
            &mut expected[r * (n + 2)..][..n],
        );
    }
    kernels.layer_rows(tile_x, matrix, bias, &mut actual, tile);
    prop_assert_eq!(bits(&actual), bits(&expected));
    Ok(())
}

/// Values for `exp`: any bit pattern, the softmax and sigmoid range, and the small
/// arguments where libm switches between its reductions.
fn exp_case() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(
        prop_oneof![any::<f32>(), -110.0f32..110.0, -1.2f32..1.2, -1e-3f32..1e-3,],
        0..40,
    )
}

/// `kernels.exp` gives libm's `expf` bit for bit (any NaN for a NaN).
fn check_exp<K: Kernels<f32>>(kernels: &K, values: &[f32]) -> Result<(), TestCaseError> {
    let mut actual = values.to_vec();
    kernels.exp(&mut actual);
    for (&x, &a) in values.iter().zip(&actual) {
        let e = libm::expf(x);
        prop_assert!(
            a.to_bits() == e.to_bits() || (a.is_nan() && e.is_nan()),
            "exp({x:e}) = {a:e}, libm {e:e}"
        );
    }
    Ok(())
}

/// A gate mixing: weights, experts (sometimes fewer than the weights), the output.
fn mix_case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>)> {
    (0usize..10, 0usize..40, 0usize..3).prop_flat_map(|(gates, n, short)| {
        (
            prop::collection::vec(0.0f32..1.0, gates),
            prop::collection::vec(-3.0f32..3.0, gates.saturating_sub(short) * n),
            prop::collection::vec(-1.0f32..1.0, n),
        )
    })
}

fn check_mix<K: Kernels<f32>>(
    kernels: &K,
    weights: &[f32],
    experts: &[f32],
    out: &[f32],
) -> Result<(), TestCaseError> {
    let mut expected = out.to_vec();
    super::scalar::mix(weights, experts, &mut expected);
    let mut actual = out.to_vec();
    kernels.mix(weights, experts, &mut actual);
    prop_assert_eq!(bits(&actual), bits(&expected));
    Ok(())
}

/// Mostly zeros of both signs, with ones, other values and NaNs among them; where a scan
/// starts (sometimes past the end) and how many positions a call may write.
fn nonzero_case() -> impl Strategy<Value = (Vec<f32>, usize, usize)> {
    let value = prop_oneof![
        6 => Just(0.0f32),
        2 => Just(-0.0f32),
        2 => Just(1.0f32),
        1 => any::<f32>(),
    ];
    prop::collection::vec(value, 0..80).prop_flat_map(|values| {
        let len = values.len();
        (Just(values), 0..len + 3, 0usize..20)
    })
}

/// One call of `kernels.nonzero` gives what the scalar twin gives, and calls resumed where
/// the previous one stopped list exactly the non-zero positions.
fn check_nonzero<K: Kernels<f32>>(
    kernels: &K,
    values: &[f32],
    start: usize,
    room: usize,
) -> Result<(), TestCaseError> {
    let mut expected = std::vec![u32::MAX; room];
    let expected_result = super::scalar::nonzero(values, start, &mut expected);
    let mut actual = std::vec![u32::MAX; room];
    let actual_result = kernels.nonzero(values, start, &mut actual);
    prop_assert_eq!(actual_result, expected_result);
    prop_assert_eq!(&actual, &expected);

    let mut all = Vec::new();
    let mut at = start;
    let mut found = std::vec![0u32; room.max(1)];
    while at < values.len() {
        let (count, next) = kernels.nonzero(values, at, &mut found);
        prop_assert!(next > at || count > 0, "no progress at {}", at);
        all.extend_from_slice(&found[..count]);
        at = next;
    }
    let positions: Vec<u32> = (0..values.len() as u32)
        .filter(|&i| i as usize >= start && values[i as usize] != 0.0)
        .collect();
    prop_assert_eq!(all, positions);
    Ok(())
}

/// Values for the element-wise kernels: any bit pattern (NaNs, infinities, both zeros)
/// among ordinary ones, so that a lane of every kind meets the vector and the scalar tail.
fn elementwise_case() -> impl Strategy<Value = Vec<f32>> {
    let value = prop_oneof![
        4 => -10.0f32..10.0,
        1 => Just(-0.0f32),
        1 => Just(0.0f32),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => any::<f32>(),
    ];
    prop::collection::vec(value, 0..70)
}

fn check_relu<K: Kernels<f32>>(kernels: &K, values: &[f32]) -> Result<(), TestCaseError> {
    let mut expected = values.to_vec();
    super::scalar::relu(&mut expected);
    let mut actual = values.to_vec();
    kernels.relu(&mut actual);
    prop_assert_eq!(bits(&actual), bits(&expected));
    Ok(())
}

/// `kernels.all_finite` agrees with the scalar twin and with `f32::is_finite`, on the values
/// as drawn and with every non-finite value replaced by a finite one.
fn check_all_finite<K: Kernels<f32>>(kernels: &K, values: &[f32]) -> Result<(), TestCaseError> {
    let expected = values.iter().all(|v| v.is_finite());
    prop_assert_eq!(super::scalar::all_finite(values), expected);
    prop_assert_eq!(kernels.all_finite(values), expected);
    let finite: Vec<f32> = values
        .iter()
        .map(|&v| if v.is_finite() { v } else { 1.0 })
        .collect();
    prop_assert!(kernels.all_finite(&finite));
    Ok(())
}

/// A tile to turn into lanes: rows at a stride (some cases too short for their rows), the
/// number of rows, and the lanes' initial values. Narrow tiles, and tiles as wide as a
/// first layer's group (138 columns for the default model) at strides up to a padded one
/// (144 and beyond).
fn lanes_case() -> impl Strategy<Value = (Vec<f32>, usize, usize, Vec<f32>)> {
    // Full tiles half the time: some SIMD kernels take only those.
    let count = prop_oneof![Just(LANES), 0usize..=LANES + 1];
    let columns = prop_oneof![0usize..40, 120usize..150];
    let pad = prop_oneof![0usize..6, 6usize..20];
    (columns, pad, count, -8i32..8).prop_flat_map(|(columns, pad, count, short)| {
        let stride = columns + pad;
        let len = (count * stride) as i64 + i64::from(short);
        (
            prop::collection::vec(-1.0f32..1.0, len.max(0) as usize),
            Just(stride),
            Just(count),
            prop::collection::vec(-1.0f32..1.0, columns * LANES),
        )
    })
}

/// `to_lanes` moves exactly the values the portable loop moves, zeros the missing rows and
/// leaves what does not fit alone.
fn check_to_lanes<K: Kernels<f32>>(
    kernels: &K,
    rows: &[f32],
    stride: usize,
    count: usize,
    lanes: &[f32],
) -> Result<(), TestCaseError> {
    let mut expected = lanes.to_vec();
    super::scalar::to_lanes(rows, stride, count, &mut expected);
    let mut actual = lanes.to_vec();
    kernels.to_lanes(rows, stride, count, &mut actual);
    prop_assert_eq!(bits(&actual), bits(&expected));
    Ok(())
}

/// A mixing on rows in lanes: weights of some gates, experts of `n` vectors (possibly fewer
/// or more than the gates), the initial outputs.
fn mix_lanes_case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>)> {
    (0usize..8, 0usize..40, 0usize..10).prop_flat_map(|(gates, n, experts)| {
        (
            prop::collection::vec(0.0f32..1.0, gates * LANES),
            prop::collection::vec(-3.0f32..3.0, experts * n * LANES),
            prop::collection::vec(-1.0f32..1.0, n * LANES),
        )
    })
}

fn check_mix_lanes<K: Kernels<f32>>(
    kernels: &K,
    weights: &[f32],
    experts: &[f32],
    out: &[f32],
) -> Result<(), TestCaseError> {
    let mut expected = out.to_vec();
    super::scalar::mix_lanes(weights, experts, &mut expected);
    let mut actual = out.to_vec();
    kernels.mix_lanes(weights, experts, &mut actual);
    prop_assert_eq!(bits(&actual), bits(&expected));
    Ok(())
}

/// Up to six expert values to overwrite (any position) with -0, a NaN or an infinity.
fn special_experts() -> impl Strategy<Value = Vec<(usize, u32)>> {
    let bits = [
        0x8000_0000u32,
        0x7fc0_0000,
        0xffc0_0001,
        0x7f80_0000,
        0xff80_0000,
    ];
    prop::collection::vec((any::<usize>(), prop::sample::select(bits.to_vec())), 0..6)
}

/// A copy of `experts` with the values at the given positions (modulo its length) replaced
/// by the given bits.
fn with_specials(experts: &[f32], specials: &[(usize, u32)]) -> Vec<f32> {
    let mut experts = experts.to_vec();
    for &(at, bits) in specials {
        let len = experts.len();
        if let Some(e) = experts.get_mut(at % len.max(1)) {
            *e = f32::from_bits(bits);
        }
    }
    experts
}

/// `mix_relu_lanes` equals the portable ReLU of a copy then the portable `mix_lanes`, bit
/// for bit, with negative zeros and NaNs among the experts (both become +0).
fn check_mix_relu_lanes<K: Kernels<f32>>(
    kernels: &K,
    weights: &[f32],
    experts: &[f32],
    out: &[f32],
    specials: &[(usize, u32)],
) -> Result<(), TestCaseError> {
    let experts = with_specials(experts, specials);
    let mut relu = experts.clone();
    super::scalar::relu(&mut relu);
    let mut expected = out.to_vec();
    super::scalar::mix_lanes(weights, &relu, &mut expected);
    let mut actual = out.to_vec();
    kernels.mix_relu_lanes(weights, &experts, &mut actual);
    prop_assert_eq!(bits(&actual), bits(&expected));
    Ok(())
}

/// Experts in rows for `mix_relu_rows`: up to [`LANES`] rows of a few tasks' own experts
/// and shared ones, `n` values an expert (often whole sixteen-value vectors), rows and
/// outputs with gaps between them, and now and then slices cut short, whose rows, tasks
/// and gates must be skipped.
#[allow(clippy::type_complexity)]
fn mix_rows_case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>, RowMix)> {
    let width = prop_oneof![3 => (1usize..5).prop_map(|v| 16 * v), 1 => 0usize..70];
    let plan = (0usize..4, 0usize..4, 0usize..3, width);
    let gaps = (0..=LANES, 0usize..20, 0usize..20, 0usize..4);
    (plan, gaps).prop_flat_map(|((tasks, ept, shared, n), (rows, gap, out_gap, cut))| {
        let experts = tasks * ept + shared;
        let mix = RowMix {
            rows,
            tasks,
            experts_per_task: ept,
            shared_experts: shared,
            width: n,
            stride: experts * n + gap,
            out_stride: tasks * n + out_gap,
        };
        let end = |stride: usize, len: usize| rows.saturating_sub(1) * stride + len;
        let short = |len: usize, which: usize| {
            if cut == which {
                len.saturating_sub(1 + len / 3)
            } else {
                len
            }
        };
        (
            prop::collection::vec(0.0f32..1.0, short(tasks * (ept + shared) * LANES, 1)),
            prop::collection::vec(-3.0f32..3.0, short(end(mix.stride, experts * n), 2)),
            prop::collection::vec(-1.0f32..1.0, short(end(mix.out_stride, tasks * n), 3)),
            Just(mix),
        )
    })
}

/// `mix_relu_rows` gives, bit for bit, what the batch's mixing in lanes gives on the same
/// experts transposed (every task's output zeroed, then the portable `mix_lanes` of the
/// ReLU of its own experts, then of the shared ones), with negative zeros, NaNs and
/// infinities among them; and, for slices cut short, what the portable `mix_relu_rows`
/// gives (the same rows, tasks and gates skipped).
fn check_mix_relu_rows<K: Kernels<f32>>(
    kernels: &K,
    weights: &[f32],
    experts: &[f32],
    out: &[f32],
    mix: RowMix,
    specials: &[(usize, u32)],
) -> Result<(), TestCaseError> {
    let experts = with_specials(experts, specials);
    let mut actual = out.to_vec();
    kernels.mix_relu_rows(weights, &experts, &mut actual, mix);
    let mut portable = out.to_vec();
    super::scalar::mix_relu_rows(weights, &experts, &mut portable, mix);
    prop_assert_eq!(bits(&actual), bits(&portable));

    let (n, ept, tasks) = (mix.width, mix.experts_per_task, mix.tasks);
    let (gate_width, total) = (ept + mix.shared_experts, tasks * ept + mix.shared_experts);
    let whole = mix.rows > 0
        && (mix.rows - 1) * mix.stride + total * n <= experts.len()
        && (mix.rows - 1) * mix.out_stride + tasks * n <= out.len()
        && tasks * gate_width * LANES <= weights.len();
    if !whole {
        return Ok(());
    }
    // The same rows in lanes: expert e's value j of row r at (e * n + j) * LANES + r.
    let mut lanes = std::vec![0.0f32; total * n * LANES];
    for r in 0..mix.rows {
        for (i, lane) in lanes.chunks_exact_mut(LANES).enumerate() {
            lane[r] = experts[r * mix.stride + i];
        }
    }
    super::scalar::relu(&mut lanes);
    let shared = &lanes[tasks * ept * n * LANES..];
    for t in 0..tasks {
        let gate = &weights[t * gate_width * LANES..(t + 1) * gate_width * LANES];
        let (own_weights, shared_weights) = gate.split_at(ept * LANES);
        let own = &lanes[t * ept * n * LANES..(t + 1) * ept * n * LANES];
        let mut task_out = std::vec![0.0f32; n * LANES];
        super::scalar::mix_lanes(own_weights, own, &mut task_out);
        super::scalar::mix_lanes(shared_weights, shared, &mut task_out);
        for r in 0..mix.rows {
            for j in 0..n {
                let (a, e) = (
                    actual[r * mix.out_stride + t * n + j],
                    task_out[j * LANES + r],
                );
                prop_assert_eq!(a.to_bits(), e.to_bits(), "row {} task {} value {}", r, t, j);
            }
        }
    }
    Ok(())
}

/// Gates on rows in lanes: `width` vectors a gate, a few gates and some values past the
/// last whole gate; logits of a gate's usual range, wide enough apart for `expf` to
/// underflow after the subtraction of the maximum, and now and then any bit pattern.
fn softmax_lanes_case() -> impl Strategy<Value = (Vec<f32>, usize)> {
    let value = prop_oneof![
        8 => -4.0f32..4.0,
        2 => -120.0f32..120.0,
        1 => any::<f32>(),
    ];
    (0usize..10, 0usize..4, 0usize..2 * LANES).prop_flat_map(move |(width, gates, extra)| {
        (
            prop::collection::vec(value.clone(), gates * width * LANES + extra),
            Just(width),
        )
    })
}

/// `softmax_lanes` gives what the portable sequence gives around the backend's own `exp`
/// (the batch's softmax before it was a kernel) and around libm's (any NaN for a NaN).
fn check_softmax_lanes<K: Kernels<f32>>(
    kernels: &K,
    gates: &[f32],
    width: usize,
) -> Result<(), TestCaseError> {
    let mut actual = gates.to_vec();
    kernels.softmax_lanes(&mut actual, width);
    let mut composed = gates.to_vec();
    super::scalar::softmax_lanes::<f32, K>(kernels, &mut composed, width);
    let mut scalar = gates.to_vec();
    Kernels::<f32>::softmax_lanes(&Scalar, &mut scalar, width);
    for expected in [&composed, &scalar] {
        for (i, (&a, &e)) in actual.iter().zip(expected.iter()).enumerate() {
            prop_assert!(
                a.to_bits() == e.to_bits() || (a.is_nan() && e.is_nan()),
                "value {i}: {a:e}, expected {e:e}"
            );
        }
    }
    let whole = if width == 0 {
        0
    } else {
        gates.len() / (width * LANES) * width * LANES
    };
    prop_assert_eq!(bits(&actual[whole..]), bits(&gates[whole..]));
    Ok(())
}

/// Logits: the usual range, past where `expf(-|x|)` underflows, and any bit pattern.
fn sigmoid_case() -> impl Strategy<Value = Vec<f32>> {
    let value = prop_oneof![
        6 => -20.0f32..20.0,
        2 => -120.0f32..120.0,
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
        1 => any::<f32>(),
    ];
    prop::collection::vec(value, 0..70)
}

/// `sigmoid` gives the single-row sigmoid of every value and what the portable sequence
/// gives around the backend's own `exp` (any NaN for a NaN).
fn check_sigmoid<K: Kernels<f32>>(kernels: &K, values: &[f32]) -> Result<(), TestCaseError> {
    let mut actual = values.to_vec();
    kernels.sigmoid(&mut actual);
    let mut composed = values.to_vec();
    super::scalar::sigmoid::<f32, K>(kernels, &mut composed);
    let single: Vec<f32> = values.iter().map(|&x| crate::forward::sigmoid(x)).collect();
    for expected in [&composed, &single] {
        for (i, (&a, &e)) in actual.iter().zip(expected.iter()).enumerate() {
            prop_assert!(
                a.to_bits() == e.to_bits() || (a.is_nan() && e.is_nan()),
                "sigmoid({:e}) = {a:e}, expected {e:e}",
                values[i]
            );
        }
    }
    Ok(())
}

/// A layer on rows in lanes: `k` input vectors, a `k x n` matrix and `n` biases.
fn layer_lanes_case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>)> {
    (0usize..=LANES_MAX_WIDTH, 1usize..=LANES_MAX_WIDTH).prop_flat_map(|(k, n)| {
        (
            prop::collection::vec(-2.0f32..2.0, k * LANES),
            prop::collection::vec(-1.0f32..1.0, k * n),
            prop::collection::vec(-1.0f32..1.0, n),
        )
    })
}

/// Every lane of `layer_lanes` is bit for bit the backend's `layer` of that lane alone.
fn check_layer_lanes<W: Weight, K: Kernels<W>>(
    kernels: &K,
    x: &[f32],
    w: &[W],
    bias: &[W],
) -> Result<(), TestCaseError> {
    let (k, n) = (x.len() / LANES, bias.len());
    let mut expected = std::vec![f32::NAN; n * LANES];
    for l in 0..LANES {
        let row: Vec<f32> = (0..k).map(|i| x[i * LANES + l]).collect();
        let mut out = std::vec![f32::NAN; n];
        kernels.layer(&row, w, bias, &mut out);
        for (j, v) in out.into_iter().enumerate() {
            expected[j * LANES + l] = v;
        }
    }
    let mut actual = std::vec![f32::NAN; n * LANES];
    kernels.layer_lanes(x, w, bias, &mut actual);
    prop_assert_eq!(bits(&actual), bits(&expected));
    Ok(())
}

/// Sparse rows' categories: vocabulary sizes of up to 40 fields, then a few rows of them
/// (a last one possibly partial) drawn around the limits: inside, at the size, the unknown
/// category, anything.
fn categories_case() -> impl Strategy<Value = (Vec<u16>, Vec<u16>)> {
    let vocab = prop_oneof![4 => 1u16..300, 1 => any::<u16>()];
    (prop::collection::vec(vocab, 0..40), 0usize..12, 0usize..40).prop_flat_map(
        |(vocab_sizes, rows, partial)| {
            let len = rows * vocab_sizes.len() + partial.min(vocab_sizes.len());
            let category = prop_oneof![
                6 => 0u16..300,
                1 => Just(crate::UNKNOWN_CATEGORY),
                1 => any::<u16>(),
            ];
            (Just(vocab_sizes), prop::collection::vec(category, len))
        },
    )
}

/// `categories_valid` agrees with the scalar twin, on the rows as drawn and with every
/// category brought into its field's vocabulary (then valid).
fn check_categories_valid<K: Kernels<f32>>(
    kernels: &K,
    vocab_sizes: &[u16],
    categories: &[u16],
) -> Result<(), TestCaseError> {
    let expected = super::scalar::categories_valid(categories, vocab_sizes);
    prop_assert_eq!(kernels.categories_valid(categories, vocab_sizes), expected);
    let fields = vocab_sizes.len().max(1);
    let inside: Vec<u16> = categories
        .iter()
        .enumerate()
        .map(|(i, &c)| match vocab_sizes.get(i % fields) {
            Some(&v) if c != crate::UNKNOWN_CATEGORY && v > 0 => c % v,
            // An empty vocabulary takes only the unknown category.
            Some(_) => crate::UNKNOWN_CATEGORY,
            None => c,
        })
        .collect();
    prop_assert!(kernels.categories_valid(&inside, vocab_sizes));
    Ok(())
}

/// One row's categories (some unknown), its block starts (any `u32`, so that the sums
/// wrap) and the room for its dense rows.
fn category_rows_case() -> impl Strategy<Value = (Vec<u16>, Vec<u32>, usize)> {
    let category = prop_oneof![6 => 0u16..300, 1 => Just(crate::UNKNOWN_CATEGORY)];
    (
        prop::collection::vec(category, 0..40),
        prop::collection::vec(any::<u32>(), 0..40),
        prop_oneof![Just(64usize), 0usize..70],
    )
}

fn check_category_rows<K: Kernels<f32>>(
    kernels: &K,
    categories: &[u16],
    starts: &[u32],
    room: usize,
) -> Result<(), TestCaseError> {
    let mut expected = std::vec![0u32; room];
    let n = super::scalar::category_rows(categories, starts, &mut expected);
    let mut actual = std::vec![0u32; room];
    let got = kernels.category_rows(categories, starts, &mut actual);
    prop_assert_eq!(got, n);
    prop_assert_eq!(&actual[..n], &expected[..n]);
    Ok(())
}

/// Rows of raw numeric values and their tables (of possibly different lengths), and an
/// output of any length.
#[allow(clippy::type_complexity)]
fn standardise_case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>)> {
    let value = prop_oneof![
        4 => -1e4f32..1e4,
        1 => Just(-0.0f32),
        1 => any::<f32>().prop_filter("finite", |v| v.is_finite()),
    ];
    (0usize..24, 0usize..3, 0usize..12, 0usize..120).prop_flat_map(
        move |(columns, longer, rows, extra)| {
            (
                prop::collection::vec(value.clone(), rows * columns + extra % (columns + 1)),
                prop::collection::vec(-100.0f32..100.0, columns),
                prop::collection::vec(1e-3f32..1e3, columns + longer),
                prop::collection::vec(-1.0f32..1.0, rows * columns + extra % 7),
            )
        },
    )
}

fn check_standardise<K: Kernels<f32>>(
    kernels: &K,
    raw: &[f32],
    mean: &[f32],
    std: &[f32],
    out: &[f32],
) -> Result<(), TestCaseError> {
    let mut expected = out.to_vec();
    super::scalar::standardise(raw, mean, std, &mut expected);
    let mut actual = out.to_vec();
    kernels.standardise(raw, mean, std, &mut actual);
    prop_assert_eq!(bits(&actual), bits(&expected));
    Ok(())
}

fn halves(values: &[f32]) -> Vec<f16> {
    values.iter().map(|&v| f16::from_f32(v)).collect()
}

macro_rules! twin_tests {
    ($backend:ident, $kernels:expr) => {
        mod $backend {
            use super::*;

            /// The backend, or `None` (and the properties pass vacuously) on a CPU without
            /// it; `simd_backends_exist_where_the_cpu_has_them` keeps that honest.
            macro_rules! kernels_or_skip {
                () => {
                    match $kernels {
                        Some(k) => k,
                        None => return Ok(()),
                    }
                };
            }

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(256))]

                #[test]
                fn gemv_f32_matches_scalar((x, w, out) in gemv_case()) {
                    check_gemv(&kernels_or_skip!(), &x, &w, &out)?;
                }

                #[test]
                fn gemv_f16_matches_scalar((x, w, out) in gemv_case()) {
                    check_gemv(&kernels_or_skip!(), &x, &halves(&w), &out)?;
                }

                #[test]
                fn add_row_f32_matches_scalar_exactly((row, out) in row_case()) {
                    check_add_row(&kernels_or_skip!(), &row, &out)?;
                }

                #[test]
                fn add_row_f16_matches_scalar_exactly((row, out) in row_case()) {
                    check_add_row(&kernels_or_skip!(), &halves(&row), &out)?;
                }

                #[test]
                fn add_rows_f32_matches_scalar_exactly((w, rows, out) in rows_case()) {
                    check_add_rows(&kernels_or_skip!(), &w, &rows, &out)?;
                }

                #[test]
                fn add_rows_f16_matches_scalar_exactly((w, rows, out) in rows_case()) {
                    check_add_rows(&kernels_or_skip!(), &halves(&w), &rows, &out)?;
                }

                #[test]
                fn layers_f32_equal_composed_kernels_and_scalar((x, w, b, rows, tx, n) in layer_case()) {
                    check_layers(&kernels_or_skip!(), &x, &w, &b, &rows, &tx, n)?;
                }

                #[test]
                fn layers_f16_equal_composed_kernels_and_scalar((x, w, b, rows, tx, n) in layer_case()) {
                    check_layers(&kernels_or_skip!(), &x, &halves(&w), &halves(&b), &rows, &tx, n)?;
                }

                #[test]
                fn sparse_layer_skips_a_row_past_the_matrix((x, w, b, rows, tx, n) in layer_case(), past in 0u32..40, at in 0usize..40) {
                    let height = (w.len() / b.len().max(1)) as u32;
                    let mut rows = rows;
                    rows.insert(at.min(rows.len()), height + past);
                    check_layers(&kernels_or_skip!(), &x, &w, &b, &rows, &tx, n)?;
                }

                #[test]
                fn sparse_rows_f32_equal_category_rows_then_sparse_layer_per_row((x, w, b, c, starts, out) in sparse_rows_case()) {
                    check_sparse_rows(&kernels_or_skip!(), &x, &w, &b, &c, &starts, &out)?;
                }

                #[test]
                fn sparse_rows_f16_equal_category_rows_then_sparse_layer_per_row((x, w, b, c, starts, out) in sparse_rows_case()) {
                    check_sparse_rows(&kernels_or_skip!(), &x, &halves(&w), &halves(&b), &c, &starts, &out)?;
                }

                #[test]
                fn to_lanes_moves_what_the_portable_loop_moves((rows, stride, count, lanes) in lanes_case()) {
                    check_to_lanes(&kernels_or_skip!(), &rows, stride, count, &lanes)?;
                }

                #[test]
                fn mix_lanes_matches_scalar_exactly((weights, experts, out) in mix_lanes_case()) {
                    check_mix_lanes(&kernels_or_skip!(), &weights, &experts, &out)?;
                }

                #[test]
                fn mix_relu_lanes_equals_relu_then_mix_lanes((weights, experts, out) in mix_lanes_case(), specials in special_experts()) {
                    check_mix_relu_lanes(&kernels_or_skip!(), &weights, &experts, &out, &specials)?;
                }

                #[test]
                fn mix_relu_rows_equals_relu_then_mix_lanes_in_lanes((weights, experts, out, mix) in mix_rows_case(), specials in special_experts()) {
                    check_mix_relu_rows(&kernels_or_skip!(), &weights, &experts, &out, mix, &specials)?;
                }

                #[test]
                fn softmax_lanes_matches_the_portable_sequence((gates, width) in softmax_lanes_case()) {
                    check_softmax_lanes(&kernels_or_skip!(), &gates, width)?;
                }

                #[test]
                fn sigmoid_equals_the_single_row_sigmoid(values in sigmoid_case()) {
                    check_sigmoid(&kernels_or_skip!(), &values)?;
                }

                #[test]
                fn layer_lanes_f32_equal_one_layer_per_lane((x, w, b) in layer_lanes_case()) {
                    check_layer_lanes(&kernels_or_skip!(), &x, &w, &b)?;
                }

                #[test]
                fn layer_lanes_f16_equal_one_layer_per_lane((x, w, b) in layer_lanes_case()) {
                    check_layer_lanes(&kernels_or_skip!(), &x, &halves(&w), &halves(&b))?;
                }

                #[test]
                fn exp_matches_libm_bit_for_bit(values in exp_case()) {
                    check_exp(&kernels_or_skip!(), &values)?;
                }

                #[test]
                fn mix_matches_scalar_exactly((weights, experts, out) in mix_case()) {
                    check_mix(&kernels_or_skip!(), &weights, &experts, &out)?;
                }

                #[test]
                fn relu_matches_scalar_exactly(values in elementwise_case()) {
                    check_relu(&kernels_or_skip!(), &values)?;
                }

                #[test]
                fn all_finite_matches_scalar(values in elementwise_case()) {
                    check_all_finite(&kernels_or_skip!(), &values)?;
                }

                #[test]
                fn nonzero_finds_what_scalar_finds((values, start, room) in nonzero_case()) {
                    check_nonzero(&kernels_or_skip!(), &values, start, room)?;
                }

                #[test]
                fn categories_valid_matches_scalar((vocab_sizes, categories) in categories_case()) {
                    check_categories_valid(&kernels_or_skip!(), &vocab_sizes, &categories)?;
                }

                #[test]
                fn category_rows_match_scalar((categories, starts, room) in category_rows_case()) {
                    check_category_rows(&kernels_or_skip!(), &categories, &starts, room)?;
                }

                #[test]
                fn standardise_matches_scalar_exactly((raw, mean, std, out) in standardise_case()) {
                    check_standardise(&kernels_or_skip!(), &raw, &mean, &std, &out)?;
                }

                #[test]
                fn f16_special_values_widen_like_scalar(bits in prop::collection::vec(any::<u16>(), 0..40)) {
                    let row: Vec<f16> = bits.iter().map(|&b| f16::from_bits(b)).collect();
                    let zeros = std::vec![0.0f32; row.len()];
                    let mut expected = zeros.clone();
                    Scalar.add_row(&row, &mut expected);
                    let mut actual = zeros;
                    kernels_or_skip!().add_row(&row, &mut actual);
                    for (a, e) in actual.iter().zip(&expected) {
                        prop_assert!(a.to_bits() == e.to_bits() || (a.is_nan() && e.is_nan()), "{a} vs {e}");
                    }
                }
            }
        }
    };
}

twin_tests!(detected, Some(super::super::Detected::new()));

#[cfg(target_arch = "x86_64")]
twin_tests!(avx2, super::super::x86_64::Avx2::new());

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
twin_tests!(avx512, super::super::x86_64::Avx512::new());

#[cfg(target_arch = "aarch64")]
twin_tests!(neon, super::super::aarch64::Neon::new());

#[cfg(all(target_arch = "arm", target_abi = "eabihf", feature = "arm-fpu"))]
twin_tests!(arm_fpu, super::super::arm::ArmFpu::new());

/// Every 97th `f32` bit pattern (44 million values, both signs, every exponent) through the
/// detected `exp`, in runs of 37 so that every lane position and the tail are exercised.
#[test]
#[cfg_attr(miri, ignore)]
fn detected_exp_matches_libm_across_the_f32_range() {
    let kernels = super::Detected::new();
    let mut values = Vec::with_capacity(37);
    let mut mismatches = 0u64;
    let mut first = None;
    let mut check = |values: &mut Vec<f32>| {
        let mut out = values.clone();
        Kernels::<f32>::exp(&kernels, &mut out);
        for (&x, &a) in values.iter().zip(&out) {
            let e = libm::expf(x);
            if a.to_bits() != e.to_bits() && !(a.is_nan() && e.is_nan()) {
                mismatches += 1;
                first.get_or_insert((x, a, e));
            }
        }
        values.clear();
    };
    for bits in (0..=u32::MAX).step_by(97) {
        values.push(f32::from_bits(bits));
        if values.len() == 37 {
            check(&mut values);
        }
    }
    check(&mut values);
    assert_eq!(mismatches, 0, "first mismatch (x, simd, libm): {first:?}");
}

#[test]
fn simd_backends_exist_where_the_cpu_has_them() {
    #[cfg(target_arch = "x86_64")]
    {
        let cpu = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c");
        let wide = cfg!(feature = "avx512")
            && cpu
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw");
        assert_eq!(super::x86_64::Avx2::new().is_some(), cpu);
        #[cfg(feature = "avx512")]
        assert_eq!(super::x86_64::Avx512::new().is_some(), wide);
        let expected = match (cpu, wide) {
            (_, true) => "avx512",
            (true, false) => "avx2",
            _ => "scalar",
        };
        assert_eq!(super::Detected::new().name(), expected);
    }
    #[cfg(target_arch = "aarch64")]
    {
        assert!(super::aarch64::Neon::new().is_some());
        assert_eq!(super::Detected::new().name(), "neon");
    }
    #[cfg(all(target_arch = "arm", target_abi = "eabihf", feature = "arm-fpu"))]
    {
        assert!(super::arm::ArmFpu::new().is_some());
        assert_eq!(super::Detected::new().name(), "arm-fpu");
    }
}
