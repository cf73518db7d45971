//! The int8 forward pass.

use super::first_layer::{self, FirstLayerScratch, Gather};
use super::fixed::{sigmoid_q15, softmax_q15, ACTIVATION_MAX, LOGIT_LIMIT};
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
use super::kernels::ArmDsp;
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
use super::kernels::Dsp;
use super::kernels::{
    dense_packed, dense_scalar, gather_rows_packed, pack_activations, PortableDsp,
};
use super::model::{gate_outputs, sparse_outputs, Int8Kernel, Int8Model, ScratchLayout};
use super::{Int8Error, Int8Input, NO_CATEGORY};

/// Splits `n` words off the front of `rest` (an empty slice if there are fewer: the caller
/// has checked the scratch length).
fn take<'s>(rest: &mut &'s mut [i32], n: usize) -> &'s mut [i32] {
    let all = core::mem::take(rest);
    match all.split_at_mut_checked(n) {
        Some((head, tail)) => {
            *rest = tail;
            head
        }
        None => &mut [],
    }
}

fn part(slice: &[i32], at: usize, len: usize) -> &[i32] {
    slice.get(at..at.saturating_add(len)).unwrap_or(&[])
}

fn part_mut(slice: &mut [i32], at: usize, len: usize) -> &mut [i32] {
    slice.get_mut(at..at.saturating_add(len)).unwrap_or(&mut [])
}

/// The scratch carved into its regions.
struct Regions<'s> {
    sparse: &'s mut [i32],
    packed: &'s mut [i32],
    rows: &'s mut [i32],
    numeric: &'s mut [i32],
    experts: &'s mut [i32],
    ping: &'s mut [i32],
    pong: &'s mut [i32],
    gate_logits: &'s mut [i32],
    gate_weights: &'s mut [i32],
    current: &'s mut [i32],
    previous: &'s mut [i32],
}

impl<'s> Regions<'s> {
    fn carve(mut rest: &'s mut [i32], layout: &ScratchLayout) -> Self {
        let r = &mut rest;
        let sparse = take(r, layout.packed - layout.sparse);
        let packed = take(r, layout.rows - layout.packed);
        let rows = take(r, layout.numeric - layout.rows);
        let numeric = take(r, layout.experts - layout.numeric);
        let experts = take(r, layout.ping - layout.experts);
        let ping = take(r, layout.pong - layout.ping);
        let pong = take(r, layout.gate_logits - layout.pong);
        let gate_logits = take(r, layout.gate_weights - layout.gate_logits);
        let gate_weights = take(r, layout.mixed[0] - layout.gate_weights);
        let current = take(r, layout.mixed_len);
        let previous = take(r, layout.end - layout.mixed[1]);
        Regions {
            sparse,
            packed,
            rows,
            numeric,
            experts,
            ping,
            pong,
            gate_logits,
            gate_weights,
            current,
            previous,
        }
    }
}

/// What one dense layer reads and writes, and the kernels it runs with.
struct DenseIo<'i, 'o> {
    input: &'i [i32],
    out: &'o mut [i32],
    /// Room for the input packed in lane pairs (the packed kernels).
    packed: &'o mut [u32],
    kernel: Int8Kernel,
}

fn words(slice: &mut [i32]) -> &mut [u32] {
    bytemuck::cast_slice_mut::<i32, u32>(slice)
}

/// Position in the dense layers' arrays.
#[derive(Default)]
struct Cursor {
    weights: usize,
    outputs: usize,
}

impl<'a> Int8Model<'a> {
    /// Predicts one record: per task, the probability in Q15 (`32768 == 1.0`) and the logit in
    /// Q16. `logits` and `probabilities` hold one entry per task; `scratch` at least
    /// [`scratch_words`](Self::scratch_words) words.
    pub fn predict(
        &self,
        input: &Int8Input<'_>,
        scratch: &mut [i32],
        logits: &mut [i32],
        probabilities: &mut [u16],
    ) -> Result<(), Int8Error> {
        self.run::<0>(input, scratch, logits, probabilities, None)
    }

