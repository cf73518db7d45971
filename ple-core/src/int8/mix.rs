//! Gate mixing: each gate's output is the weighted sum of its experts' outputs.
//!
//! The gate weights (Q15, from the softmax) are first scaled by each expert's activation
//! scale relative to the largest of them (the Q15 mix ratios), then every output is
//! `sum over experts e of w_e * y_e[k]` in `i32`, rounded back to the activation format.
//! The sum is wrapping, so the order of its additions does not change the result, and the
//! loops below differ only in that order: one expert at a time (cores with few registers),
//! four outputs at a time in registers, and on Arm cores with the DSP extension the whole
//! blocks of four outputs in Thumb-2 assembly ([`super::arm_dsp`]), which loads an expert's
//! four values with one `LDM` and adds them with four `MLA`s.

use super::fixed::ACTIVATION_MAX;

/// `dst[k] = sum over experts e of weight_e * ratio_e * y_e[k]`, every product rounded back to
/// the activation format. The experts are the consecutive outputs (`dst.len()` each) of the
/// two `spans`, in the order of `weights` and `ratios`; `weights` may be overwritten (the gate
/// weights are not read again).
///
/// Two loops give the same bits (wrapping sums are associative, so the order of the additions
/// does not change the result): four outputs at a time in registers, each output stored once,
/// for cores with enough registers; one expert at a time on Arm cores without the DSP
/// extension (Cortex-M0: eight low registers, where four accumulators spill).
pub(super) fn mix(spans: [&[i32]; 2], weights: &mut [u16], ratios: &[u16], dst: &mut [i32]) {
    #[cfg(all(target_arch = "arm", not(feature = "arm-dsp")))]
    mix_one_expert_at_a_time(spans, weights, ratios, dst);
    #[cfg(not(all(target_arch = "arm", not(feature = "arm-dsp"))))]
    mix_four_outputs_at_a_time(spans, weights, ratios, dst);
}

/// [`mix`], one expert after the other into `dst`.
#[cfg_attr(
    not(all(target_arch = "arm", not(feature = "arm-dsp"))),
    allow(dead_code)
)]
fn mix_one_expert_at_a_time(spans: [&[i32]; 2], weights: &[u16], ratios: &[u16], dst: &mut [i32]) {
    let width = dst.len().max(1);
    let [own, shared] = spans;
    let members = own.chunks_exact(width).chain(shared.chunks_exact(width));
    let mut first = true;
    for ((y, &g), &r) in members.zip(weights).zip(ratios) {
        // Both Q15 and at most 2^15: the product fits in u32.
        let w = ((u32::from(g) * u32::from(r) + (1 << 14)) >> 15) as i32;
        // The weights sum to at most 2^15 + experts, activations are below 2^15: no
        // overflow for any shape; wrapping keeps that free of debug checks.
        if first {
            for (d, &y) in dst.iter_mut().zip(y) {
                *d = w.wrapping_mul(y);
            }
            first = false;
            continue;
        }
        let mut d4 = dst.chunks_exact_mut(4);
        let mut y4 = y.chunks_exact(4);
        for (d, y) in (&mut d4).zip(&mut y4) {
            if let ([d0, d1, d2, d3], &[y0, y1, y2, y3]) = (d, y) {
                *d0 = d0.wrapping_add(w.wrapping_mul(y0));
                *d1 = d1.wrapping_add(w.wrapping_mul(y1));
                *d2 = d2.wrapping_add(w.wrapping_mul(y2));
                *d3 = d3.wrapping_add(w.wrapping_mul(y3));
            }
        }
        for (d, &y) in d4.into_remainder().iter_mut().zip(y4.remainder()) {
            *d = d.wrapping_add(w.wrapping_mul(y));
        }
    }
    if first {
        dst.fill(0);
    }
    for d in dst.iter_mut() {
        *d = (d.wrapping_add(1 << 14) >> 15).min(ACTIVATION_MAX);
    }
}

