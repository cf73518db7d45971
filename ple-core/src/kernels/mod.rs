//! The numeric kernels a forward pass is made of, behind one small trait.
//!
//! A PLE forward pass is dominated by two operations on the packed `[inputs, outputs]`
//! layout: a dense layer (`out += x · W`, [`Kernels::gemv_acc`]) and, for one-hot inputs,
//! the addition of the weight rows they select ([`Kernels::add_rows`]). Whole layers
//! ([`Kernels::layer`], [`Kernels::sparse_layer`], [`Kernels::layer_rows`]) fuse them with the
//! bias, [`Kernels::exp`] vectorises libm's `expf` for the softmax and sigmoid, and
//! [`Kernels::nonzero`] finds the few non-zero columns of a dense one-hot input;
//! [`Kernels::mix`] is the gates' weighted sum of expert outputs, [`Kernels::relu`] the experts'
//! activation and [`Kernels::all_finite`] the validation of dense rows. A batch of sparse
//! rows is validated by [`Kernels::categories_valid`], its numeric values standardised by
//! [`Kernels::standardise`] and each row's one-hot rows found by [`Kernels::category_rows`].
//! A batch tile works on
//! its rows side by side after the first layer: [`Kernels::to_lanes`] transposes them into
//! vectors of [`LANES`] rows, [`Kernels::mix_lanes`] and [`Kernels::layer_lanes`] are the
//! mixing and the dense layer on such vectors, [`Kernels::softmax_lanes`] the gates' softmax
//! on them and [`Kernels::sigmoid`] the probabilities of the logits.
//!
//! Like `memchr`, the crate always has the portable [`scalar`] kernels; the architecture
//! modules offer SIMD twins of the same kernels through safe constructors that return `None`
//! when the CPU lacks the needed features. [`Detected`] picks the best available once and is
//! what [`PleModel::predict`](crate::PleModel::predict) uses. Every SIMD kernel is
//! property-tested against its scalar twin over many shapes and lengths.
//!
//! Kernels never panic and never read or write out of bounds, whatever the slice lengths:
//! a matrix shorter than `x.len() * out.len()` is used only for the rows it holds.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

pub mod scalar;

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
#[cfg(all(target_arch = "arm", target_abi = "eabihf", feature = "arm-fpu"))]
pub mod arm;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

#[cfg(test)]
mod twin_tests;

use half::f16;

use crate::weight::Weight;

/// The kernels of one backend for weights of type `W`.
pub trait Kernels<W: Weight> {
    /// The same backend's kernels for `f32` weights.
    type F32: Kernels<f32>;

    /// The same backend for `f32` weights: what a batch runs an aligned first layer with,
    /// whose copy holds a model's weights widened to `f32` (exactly, so that an `f16`
    /// model's results do not change).
    fn f32_kernels(&self) -> Self::F32;

    /// `out[j] += Σ_i x[i] · w[i · n + j]` with `n = out.len()`: a dense layer stored
    /// `[inputs, outputs]`, accumulated in input order.
    fn gemv_acc(&self, x: &[f32], w: &[W], out: &mut [f32]);

    /// `out[j] += row[j]` for `j < min(row.len(), out.len())`: the contribution of a one-hot
    /// input column.
    fn add_row(&self, row: &[W], out: &mut [f32]);

    /// `out[j] += Σ_r w[r · n + j]` over the row indices `rows`, in order, with
    /// `n = out.len()`; indices past the matrix are skipped. The one-hot part of a sparse
    /// input: one row per known category. SIMD kernels keep a column tile in registers
    /// across all rows instead of reading and writing `out` once per row.
    fn add_rows<I: Iterator<Item = usize> + Clone>(&self, w: &[W], rows: I, out: &mut [f32]) {
        let n = out.len();
        for r in rows {
            let start = r.saturating_mul(n);
            if let Some(row) = w.get(start..start.saturating_add(n)) {
                self.add_row(row, out);
            }
        }
    }