    /// [`predict`](Self::predict) with the first layer's per-output step compiled for a model
    /// of exactly `PAIRS` pairs of numeric columns (`numeric_inputs().div_ceil(2)`, from 1
    /// to 8): the same results, and a firmware that knows its model at compile time links
    /// one step instead of one per width. It runs [`Int8Kernel::best`] whatever
    /// [`with_kernel`](Self::with_kernel) chose, for the same reason. A model of another
    /// width gets [`Int8Error::Layout`].
    pub fn predict_fixed<const PAIRS: usize>(
        &self,
        input: &Int8Input<'_>,
        scratch: &mut [i32],
        logits: &mut [i32],
        probabilities: &mut [u16],
    ) -> Result<(), Int8Error> {
        if PAIRS == 0 || PAIRS > 8 || self.numeric_inputs().div_ceil(2) != PAIRS {
            return Err(Int8Error::Layout);
        }
        self.run::<PAIRS>(input, scratch, logits, probabilities, None)
    }

    /// [`predict`](Self::predict), also writing the weights of every task gate in Q15 into
    /// `gates` ([`gate_weight_count`](Self::gate_weight_count) entries: level by level, task
    /// by task, the task's own experts then the shared ones).
    pub fn predict_with_gates(
        &self,
        input: &Int8Input<'_>,
        scratch: &mut [i32],
        logits: &mut [i32],
        probabilities: &mut [u16],
        gates: &mut [u16],
    ) -> Result<(), Int8Error> {
        let expected = self.gate_weight_count();
        if gates.len() != expected {
            return Err(Int8Error::Output {
                expected,
                found: gates.len(),
            });
        }
        self.run::<0>(input, scratch, logits, probabilities, Some(gates))
    }