/// [`mix`], four outputs at a time: every expert is added into four accumulators held in
/// registers, and each output is stored once instead of once per expert. The scaled weights
/// are computed once, into `weights`. On Arm cores with the DSP extension the whole blocks of
/// four run in assembly, the rest here.
#[cfg_attr(all(target_arch = "arm", not(feature = "arm-dsp")), allow(dead_code))]
fn mix_four_outputs_at_a_time(
    spans: [&[i32]; 2],
    weights: &mut [u16],
    ratios: &[u16],
    dst: &mut [i32],
) {
    let weights = scale_weights(weights, ratios);
    // The assembly takes every whole block of four, so only the last outputs are left.
    #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
    {
        let done = super::arm_dsp::mix_blocks(spans, weights, dst);
        mix_each_from(spans, weights, dst, done);
    }
    #[cfg(not(all(target_arch = "arm", feature = "arm-dsp")))]
    mix_four_from(spans, weights, dst, 0);
}

/// [`mix`] with the whole blocks at the start of `dst` computed by `blocks` (from the scaled
/// weights; it returns how many outputs it computed), the rest one at a time here.
#[cfg(target_arch = "x86_64")]
pub(super) fn mix_with(
    spans: [&[i32]; 2],
    weights: &mut [u16],
    ratios: &[u16],
    dst: &mut [i32],
    blocks: impl FnOnce([&[i32]; 2], &[u16], &mut [i32]) -> usize,
) {
    let weights = scale_weights(weights, ratios);
    let done = blocks(spans, weights, dst);
    mix_each_from(spans, weights, dst, done);
}

/// The gate weights times the mix ratios, in place of `weights` (as many as there are
/// ratios).
fn scale_weights<'w>(weights: &'w mut [u16], ratios: &[u16]) -> &'w [u16] {
    let members = weights.len().min(ratios.len());
    let weights = weights.get_mut(..members).unwrap_or(&mut []);
    for (g, &r) in weights.iter_mut().zip(ratios) {
        // Both Q15 and at most 2^15: the product fits in u32, the scaled weight in u16.
        *g = ((u32::from(*g) * u32::from(r) + (1 << 14)) >> 15) as u16;
    }
    weights
}

/// The outputs of `dst` from `from` on, four at a time in registers (then the last ones
/// alone), with weights already scaled.
#[cfg_attr(all(target_arch = "arm", feature = "arm-dsp"), allow(dead_code))]
fn mix_four_from(spans: [&[i32]; 2], weights: &[u16], dst: &mut [i32], from: usize) {
    let width = dst.len();
    // The weights sum to at most 2^15 + experts, activations are below 2^15: no overflow for
    // any shape; wrapping keeps that free of debug checks.
    let [own, shared] = spans;
    let mut d4 = dst.get_mut(from..).unwrap_or(&mut []).chunks_exact_mut(4);
    let mut k = from;
    for d in &mut d4 {
        let mut acc = [0i32; 4];
        let mut w = weights.iter();
        for span in [own, shared] {
            for (y, &g) in span.chunks_exact(width.max(1)).zip(&mut w) {
                if let Some(&[y0, y1, y2, y3]) = y.get(k..k + 4) {
                    let g = i32::from(g);
                    acc[0] = acc[0].wrapping_add(g.wrapping_mul(y0));
                    acc[1] = acc[1].wrapping_add(g.wrapping_mul(y1));
                    acc[2] = acc[2].wrapping_add(g.wrapping_mul(y2));
                    acc[3] = acc[3].wrapping_add(g.wrapping_mul(y3));
                }
            }
        }
        for (d, a) in d.iter_mut().zip(acc) {
            *d = round(a);
        }
        k += 4;
    }
    mix_each_from(spans, weights, dst, k);
}

/// The outputs of `dst` from `from` on, one at a time, with weights already scaled.
fn mix_each_from(spans: [&[i32]; 2], weights: &[u16], dst: &mut [i32], from: usize) {
    let width = dst.len();
    let [own, shared] = spans;
    for (k, d) in dst.iter_mut().enumerate().skip(from) {
        let mut acc = 0i32;
        let mut w = weights.iter();
        for span in [own, shared] {
            for (y, &g) in span.chunks_exact(width.max(1)).zip(&mut w) {
                let y = y.get(k).copied().unwrap_or(0);
                acc = acc.wrapping_add(i32::from(g).wrapping_mul(y));
            }
        }
        *d = round(acc);
    }
}

