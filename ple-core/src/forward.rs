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
use crate::input::{Input, InputLayout, UNKNOWN_CATEGORY};
use crate::kernels::Kernels;
use crate::model::PleModel;
use crate::normalise::Standardisation;
use crate::packed::{gates_len, level0_width, scratch_regions, task_group_width};
use crate::shape::PleShape;
use crate::weight::Weight;

/// Reads the packed weights in order.
pub(crate) struct Cursor<'a, W> {
    pub(crate) rest: &'a [W],
}

impl<'a, W> Cursor<'a, W> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [W], PleError> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or(PleError::WeightsLength)?;
        self.rest = tail;
        Ok(head)
    }

    /// The weight (`[inputs, outputs]`) and bias of the next layer.
    pub(crate) fn layer(
        &mut self,
        inputs: usize,
        outputs: usize,
    ) -> Result<(&'a [W], &'a [W]), PleError> {
        let w = self.take(inputs.checked_mul(outputs).ok_or(PleError::WeightsLength)?)?;
        Ok((w, self.take(outputs)?))
    }
}

pub(crate) fn sub(s: &[f32], start: usize, len: usize) -> Result<&[f32], PleError> {
    s.get(start..start.saturating_add(len))
        .ok_or(PleError::ScratchLength)
}

pub(crate) fn sub_mut(s: &mut [f32], start: usize, len: usize) -> Result<&mut [f32], PleError> {
    s.get_mut(start..start.saturating_add(len))
        .ok_or(PleError::ScratchLength)
}

/// `split_at_mut` that reports a short slice instead of panicking.
pub(crate) fn split(s: &mut [f32], at: u64) -> Result<(&mut [f32], &mut [f32]), PleError> {
    let at = usize::try_from(at).map_err(|_| PleError::ScratchLength)?;
    s.split_at_mut_checked(at).ok_or(PleError::ScratchLength)
}

/// `copy_from_slice` without its length assertion (the lengths are equal by construction).
pub(crate) fn copy(from: &[f32], to: &mut [f32]) {
    for (t, &f) in to.iter_mut().zip(from) {
        *t = f;
    }
}

/// ReLU with a comparison rather than `f32::max`, which is a library call on cores
/// without a floating-point max instruction (Cortex-M4F). NaN becomes 0, as with `max`.
pub(crate) fn relu(values: &mut [f32]) {
    for v in values {
        *v = if *v > 0.0 { *v } else { 0.0 };
    }
}

/// `to = relu(from)`, element by element.
fn relu_copy(from: &[f32], to: &mut [f32]) {
    for (t, &f) in to.iter_mut().zip(from) {
        *t = if f > 0.0 { f } else { 0.0 };
    }
}

