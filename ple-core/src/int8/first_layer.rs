//! The sparse first layer: every level-0 expert's first layer and every level-0 gate, in one
//! pass over the selected category rows and one pass over the outputs.
//!
//! The category rows are summed in packed `i16` pairs (see
//! [`gather_rows_packed`](super::kernels::gather_rows_packed)) and the sums unpacked to one
//! `i32` per output (by the assembly gather itself on Arm DSP cores); the per-output step
//! then starts each accumulator at `(G << category_shift) + bias`, adds the numeric dot
//! product with `SMLAD` pairs and requantises, in place.
//!
//! The step is instantiated for every numeric width from one to eight pairs of
//! columns (Census has 11 columns, 6 pairs): with the width a constant, the numeric input
//! words stay in registers across all outputs and the dot product is a straight run of
//! loads and `SMLAD`s, which is most of a Cortex-M4's work per output. Wider inputs take a
//! loop over the pairs, with the same results.

use super::fixed::{Requant, ACTIVATION_MAX, LOGIT_LIMIT};
use super::kernels::{gather_rows_scalar, Dsp};
use super::{SparseLayer, SparseOutput};

/// Where the first layer reads and writes, carved from the scratch by the forward pass.
pub(super) struct FirstLayerScratch<'s> {
    /// The numeric columns after prescaling, two `i16` per word.
    pub numeric: &'s mut [u32],
    /// The category sums as the packed gather leaves them, two `i16` lanes per word (see
    /// [`unpack_group`]).
    pub packed: &'s mut [u32],
    /// One value per output: the category sum, then the activation (expert outputs) or Q16
    /// logit (gate outputs).
    pub out: &'s mut [i32],
}

/// A gather into one sum per output: table, row starts, room for packed sums, the sums (see
/// [`Dsp::gather_sums`](super::kernels::Dsp::gather_sums)).
pub(super) type GatherSums = fn(&[i8], &[u32], &mut [u32], &mut [i32]);

/// How the category rows are summed: a plain scalar loop (sums packed afterwards), or a
/// lane-packed gather ([`Dsp::gather_sums`](super::kernels::Dsp::gather_sums) of a DSP).
/// The sums are the same either way.
#[derive(Clone, Copy)]
pub(super) enum Gather {
    Scalar,
    Packed(GatherSums),
    /// The AVX2 (or AVX-512BW) gather, and the AVX2 per-output step with it.
    #[cfg(target_arch = "x86_64")]
    X86(super::x86::Avx2),
}

/// The DSP primitives of the per-output step: the target's instructions where it has them.
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
type StepDsp = super::kernels::ArmDsp;
/// The DSP primitives of the per-output step: the target's instructions where it has them.
#[cfg(not(all(target_arch = "arm", feature = "arm-dsp")))]
type StepDsp = super::kernels::PortableDsp;

/// Runs the first layer for an input whose numeric columns are `numeric` (already checked
/// against the layout) and whose selected category rows start at `rows` (byte offsets into
/// the table). Outputs below `relu_outputs` are expert activations, the rest gate logits.
///
/// `PAIRS` is the number of numeric pairs the caller has checked the model to have, which
/// selects one fixed-width step at compile time, or 0 to select it at run time.
pub(super) fn run<const PAIRS: usize>(
    sparse: &SparseLayer<'_>,
    numeric: &[i32],
    rows: &[u32],
    relu_outputs: usize,
    s: FirstLayerScratch<'_>,
    gather: Gather,
) {
    prescale_numeric(sparse.numeric_prescale, numeric, s.numeric);
    match gather {
        Gather::Packed(gather) => {
            gather(sparse.category_weights, rows, s.packed, s.out);
        }
        Gather::Scalar => gather_rows_scalar(sparse.category_weights, rows, s.out),
        #[cfg(target_arch = "x86_64")]
        Gather::X86(simd) => simd.gather_sums(sparse.category_weights, rows, s.packed, s.out),
    }
    let step = Step {
        weights: sparse.numeric_weights,
        records: sparse.outputs,
        relu_outputs,
    };
    let x: &[u32] = s.numeric;
    #[cfg(target_arch = "x86_64")]
    if let Gather::X86(simd) = gather {
        step.x86(simd, PAIRS, x, s.out);
        return;
    }
    if PAIRS != 0 {
        step.fixed::<StepDsp, PAIRS>(x, s.out);
        return;
    }
    macro_rules! fixed {
        ($($pairs:literal)*) => {
            match x.len() {
                $($pairs => step.fixed::<StepDsp, $pairs>(x, s.out),)*
                _ => step.looping::<StepDsp>(x, s.out),
            }
        };
    }
    fixed!(1 2 3 4 5 6 7 8);
}