    /// A whole layer, `out = bias + x · W`: exactly `out.fill(0)`, [`add_row`](Self::add_row)
    /// of the bias, then [`gemv_acc`](Self::gemv_acc), value for value and bit for bit.
    /// SIMD kernels fuse the three and keep the accumulators in registers.
    fn layer(&self, x: &[f32], w: &[W], bias: &[W], out: &mut [f32]) {
        scalar::composed_layer(self, x, w, bias, out);
    }

    /// The sparse first layer, `out = bias + x · W[..x.len()] + Σ_r W[r]` over `rows` in
    /// order: exactly [`layer`](Self::layer) then [`add_rows`](Self::add_rows), bit for bit.
    fn sparse_layer(&self, x: &[f32], w: &[W], bias: &[W], rows: &[u32], out: &mut [f32]) {
        scalar::composed_sparse_layer(self, x, w, bias, rows, out);
    }

    /// The sparse first layer of several rows, each `n = bias.len()` outputs: with
    /// `count = out.len() / n`, `fields = starts.len()` and `columns = x.len() / count`, row
    /// `r < count` gets in `out[r * n..][..n]` exactly what
    /// [`category_rows`](Self::category_rows) of its categories
    /// `categories[r * fields..][..fields]` and then [`sparse_layer`](Self::sparse_layer) of
    /// its numeric values `x[r * columns..][..columns]` with those rows give, bit for bit.
    /// A row's category rows beyond [`MAX_SPARSE_FIELDS`] are not added. A batch tile's
    /// first layer in one call, which checks the shape once for all its rows.
    fn sparse_rows(
        &self,
        x: &[f32],
        w: &[W],
        bias: &[W],
        categories: &[u16],
        starts: &[u32],
        out: &mut [f32],
    ) {
        scalar::composed_sparse_rows(self, x, w, bias, categories, starts, out, 0);
    }

    /// `v = expf(v)` for every value, bit for bit what `libm::expf` gives (the softmax of the
    /// gates and the sigmoid of the outputs). SIMD kernels run libm's own sequence of `f32`
    /// operations on several lanes and hand the lanes it treats specially (overflow,
    /// underflow, NaN) to libm itself.
    fn exp(&self, values: &mut [f32]) {
        scalar::exp(values);
    }

    /// `out[j] += Σ_g weights[g] · experts[g · n + j]` with `n = out.len()`, in gate order,
    /// each product rounded before it is added (no fused multiply-add, on every backend): a
    /// gate's weighted sum of its experts' outputs. Weights without a whole expert in
    /// `experts` are skipped.
    fn mix(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
        scalar::mix(weights, experts, out);
    }

    /// The positions of the non-zero values of `values` (anything but `+0.0` and `-0.0`: a
    /// NaN counts), from `start` on and in increasing order, written to `found` until it is
    /// full. Returns how many were written and where the next call resumes (`values.len()`
    /// once the scan has reached the end). The dense first layer scans its one-hot columns
    /// with it and multiplies only the few that hold something. Positions past `u32::MAX`
    /// are not scanned.
    fn nonzero(&self, values: &[f32], start: usize, found: &mut [u32]) -> (usize, usize) {
        scalar::nonzero(values, start, found)
    }

    /// `v = max(v, 0)` for every value, a NaN and both zeros giving `+0.0`: the experts'
    /// ReLU.
    fn relu(&self, values: &mut [f32]) {
        scalar::relu(values);
    }

    /// Whether every value is finite (neither infinite nor NaN): the validation of a batch of
    /// dense rows.
    fn all_finite(&self, values: &[f32]) -> bool {
        scalar::all_finite(values)
    }

    /// Whether every row of `categories` (rows of `vocab_sizes.len()` fields, a last partial
    /// row checked for the fields it has) holds valid categories: below its field's
    /// vocabulary size or [`UNKNOWN_CATEGORY`](crate::UNKNOWN_CATEGORY), i.e.
    /// `c.wrapping_add(1) <= vocab` in `u16`. The validation of a batch of sparse rows.
    fn categories_valid(&self, categories: &[u16], vocab_sizes: &[u16]) -> bool {
        scalar::categories_valid(categories, vocab_sizes)
    }

