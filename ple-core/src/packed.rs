//! The packed weight layout the engine runs on, its sizes, and the functions that build it.
//!
//! The trainer stores every dense layer as its own `[outputs, inputs]` weight and `[outputs]`
//! bias, in the canonical order of [`PleShape::tensors`]. The engine instead wants the
//! weights in the order it reads them, transposed to `[inputs, outputs]`, with every layer
//! that reads the same input concatenated side by side into one *group*:
//!
//! * level 0: one group for the first layer of every expert (task 0's experts, task 1's, ...,
//!   then the shared ones), then every task gate, then the shared gate if the level has one.
//!   Input column `i` of the model is then one contiguous row of this group: a one-hot
//!   category costs one row addition for all experts and gates at once;
//! * level `l > 0`: per task, a group of the task's experts' first layers and the task gate
//!   (they all read the task's previous output), then a group of the shared experts' first
//!   layers and the shared gate, if any (they read the previous shared output);
//! * then, per expert of the level in the same order, its deeper layers one by one;
//! * after the last level, per task, its tower layers and its output layer.
//!
//! Every group is stored as its `[inputs, width]` weight followed by its `[width]` bias. The
//! packed layout is a permutation of the canonical parameters, so [`packed_len`] equals the
//! parameter count. The forward pass walks the packed slice front to back in exactly this
//! order, taking each group with a checked split; it never computes a weight offset.

use half::f16;

use crate::error::PleError;
use crate::shape::{Block, Layer, PleShape};

const fn first_units(s: &PleShape<'_>) -> u64 {
    match s.expert_units.first() {
        Some(&u) => u as u64,
        None => 0,
    }
}

const fn shared_gate_width(s: &PleShape<'_>, level: u32) -> u64 {
    if s.has_shared_gate(level) {
        s.total_experts() as u64
    } else {
        0
    }
}

/// Width of level 0's group: every expert's first layer, every task gate, the shared gate.
pub const fn level0_width(s: &PleShape<'_>) -> u64 {
    s.total_experts() as u64 * first_units(s)
        + s.tasks as u64 * s.task_gate_width() as u64
        + shared_gate_width(s, 0)
}

/// Width of a task's group at a level above 0: its experts' first layers and its gate.
pub const fn task_group_width(s: &PleShape<'_>) -> u64 {
    s.experts_per_task as u64 * first_units(s) + s.task_gate_width() as u64
}

/// Width of the shared group at a level above 0 (0 when there is nothing shared to compute).
pub const fn shared_group_width(s: &PleShape<'_>, level: u32) -> u64 {
    s.shared_experts as u64 * first_units(s) + shared_gate_width(s, level)
}

/// Packed values of one expert's layers after the first.
const fn expert_deeper_len(s: &PleShape<'_>) -> u64 {
    let mut len = 0u64;
    let mut k = 1;
    while k < s.expert_units.len() {
        len += (s.expert_units[k - 1] as u64 + 1) * s.expert_units[k] as u64;
        k += 1;
    }
    len
}

/// Packed values of one task's tower, output layer included.
const fn tower_len(s: &PleShape<'_>) -> u64 {
    let mut len = 0u64;
    let mut k = 0;
    while k <= s.tower_units.len() {
        let outputs = if k < s.tower_units.len() {
            s.tower_units[k] as u64
        } else {
            1
        };
        len += (s.tower_input(k) as u64 + 1) * outputs;
        k += 1;
    }
    len
}

/// Packed values of the groups of `level` (deeper expert layers excluded).
const fn level_groups_len(s: &PleShape<'_>, level: u32) -> u64 {
    if level == 0 {
        (s.input_dim as u64 + 1) * level0_width(s)
    } else {
        let e = s.expert_width() as u64 + 1;
        s.tasks as u64 * e * task_group_width(s) + e * shared_group_width(s, level)
    }
}

const fn level_len(s: &PleShape<'_>, level: u32) -> u64 {
    level_groups_len(s, level) + s.total_experts() as u64 * expert_deeper_len(s)
}

const fn level_start(s: &PleShape<'_>, level: u32) -> u64 {
    let mut start = 0;
    let mut l = 0;
    while l < level {
        start += level_len(s, l);
        l += 1;
    }
    start
}

/// Saturates a size computed in `u64` to `usize` (a 32-bit target cannot address more).
pub(crate) const fn to_usize(n: u64) -> usize {
    if n > usize::MAX as u64 {
        usize::MAX
    } else {
        n as usize
    }
}

