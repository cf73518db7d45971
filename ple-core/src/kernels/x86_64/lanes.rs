//! Rows in lanes, AVX2: the transposition of a batch tile into eight-row vectors, and the
//! gate mixing and the dense layer on such vectors.
//!
//! After its first layer a batch tile works on its [`LANES`] rows side by side: value `c` of
//! every row in one vector of `LANES / 8` registers (32 rows in four registers when the
//! `avx512` feature makes the tile 32 rows, which its AVX-512 kernels hold in two). The
//! transposition goes through 8 x 8 blocks of registers (unpack, shuffle, swap of 128-bit
//! halves); a last block that would run past the columns is moved left to end at the last
//! column, so some columns are written twice, identically.
//!
//! The mixing keeps up to eight output vectors in registers across all the gates and adds
//! each rounded product, as the scalar twin does. In the layer each output keeps one vector
//! accumulator (its rows), which starts at `0 + bias` and takes one fused multiply-add per
//! input in input order with the weight broadcast: per row, exactly the operations of the
//! one-row kernels (`layer.rs`, and the scalar fused multiply-adds of the columns they leave
//! to `gemv`), so the result is the same bit for bit whatever the width.

use core::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_max_ps, _mm256_mul_ps,
    _mm256_permute2f128_ps, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_storeu_ps,
    _mm256_unpackhi_ps, _mm256_unpacklo_ps,
};

use super::Lanes;
use crate::kernels::{layer_lanes_inputs, LANES};

/// See `Kernels::to_lanes`. Returns `false`, touching nothing, unless the tile is full
/// (`count == LANES`), at least eight columns wide and inside `rows`.
///
/// # Safety
/// The CPU must have AVX2 (and FMA and F16C, like every kernel of this module).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn to_lanes(
    rows: &[f32],
    stride: usize,
    count: usize,
    lanes: &mut [f32],
) -> bool {
    let columns = lanes.len() / LANES;
    let inside = (LANES - 1)
        .checked_mul(stride)
        .and_then(|start| start.checked_add(columns))
        .is_some_and(|end| end <= rows.len());
    if count != LANES || columns < 8 || stride < columns || !inside {
        return false;
    }
    let mut start = 0;
    while start < columns {
        let c0 = start.min(columns - 8);
        // Rows 8h .. 8h + 8 go to lanes 8h .. 8h + 8 of each vector.
        for h in 0..HALVES {
            // SAFETY: rows 8h..8h + 8 (below LANES) hold columns c0..c0 + 8 (c0 + 8 <=
            // columns <= stride, and the last row ends inside `rows`, checked above); lanes
            // c0..c0 + 8 are inside `lanes`.
            unsafe {
                let src = rows.as_ptr().add(8 * h * stride + c0);
                let r: [__m256; 8] = core::array::from_fn(|i| _mm256_loadu_ps(src.add(i * stride)));
                let t = transpose(r);
                let dst = lanes.as_mut_ptr().add(c0 * LANES + 8 * h);
                for (i, v) in t.iter().enumerate() {
                    _mm256_storeu_ps(dst.add(i * LANES), *v);
                }
            }
        }
        start = c0 + 8;
    }
    true
}

/// The transpose of eight rows of eight values.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn transpose(r: [__m256; 8]) -> [__m256; 8] {
    let [r0, r1, r2, r3, r4, r5, r6, r7] = r;
    let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
    let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
    let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
    let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xee>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xee>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xee>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xee>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

/// Eight-lane registers per vector of [`LANES`] rows.
const HALVES: usize = LANES / 8;

/// The most outputs whose accumulators (`HALVES` registers each) stay in registers through
/// all the inputs.
const GROUP: usize = 8 / HALVES;

/// See `Kernels::layer_lanes`. Returns `false`, touching nothing, when the slices do not
/// hold the `k x n` matrix and the `n` output vectors.
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn layer_lanes<W: Lanes>(
    x: &[f32],
    w: &[W],
    bias: &[W],
    out: &mut [f32],
) -> bool {
    let n = bias.len();
    let Some(k) = layer_lanes_inputs(x.len(), w.len(), n, out.len()) else {
        return false;
    };
    let mut j = 0;
    while j < n {
        let here = (n - j).min(GROUP);
        // SAFETY: outputs j..j + here are below n: their weights (column j + c of each of
        // the k rows), biases and output vectors are inside the slices (checked above), and
        // the k input vectors inside `x`.
        unsafe {
            let (xs, w0, b0) = (x.as_ptr(), w.as_ptr().add(j), bias.as_ptr().add(j));
            let o0 = out.as_mut_ptr().add(j * LANES);
            match here {
                1 => outputs::<W, 1>(xs, k, w0, n, b0, o0),
                2 => outputs::<W, 2>(xs, k, w0, n, b0, o0),
                3 => outputs::<W, 3>(xs, k, w0, n, b0, o0),
                4 => outputs::<W, 4>(xs, k, w0, n, b0, o0),
                5 => outputs::<W, 5>(xs, k, w0, n, b0, o0),
                6 => outputs::<W, 6>(xs, k, w0, n, b0, o0),
                7 => outputs::<W, 7>(xs, k, w0, n, b0, o0),
                _ => outputs::<W, GROUP>(xs, k, w0, n, b0, o0),
            }
        }
        j += here;
    }
    true
}