    /// The dense rows of one sparse row's known categories, in field order: for each field
    /// `f` below `min(categories.len(), starts.len())` whose category `c` is not
    /// [`UNKNOWN_CATEGORY`](crate::UNKNOWN_CATEGORY), `starts[f] + c` (wrapping), written
    /// one after the other into `rows` until it is full. Returns how many were written; the
    /// values of `rows` after them are unspecified (SIMD kernels store whole vectors). The
    /// one-hot rows [`sparse_layer`](Self::sparse_layer) adds, with `starts[f]` the first
    /// dense row of field `f`'s block.
    fn category_rows(&self, categories: &[u16], starts: &[u32], rows: &mut [u32]) -> usize {
        scalar::category_rows(categories, starts, rows)
    }

    /// `out[i] = (raw[i] - mean[c]) / std[c]` with `c = i % columns` and
    /// `columns = min(mean.len(), std.len())`, for `i < min(raw.len(), out.len())`: the
    /// subtraction, then the division, each rounded once, as
    /// [`Standardisation`](crate::normalise::Standardisation) computes it. Rows of `columns`
    /// raw numeric values, standardised all at once.
    fn standardise(&self, raw: &[f32], mean: &[f32], std: &[f32], out: &mut [f32]) {
        scalar::standardise(raw, mean, std, out);
    }

    /// [`layer`](Self::layer) for several rows at once (a small matrix product): row `r`
    /// reads `x[r * tile.x_stride..][..k]` with `k = w.len() / bias.len()` and writes
    /// `out[r * tile.out_stride..][..bias.len()]`, bit for bit what `layer` gives for that
    /// row alone. Rows whose slices do not fit are skipped.
    fn layer_rows(&self, x: &[f32], w: &[W], bias: &[W], out: &mut [f32], tile: RowTile) {
        scalar::composed_layer_rows(self, x, w, bias, out, tile);
    }

    /// Rows into lanes (a transposition): `lanes[c * LANES + r] = rows[r * stride + c]` for
    /// the first `count` rows (at most [`LANES`]) and every column `c < lanes.len() / LANES`;
    /// the lanes of the rows past `count` are zero. Values that do not fit are skipped (their
    /// lanes keep what they held). A batch tile works on its rows side by side after the
    /// first layer: every later step is one vector operation for all the tile's rows.
    fn to_lanes(&self, rows: &[f32], stride: usize, count: usize, lanes: &mut [f32]) {
        scalar::to_lanes(rows, stride, count, lanes);
    }

    /// [`mix`](Self::mix) on rows in lanes: `out[j][l] += Σ_g weights[g][l] · experts[g][j][l]`
    /// for the `n = out.len() / LANES` outputs of [`LANES`] rows each, with [`LANES`]
    /// weights a gate (one per row); in gate order, each product rounded before it is added.
    /// Weights without a whole expert (`n` vectors) in `experts` are skipped.
    fn mix_lanes(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
        scalar::mix_lanes(weights, experts, out);
    }

    /// [`mix_lanes`](Self::mix_lanes) of the experts' ReLU: bit for bit
    /// [`relu`](Self::relu) of a copy of `experts`, then `mix_lanes`. The batch reads its
    /// experts once this way, instead of a ReLU pass rewriting them first.
    fn mix_relu_lanes(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
        scalar::composed_mix_relu_lanes(self, weights, experts, out);
    }