/// Rescales every numeric input to its `i16` column value and packs them two per word
/// (an odd last column pairs with 0).
fn prescale_numeric(prescale: &[Requant], numeric: &[i32], words: &mut [u32]) {
    words.fill(0);
    for (j, (&x, r)) in numeric.iter().zip(prescale).enumerate() {
        let q = r.apply_clamped(x, -ACTIVATION_MAX, ACTIVATION_MAX) as i16;
        if let Some(word) = words.get_mut(j / 2) {
            *word |= u32::from(q as u16) << (16 * (j % 2));
        }
    }
}

/// The per-output step's inputs besides the numeric words and the outputs.
struct Step<'a> {
    weights: &'a [i16],
    records: &'a [SparseOutput],
    relu_outputs: usize,
}

/// Two numeric weights as the word `SMLAD` multiplies (low lane first).
#[inline(always)]
fn pair_word([lo, hi]: [i16; 2]) -> u32 {
    u32::from(lo as u16) | (u32::from(hi as u16) << 16)
}

/// The accumulator of one output before its numeric part: the category sum in accumulator
/// units plus the bias (wrapping, as the model view's bounds keep it inside `i32`).
#[inline(always)]
fn start(record: &SparseOutput, category_sum: i32) -> i32 {
    category_sum
        .wrapping_shl(u32::from(record.category_shift))
        .wrapping_add(record.bias)
}

/// The bounds an output is clamped to: an activation after ReLU, or a Q16 logit.
const RELU: (i32, i32) = (0, ACTIVATION_MAX);
const LOGIT: (i32, i32) = (-LOGIT_LIMIT, LOGIT_LIMIT);

