//! Rows in lanes on AVX-512F: a vector of the batch tile's rows in sixteen-lane registers,
//! [`PARTS`] of them.
//!
//! The same kernels as the AVX2 ones of `lanes.rs`, with one sixteen-lane register where
//! they use two eight-lane ones: the gate mixing keeps up to eight output vectors in
//! registers across all the gates and adds each rounded product; the dense layer keeps one
//! accumulator per output, `0 + bias` then one fused multiply-add per input in input order
//! with the weight broadcast; the ReLU is `max(v, +0.0)` with the operand order of the AVX2
//! kernel (a NaN and both zeros give `+0.0`). The gates' softmax walks a gate's vectors three
//! times: the maximum (`max(v, max)` keeps `max` for a NaN and equal zeros, as the portable
//! `if v > max`), then the subtraction, the sixteen-lane `expf` and the running sum, then the
//! division. The sigmoid picks its form per lane with a mask (`v >= 0`, false for a NaN, as
//! the portable comparison) and takes the last values with masked loads and stores. Every
//! lane goes through the operations of the one-row kernels, so the results
//! are the same bit for bit.

use core::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_castps_si512, _mm512_castsi512_ps, _mm512_cmp_ps_mask,
    _mm512_div_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_blend_ps, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_max_ps, _mm512_mul_ps, _mm512_set1_epi32, _mm512_set1_ps,
    _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps, _mm512_xor_si512, _CMP_GE_OQ,
};

use super::avx512::Wide;
use super::avx512_exp::exp16_or_libm;
use crate::kernels::{layer_lanes_inputs, LANES};

const _: () = assert!(
    LANES.is_multiple_of(16),
    "the AVX-512 lane kernels hold sixteen rows a register"
);

/// Sixteen-lane registers per vector of [`LANES`] rows.
const PARTS: usize = LANES / 16;

/// The most outputs whose accumulators ([`PARTS`] registers each) stay in registers through
/// all the inputs.
const GROUP: usize = 16 / PARTS;

/// See `Kernels::relu`.
///
/// # Safety
/// The CPU must have AVX-512F, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn relu(values: &mut [f32]) {
    let mut chunks = values.chunks_exact_mut(16);
    let zero = _mm512_setzero_ps();
    for chunk in &mut chunks {
        // SAFETY: the chunk holds sixteen values; `loadu`/`storeu` need no alignment.
        unsafe {
            let p = chunk.as_mut_ptr();
            _mm512_storeu_ps(p, _mm512_max_ps(_mm512_loadu_ps(p), zero));
        }
    }
    // SAFETY: the CPU has AVX2.
    unsafe { super::elementwise::relu(chunks.into_remainder()) };
}

/// See `Kernels::layer_lanes`. Returns `false`, touching nothing, when the slices do not
/// hold the `k x n` matrix and the `n` output vectors.
///
/// # Safety
/// The CPU must have AVX-512F, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn layer_lanes<W: Wide>(x: &[f32], w: &[W], bias: &[W], out: &mut [f32]) -> bool {
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
/// readable, `out .. + C * LANES` writable; AVX-512F, AVX2, FMA and F16C present.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn outputs<W: Wide, const C: usize>(
    x: *const f32,
    k: usize,
    w: *const W,
    stride: usize,
    bias: *const W,
    out: *mut f32,
) {
    // SAFETY: every access stays inside the ranges the caller guarantees.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); PARTS]; C];
        for (c, a) in acc.iter_mut().enumerate() {
            let b = W::broadcast16(bias.add(c));
            for part in a.iter_mut() {
                *part = _mm512_add_ps(*part, b);
            }
        }
        for i in 0..k {
            let xv: [__m512; PARTS] =
                core::array::from_fn(|h| _mm512_loadu_ps(x.add(i * LANES + 16 * h)));
            let row = w.add(i * stride);
            for (c, a) in acc.iter_mut().enumerate() {
                let wv = W::broadcast16(row.add(c));
                for (part, xh) in a.iter_mut().zip(xv) {
                    *part = _mm512_fmadd_ps(xh, wv, *part);
                }
            }
        }
        for (c, a) in acc.iter().enumerate() {
            for (h, part) in a.iter().enumerate() {
                _mm512_storeu_ps(out.add(c * LANES + 16 * h), *part);
            }
        }
    }
}

/// See `Kernels::mix_lanes`.
///
/// # Safety
/// The CPU must have AVX-512F, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn mix_lanes(weights: &[f32], experts: &[f32], out: &mut [f32]) {
    // SAFETY: the caller guarantees the CPU features.
    unsafe { mix_lanes_with::<false>(weights, experts, out) }
}