    /// Every task's gate mixing of the experts' ReLU ([`mix_relu_lanes`](Self::mix_relu_lanes)
    /// from zero, the task's own experts then the shared ones) for experts still in rows, as
    /// the first layer leaves them. Row `r < mix.rows` (at most [`LANES`]) holds its experts
    /// at `experts[r * mix.stride..]`, `n = mix.width` values each, every task's own then
    /// the shared ones; task `t`'s gate `k` has its [`LANES`] weights, one a row, at
    /// `weights[(t * (ept + shared) + k) * LANES..]`. The kernel writes
    /// `out[r * mix.out_stride + t * n..][..n] = 0 + Σ_k weights[t][k][r] · relu(expert)`,
    /// in gate order, each product rounded before it is added: per value, the operations of
    /// `mix_relu_lanes` on zeroed outputs. Rows and tasks whose slices do not fit are
    /// skipped, gates without their weights or expert too. A batch tile on kernels that
    /// [`mix_rows`](Self::mix_rows) transposes only its gates and its mixed tower inputs
    /// this way, not every expert.
    fn mix_relu_rows(&self, weights: &[f32], experts: &[f32], out: &mut [f32], mix: RowMix) {
        scalar::mix_relu_rows(weights, experts, out, mix);
    }

    /// Whether a batch tile should mix its experts in rows ([`mix_relu_rows`](Self::mix_relu_rows))
    /// rather than turn them into lanes first: true where the transposition costs more than
    /// the mixing saves (AVX-512, whose rows of sixteen values are one register).
    fn mix_rows(&self) -> bool {
        false
    }

    /// The softmax of each gate of `gates` on rows in lanes: every whole run of `width`
    /// vectors of [`LANES`] rows is one gate, and each lane of it becomes
    /// `exp(v - max) / sum`, as a single row's softmax computes it: the maximum from
    /// `-inf` by `if v > max`, the subtraction, [`exp`](Self::exp), the sum from zero in
    /// vector order, the division. Values past the last whole gate (and all of them when
    /// `width` is 0) are left as they are. The gates of a batch tile.
    fn softmax_lanes(&self, gates: &mut [f32], width: usize) {
        scalar::softmax_lanes::<W, Self>(self, gates, width);
    }

    /// `v = sigmoid(v)` for every value, bit for bit the single-row sigmoid: with
    /// `e = exp(-|v|)` by [`exp`](Self::exp) (`-v` when `v >= 0`, else `v`), `1 / (1 + e)`
    /// when `v >= 0` and `e / (1 + e)` otherwise (so the exponential never overflows). The
    /// probabilities of a batch tile's logits.
    fn sigmoid(&self, values: &mut [f32]) {
        scalar::sigmoid::<W, Self>(self, values);
    }

    /// [`layer`](Self::layer) on rows in lanes: `x` holds `k = x.len() / LANES` inputs of
    /// [`LANES`] rows each, `out` `n = bias.len()` outputs of `LANES` rows each, and lane `l`
    /// of `out` is bit for bit what `layer` gives for lane `l` of `x` alone. SIMD kernels
    /// broadcast each weight once for all the lanes. The towers of a batch tile. Layers of
    /// more than [`LANES_MAX_WIDTH`] inputs or outputs are left to the row kernels: the
    /// portable composition leaves `out` as it is for them.
    fn layer_lanes(&self, x: &[f32], w: &[W], bias: &[W], out: &mut [f32]) {
        scalar::composed_layer_lanes(self, x, w, bias, out);
    }
}

/// Rows side by side in the vectors of [`Kernels::to_lanes`] and [`Kernels::layer_lanes`]:
/// the batch tile. 32 on x86_64 with the `avx512` feature (two AVX-512 registers, four AVX2
/// ones), eight elsewhere (one AVX2 register, two NEON ones). After the first layer a tile's
/// steps are short chains of dependent operations (the gates' exponentials, their sum and
/// division, the towers' layers, the sigmoid) on one vector each; with two registers a
/// vector every step has two independent chains to overlap, and 32 rows ran 5% faster a
/// batch than 16 on AVX-512 (48 and 64 were no faster again).
pub const LANES: usize = if cfg!(all(target_arch = "x86_64", feature = "avx512")) {
    32
} else {
    8
};