    /// The forward pass; `PAIRS` is the numeric width the first layer's step is compiled
    /// for, or 0 to choose it at run time (see [`first_layer::run`]).
    fn run<const PAIRS: usize>(
        &self,
        input: &Int8Input<'_>,
        scratch: &mut [i32],
        logits: &mut [i32],
        probabilities: &mut [u16],
        mut gates: Option<&mut [u16]>,
    ) -> Result<(), Int8Error> {
        let shape = &self.shape;
        let tasks = shape.tasks as usize;
        for found in [logits.len(), probabilities.len()] {
            if found != tasks {
                return Err(Int8Error::Output {
                    expected: tasks,
                    found,
                });
            }
        }
        let layout = ScratchLayout::of(shape, self.numeric_inputs(), self.fields());
        if scratch.len() < layout.end {
            return Err(Int8Error::Scratch {
                needed: layout.end,
                found: scratch.len(),
            });
        }
        let mut s = Regions::carve(scratch, &layout);
        let known = self.select_rows(input, s.rows)?;
        // A step fixed at compile time serves a firmware built for one model and one core:
        // it runs the core's best kernels, so that no other gather is linked.
        let kernel = if PAIRS != 0 {
            Int8Kernel::best()
        } else {
            self.kernel
        };
        let gather = match kernel {
            Int8Kernel::Scalar => Gather::Scalar,
            Int8Kernel::PortablePacked => Gather::Packed(gather_rows_packed::<PortableDsp>),
            #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
            Int8Kernel::ArmDsp => Gather::Packed(ArmDsp::gather_rows),
        };
        self.first_layer::<PAIRS>(input, &mut s, known, gather);

        let experts = shape.total_experts() as usize;
        let width = shape.expert_width() as usize;
        let per_task = shape.experts_per_task as usize;
        let units = shape.expert_units;
        let first_units = units.first().copied().unwrap_or(0) as usize;
        let mut cursor = Cursor::default();
        let mut ratios = self.mix_ratios;
        let mut gate_out = 0usize;
        for level in 0..shape.levels {
            // Experts: outputs into `s.experts`, except at level 0 with one layer, where the
            // sparse layer's outputs already are the experts' outputs.
            let in_sparse = level == 0 && units.len() == 1;
            if !in_sparse {
                for e in 0..experts {
                    let (input, start) = if level == 0 {
                        (part(s.sparse, e * first_units, first_units), 1)
                    } else {
                        let slot = if e < tasks * per_task {
                            e / per_task.max(1)
                        } else {
                            tasks
                        };
                        (part(s.previous, slot * width, width), 0)
                    };
                    let mut input_width = input.len();
                    copy_into(s.ping, input);
                    for &out_width in units.get(start..).unwrap_or(&[]) {
                        let out_width = out_width as usize;
                        let io = DenseIo {
                            input: part(s.ping, 0, input_width),
                            out: part_mut(s.pong, 0, out_width),
                            packed: words(s.packed),
                            kernel,
                        };
                        self.dense(&mut cursor, io, true);
                        core::mem::swap(&mut s.ping, &mut s.pong);
                        input_width = out_width;
                    }
                    copy_into(
                        part_mut(s.experts, e * width, width),
                        part(s.ping, 0, width),
                    );
                }
            }
            let expert_outputs: &[i32] = if in_sparse { &*s.sparse } else { &*s.experts };

            // Gates: task gates, then the shared gate; each mixes into its slot of `current`.
            let gate_count = tasks + usize::from(shape.has_shared_gate(level));
            let mut gate_logit_at = experts * first_units;
            for gate in 0..gate_count {
                let shared = gate == tasks;
                let gate_width = if shared {
                    experts
                } else {
                    shape.task_gate_width() as usize
                };
                let gate_logits: &[i32] = if level == 0 {
                    part(s.sparse, gate_logit_at, gate_width)
                } else {
                    let slot = if shared { tasks } else { gate };
                    let out = part_mut(s.gate_logits, 0, gate_width);
                    let io = DenseIo {
                        input: part(s.previous, slot * width, width),
                        out,
                        packed: words(s.packed),
                        kernel,
                    };
                    self.dense(&mut cursor, io, false);
                    part(s.gate_logits, 0, gate_width)
                };
                gate_logit_at += gate_width;
                let weights = as_u16(part_mut(s.gate_weights, 0, gate_width), gate_width);
                softmax_q15(gate_logits, weights);
                if let (false, Some(out)) = (shared, gates.as_deref_mut()) {
                    let dst = out
                        .get_mut(gate_out..gate_out + gate_width)
                        .unwrap_or(&mut []);
                    // A zip rather than `copy_from_slice`, whose length check would link a
                    // panic path; both slices are `gate_width` long.
                    for (d, &w) in dst.iter_mut().zip(weights.iter()) {
                        *d = w;
                    }
                    gate_out += gate_width;
                }
                let (gate_ratios, rest) = ratios.split_at_checked(gate_width).unwrap_or((&[], &[]));
                ratios = rest;
                let own = if shared {
                    0..0
                } else {
                    gate * per_task..(gate + 1) * per_task
                };
                let mixed = if shared {
                    0..experts
                } else {
                    tasks * per_task..experts
                };
                // The members are two runs of experts, each contiguous in `expert_outputs`.
                let span = |r: core::ops::Range<usize>| {
                    part(expert_outputs, r.start * width, r.len() * width)
                };
                let dst = part_mut(s.current, gate * width, width);
                mix([span(own), span(mixed)], weights, gate_ratios, dst);
            }
            core::mem::swap(&mut s.current, &mut s.previous);
        }
        debug_assert_eq!(
            gate_outputs(shape, 0) + experts * first_units,
            sparse_outputs(shape)
        );

        // Towers and outputs read each task's final mixed output.
        for (task, (logit, probability)) in
            logits.iter_mut().zip(probabilities.iter_mut()).enumerate()
        {
            let mut input_width = width;
            copy_into(s.ping, part(s.previous, task * width, width));
            for &out_width in shape.tower_units {
                let out_width = out_width as usize;
                let io = DenseIo {
                    input: part(s.ping, 0, input_width),
                    out: part_mut(s.pong, 0, out_width),
                    packed: words(s.packed),
                    kernel,
                };
                self.dense(&mut cursor, io, true);
                core::mem::swap(&mut s.ping, &mut s.pong);
                input_width = out_width;
            }
            let io = DenseIo {
                input: part(s.ping, 0, input_width),
                out: part_mut(s.pong, 0, 1),
                packed: words(s.packed),
                kernel,
            };
            self.dense(&mut cursor, io, false);
            *logit = s.pong.first().copied().unwrap_or(0);
            *probability = sigmoid_q15(*logit);
        }
        Ok(())
    }