impl Step<'_> {
    /// The expert outputs (ReLU) and the gate outputs (logits) of `out`, each with its records
    /// and weights, `stride` weight pairs per output.
    #[allow(clippy::type_complexity)]
    fn halves<'o>(
        &self,
        out: &'o mut [i32],
        pairs: &'o [[i16; 2]],
        stride: usize,
    ) -> [(
        &'o mut [i32],
        &'o [SparseOutput],
        &'o [[i16; 2]],
        (i32, i32),
    ); 2]
    where
        Self: 'o,
    {
        let split = self.relu_outputs.min(out.len());
        let (relu, logit) = out.split_at_mut(split);
        let (relu_records, logit_records) = self.records.split_at(split.min(self.records.len()));
        let at = split.saturating_mul(stride).min(pairs.len());
        let (relu_pairs, logit_pairs) = pairs.split_at(at);
        [
            (relu, relu_records, relu_pairs, RELU),
            (logit, logit_records, logit_pairs, LOGIT),
        ]
    }

    /// The step for exactly `P` numeric pairs (`x.len() == P`): `out` holds the category
    /// sums on entry and the outputs on return. The ReLU outputs go through
    /// [`Dsp::relu_steps`] first (the target's own loop, if it has one), which may leave
    /// some to the loop here.
    #[inline(never)]
    fn fixed<D: Dsp, const P: usize>(&self, x: &[u32], out: &mut [i32]) {
        let Ok(&x) = <&[u32; P]>::try_from(x) else {
            return;
        };
        let Ok(pairs) = bytemuck::try_cast_slice::<i16, [i16; 2]>(self.weights) else {
            return;
        };
        for (relu, (out, records, pairs, (lo, hi))) in
            [true, false].into_iter().zip(self.halves(out, pairs, P))
        {
            let mut from = 0;
            loop {
                if relu {
                    from += D::relu_steps::<P>(
                        &x,
                        out.get_mut(from..).unwrap_or(&mut []),
                        records.get(from..).unwrap_or(&[]),
                        pairs.get(from * P..).unwrap_or(&[]),
                    );
                }
                let w = pairs.get(from * P..(from + 1) * P).unwrap_or(&[]);
                let (Some(y), Some(record), Ok(w)) = (
                    out.get_mut(from),
                    records.get(from),
                    <&[[i16; 2]; P]>::try_from(w),
                ) else {
                    break;
                };
                let mut acc = start(record, *y);
                for (&xk, &wk) in x.iter().zip(w) {
                    acc = D::smlad(xk, pair_word(wk), acc);
                }
                *y = record.requant().apply_clamped(acc, lo, hi);
                from += 1;
            }
        }
    }

    /// The step with the AVX2 kernel for the whole blocks of eight outputs of each half and
    /// the loop of [`fixed`](Self::fixed) for the rest (a block with a right shift below 33,
    /// the last outputs); `pairs` is the width the caller checked, or 0 to take `x.len()`.
    #[cfg(target_arch = "x86_64")]
    fn x86(&self, simd: super::x86::Avx2, pairs: usize, x: &[u32], out: &mut [i32]) {
        let pairs = if pairs == 0 { x.len() } else { pairs };
        macro_rules! fixed {
            ($($pairs:literal)*) => {
                match pairs {
                    $($pairs => self.x86_fixed::<$pairs>(simd, x, out),)*
                    _ => self.looping::<StepDsp>(x, out),
                }
            };
        }
        fixed!(1 2 3 4 5 6 7 8);
    }

    /// [`x86`](Self::x86) for exactly `P` numeric pairs.
    #[cfg(target_arch = "x86_64")]
    #[inline(never)]
    fn x86_fixed<const P: usize>(&self, simd: super::x86::Avx2, x: &[u32], out: &mut [i32]) {
        let Ok(&x) = <&[u32; P]>::try_from(x) else {
            return;
        };
        let Ok(pairs) = bytemuck::try_cast_slice::<i16, [i16; 2]>(self.weights) else {
            return;
        };
        for (out, records, pairs, (lo, hi)) in self.halves(out, pairs, P) {
            let done = simd.steps::<P>(&x, out, records, pairs, (lo, hi));
            let rest = out.iter_mut().zip(records).zip(pairs.chunks_exact(P));
            for ((y, record), w) in rest.skip(done) {
                let mut acc = start(record, *y);
                for (&xk, &wk) in x.iter().zip(w) {
                    acc = StepDsp::smlad(xk, pair_word(wk), acc);
                }
                *y = record.requant().apply_clamped(acc, lo, hi);
            }
        }
    }

    /// The step for any number of numeric pairs.
    #[inline(never)]
    fn looping<D: Dsp>(&self, x: &[u32], out: &mut [i32]) {
        let Ok(pairs) = bytemuck::try_cast_slice::<i16, [i16; 2]>(self.weights) else {
            return;
        };
        let stride = x.len();
        for (out, records, pairs, (lo, hi)) in self.halves(out, pairs, stride) {
            for (o, (y, record)) in out.iter_mut().zip(records).enumerate() {
                let w = pairs.get(o * stride..(o + 1) * stride).unwrap_or(&[]);
                let mut acc = start(record, *y);
                for (&xk, &wk) in x.iter().zip(w) {
                    acc = D::smlad(xk, pair_word(wk), acc);
                }
                *y = record.requant().apply_clamped(acc, lo, hi);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::super::kernels::PortableDsp;
    use super::*;
    use proptest::prelude::*;

    /// Random records within the model view's bounds, packed category sums and numeric
    /// weights for `outputs` outputs of `pairs` numeric pairs.
    fn case() -> impl Strategy<Value = (usize, Vec<u32>, Vec<i32>, Vec<i16>, Vec<SparseOutput>)> {
        (0usize..=8, 1usize..40).prop_flat_map(|(pairs, outputs)| {
            let record = (
                -(1i32 << 29)..=(1 << 29),
                (1i32 << 30)..=i32::MAX,
                1u8..=63,
                0u8..=16,
            )
                .prop_map(|(bias, multiplier, right_shift, category_shift)| {
                    SparseOutput {
                        bias,
                        multiplier,
                        right_shift,
                        category_shift,
                    }
                });
            (
                Just(outputs),
                proptest::collection::vec(any::<u32>(), pairs),
                proptest::collection::vec(-(128i32 << 8)..(128 << 8), outputs),
                proptest::collection::vec(-2048i16..=2048, outputs * pairs * 2),
                proptest::collection::vec(record, outputs),
            )
        })
    }

    proptest! {
        /// The steps fixed to a numeric width give the looping step's bits.
        #[test]
        fn fixed_width_steps_equal_the_looping_step(
            (outputs, x, sums, weights, records) in case(),
            relu_outputs in 0usize..40,
        ) {
            let step = Step { weights: &weights, records: &records, relu_outputs };
            let mut looped = sums.clone();
            step.looping::<PortableDsp>(&x, &mut looped);
            let mut fixed = sums;
            prop_assert_eq!(fixed.len(), outputs);
            macro_rules! fixed {
                ($($pairs:literal)*) => {
                    match x.len() {
                        $($pairs => step.fixed::<PortableDsp, $pairs>(&x, &mut fixed),)*
                        _ => step.looping::<PortableDsp>(&x, &mut fixed),
                    }
                };
            }
            fixed!(1 2 3 4 5 6 7 8);
            prop_assert_eq!(fixed, looped);
        }
    }

    /// On an Arm core with the DSP extension: the assembly step (`Dsp::relu_steps`), with
    /// its hand-over to Rust for right shifts below 33, gives the portable bits.
    #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
    mod arm {
        use super::super::super::kernels::ArmDsp;
        use super::*;

        proptest! {
            #[test]
            fn arm_steps_equal_the_portable_step(
                (outputs, x, sums, weights, records) in case(),
                relu_outputs in 0usize..40,
            ) {
                let step = Step { weights: &weights, records: &records, relu_outputs };
                let mut portable = sums.clone();
                step.looping::<PortableDsp>(&x, &mut portable);
                let mut arm = sums;
                prop_assert_eq!(arm.len(), outputs);
                macro_rules! fixed {
                    ($($pairs:literal)*) => {
                        match x.len() {
                            $($pairs => step.fixed::<ArmDsp, $pairs>(&x, &mut arm),)*
                            _ => step.looping::<ArmDsp>(&x, &mut arm),
                        }
                    };
                }
                fixed!(1 2 3 4 5 6 7 8);
                prop_assert_eq!(arm, portable);
            }
        }
    }
}