/// `C` outputs over all `k` inputs.
///
/// # Safety
/// `x .. + k * LANES` readable, `w + i * stride .. + C` readable for `i < k`, `bias .. + C`
/// readable, `out .. + C * LANES` writable; AVX2, FMA and F16C present.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn outputs<W: Lanes, const C: usize>(
    x: *const f32,
    k: usize,
    w: *const W,
    stride: usize,
    bias: *const W,
    out: *mut f32,
) {
    // SAFETY: every access stays inside the ranges the caller guarantees.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); HALVES]; C];
        for (c, a) in acc.iter_mut().enumerate() {
            let b = W::broadcast(bias.add(c));
            for a in a.iter_mut() {
                *a = _mm256_add_ps(*a, b);
            }
        }
        for i in 0..k {
            let xv: [__m256; HALVES] =
                core::array::from_fn(|h| _mm256_loadu_ps(x.add(i * LANES + 8 * h)));
            let row = w.add(i * stride);
            for (c, a) in acc.iter_mut().enumerate() {
                let wv = W::broadcast(row.add(c));
                for (a, &xv) in a.iter_mut().zip(&xv) {
                    *a = _mm256_fmadd_ps(xv, wv, *a);
                }
            }
        }
        for (c, a) in acc.iter().enumerate() {
            for (h, a) in a.iter().enumerate() {
                _mm256_storeu_ps(out.add(c * LANES + 8 * h), *a);
            }
        }
    }
}

/// See `Kernels::mix_lanes`.
///
/// # Safety
/// The CPU must have AVX2 (and FMA and F16C, like every kernel of this module).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn mix_lanes(weights: &[f32], experts: &[f32], out: &mut [f32]) {
    // SAFETY: the caller guarantees the CPU features.
    unsafe { mix_lanes_with::<false>(weights, experts, out) }
}

/// See `Kernels::mix_relu_lanes`.
///
/// # Safety
/// As for `mix_lanes`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn mix_relu_lanes(weights: &[f32], experts: &[f32], out: &mut [f32]) {
    // SAFETY: the caller guarantees the CPU features.
    unsafe { mix_lanes_with::<true>(weights, experts, out) }
}

/// `mix_lanes`, of the experts' ReLU when `RELU`.
///
/// # Safety
/// As for `mix_lanes`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn mix_lanes_with<const RELU: bool>(weights: &[f32], experts: &[f32], out: &mut [f32]) {
    let n = out.len() / LANES;
    if n == 0 {
        return;
    }
    let gates = (weights.len() / LANES).min(experts.len() / (n * LANES));
    let mut j = 0;
    while j < n {
        let here = (n - j).min(GROUP);
        // SAFETY: outputs j..j + here are below n, inside `out`; for every gate g below
        // `gates`, its weights and the vectors j..j + here of its expert are inside
        // `weights` and `experts` (g * n + n vectors at most).
        unsafe {
            let (w0, e0) = (weights.as_ptr(), experts.as_ptr().add(j * LANES));
            let o0 = out.as_mut_ptr().add(j * LANES);
            match here {
                1 => mixed::<1, RELU>(w0, gates, e0, n, o0),
                2 => mixed::<2, RELU>(w0, gates, e0, n, o0),
                3 => mixed::<3, RELU>(w0, gates, e0, n, o0),
                4 => mixed::<4, RELU>(w0, gates, e0, n, o0),
                5 => mixed::<5, RELU>(w0, gates, e0, n, o0),
                6 => mixed::<6, RELU>(w0, gates, e0, n, o0),
                7 => mixed::<7, RELU>(w0, gates, e0, n, o0),
                _ => mixed::<GROUP, RELU>(w0, gates, e0, n, o0),
            }
        }
        j += here;
    }
}

/// `C` output vectors over all the gates.
///
/// # Safety
/// `weights .. + gates * LANES` readable, `experts + g * n * LANES .. + C * LANES` readable
/// for `g < gates`, `out .. + C * LANES` readable and writable; AVX2 present.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn mixed<const C: usize, const RELU: bool>(
    weights: *const f32,
    gates: usize,
    experts: *const f32,
    n: usize,
    out: *mut f32,
) {
    // SAFETY: every access stays inside the ranges the caller guarantees.
    unsafe {
        let mut acc: [[__m256; HALVES]; C] = core::array::from_fn(|c| {
            core::array::from_fn(|h| _mm256_loadu_ps(out.add(c * LANES + 8 * h)))
        });
        for g in 0..gates {
            let wv: [__m256; HALVES] =
                core::array::from_fn(|h| _mm256_loadu_ps(weights.add(g * LANES + 8 * h)));
            let expert = experts.add(g * n * LANES);
            for (c, a) in acc.iter_mut().enumerate() {
                for (h, (a, &wv)) in a.iter_mut().zip(&wv).enumerate() {
                    let mut e = _mm256_loadu_ps(expert.add(c * LANES + 8 * h));
                    if RELU {
                        // As the ReLU kernel: `max(e, +0)` gives +0 for -0 and for a NaN.
                        e = _mm256_max_ps(e, _mm256_setzero_ps());
                    }
                    *a = _mm256_add_ps(*a, _mm256_mul_ps(wv, e));
                }
            }
        }
        for (c, a) in acc.iter().enumerate() {
            for (h, a) in a.iter().enumerate() {
                _mm256_storeu_ps(out.add(c * LANES + 8 * h), *a);
            }
        }
    }
}
