//! The forward pass over the packed layout, shared by every floating-point backend.
//!
//! The pass reads the packed weights front to back through a [`Cursor`], in the order
//! [`crate::packed`] documents, so no weight offset is ever computed. Inputs and every
//! length are checked before any arithmetic; after that, every slice access is a checked
//! `get` that would turn an internal inconsistency into an error rather than a panic.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use crate::error::PleError;
use crate::input::{Input, UNKNOWN_CATEGORY};
use crate::kernels::Kernels;
use crate::model::PleModel;
use crate::packed::{
    gates_len, level0_width, max_hidden, scratch_len, scratch_regions, task_group_width,
};
use crate::shape::PleShape;
use crate::weight::Weight;

/// Reads the packed weights in order.
struct Cursor<'a, W> {
    rest: &'a [W],
}

impl<'a, W> Cursor<'a, W> {
    fn take(&mut self, n: usize) -> Result<&'a [W], PleError> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or(PleError::WeightsLength)?;
        self.rest = tail;
        Ok(head)
    }
}

fn sub(s: &[f32], start: usize, len: usize) -> Result<&[f32], PleError> {
    s.get(start..start.saturating_add(len))
        .ok_or(PleError::ScratchLength)
}

fn sub_mut(s: &mut [f32], start: usize, len: usize) -> Result<&mut [f32], PleError> {
    s.get_mut(start..start.saturating_add(len))
        .ok_or(PleError::ScratchLength)
}

/// `split_at_mut` that reports a short slice instead of panicking.
fn split(s: &mut [f32], at: u64) -> Result<(&mut [f32], &mut [f32]), PleError> {
    let at = usize::try_from(at).map_err(|_| PleError::ScratchLength)?;
    s.split_at_mut_checked(at).ok_or(PleError::ScratchLength)
}

/// `copy_from_slice` without its length assertion (the lengths are equal by construction).
fn copy(from: &[f32], to: &mut [f32]) {
    for (t, &f) in to.iter_mut().zip(from) {
        *t = f;
    }
}

/// ReLU with a comparison rather than `f32::max`, which is a library call on cores
/// without a floating-point max instruction (Cortex-M4F). NaN becomes 0, as with `max`.
fn relu(values: &mut [f32]) {
    for v in values {
        *v = if *v > 0.0 { *v } else { 0.0 };
    }
}

fn softmax(values: &mut [f32]) {
    let max = values
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = libm::expf(*v - max);
        sum += *v;
    }
    for v in values.iter_mut() {
        *v /= sum;
    }
}

fn sigmoid(x: f32) -> f32 {
    // Two forms so that exp never overflows.
    if x >= 0.0 {
        1.0 / (1.0 + libm::expf(-x))
    } else {
        let e = libm::expf(x);
        e / (1.0 + e)
    }
}

/// One dense layer from the cursor: `out = bias + input · W`.
fn dense<W: Weight, K: Kernels<W>>(
    kernels: &K,
    cursor: &mut Cursor<'_, W>,
    input: &[f32],
    out: &mut [f32],
) -> Result<(), PleError> {
    let w = cursor.take(
        input
            .len()
            .checked_mul(out.len())
            .ok_or(PleError::WeightsLength)?,
    )?;
    let bias = cursor.take(out.len())?;
    // The kernel widens the bias (F16C / NEON for f16; 0 + b is exactly b).
    out.fill(0.0);
    kernels.add_row(bias, out);
    kernels.gemv_acc(input, w, out);
    Ok(())
}

/// A stack of dense layers: ReLU hidden layers of `hidden` widths, ping-ponging between `a`
/// and `b`, then a last layer into `out` (ReLU'd when `relu_out`).
#[allow(clippy::too_many_arguments)]
fn stack<W: Weight, K: Kernels<W>>(
    kernels: &K,
    cursor: &mut Cursor<'_, W>,
    input: &[f32],
    hidden: &[u32],
    a: &mut [f32],
    b: &mut [f32],
    out: &mut [f32],
    relu_out: bool,
) -> Result<(), PleError> {
    // Where the current layer input lives: the caller's slice, or `a` / `b`.
    #[derive(Clone, Copy)]
    enum At {
        Input,
        A(usize),
        B(usize),
    }
    let mut at = At::Input;
    for &width in hidden {
        let width = width as usize;
        at = match at {
            At::Input | At::B(_) => {
                let src = match at {
                    At::B(len) => sub(b, 0, len)?,
                    _ => input,
                };
                let dst = sub_mut(a, 0, width)?;
                dense(kernels, cursor, src, dst)?;
                relu(dst);
                At::A(width)
            }
            At::A(len) => {
                let dst = sub_mut(b, 0, width)?;
                dense(kernels, cursor, sub(a, 0, len)?, dst)?;
                relu(dst);
                At::B(width)
            }
        };
    }
    let src = match at {
        At::Input => input,
        At::A(len) => sub(a, 0, len)?,
        At::B(len) => sub(b, 0, len)?,
    };
    dense(kernels, cursor, src, out)?;
    if relu_out {
        relu(out);
    }
    Ok(())
}