pub(crate) fn softmax(values: &mut [f32]) {
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

pub(crate) fn sigmoid(x: f32) -> f32 {
    sigmoid_from_exp(x, libm::expf(sigmoid_exponent(x)))
}

/// What the sigmoid of `x` takes the exponential of: `-x` when `x >= 0`, else `x`, so that
/// the exponential never overflows.
pub(crate) fn sigmoid_exponent(x: f32) -> f32 {
    if x >= 0.0 {
        -x
    } else {
        x
    }
}

/// The sigmoid of `x` from `e`, the exponential of [`sigmoid_exponent`]`(x)`: `1 / (1 + e)`
/// when `x >= 0`, else `e / (1 + e)`. The batch's portable kernel (`kernels::scalar::sigmoid`)
/// takes its exponentials several at a time and finishes here.
pub(crate) fn sigmoid_from_exp(x: f32, e: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
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
    let (w, bias) = cursor.layer(input.len(), out.len())?;
    kernels.layer(input, w, bias, out);
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
pub(crate) fn check_input<W: Weight>(
    model: &PleModel<'_, W>,
    input: &Input<'_>,
) -> Result<(), PleError> {
    let finite = |values: &[f32]| {
        if all_finite(values) {
            return Ok(());
        }
        match values.iter().position(|v| !v.is_finite()) {
            Some(index) => Err(PleError::NonFiniteInput {
                index: index as u32,
            }),
            None => Ok(()),
        }
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

/// Whether no value is infinite or NaN: the portable kernel's branch-free pass (the batch
/// path checks with the CPU's kernels).
pub(crate) fn all_finite(values: &[f32]) -> bool {
    crate::kernels::scalar::all_finite(values)
}

/// Category rows handed to the fused first-layer kernel at once (a fixed stack array,
/// whatever the model); a model with more categorical fields adds the rest afterwards, in
/// order, with the same rounding.
const ROW_CHUNK: usize = 64;

/// Level 0's one group: `out = bias + input · W` over the whole model input, as a dense
/// product or as the numeric product plus one weight row per known category. With a
/// standardisation, the numeric values are standardised into `spare` first (scratch that
/// the group does not use), in chunks when `spare` is shorter than the numeric columns.
pub(crate) fn level0_group<W: Weight, K: Kernels<W>>(
    kernels: &K,
    model: &PleModel<'_, W>,
    cursor: &mut Cursor<'_, W>,
    input: &Input<'_>,
    spare: &mut [f32],
    out: &mut [f32],
) -> Result<(), PleError> {
    let (w, bias) = cursor.layer(model.shape().input_dim as usize, out.len())?;
    let standardisation = model.standardisation().filter(|s| !s.is_empty());
    if standardisation.is_some() && spare.is_empty() {
        return Err(PleError::ScratchLength);
    }
    level0_group_with(
        kernels,
        model.layout(),
        standardisation,
        spare,
        w,
        bias,
        input,
        out,
    );
    Ok(())
}

/// [`level0_group`] on weights already taken from the cursor (`spare` not empty when there
/// is a standardisation).
#[allow(clippy::too_many_arguments)]
pub(crate) fn level0_group_with<W: Weight, K: Kernels<W>>(
    kernels: &K,
    layout: &InputLayout<'_>,
    standardisation: Option<&Standardisation<'_>>,
    spare: &mut [f32],
    w: &[W],
    bias: &[W],
    input: &Input<'_>,
    out: &mut [f32],
) {
    let vocab_sizes = layout.vocab_sizes;
    let numeric_columns = layout.numeric as usize;
    let Some(st) = standardisation else {
        match *input {
            Input::Dense(x) => {
                let (numeric, one_hot) = x.split_at_checked(numeric_columns).unwrap_or((x, &[]));
                dense_one_hot(
                    kernels,
                    w,
                    bias,
                    numeric,
                    numeric_columns,
                    one_hot,
                    true,
                    out,
                );
            }
            Input::Sparse {
                numeric,
                categories,
            } => {
                let columns = numeric.len();
                one_hot_rows(
                    kernels,
                    vocab_sizes,
                    w,
                    bias,
                    numeric,
                    columns,
                    categories,
                    true,
                    out,
                )
            }
        }
        return;
    };
    match *input {
        // The usual case: every standardised value fits, and the fused kernel runs as for
        // raw values.
        Input::Sparse {
            numeric,
            categories,
        } if numeric.len() <= spare.len() => {
            let standardised = spare.get_mut(..numeric.len()).unwrap_or(&mut []);
            st.apply_columns(0, numeric, standardised);
            let (values, columns) = (&*standardised, numeric.len());
            one_hot_rows(
                kernels,
                vocab_sizes,
                w,
                bias,
                values,
                columns,
                categories,
                true,
                out,
            );
        }
        Input::Sparse {
            numeric,
            categories,
        } => {
            standardised_numeric_layer(kernels, st, spare, numeric, w, bias, out);
            let columns = numeric.len();
            one_hot_rows(
                kernels,
                vocab_sizes,
                w,
                bias,
                &[],
                columns,
                categories,
                false,
                out,
            );
        }
        // Dense rows take the sparse path's steps: the standardised numeric values, then
        // the one-hot columns that hold something.
        Input::Dense(x) => {
            let (numeric, one_hot) = x.split_at_checked(st.len()).unwrap_or((x, &[]));
            let columns = numeric.len();
            if let Some(standardised) = spare.get_mut(..columns) {
                st.apply_columns(0, numeric, standardised);
                let values = &*standardised;
                dense_one_hot(kernels, w, bias, values, columns, one_hot, true, out);
            } else {
                standardised_numeric_layer(kernels, st, spare, numeric, w, bias, out);
                dense_one_hot(kernels, w, bias, &[], columns, one_hot, false, out);
            }
        }
    }
}

/// Positions [`dense_one_hot`] asks [`Kernels::nonzero`] for at a time.
const SCAN_CHUNK: usize = 32;

/// The first layer over the one-hot columns of a dense row, after `numeric` (as
/// [`one_hot_rows`] takes it): only the columns that are not zero, found by
/// [`Kernels::nonzero`], in column order. A column holding exactly 1 adds its weight row,
/// as a category of the sparse input does (and as multiplying by 1 does, bit for bit, with
/// or without a fused multiply-add); any other value is a one-row product. A skipped zero
/// column would only have added `±0`, which can change nothing but the sign of a zero
/// output, and no probability: a one-hot row gives what its sparse form gives, bit for bit,
/// at the cost of the sparse path plus a scan of the row.
#[allow(clippy::too_many_arguments)]
fn dense_one_hot<W: Weight, K: Kernels<W>>(
    kernels: &K,
    w: &[W],
    bias: &[W],
    numeric: &[f32],
    numeric_columns: usize,
    one_hot: &[f32],
    mut first: bool,
    out: &mut [f32],
) {
    let n = out.len();
    let mut found = [0u32; SCAN_CHUNK];
    let mut ones = [0u32; SCAN_CHUNK];
    let mut at = 0;
    while at < one_hot.len() {
        let (count, next) = kernels.nonzero(one_hot, at, &mut found);
        let found = found.get(..count).unwrap_or(&[]);
        at = next.max(at + 1);
        // The one-hot case: every value found is 1, and the columns are rows to add. One
        // pass writes the rows and checks the values; otherwise the loop below rewrites them.
        let mut ones_only = true;
        for (slot, &column) in ones.iter_mut().zip(found) {
            ones_only &= one_hot.get(column as usize).copied() == Some(1.0);
            *slot = column.wrapping_add(numeric_columns as u32);
        }
        if ones_only {
            let rows = ones.get(..found.len()).unwrap_or(&[]);
            if first || !rows.is_empty() {
                flush(kernels, w, bias, numeric, rows, &mut first, out);
            }
            continue;
        }
        let mut filled = 0;
        for &column in found {
            let value = one_hot.get(column as usize).copied().unwrap_or(0.0);
            let row = column as usize + numeric_columns;
            if value == 1.0 {
                if let Some(slot) = ones.get_mut(filled) {
                    *slot = row as u32;
                    filled += 1;
                }
                continue;
            }
            let pending = ones.get(..filled).unwrap_or(&[]);
            if first || !pending.is_empty() {
                flush(kernels, w, bias, numeric, pending, &mut first, out);
            }
            filled = 0;
            let start = row.saturating_mul(n);
            let weights = w.get(start..start.saturating_add(n)).unwrap_or(&[]);
            kernels.gemv_acc(&[value], weights, out);
        }
        let pending = ones.get(..filled).unwrap_or(&[]);
        if first || !pending.is_empty() {
            flush(kernels, w, bias, numeric, pending, &mut first, out);
        }
    }
    if first {
        flush(kernels, w, bias, numeric, &[], &mut first, out);
    }
}

/// `out = bias + standardise(raw) · W[..raw.len()]`, standardising `spare.len()` columns at
/// a time: a whole layer over the first chunk, then accumulations in column order, which
/// is what one layer over all columns computes, bit for bit (see [`Kernels::layer`]).
fn standardised_numeric_layer<W: Weight, K: Kernels<W>>(
    kernels: &K,
    standardisation: &Standardisation<'_>,
    spare: &mut [f32],
    raw: &[f32],
    w: &[W],
    bias: &[W],
    out: &mut [f32],
) {
    let n = out.len();
    let chunk = spare.len().max(1);
    let mut first = true;
    for (k, raw_chunk) in raw.chunks(chunk).enumerate() {
        let start = k * chunk;
        let values = spare.get_mut(..raw_chunk.len()).unwrap_or(&mut []);
        standardisation.apply_columns(start, raw_chunk, values);
        let rows = w
            .get(start * n..(start + raw_chunk.len()) * n)
            .unwrap_or(&[]);
        if first {
            kernels.layer(values, rows, bias, out);
            first = false;
        } else {
            kernels.gemv_acc(values, rows, out);
        }
    }
    if first {
        kernels.layer(&[], &[], bias, out);
    }
}

/// The sparse first layer: `numeric` (the values the network sees) through the fused
/// kernel with the bias and the first chunk of category rows when `first`, then the
/// remaining category rows; without `first`, `out` already holds the bias and the numeric
/// part, and only the category rows are added. Category rows start after
/// `numeric_columns` rows.
#[allow(clippy::too_many_arguments)]
fn one_hot_rows<W: Weight, K: Kernels<W>>(
    kernels: &K,
    vocab_sizes: &[u16],
    w: &[W],
    bias: &[W],
    numeric: &[f32],
    numeric_columns: usize,
    categories: &[u16],
    mut first: bool,
    out: &mut [f32],
) {
    // The dense row of each known category: its field's block start plus its index
    // (categories were checked against their vocabularies before).
    let mut chunk = [0u32; ROW_CHUNK];
    let mut filled = 0;
    let mut block = numeric_columns as u32;
    for (&c, &vocab) in categories.iter().zip(vocab_sizes) {
        if c != UNKNOWN_CATEGORY {
            if let Some(slot) = chunk.get_mut(filled) {
                *slot = block + u32::from(c);
                filled += 1;
            }
            if filled == ROW_CHUNK {
                flush(kernels, w, bias, numeric, &chunk, &mut first, out);
                filled = 0;
            }
        }
        block += u32::from(vocab);
    }
    let rest = chunk.get(..filled).unwrap_or(&[]);
    if first || !rest.is_empty() {
        flush(kernels, w, bias, numeric, rest, &mut first, out);
    }
}

/// The first chunk of one-hot rows goes through the fused kernel with the bias and the
/// numeric rows; later chunks are added to it.
fn flush<W: Weight, K: Kernels<W>>(
    kernels: &K,
    w: &[W],
    bias: &[W],
    numeric: &[f32],
    rows: &[u32],
    first: &mut bool,
    out: &mut [f32],
) {
    if *first {
        kernels.sparse_layer(numeric, w, bias, rows, out);
        *first = false;
    } else {
        kernels.add_rows(w, rows.iter().map(|&r| r as usize), out);
    }
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
    gates: Option<&mut [f32]>,
) -> Result<(), PleError> {
    let s = *model.shape();
    if probabilities.len() != s.tasks as usize {
        return Err(PleError::OutputLength);
    }
    if gates.as_ref().is_some_and(|g| g.len() != gates_len(&s)) {
        return Err(PleError::GatesLength);
    }
    // The model was validated when it was made: its scratch length is the sum of the regions.
    let regions = scratch_regions(&s);
    let [group_len, experts_len, hidden_len, levels_len] = regions;
    let row_len = to_index(group_len + experts_len + hidden_len + levels_len)?;
    let scratch = scratch.get_mut(..row_len).ok_or(PleError::ScratchLength)?;
    check_input(model, &input)?;

    let mut cursor = Cursor {
        rest: model.weights(),
    };
    let outputs = levels(kernels, model, regions, &mut cursor, &input, scratch, gates)?;
    let hidden_at = to_index(group_len + experts_len)?;
    let (front, back) = scratch
        .split_at_mut_checked(outputs)
        .ok_or(PleError::ScratchLength)?;
    let hidden = front.get_mut(hidden_at..).ok_or(PleError::ScratchLength)?;
    let (hidden_a, hidden_b) = split(hidden, hidden_len / 2)?;
    let width = s.expert_width() as usize;

    // Towers read the last level's task outputs.
    for (t, p) in probabilities.iter_mut().enumerate() {
        let mut logit = [0.0f32];
        let input = sub(back, t * width, width)?;
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

fn to_index(n: u64) -> Result<usize, PleError> {
    usize::try_from(n).map_err(|_| PleError::ScratchLength)
}

/// Every level of one row, from its checked input to the last level's outputs (task 0's,
/// task 1's, ..., `expert_width` each), which it leaves in `scratch` at the offset it
/// returns, past the hidden buffers. `cursor` ends at the towers' weights. `regions` are
/// [`scratch_regions`] of the model's shape.
pub(crate) fn levels<W: Weight, K: Kernels<W>>(
    kernels: &K,
    model: &PleModel<'_, W>,
    regions: [u64; 4],
    cursor: &mut Cursor<'_, W>,
    input: &Input<'_>,
    scratch: &mut [f32],
    mut gates: Option<&mut [f32]>,
) -> Result<usize, PleError> {
    let s = *model.shape();
    let [group_len, experts_len, hidden_len, levels_len] = regions;
    let (group, rest) = split(scratch, group_len)?;
    // Level 0's group reads the model input; the rest of the scratch is free until the
    // experts are written, so the standardised numeric values live there meanwhile.
    if s.levels > 0 {
        let out = sub_mut(group, 0, level0_width(&s) as usize)?;
        level0_group(kernels, model, cursor, input, rest, out)?;
    }
    let (experts, rest) = split(rest, experts_len)?;
    let (hidden, rest) = split(rest, hidden_len)?;
    let (hidden_a, hidden_b) = split(hidden, hidden_len / 2)?;
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
    let mut gates_at = 0;

    for level in 0..s.levels {
        let at = GroupOffsets::new(&s, level);
        // Groups: first expert layers and gate logits of the whole level.
        if level > 0 {
            for t in 0..tasks {
                let out = sub_mut(group, t * at.task_group, at.task_group)?;
                dense(kernels, cursor, sub(previous, t * width, width)?, out)?;
            }
            let shared_width = at.shared * at.u0 + if s.has_shared_gate(level) { total } else { 0 };
            if shared_width > 0 {
                let out = sub_mut(group, tasks * at.task_group, shared_width)?;
                dense(kernels, cursor, sub(previous, tasks * width, width)?, out)?;
            }
        }
        // Experts: ReLU of the first layer, then the deeper layers.
        for x in 0..total {
            let slot = sub_mut(experts, x * width, width)?;
            if s.expert_units.len() == 1 {
                relu_copy(sub(group, at.expert(x), at.u0)?, slot);
            } else {
                relu(sub_mut(group, at.expert(x), at.u0)?);
                let first = sub(group, at.expert(x), at.u0)?;
                stack(
                    kernels,
                    cursor,
                    first,
                    deeper_hidden,
                    hidden_a,
                    hidden_b,
                    slot,
                    true,
                )?;
            }
        }
        // Gates: softmax, report, mix. A task's gate weighs its own experts, then the shared
        // ones: two runs of contiguous expert outputs.
        let shared_experts = sub(experts, tasks * ept * width, at.shared * width)?;
        for t in 0..tasks {
            let weights = sub_mut(group, at.task_gate(t), gate_width)?;
            softmax(weights);
            let out = sub_mut(current, t * width, width)?;
            out.fill(0.0);
            let (own, shared) = weights.split_at(ept.min(weights.len()));
            kernels.mix(own, sub(experts, t * ept * width, ept * width)?, out);
            kernels.mix(shared, shared_experts, out);
            report(&mut gates, &mut gates_at, weights)?;
        }
        if s.has_shared_gate(level) {
            let weights = sub_mut(group, at.shared_gate(), total)?;
            softmax(weights);
            let out = sub_mut(current, tasks * width, width)?;
            out.fill(0.0);
            kernels.mix(weights, sub(experts, 0, total * width)?, out);
            report(&mut gates, &mut gates_at, weights)?;
        }
        core::mem::swap(&mut previous, &mut current);
    }
    // `previous` is the first half of the level region after an even number of levels.
    let region = to_index(group_len + experts_len + hidden_len)?;
    Ok(region
        + if s.levels.is_multiple_of(2) {
            0
        } else {
            to_index(levels_len / 2)?
        })
}

fn report(gates: &mut Option<&mut [f32]>, at: &mut usize, weights: &[f32]) -> Result<(), PleError> {
    if let Some(out) = gates {
        copy(weights, sub_mut(out, *at, weights.len())?);
        *at += weights.len();
    }
    Ok(())
}