/// The most categorical fields of a row [`Kernels::sparse_rows`] adds the rows of (the
/// portable composition finds them in a stack buffer of this many).
pub const MAX_SPARSE_FIELDS: usize = 64;

/// The inputs `k` of a [`Kernels::layer_lanes`] call with `x_len` input values, a matrix of
/// `w_len` values, `n` outputs and `out_len` output values, when the slices hold the
/// `k x n` matrix and the `n` output vectors; `None` otherwise (and for no outputs). The
/// bounds every SIMD `layer_lanes` checks before its unchecked loads.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn layer_lanes_inputs(
    x_len: usize,
    w_len: usize,
    n: usize,
    out_len: usize,
) -> Option<usize> {
    let k = x_len / LANES;
    let fits = n != 0 && k.checked_mul(n).is_some_and(|len| len <= w_len) && out_len / LANES >= n;
    fits.then_some(k)
}

/// The widest layer [`Kernels::layer_lanes`] computes on every backend (the portable
/// composition goes through row buffers of this many values on the stack).
pub const LANES_MAX_WIDTH: usize = 64;

/// Where the rows of a [`Kernels::layer_rows`] product live in their slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowTile {
    /// Number of rows.
    pub rows: usize,
    /// Distance between two rows' inputs.
    pub x_stride: usize,
    /// Distance between two rows' outputs.
    pub out_stride: usize,
}

/// The gates and experts of a [`Kernels::mix_relu_rows`] mixing, and where its rows live
/// in their slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowMix {
    /// Number of rows (at most [`LANES`]).
    pub rows: usize,
    /// Tasks, each with its gate and its output.
    pub tasks: usize,
    /// Each task's own experts.
    pub experts_per_task: usize,
    /// Experts every task's gate mixes after its own.
    pub shared_experts: usize,
    /// Values of an expert, and of a task's output.
    pub width: usize,
    /// Distance between two rows' experts.
    pub stride: usize,
    /// Distance between two rows' outputs.
    pub out_stride: usize,
}

/// The best kernels this CPU offers, chosen once by [`Detected::new`].
///
/// With the `std` feature, x86_64 checks for AVX2 and FMA (and F16C, and AVX-512F and BW
/// with the `avx512` feature) at run time; without it
/// the choice follows the compile-time `target_feature`s (e.g. `-C target-cpu=native`).
/// aarch64 always has NEON.
#[derive(Clone, Copy, Debug)]
pub enum Detected {
    /// The portable kernels.
    Scalar(scalar::Scalar),
    /// AVX2 + FMA (+ F16C) kernels.
    #[cfg(target_arch = "x86_64")]
    Avx2(x86_64::Avx2),
    /// The AVX2 kernels with a sixteen-lane AVX-512F first layer.
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    Avx512(x86_64::Avx512),
    /// NEON kernels.
    #[cfg(target_arch = "aarch64")]
    Neon(aarch64::Neon),
    /// Arm FPU kernels (Cortex-M4F/M7, VFPv4).
    #[cfg(all(target_arch = "arm", target_abi = "eabihf", feature = "arm-fpu"))]
    ArmFpu(arm::ArmFpu),
}

