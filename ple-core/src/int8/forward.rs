//! The int8 forward pass.

use super::dense::{ChainScratch, Cursor};
use super::first_layer::{self, FirstLayerScratch, Gather};
use super::fixed::{sigmoid_q15, softmax_q15};
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
use super::kernels::ArmDsp;
use super::kernels::{Dsp, PortableDsp};
use super::mix::mix;
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

fn words(slice: &mut [i32]) -> &mut [u32] {
    bytemuck::cast_slice_mut::<i32, u32>(slice)
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
        self.run::<0, false>(input, scratch, logits, probabilities, None)
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
        self.run::<PAIRS, true>(input, scratch, logits, probabilities, None)
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
        self.run::<0, false>(input, scratch, logits, probabilities, Some(gates))
    }

    /// The forward pass; `PAIRS` is the numeric width the first layer's step is compiled
    /// for, or 0 to choose it at run time (see [`first_layer::run`]); with `BEST` every
    /// kernel is [`Int8Kernel::best`], chosen at compile time.
    fn run<const PAIRS: usize, const BEST: bool>(
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
        let layout = &self.layout;
        if scratch.len() < layout.end {
            return Err(Int8Error::Scratch {
                needed: layout.end,
                found: scratch.len(),
            });
        }
        let mut s = Regions::carve(scratch, layout);
        let known = self.select_rows(input, s.rows)?;
        // A step fixed at compile time serves a firmware built for one model and one core:
        // it runs the core's best kernels, so that no other gather is linked.
        let kernel = if BEST {
            Int8Kernel::best()
        } else {
            self.kernel
        };
        let gather = match kernel {
            Int8Kernel::Scalar => Gather::Scalar,
            Int8Kernel::PortablePacked => Gather::Packed(PortableDsp::gather_sums),
            #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
            Int8Kernel::ArmDsp => Gather::Packed(ArmDsp::gather_sums),
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::X86Simd => match super::x86::Avx2::detect() {
                Some(simd) => Gather::X86(simd),
                None => Gather::Scalar,
            },
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
                    let layers = units.get(start..).unwrap_or(&[]);
                    let scratch = ChainScratch {
                        ping: &mut *s.ping,
                        pong: &mut *s.pong,
                        packed: words(s.packed),
                    };
                    let output = self.dense_chain::<BEST>(
                        &mut cursor,
                        kernel,
                        input,
                        layers.iter().map(|&units| (units, true)),
                        scratch,
                    );
                    copy_into(part_mut(s.experts, e * width, width), output);
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
                    self.dense::<BEST>(
                        &mut cursor,
                        kernel,
                        part(s.previous, slot * width, width),
                        part_mut(s.gate_logits, 0, gate_width),
                        words(s.packed),
                        false,
                    );
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
                #[cfg(target_arch = "x86_64")]
                if let Gather::X86(simd) = gather {
                    simd.mix([span(own), span(mixed)], weights, gate_ratios, dst);
                    continue;
                }
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
            // The tower's layers with ReLU, then the output layer: one Q16 logit.
            let layers = shape.tower_units.iter().map(|&units| (units, true));
            let scratch = ChainScratch {
                ping: &mut *s.ping,
                pong: &mut *s.pong,
                packed: words(s.packed),
            };
            let output = self.dense_chain::<BEST>(
                &mut cursor,
                kernel,
                part(s.previous, task * width, width),
                layers.chain([(1, false)]),
                scratch,
            );
            *logit = output.first().copied().unwrap_or(0);
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