/// See `Kernels::mix_relu_lanes`.
///
/// # Safety
/// As for `mix_lanes`.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn mix_relu_lanes(weights: &[f32], experts: &[f32], out: &mut [f32]) {
    // SAFETY: the caller guarantees the CPU features.
    unsafe { mix_lanes_with::<true>(weights, experts, out) }
}

/// `mix_lanes`, of the experts' ReLU when `RELU`.
///
/// # Safety
/// As for `mix_lanes`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
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
/// for `g < gates`, `out .. + C * LANES` readable and writable; AVX-512F present.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn mixed<const C: usize, const RELU: bool>(
    weights: *const f32,
    gates: usize,
    experts: *const f32,
    n: usize,
    out: *mut f32,
) {
    // SAFETY: every access stays inside the ranges the caller guarantees.
    unsafe {
        let mut acc: [[__m512; PARTS]; C] = core::array::from_fn(|c| {
            core::array::from_fn(|h| _mm512_loadu_ps(out.add(c * LANES + 16 * h)))
        });
        for g in 0..gates {
            let wv: [__m512; PARTS] =
                core::array::from_fn(|h| _mm512_loadu_ps(weights.add(g * LANES + 16 * h)));
            let expert = experts.add(g * n * LANES);
            for (c, a) in acc.iter_mut().enumerate() {
                for (h, (part, wh)) in a.iter_mut().zip(wv).enumerate() {
                    let mut e = _mm512_loadu_ps(expert.add(c * LANES + 16 * h));
                    if RELU {
                        // As the ReLU kernel: `max(e, +0)` gives +0 for -0 and for a NaN.
                        e = _mm512_max_ps(e, _mm512_setzero_ps());
                    }
                    *part = _mm512_add_ps(*part, _mm512_mul_ps(wh, e));
                }
            }
        }
        for (c, a) in acc.iter().enumerate() {
            for (h, part) in a.iter().enumerate() {
                _mm512_storeu_ps(out.add(c * LANES + 16 * h), *part);
            }
        }
    }
}

/// See `Kernels::softmax_lanes`.
///
/// # Safety
/// The CPU must have AVX-512F, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn softmax_lanes(gates: &mut [f32], width: usize) {
    let gate_len = LANES * width;
    if gate_len == 0 {
        return;
    }
    for gate in gates.chunks_exact_mut(gate_len) {
        let p = gate.as_mut_ptr();
        // SAFETY: vectors 0..width of the gate are its `width * LANES` values; `loadu` and
        // `storeu` need no alignment.
        unsafe {
            let at = |i: usize, h: usize| p.add(i * LANES + 16 * h);
            let mut max = [_mm512_set1_ps(f32::NEG_INFINITY); PARTS];
            for i in 0..width {
                for (h, m) in max.iter_mut().enumerate() {
                    *m = _mm512_max_ps(_mm512_loadu_ps(at(i, h)), *m);
                }
            }
            let mut sum = [_mm512_setzero_ps(); PARTS];
            for i in 0..width {
                for (h, (s, m)) in sum.iter_mut().zip(max).enumerate() {
                    let e = exp16_or_libm(_mm512_sub_ps(_mm512_loadu_ps(at(i, h)), m));
                    *s = _mm512_add_ps(*s, e);
                    _mm512_storeu_ps(at(i, h), e);
                }
            }
            for i in 0..width {
                for (h, s) in sum.iter().enumerate() {
                    let v = _mm512_loadu_ps(at(i, h));
                    _mm512_storeu_ps(at(i, h), _mm512_div_ps(v, *s));
                }
            }
        }
    }
}

/// See `Kernels::sigmoid`.
///
/// # Safety
/// The CPU must have AVX-512F, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn sigmoid(values: &mut [f32]) {
    let mut chunks = values.chunks_mut(16);
    for chunk in &mut chunks {
        // Lanes past the chunk (a last one shorter than sixteen) are neither read nor written.
        let mask = u16::MAX >> (16 - chunk.len());
        let p = chunk.as_mut_ptr();
        // SAFETY: the mask covers the chunk's values only; masked loads and stores do not
        // touch the other lanes' memory.
        unsafe {
            let x = _mm512_maskz_loadu_ps(mask, p);
            _mm512_mask_storeu_ps(p, mask, sigmoid16(x));
        }
    }
}

/// Sixteen lanes of the single-row sigmoid.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn sigmoid16(x: __m512) -> __m512 {
    let one = _mm512_set1_ps(1.0);
    let positive = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, _mm512_setzero_ps());
    let negated = _mm512_castsi512_ps(_mm512_xor_si512(
        _mm512_castps_si512(x),
        _mm512_set1_epi32(i32::MIN),
    ));
    let e = exp16_or_libm(_mm512_mask_blend_ps(positive, x, negated));
    let numerator = _mm512_mask_blend_ps(positive, e, one);
    _mm512_div_ps(numerator, _mm512_add_ps(one, e))
}