/// A mixed sum back to the activation format.
#[inline(always)]
fn round(sum: i32) -> i32 {
    (sum.wrapping_add(1 << 14) >> 15).min(ACTIVATION_MAX)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::{mix, mix_four_outputs_at_a_time, mix_one_expert_at_a_time, ACTIVATION_MAX};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// The mixing as its definition reads: one expert after the other into `dst`.
    fn definition(spans: [&[i32]; 2], weights: &[u16], ratios: &[u16], width: usize) -> Vec<i32> {
        let mut dst = vec![0i32; width];
        let members = spans[0]
            .chunks_exact(width)
            .chain(spans[1].chunks_exact(width));
        for ((y, &g), &r) in members.zip(weights).zip(ratios) {
            let w = ((u32::from(g) * u32::from(r) + (1 << 14)) >> 15) as i32;
            for (d, &y) in dst.iter_mut().zip(y) {
                *d = d.wrapping_add(w.wrapping_mul(y));
            }
        }
        dst.iter()
            .map(|&d| (d.wrapping_add(1 << 14) >> 15).min(ACTIVATION_MAX))
            .collect()
    }

    proptest! {
        /// The whole blocks of four in assembly, then the rest in Rust, against the Rust loop
        /// alone (the portable twin), on any weights and activations.
        #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
        #[test]
        fn assembly_mixing_equals_the_portable_loop(
            width in 1usize..20,
            own in 0usize..4,
            shared in 0usize..4,
            seed in prop::collection::vec((any::<u16>(), any::<i32>()), 80),
        ) {
            let weights: Vec<u16> = seed.iter().take(own + shared).map(|s| s.0).collect();
            let y: Vec<i32> = (0..(own + shared) * width)
                .map(|i| seed.iter().cycle().nth(i).map_or(0, |s| s.1.rotate_left(i as u32)))
                .collect();
            let (a, b) = y.split_at(own * width);
            let mut portable = vec![-1i32; width];
            super::mix_four_from([a, b], &weights, &mut portable, 0);
            let mut arm = vec![-1i32; width];
            let done = super::super::arm_dsp::mix_blocks([a, b], &weights, &mut arm);
            prop_assert_eq!(done, width - width % 4);
            super::mix_each_from([a, b], &weights, &mut arm, done);
            prop_assert_eq!(arm, portable);
        }

        #[test]
        fn both_mixing_loops_equal_the_definition(
            width in 1usize..11,
            own in 0usize..4,
            shared in 0usize..4,
            seed in prop::collection::vec((0u16..=32768, 0u16..=32768, 0..=ACTIVATION_MAX), 80),
        ) {
            let members = own + shared;
            let weights: Vec<u16> = seed.iter().take(members).map(|s| s.0).collect();
            let ratios: Vec<u16> = seed.iter().take(members).map(|s| s.1).collect();
            let y: Vec<i32> = (0..members * width).map(|i| seed.iter().cycle().nth(i).map_or(0, |s| s.2 ^ (i as i32 & 7))).collect();
            let (a, b) = y.split_at(own * width);
            let expected = definition([a, b], &weights, &ratios, width);
            let mut scaled = weights.clone();
            let mut dst = vec![-1i32; width];
            mix_four_outputs_at_a_time([a, b], &mut scaled, &ratios, &mut dst);
            prop_assert_eq!(&dst, &expected);
            let mut dst = vec![-1i32; width];
            mix_one_expert_at_a_time([a, b], &weights, &ratios, &mut dst);
            prop_assert_eq!(&dst, &expected);
            let mut dst = vec![-1i32; width];
            mix([a, b], &mut weights.clone(), &ratios, &mut dst);
            prop_assert_eq!(&dst, &expected);
        }
    }
}