/// Checks the input against the model's layout before any arithmetic.
fn check_input<W: Weight>(model: &PleModel<'_, W>, input: &Input<'_>) -> Result<(), PleError> {
    let finite = |values: &[f32]| match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(PleError::NonFiniteInput {
            index: index as u32,
        }),
        None => Ok(()),
    };
    match *input {
        Input::Dense(x) => {
            if x.len() != model.shape().input_dim as usize {
                return Err(PleError::InputLength);
            }
            finite(x)
        }
        Input::Sparse {
            numeric,
            categories,
        } => {
            let layout = model.layout();
            if numeric.len() != layout.numeric as usize || categories.len() != layout.fields() {
                return Err(PleError::InputLength);
            }
            finite(numeric)?;
            for (field, (&c, &vocab)) in categories.iter().zip(layout.vocab_sizes).enumerate() {
                if c >= vocab && c != UNKNOWN_CATEGORY {
                    return Err(PleError::CategoryOutOfRange {
                        field: field as u32,
                    });
                }
            }
            Ok(())
        }
    }
}

/// Category rows handed to the kernel at a time (a fixed 32-entry stack array, whatever
/// the model).
const ROW_CHUNK: usize = 32;

/// Level 0's one group: `out = bias + input · W` over the whole model input, as a dense
/// product or as the numeric product plus one weight row per known category.
fn level0_group<W: Weight, K: Kernels<W>>(
    kernels: &K,
    model: &PleModel<'_, W>,
    cursor: &mut Cursor<'_, W>,
    input: &Input<'_>,
    out: &mut [f32],
) -> Result<(), PleError> {
    let width = out.len();
    let rows = model.shape().input_dim as usize;
    let w = cursor.take(rows.checked_mul(width).ok_or(PleError::WeightsLength)?)?;
    let bias = cursor.take(width)?;
    // The kernel widens the bias (F16C / NEON for f16; 0 + b is exactly b).
    out.fill(0.0);
    kernels.add_row(bias, out);
    match *input {
        Input::Dense(x) => kernels.gemv_acc(x, w, out),
        Input::Sparse {
            numeric,
            categories,
        } => {
            let layout = model.layout();
            let numeric_rows = w
                .get(..numeric.len() * width)
                .ok_or(PleError::WeightsLength)?;
            kernels.gemv_acc(numeric, numeric_rows, out);
            // The dense row of each known category: its field's block start plus its index
            // (categories were checked against their vocabularies before). The indices are
            // gathered in fixed chunks so that the kernel's column tiles re-read a short
            // array rather than re-run this iterator.
            let mut rows = categories
                .iter()
                .zip(layout.vocab_sizes)
                .scan(numeric.len(), |block, (&c, &vocab)| {
                    let start = *block;
                    *block += vocab as usize;
                    Some((start, c))
                })
                .filter(|&(_, c)| c != UNKNOWN_CATEGORY)
                .map(|(start, c)| start + c as usize);
            let mut chunk = [0usize; ROW_CHUNK];
            loop {
                let mut filled = 0;
                for (slot, row) in chunk.iter_mut().zip(&mut rows) {
                    *slot = row;
                    filled += 1;
                }
                let rows_now = chunk.get(..filled).unwrap_or(&[]);
                kernels.add_rows(w, rows_now.iter().copied(), out);
                if filled < ROW_CHUNK {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Offsets, inside the group region, of a level's first expert layers and gate logits.
struct GroupOffsets {
    level: u32,
    u0: usize,
    ept: usize,
    task_experts: usize,
    tasks: usize,
    gate_width: usize,
    task_group: usize,
    shared: usize,
}

impl GroupOffsets {
    fn new(s: &PleShape<'_>, level: u32) -> Self {
        GroupOffsets {
            level,
            u0: s.expert_units.first().copied().unwrap_or(0) as usize,
            ept: s.experts_per_task as usize,
            task_experts: (s.tasks * s.experts_per_task) as usize,
            tasks: s.tasks as usize,
            gate_width: s.task_gate_width() as usize,
            task_group: task_group_width(s) as usize,
            shared: s.shared_experts as usize,
        }
    }

    /// First-layer output of expert `x` (task experts task by task, then shared).
    fn expert(&self, x: usize) -> usize {
        if self.level == 0 {
            x * self.u0
        } else if x < self.task_experts {
            (x / self.ept.max(1)) * self.task_group + (x % self.ept.max(1)) * self.u0
        } else {
            self.tasks * self.task_group + (x - self.task_experts) * self.u0
        }
    }

    fn task_gate(&self, t: usize) -> usize {
        if self.level == 0 {
            (self.task_experts + self.shared) * self.u0 + t * self.gate_width
        } else {
            t * self.task_group + self.ept * self.u0
        }
    }

    fn shared_gate(&self) -> usize {
        if self.level == 0 {
            (self.task_experts + self.shared) * self.u0 + self.tasks * self.gate_width
        } else {
            self.tasks * self.task_group + self.shared * self.u0
        }
    }
}

/// The whole forward pass of one row.
pub(crate) fn run<W: Weight, K: Kernels<W>>(
    kernels: &K,
    model: &PleModel<'_, W>,
    input: Input<'_>,
    scratch: &mut [f32],
    probabilities: &mut [f32],
    mut gates: Option<&mut [f32]>,
) -> Result<(), PleError> {
    let s = *model.shape();
    if probabilities.len() != s.tasks as usize {
        return Err(PleError::OutputLength);
    }
    if gates.as_ref().is_some_and(|g| g.len() != gates_len(&s)) {
        return Err(PleError::GatesLength);
    }
    if scratch.len() < scratch_len(&s) {
        return Err(PleError::ScratchLength);
    }
    check_input(model, &input)?;

    let [group_len, experts_len, hidden_len, levels_len] = scratch_regions(&s);
    let (group, rest) = split(scratch, group_len)?;
    let (experts, rest) = split(rest, experts_len)?;
    let (hidden, rest) = split(rest, hidden_len)?;
    let (hidden_a, hidden_b) = split(hidden, max_hidden(&s))?;
    let (levels, _) = split(rest, levels_len)?;
    let (mut previous, mut current) = split(levels, levels_len / 2)?;

    let tasks = s.tasks as usize;
    let width = s.expert_width() as usize;
    let ept = s.experts_per_task as usize;
    let total = s.total_experts() as usize;
    let gate_width = s.task_gate_width() as usize;
    let deeper_hidden = s
        .expert_units
        .get(1..s.expert_units.len().saturating_sub(1))
        .unwrap_or(&[]);
    let mut cursor = Cursor {
        rest: model.weights(),
    };
    let mut gates_at = 0;

    for level in 0..s.levels {
        let at = GroupOffsets::new(&s, level);
        // Groups: first expert layers and gate logits of the whole level.
        if level == 0 {
            let out = sub_mut(group, 0, level0_width(&s) as usize)?;
            level0_group(kernels, model, &mut cursor, &input, out)?;
        } else {
            for t in 0..tasks {
                let out = sub_mut(group, t * at.task_group, at.task_group)?;
                dense(kernels, &mut cursor, sub(previous, t * width, width)?, out)?;
            }
            let shared_width = at.shared * at.u0 + if s.has_shared_gate(level) { total } else { 0 };
            if shared_width > 0 {
                let out = sub_mut(group, tasks * at.task_group, shared_width)?;
                dense(
                    kernels,
                    &mut cursor,
                    sub(previous, tasks * width, width)?,
                    out,
                )?;
            }
        }
        // Experts: ReLU of the first layer, then the deeper layers.
        for x in 0..total {
            let first = sub_mut(group, at.expert(x), at.u0)?;
            relu(first);
            let slot = sub_mut(experts, x * width, width)?;
            if s.expert_units.len() == 1 {
                copy(first, slot);
            } else {
                let first = sub(group, at.expert(x), at.u0)?;
                stack(
                    kernels,
                    &mut cursor,
                    first,
                    deeper_hidden,
                    hidden_a,
                    hidden_b,
                    slot,
                    true,
                )?;
            }
        }
        // Gates: softmax, report, mix.
        for t in 0..tasks {
            let weights = sub_mut(group, at.task_gate(t), gate_width)?;
            softmax(weights);
            let out = sub_mut(current, t * width, width)?;
            out.fill(0.0);
            for (g, &weight) in weights.iter().enumerate() {
                let x = if g < ept {
                    t * ept + g
                } else {
                    tasks * ept + (g - ept)
                };
                for (o, &e) in out.iter_mut().zip(sub(experts, x * width, width)?) {
                    *o += weight * e;
                }
            }
            report(&mut gates, &mut gates_at, weights)?;
        }
        if s.has_shared_gate(level) {
            let weights = sub_mut(group, at.shared_gate(), total)?;
            softmax(weights);
            let out = sub_mut(current, tasks * width, width)?;
            out.fill(0.0);
            for (x, &weight) in weights.iter().enumerate() {
                for (o, &e) in out.iter_mut().zip(sub(experts, x * width, width)?) {
                    *o += weight * e;
                }
            }
            report(&mut gates, &mut gates_at, weights)?;
        }
        core::mem::swap(&mut previous, &mut current);
    }

    // Towers read the last level's task outputs, now in `previous`.
    for (t, p) in probabilities.iter_mut().enumerate() {
        let mut logit = [0.0f32];
        let input = sub(previous, t * width, width)?;
        stack(
            kernels,
            &mut cursor,
            input,
            s.tower_units,
            hidden_a,
            hidden_b,
            &mut logit,
            false,
        )?;
        let [logit] = logit;
        *p = sigmoid(logit);
    }
    Ok(())
}

fn report(gates: &mut Option<&mut [f32]>, at: &mut usize, weights: &[f32]) -> Result<(), PleError> {
    if let Some(out) = gates {
        copy(weights, sub_mut(out, *at, weights.len())?);
        *at += weights.len();
    }
    Ok(())
}