/// Number of packed weight values of a network: its parameter count (0 for an invalid shape).
///
/// Every count a valid shape holds is at most 2^20 * 4096^2 per layer, so the sum cannot
/// overflow a `u64`; on a 32-bit target a model too large to address gives `usize::MAX`, which
/// no slice can match.
pub const fn packed_len(shape: &PleShape<'_>) -> usize {
    if shape.validate().is_err() {
        return 0;
    }
    let towers = shape.tasks as u64 * tower_len(shape);
    to_usize(level_start(shape, shape.levels) + towers)
}

/// Number of gate weights [`predict`](crate::PleModel::predict_with_gates) reports: for each
/// level, each task's gate (its own experts, then the shared ones), then the shared gate on
/// every level but the last (every expert of the level, task 0's first).
pub const fn gates_len(shape: &PleShape<'_>) -> usize {
    if shape.validate().is_err() {
        return 0;
    }
    to_usize(level_gates_len(shape) * shape.levels as u64 - shape.total_experts() as u64)
}

/// Gate weights of one level with a shared gate.
const fn level_gates_len(s: &PleShape<'_>) -> u64 {
    s.tasks as u64 * s.task_gate_width() as u64 + s.total_experts() as u64
}

const fn max_u64(a: u64, b: u64) -> u64 {
    if a > b {
        a
    } else {
        b
    }
}

const fn max_units(units: &[u32]) -> u64 {
    let mut m = 0;
    let mut k = 0;
    while k < units.len() {
        m = max_u64(m, units[k] as u64);
        k += 1;
    }
    m
}

/// Width of the widest hidden layer (expert or tower).
pub(crate) const fn max_hidden(s: &PleShape<'_>) -> u64 {
    max_u64(
        max_units(s.expert_units),
        max_u64(max_units(s.tower_units), 1),
    )
}

/// The regions of the scratch buffer, as lengths in order.
///
/// The group region holds all groups of a level side by side: level 0's one group, or the
/// task groups then the shared group of a higher level, which together are never wider.
pub(crate) const fn scratch_regions(s: &PleShape<'_>) -> [u64; 4] {
    let e = s.expert_width() as u64;
    [
        level0_width(s),
        s.total_experts() as u64 * e,
        2 * max_hidden(s),
        2 * (s.tasks as u64 + 1) * e,
    ]
}

/// Exact number of `f32`s of scratch memory a prediction needs (0 for an invalid shape).
///
/// A firmware reserves it statically: `static mut SCRATCH: [f32; scratch_len(&SHAPE)]`. It
/// holds the current level's group outputs (first expert layers and gate weights), every
/// expert's output, two hidden-layer buffers, and the previous and current level outputs; it
/// does not depend on the input form.
pub const fn scratch_len(shape: &PleShape<'_>) -> usize {
    if shape.validate().is_err() {
        return 0;
    }
    let r = scratch_regions(shape);
    to_usize(r[0] + r[1] + r[2] + r[3])
}

/// Where one canonical layer lands in the packed layout.
struct Placement {
    /// Start of the layer's group.
    start: usize,
    /// Rows of the group (its input width).
    inputs: usize,
    /// Columns of the group.
    width: usize,
    /// First column of this layer inside the group.
    column: usize,
}

