//! Element-wise kernels and the gate mixing, NEON: the experts' ReLU, the finiteness check of
//! dense rows, the scan for non-zero values and the mixing (of one row, and of rows in
//! lanes), four values a vector.
//!
//! NEON's `fmax` turns a NaN into a NaN, so the ReLU compares and selects instead (`v > 0`
//! false for a NaN and both zeros gives `+0.0`, as the scalar twin). The mixing multiplies
//! and adds apart, never fused, in gate order, so every value goes through the scalar twin's
//! operations. The scan tests four values at once and looks at them one by one only when
//! one of them is non-zero (rare in one-hot columns).

use core::arch::aarch64::{
    vaddq_f32, vandq_u32, vbslq_f32, vceqq_u32, vcgtq_f32, vdupq_n_f32, vdupq_n_u32, vld1q_f32,
    vld1q_u32, vmaxvq_u32, vmulq_f32, vorrq_u32, vst1q_f32,
};

use super::scalar;
use crate::kernels::LANES;

/// See `Kernels::relu`.
///
/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn relu(values: &mut [f32]) {
    let mut chunks = values.chunks_exact_mut(4);
    let zero = vdupq_n_f32(0.0);
    for chunk in &mut chunks {
        // SAFETY: the chunk holds four values; NEON loads and stores need no alignment.
        unsafe {
            let p = chunk.as_mut_ptr();
            let v = vld1q_f32(p);
            vst1q_f32(p, vbslq_f32(vcgtq_f32(v, zero), v, zero));
        }
    }
    scalar::relu(chunks.into_remainder());
}

/// See `Kernels::all_finite`.
///
/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn all_finite(values: &[f32]) -> bool {
    let exponent = vdupq_n_u32(0x7f80_0000);
    let mut bad = vdupq_n_u32(0);
    let mut chunks = values.chunks_exact(4);
    for chunk in &mut chunks {
        // SAFETY: the chunk holds four values, read as their bits.
        let bits = unsafe { vld1q_u32(chunk.as_ptr().cast()) };
        bad = vorrq_u32(bad, vceqq_u32(vandq_u32(bits, exponent), exponent));
    }
    vmaxvq_u32(bad) == 0 && scalar::all_finite(chunks.remainder())
}

/// See `Kernels::nonzero`.
///
/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn nonzero(values: &[f32], start: usize, found: &mut [u32]) -> (usize, usize) {
    let end = values.len().min(u32::MAX as usize);
    let magnitude = vdupq_n_u32(0x7fff_ffff);
    let mut count = 0;
    let mut at = start;
    while at.checked_add(4).is_some_and(|next| next <= end) {
        // SAFETY: values at..at + 4 are inside `values` (at + 4 <= end <= len).
        let bits = unsafe { vld1q_u32(values.as_ptr().add(at).cast()) };
        if vmaxvq_u32(vandq_u32(bits, magnitude)) != 0 {
            for (i, &v) in values.iter().enumerate().skip(at).take(4) {
                if v != 0.0 {
                    let Some(slot) = found.get_mut(count) else {
                        return (count, i);
                    };
                    *slot = i as u32;
                    count += 1;
                }
            }
        }
        at += 4;
    }
    let (more, next) = scalar::nonzero(values, at, found.get_mut(count..).unwrap_or(&mut []));
    (count + more, next)
}

/// See `Kernels::mix`.
///
/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn mix(weights: &[f32], experts: &[f32], out: &mut [f32]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    let gates = weights.len().min(experts.len() / n);
    let weights = weights.get(..gates).unwrap_or(&[]);
    let mut j = 0;
    while j + 4 <= n {
        // SAFETY: columns j..j + 4 are inside `out` and inside each of the `gates` experts
        // of `experts` (gates * n values).
        unsafe {
            let o = out.as_mut_ptr().add(j);
            let mut acc = vld1q_f32(o);
            let mut e = experts.as_ptr().add(j);
            for &weight in weights {
                acc = vaddq_f32(acc, vmulq_f32(vdupq_n_f32(weight), vld1q_f32(e)));
                e = e.wrapping_add(n);
            }
            vst1q_f32(o, acc);
        }
        j += 4;
    }
    // A scalar multiply and add round exactly like one lane of the vector ones.
    for (g, &weight) in weights.iter().enumerate() {
        let expert = experts.get(g * n + j..(g + 1) * n).unwrap_or(&[]);
        for (o, &e) in out.get_mut(j..).unwrap_or(&mut []).iter_mut().zip(expert) {
            *o += weight * e;
        }
    }
}

/// See `Kernels::mix_lanes`: one output vector of [`LANES`] rows (two NEON vectors) at a
/// time, across all the gates.
///
/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn mix_lanes(weights: &[f32], experts: &[f32], out: &mut [f32]) {
    const { assert!(LANES == 8) };
    let n = out.len() / LANES;
    if n == 0 {
        return;
    }
    let gates = (weights.len() / LANES).min(experts.len() / (n * LANES));
    for j in 0..n {
        // SAFETY: output vector j is inside `out`; for every gate g below `gates`, its
        // weights and vector j of its expert are inside `weights` and `experts`.
        unsafe {
            let o = out.as_mut_ptr().add(j * LANES);
            let (mut lo, mut hi) = (vld1q_f32(o), vld1q_f32(o.add(4)));
            for g in 0..gates {
                let w = weights.as_ptr().add(g * LANES);
                let e = experts.as_ptr().add((g * n + j) * LANES);
                lo = vaddq_f32(lo, vmulq_f32(vld1q_f32(w), vld1q_f32(e)));
                hi = vaddq_f32(hi, vmulq_f32(vld1q_f32(w.add(4)), vld1q_f32(e.add(4))));
            }
            vst1q_f32(o, lo);
            vst1q_f32(o.add(4), hi);
        }
    }
}