impl Detected {
    /// Detects the CPU's features and picks the fastest kernels.
    pub fn new() -> Self {
        #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
        if let Some(k) = x86_64::Avx512::new() {
            return Detected::Avx512(k);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(k) = x86_64::Avx2::new() {
            return Detected::Avx2(k);
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(k) = aarch64::Neon::new() {
            return Detected::Neon(k);
        }
        #[cfg(all(target_arch = "arm", target_abi = "eabihf", feature = "arm-fpu"))]
        if let Some(k) = arm::ArmFpu::new() {
            return Detected::ArmFpu(k);
        }
        Detected::Scalar(scalar::Scalar)
    }

    /// A short name of the chosen kernels: `"scalar"`, `"avx2"`, `"avx512"`, `"neon"` or
    /// `"arm-fpu"`.
    pub fn name(&self) -> &'static str {
        match self {
            Detected::Scalar(_) => "scalar",
            #[cfg(target_arch = "x86_64")]
            Detected::Avx2(_) => "avx2",
            #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
            Detected::Avx512(_) => "avx512",
            #[cfg(target_arch = "aarch64")]
            Detected::Neon(_) => "neon",
            #[cfg(all(target_arch = "arm", target_abi = "eabihf", feature = "arm-fpu"))]
            Detected::ArmFpu(_) => "arm-fpu",
        }
    }
}

impl Default for Detected {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! dispatch {
    ($self:ident, $k:ident => $call:expr) => {
        match $self {
            Detected::Scalar($k) => $call,
            #[cfg(target_arch = "x86_64")]
            Detected::Avx2($k) => $call,
            #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
            Detected::Avx512($k) => $call,
            #[cfg(target_arch = "aarch64")]
            Detected::Neon($k) => $call,
            #[cfg(all(target_arch = "arm", target_abi = "eabihf", feature = "arm-fpu"))]
            Detected::ArmFpu($k) => $call,
        }
    };
    ($w:ty) => {
        impl Kernels<$w> for Detected {
            type F32 = Detected;

            #[inline]
            fn f32_kernels(&self) -> Detected {
                *self
            }

            #[inline]
            fn gemv_acc(&self, x: &[f32], w: &[$w], out: &mut [f32]) {
                match self {
                    Detected::Scalar(k) => k.gemv_acc(x, w, out),
                    #[cfg(target_arch = "x86_64")]
                    Detected::Avx2(k) => k.gemv_acc(x, w, out),
                    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
                    Detected::Avx512(k) => k.gemv_acc(x, w, out),
                    #[cfg(target_arch = "aarch64")]
                    Detected::Neon(k) => k.gemv_acc(x, w, out),
                    #[cfg(all(target_arch = "arm", target_abi = "eabihf", feature = "arm-fpu"))]
                    Detected::ArmFpu(k) => k.gemv_acc(x, w, out),
                }
            }

            #[inline]
            fn add_row(&self, row: &[$w], out: &mut [f32]) {
                match self {
                    Detected::Scalar(k) => k.add_row(row, out),
                    #[cfg(target_arch = "x86_64")]
                    Detected::Avx2(k) => k.add_row(row, out),
                    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
                    Detected::Avx512(k) => k.add_row(row, out),
                    #[cfg(target_arch = "aarch64")]
                    Detected::Neon(k) => k.add_row(row, out),
                    #[cfg(all(target_arch = "arm", target_abi = "eabihf", feature = "arm-fpu"))]
                    Detected::ArmFpu(k) => k.add_row(row, out),
                }
            }

            #[inline]
            fn add_rows<I: Iterator<Item = usize> + Clone>(
                &self,
                w: &[$w],
                rows: I,
                out: &mut [f32],
            ) {
                match self {
                    Detected::Scalar(k) => k.add_rows(w, rows, out),
                    #[cfg(target_arch = "x86_64")]
                    Detected::Avx2(k) => k.add_rows(w, rows, out),
                    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
                    Detected::Avx512(k) => k.add_rows(w, rows, out),
                    #[cfg(target_arch = "aarch64")]
                    Detected::Neon(k) => k.add_rows(w, rows, out),
                    #[cfg(all(target_arch = "arm", target_abi = "eabihf", feature = "arm-fpu"))]
                    Detected::ArmFpu(k) => k.add_rows(w, rows, out),
                }
            }

            #[inline]
            fn exp(&self, values: &mut [f32]) {
                dispatch!(self, k => Kernels::<$w>::exp(k, values))
            }

            #[inline]
            fn mix(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
                dispatch!(self, k => Kernels::<$w>::mix(k, weights, experts, out))
            }

            #[inline]
            fn nonzero(&self, values: &[f32], start: usize, found: &mut [u32]) -> (usize, usize) {
                dispatch!(self, k => Kernels::<$w>::nonzero(k, values, start, found))
            }

            #[inline]
            fn relu(&self, values: &mut [f32]) {
                dispatch!(self, k => Kernels::<$w>::relu(k, values))
            }

            #[inline]
            fn all_finite(&self, values: &[f32]) -> bool {
                dispatch!(self, k => Kernels::<$w>::all_finite(k, values))
            }

            #[inline]
            fn categories_valid(&self, categories: &[u16], vocab_sizes: &[u16]) -> bool {
                dispatch!(self, k => Kernels::<$w>::categories_valid(k, categories, vocab_sizes))
            }

            #[inline]
            fn category_rows(&self, categories: &[u16], starts: &[u32], rows: &mut [u32]) -> usize {
                dispatch!(self, k => Kernels::<$w>::category_rows(k, categories, starts, rows))
            }

            #[inline]
            fn standardise(&self, raw: &[f32], mean: &[f32], std: &[f32], out: &mut [f32]) {
                dispatch!(self, k => Kernels::<$w>::standardise(k, raw, mean, std, out))
            }

            #[inline]
            fn layer(&self, x: &[f32], w: &[$w], bias: &[$w], out: &mut [f32]) {
                dispatch!(self, k => k.layer(x, w, bias, out))
            }

            #[inline]
            fn sparse_layer(
                &self,
                x: &[f32],
                w: &[$w],
                bias: &[$w],
                rows: &[u32],
                out: &mut [f32],
            ) {
                dispatch!(self, k => k.sparse_layer(x, w, bias, rows, out))
            }

            #[inline]
            fn sparse_rows(
                &self,
                x: &[f32],
                w: &[$w],
                bias: &[$w],
                categories: &[u16],
                starts: &[u32],
                out: &mut [f32],
            ) {
                dispatch!(self, k => k.sparse_rows(x, w, bias, categories, starts, out))
            }

            #[inline]
            fn layer_rows(
                &self,
                x: &[f32],
                w: &[$w],
                bias: &[$w],
                out: &mut [f32],
                tile: RowTile,
            ) {
                dispatch!(self, k => k.layer_rows(x, w, bias, out, tile))
            }

            #[inline]
            fn to_lanes(&self, rows: &[f32], stride: usize, count: usize, lanes: &mut [f32]) {
                dispatch!(self, k => Kernels::<$w>::to_lanes(k, rows, stride, count, lanes))
            }

            #[inline]
            fn mix_lanes(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
                dispatch!(self, k => Kernels::<$w>::mix_lanes(k, weights, experts, out))
            }

            #[inline]
            fn mix_relu_lanes(&self, weights: &[f32], experts: &[f32], out: &mut [f32]) {
                dispatch!(self, k => Kernels::<$w>::mix_relu_lanes(k, weights, experts, out))
            }

            #[inline]
            fn mix_relu_rows(&self, weights: &[f32], experts: &[f32], out: &mut [f32], mix: RowMix) {
                dispatch!(self, k => Kernels::<$w>::mix_relu_rows(k, weights, experts, out, mix))
            }

            #[inline]
            fn mix_rows(&self) -> bool {
                dispatch!(self, k => Kernels::<$w>::mix_rows(k))
            }

            #[inline]
            fn softmax_lanes(&self, gates: &mut [f32], width: usize) {
                dispatch!(self, k => Kernels::<$w>::softmax_lanes(k, gates, width))
            }

            #[inline]
            fn sigmoid(&self, values: &mut [f32]) {
                dispatch!(self, k => Kernels::<$w>::sigmoid(k, values))
            }

            #[inline]
            fn layer_lanes(&self, x: &[f32], w: &[$w], bias: &[$w], out: &mut [f32]) {
                dispatch!(self, k => k.layer_lanes(x, w, bias, out))
            }
        }
    };
}

dispatch!(f32);
dispatch!(f16);