    /// Checks the categories and writes the byte offset of every selected row; returns how
    /// many there are.
    #[inline(never)]
    fn select_rows(&self, input: &Int8Input<'_>, rows: &mut [i32]) -> Result<usize, Int8Error> {
        let expected = self.numeric_inputs();
        if input.numeric.len() != expected {
            return Err(Int8Error::NumericInputs {
                expected,
                found: input.numeric.len(),
            });
        }
        if input.categories.len() != self.fields() {
            return Err(Int8Error::CategoricalInputs {
                expected: self.fields(),
                found: input.categories.len(),
            });
        }
        let stride = sparse_outputs(&self.shape);
        let sizes = self.sparse.layout.vocab_sizes;
        let mut slots = rows.iter_mut();
        // `first`: byte offset of the field's first row. The validated table length bounds
        // every row offset below `isize::MAX`, and codegen keeps tables far below 2^31 bytes.
        let (mut known, mut first) = (0usize, 0usize);
        for (field, (&category, &size)) in input.categories.iter().zip(sizes).enumerate() {
            if category < size {
                if let Some(slot) = slots.next() {
                    *slot = (first + usize::from(category) * stride) as i32;
                    known += 1;
                }
            } else if category != NO_CATEGORY {
                return Err(Int8Error::CategoryOutOfRange {
                    field,
                    category,
                    size: size.into(),
                });
            }
            first += usize::from(size) * stride;
        }
        Ok(known)
    }

    /// The sparse first layer (see [`first_layer`]) over the scratch regions.
    fn first_layer<const PAIRS: usize>(
        &self,
        input: &Int8Input<'_>,
        s: &mut Regions<'_>,
        known: usize,
        gather: Gather,
    ) {
        let expert_outputs = self.shape.total_experts() as usize
            * self.shape.expert_units.first().copied().unwrap_or(0) as usize;
        let rows = bytemuck::cast_slice::<i32, u32>(s.rows.get(..known).unwrap_or(&[]));
        let scratch = FirstLayerScratch {
            numeric: bytemuck::cast_slice_mut::<i32, u32>(&mut *s.numeric),
            packed: bytemuck::cast_slice_mut::<i32, u32>(&mut *s.packed),
            out: &mut *s.sparse,
        };
        first_layer::run::<PAIRS>(
            &self.sparse,
            input.numeric,
            rows,
            expert_outputs,
            scratch,
            gather,
        );
    }