fn placement(s: &PleShape<'_>, layer: &Layer) -> Placement {
    let u0 = first_units(s) as usize;
    let ept = s.experts_per_task as usize;
    let te = s.total_experts() as usize;
    let own_experts = s.tasks as usize * ept;
    let g = s.task_gate_width() as usize;
    let e1 = s.expert_width() as usize + 1;
    let group = |level: u32, group_index: Option<usize>, column: usize| {
        let level_at = level_start(s, level) as usize;
        match (level, group_index) {
            (0, _) => Placement {
                start: level_at,
                inputs: s.input_dim as usize,
                width: level0_width(s) as usize,
                column,
            },
            (_, Some(t)) => Placement {
                start: level_at + t * e1 * task_group_width(s) as usize,
                inputs: e1 - 1,
                width: task_group_width(s) as usize,
                column,
            },
            (_, None) => Placement {
                start: level_at + s.tasks as usize * e1 * task_group_width(s) as usize,
                inputs: e1 - 1,
                width: shared_group_width(s, level) as usize,
                column,
            },
        }
    };
    let deeper = |level: u32, expert: usize, layer: usize| {
        let mut start = level_start(s, level) as usize
            + level_groups_len(s, level) as usize
            + expert * expert_deeper_len(s) as usize;
        for k in 1..layer {
            start += (s.expert_units[k - 1] as usize + 1) * s.expert_units[k] as usize;
        }
        Placement {
            start,
            inputs: s.expert_units[layer - 1] as usize,
            width: s.expert_units[layer] as usize,
            column: 0,
        }
    };
    let tower = |task: usize, k: usize| {
        let mut start = level_start(s, s.levels) as usize + task * tower_len(s) as usize;
        for j in 0..k {
            start += (s.tower_input(j) as usize + 1) * s.tower_units[j] as usize;
        }
        let width = if k < s.tower_units.len() {
            s.tower_units[k] as usize
        } else {
            1
        };
        Placement {
            start,
            inputs: s.tower_input(k) as usize,
            width,
            column: 0,
        }
    };
    match layer.block {
        Block::TaskExpert {
            level,
            task,
            expert,
            layer: 0,
        } => {
            let (t, e) = (task as usize, expert as usize);
            if level == 0 {
                group(0, None, (t * ept + e) * u0)
            } else {
                group(level, Some(t), e * u0)
            }
        }
        Block::SharedExpert {
            level,
            expert,
            layer: 0,
        } => {
            if level == 0 {
                group(0, None, (own_experts + expert as usize) * u0)
            } else {
                group(level, None, expert as usize * u0)
            }
        }
        Block::TaskExpert {
            level,
            task,
            expert,
            layer,
        } => deeper(level, task as usize * ept + expert as usize, layer as usize),
        Block::SharedExpert {
            level,
            expert,
            layer,
        } => deeper(level, own_experts + expert as usize, layer as usize),
        Block::TaskGate { level, task } => {
            if level == 0 {
                group(0, None, te * u0 + task as usize * g)
            } else {
                group(level, Some(task as usize), ept * u0)
            }
        }
        Block::SharedGate { level } => {
            if level == 0 {
                group(0, None, te * u0 + s.tasks as usize * g)
            } else {
                group(level, None, s.shared_experts as usize * u0)
            }
        }
        Block::Tower { task, layer } => tower(task as usize, layer as usize),
        Block::Output { task } => tower(task as usize, s.tower_units.len()),
    }
}

/// Rearranges canonical parameters (flat, in [`PleShape::tensors`] order, weights
/// `[outputs, inputs]`, as the trainer saves them) into the packed layout, converting each
/// value with `convert`.
fn pack_with<T>(
    shape: &PleShape<'_>,
    canonical: &[f32],
    out: &mut [T],
    convert: impl Fn(f32) -> T,
) -> Result<(), PleError> {
    shape.validate()?;
    if canonical.len() != packed_len(shape) {
        return Err(PleError::CanonicalLength);
    }
    if out.len() != packed_len(shape) {
        return Err(PleError::WeightsLength);
    }
    // Both lengths equal the parameter count, and every placement lies inside it (the
    // round-trip tests pin this down), so the `get`s below never miss; they only keep a
    // mistake from becoming a panic.
    let mut at = 0;
    for layer in shape.layers() {
        let p = placement(shape, &layer);
        let (inputs, outputs) = (layer.inputs as usize, layer.outputs as usize);
        let weights = canonical
            .get(at..at + inputs * outputs)
            .ok_or(PleError::CanonicalLength)?;
        let biases = canonical
            .get(at + inputs * outputs..at + (inputs + 1) * outputs)
            .ok_or(PleError::CanonicalLength)?;
        at += (inputs + 1) * outputs;
        for (o, row) in weights.chunks_exact(inputs).enumerate() {
            for (i, &w) in row.iter().enumerate() {
                let slot = out.get_mut(p.start + i * p.width + p.column + o);
                *slot.ok_or(PleError::WeightsLength)? = convert(w);
            }
        }
        let bias_at = p.start + p.inputs * p.width + p.column;
        for (o, &b) in biases.iter().enumerate() {
            *out.get_mut(bias_at + o).ok_or(PleError::WeightsLength)? = convert(b);
        }
    }
    Ok(())
}

/// Packs canonical `f32` parameters for an f32 [`PleModel`](crate::PleModel).
///
/// `canonical` holds every tensor of [`PleShape::tensors`] flat and in order (weights
/// `[outputs, inputs]`); `out` must be [`packed_len`] long.
pub fn pack_f32(shape: &PleShape<'_>, canonical: &[f32], out: &mut [f32]) -> Result<(), PleError> {
    pack_with(shape, canonical, out, |v| v)
}

/// Packs canonical `f32` parameters for an f16 [`PleModel`](crate::PleModel), rounding each
/// to the nearest `f16`.
pub fn pack_f16(shape: &PleShape<'_>, canonical: &[f32], out: &mut [f16]) -> Result<(), PleError> {
    pack_with(shape, canonical, out, f16::from_f32)
}