    /// One dense layer from `input` to `out` (whose lengths give the layer's widths), with
    /// ReLU into activations or without into Q16 logits; `packed` is room for the input
    /// packed in lane pairs, for the packed kernels.
    fn dense(&self, cursor: &mut Cursor, io: DenseIo<'_, '_>, relu: bool) {
        let DenseIo {
            input,
            out,
            packed,
            kernel,
        } = io;
        let count = input.len() * out.len();
        let weights = self
            .dense
            .weights
            .get(cursor.weights..cursor.weights + count)
            .unwrap_or(&[]);
        let at = cursor.outputs..cursor.outputs + out.len();
        let bias = self.dense.bias.get(at.clone()).unwrap_or(&[]);
        let requant = self.dense.requant.get(at).unwrap_or(&[]);
        cursor.weights += count;
        cursor.outputs += out.len();
        match kernel {
            Int8Kernel::Scalar => dense_scalar(weights, input, out),
            Int8Kernel::PortablePacked => {
                pack_activations(input, packed);
                dense_packed::<PortableDsp>(weights, input, packed, out);
            }
            #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
            Int8Kernel::ArmDsp => {
                pack_activations(input, packed);
                dense_packed::<ArmDsp>(weights, input, packed, out);
            }
        }
        for (acc, (&b, r)) in out.iter_mut().zip(bias.iter().zip(requant)) {
            let sum = acc.saturating_add(b);
            *acc = if relu {
                r.apply_clamped(sum, 0, ACTIVATION_MAX)
            } else {
                r.apply_clamped(sum, -LOGIT_LIMIT, LOGIT_LIMIT)
            };
        }
    }
}

fn copy_into(dst: &mut [i32], src: &[i32]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        *d = v;
    }
}

fn as_u16(words: &mut [i32], len: usize) -> &mut [u16] {
    let halves = bytemuck::cast_slice_mut::<i32, u16>(words);
    halves.get_mut(..len).unwrap_or(&mut [])
}

/// `dst[k] = sum over experts e of weight_e * ratio_e * y_e[k]`, every product rounded back to
/// the activation format. The experts are the consecutive outputs (`dst.len()` each) of the
/// two `spans`, in the order of `weights` and `ratios`; `weights` may be overwritten (the gate
/// weights are not read again).
///
/// Two loops give the same bits (wrapping sums are associative, so the order of the additions
/// does not change the result): four outputs at a time in registers, each output stored once,
/// for cores with enough registers; one expert at a time on Arm cores without the DSP
/// extension (Cortex-M0: eight low registers, where four accumulators spill).
fn mix(spans: [&[i32]; 2], weights: &mut [u16], ratios: &[u16], dst: &mut [i32]) {
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
        *d = ((*d + (1 << 14)) >> 15).min(ACTIVATION_MAX);
    }
}

/// [`mix`], four outputs at a time: every expert is added into four accumulators held in
/// registers, and each output is stored once instead of once per expert. The scaled weights
/// are computed once, into `weights`.
#[cfg_attr(all(target_arch = "arm", not(feature = "arm-dsp")), allow(dead_code))]
fn mix_four_outputs_at_a_time(
    spans: [&[i32]; 2],
    weights: &mut [u16],
    ratios: &[u16],
    dst: &mut [i32],
) {
    let width = dst.len();
    let members = weights.len().min(ratios.len());
    let weights = weights.get_mut(..members).unwrap_or(&mut []);
    for (g, &r) in weights.iter_mut().zip(ratios) {
        // Both Q15 and at most 2^15: the product fits in u32, the scaled weight in u16.
        *g = ((u32::from(*g) * u32::from(r) + (1 << 14)) >> 15) as u16;
    }
    let weights: &[u16] = weights;
    // The weights sum to at most 2^15 + experts, activations are below 2^15: no overflow for
    // any shape; wrapping keeps that free of debug checks.
    let round = |sum: i32| ((sum + (1 << 14)) >> 15).min(ACTIVATION_MAX);
    let [own, shared] = spans;
    let mut d4 = dst.chunks_exact_mut(4);
    let mut k = 0;
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
    for d in d4.into_remainder() {
        let mut acc = 0i32;
        let mut w = weights.iter();
        for span in [own, shared] {
            for (y, &g) in span.chunks_exact(width.max(1)).zip(&mut w) {
                let y = y.get(k).copied().unwrap_or(0);
                acc = acc.wrapping_add(i32::from(g).wrapping_mul(y));
            }
        }
        *d = round(acc);
        k += 1;
    }
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
            .map(|&d| ((d + (1 << 14)) >> 15).min(ACTIVATION_MAX))
            .collect()
    }

    proptest! {
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
