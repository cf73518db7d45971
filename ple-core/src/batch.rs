//! Many rows per call: [`PleModel::predict_batch`].
//!
//! A batch runs in tiles of [`BATCH_TILE`] rows. Each row of a tile goes through its first
//! layer on its own (the sparse first layer gathers different weight rows for every row, so
//! there is nothing to share there). In the common networks of one level of single-layer
//! experts (CGC, MMoE) the tile is then turned into lanes, value `c` of all its rows in one
//! vector, and everything after the first layer (ReLU, softmax, mixing, towers, sigmoid) is
//! one vector operation for all the rows, with no per-row loop or slice left. Deeper
//! networks run their levels row by row and their towers as small matrix products over the
//! tile ([`Kernels::layer_rows`]). Either way the per-layer work (taking the weights,
//! dispatching the kernel) is paid once per tile instead of once per row. Every value goes
//! through the same operations in the same order as in [`PleModel::predict`], so a batch
//! gives the single-row probabilities bit for bit.
//!
//! Every row is validated before any arithmetic; a bad row is reported with its index and
//! nothing is written. The scratch memory is the caller's, [`batch_scratch_len`] `f32`s, a
//! `const fn` of the shape and the number of rows (it stops growing at one tile).
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use core::fmt;

use crate::aligned::{aligned_width, from_line, SLACK};
use crate::error::PleError;
use crate::forward::{check_input, copy, level0_group_with, levels, sigmoid, Cursor};
use crate::input::Input;
use crate::kernels::{
    Detected, Kernels, RowMix, RowTile, LANES, LANES_MAX_WIDTH, MAX_SPARSE_FIELDS,
};
use crate::model::PleModel;
use crate::packed::{level0_width, max_hidden, scratch_len, scratch_regions, to_usize};
use crate::shape::PleShape;
use crate::weight::Weight;

/// Rows computed together: one row in each lane of a vector ([`LANES`]). The rows' first
/// layers (about 18 KiB for the 32 rows of an AVX-512 build and the default model) and their
/// lanes stay in the L1 cache next to the weights they touch.
pub const BATCH_TILE: usize = LANES;

/// Scratch `f32`s one row of a tile needs: its single-row scratch, its tower input and two
/// tower hidden buffers, and its logit.
const fn row_scratch(shape: &PleShape<'_>) -> usize {
    let extra = shape.expert_width() as u64 + 2 * max_hidden(shape) + 1;
    scratch_len(shape).saturating_add(to_usize(extra))
}

/// Scratch `f32`s of a tile's rows side by side (see `flat_tile`): the first layer, the
/// tower inputs, two tower hidden buffers and the logits, [`LANES`] rows each.
const fn lanes_scratch(shape: &PleShape<'_>) -> usize {
    let per_lane = level0_width(shape)
        .saturating_add(shape.tasks as u64 * shape.expert_width() as u64)
        .saturating_add(2 * max_hidden(shape) + 1);
    to_usize(per_lane).saturating_mul(LANES)
}

/// Exact number of `f32`s of scratch [`PleModel::predict_batch`] needs for `rows` rows (0 for
/// an invalid shape or no rows). It grows with `rows` up to [`BATCH_TILE`] rows and then
/// stays the same.
pub const fn batch_scratch_len(shape: &PleShape<'_>, rows: usize) -> usize {
    if scratch_len(shape) == 0 || rows == 0 {
        return 0;
    }
    let tile = if rows < BATCH_TILE { rows } else { BATCH_TILE };
    let rows_part = row_scratch(shape).saturating_mul(tile);
    // A flat tile's first layers, as wide as an aligned first layer's rows, from a 64-byte
    // boundary.
    let groups_part = aligned_width(shape)
        .saturating_mul(tile)
        .saturating_add(SLACK);
    let part = if rows_part > groups_part {
        rows_part
    } else {
        groups_part
    };
    part.saturating_add(lanes_scratch(shape))
}

/// The rows of a batch, one after the other, in either input form.
#[derive(Clone, Copy, Debug)]
pub enum BatchInput<'i> {
    /// `rows * input_dim` values: the dense rows back to back.
    Dense(&'i [f32]),
    /// `rows * numeric` values and `rows * fields` category indices, row after row.
    Sparse {
        /// The numeric values of every row.
        numeric: &'i [f32],
        /// The category indices of every row.
        categories: &'i [u16],
    },
}

/// Why a batch was refused: the error, and the row it concerns when it concerns one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchError {
    /// 0-based row of the batch whose input is invalid; `None` when the error is about the
    /// batch as a whole (slice lengths).
    pub row: Option<usize>,
    /// What is wrong.
    pub error: PleError,
}

impl From<PleError> for BatchError {
    fn from(error: PleError) -> Self {
        BatchError { row: None, error }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.row {
            Some(row) => write!(f, "batch row {row}: {}", self.error),
            None => write!(f, "batch: {}", self.error),
        }
    }
}

/// The number of rows of `input`, if its slices hold whole rows and agree.
fn row_count<W: Weight>(
    model: &PleModel<'_, W>,
    input: &BatchInput<'_>,
) -> Result<usize, PleError> {
    let whole = |len: usize, width: usize| match width {
        0 => Ok(None),
        w if len.is_multiple_of(w) => Ok(Some(len / w)),
        _ => Err(PleError::InputLength),
    };
    match *input {
        BatchInput::Dense(x) => {
            whole(x.len(), model.shape().input_dim as usize)?.ok_or(PleError::InputLength)
        }
        BatchInput::Sparse {
            numeric,
            categories,
        } => {
            let layout = model.layout();
            match (
                whole(numeric.len(), layout.numeric as usize)?,
                whole(categories.len(), layout.fields())?,
            ) {
                (Some(a), Some(b)) if a == b => Ok(a),
                (Some(a), None) if categories.is_empty() => Ok(a),
                (None, Some(b)) if numeric.is_empty() => Ok(b),
                _ => Err(PleError::InputLength),
            }
        }
    }
}

/// Whether every row of a batch of whole rows passes `check_input`: one pass without
/// branches over all the values ([`Kernels::all_finite`], [`Kernels::categories_valid`]).
/// Only when it fails does the batch go row by row to find the first bad row and its error.
fn all_valid<W: Weight, K: Kernels<W>>(
    kernels: &K,
    model: &PleModel<'_, W>,
    input: &BatchInput<'_>,
) -> bool {
    match *input {
        BatchInput::Dense(x) => kernels.all_finite(x),
        BatchInput::Sparse {
            numeric,
            categories,
        } => {
            kernels.all_finite(numeric)
                && kernels.categories_valid(categories, model.layout().vocab_sizes)
        }
    }
}

/// Row `r` of a batch whose row count has been checked.
fn row<'i, W: Weight>(model: &PleModel<'_, W>, input: &BatchInput<'i>, r: usize) -> Input<'i> {
    let part = |s: &'i [f32], w: usize| s.get(r * w..(r + 1) * w).unwrap_or(&[]);
    match *input {
        BatchInput::Dense(x) => Input::Dense(part(x, model.shape().input_dim as usize)),
        BatchInput::Sparse {
            numeric,
            categories,
        } => {
            let fields = model.layout().fields();
            Input::Sparse {
                numeric: part(numeric, model.layout().numeric as usize),
                categories: categories.get(r * fields..(r + 1) * fields).unwrap_or(&[]),
            }
        }
    }
}

impl<W: Weight> PleModel<'_, W> {
    /// Predicts every row of `input`: writes `rows * tasks` probabilities (row by row, one per
    /// task) into `probabilities`, using the best kernels of this CPU. `scratch` holds at
    /// least [`batch_scratch_len`] of the shape and row count. The probabilities equal
    /// [`predict`](Self::predict)'s for each row, bit for bit.
    pub fn predict_batch(
        &self,
        input: BatchInput<'_>,
        scratch: &mut [f32],
        probabilities: &mut [f32],
    ) -> Result<(), BatchError>
    where
        Detected: Kernels<W>,
    {
        self.predict_batch_using(&Detected::new(), input, scratch, probabilities)
    }

    /// [`predict_batch`](Self::predict_batch) with the given kernels.
    pub fn predict_batch_using<K: Kernels<W>>(
        &self,
        kernels: &K,
        input: BatchInput<'_>,
        scratch: &mut [f32],
        probabilities: &mut [f32],
    ) -> Result<(), BatchError> {
        let s = *self.shape();
        let rows = row_count(self, &input)?;
        let tasks = s.tasks as usize;
        if probabilities.len() != rows.saturating_mul(tasks) {
            return Err(PleError::OutputLength.into());
        }
        if scratch.len() < batch_scratch_len(&s, rows) {
            return Err(PleError::ScratchLength.into());
        }
        if !all_valid(kernels, self, &input) {
            for r in 0..rows {
                check_input(self, &row(self, &input, r)).map_err(|error| BatchError {
                    row: Some(r),
                    error,
                })?;
            }
        }
        let flat = flat(&s);
        let mut first = 0;
        for out in probabilities.chunks_mut(BATCH_TILE * tasks.max(1)) {
            let count = out.len() / tasks.max(1);
            if flat {
                flat_tile(kernels, self, &input, first, count, scratch, out)?;
            } else {
                tile(kernels, self, &input, first, count, scratch, out)?;
            }
            first += count;
        }
        Ok(())
    }
}

/// Whether the network is one level of single-layer experts (CGC and MMoE, PaddleRec's
/// default): then a tile runs stage by stage over all its rows ([`flat_tile`]).
fn flat(s: &PleShape<'_>) -> bool {
    s.levels == 1 && s.expert_units.len() == 1 && !s.has_shared_gate(0) && lanes_fit(s)
}

/// Rows `first..first + count` (at most one tile) of a validated batch of a [`flat`]
/// network: the first layer of all its rows in one call, then the tile turned into lanes
/// ([`Kernels::to_lanes`]: value `c` of all its rows in one vector) and every later step on
/// all the rows at once: the gates' softmax, the mixing of the experts' ReLU into the tower
/// inputs ([`Kernels::mix_relu_lanes`]), the towers ([`Kernels::layer_lanes`]) and the
/// sigmoid ([`Kernels::softmax_lanes`], [`Kernels::sigmoid`]). On kernels that
/// [`mix_rows`](Kernels::mix_rows) only the gates go into lanes before the mixing, which
/// reads the experts in their rows ([`Kernels::mix_relu_rows`]), and the mixed tower
/// inputs after it: 42 columns a row to transpose instead of 144 in the default model.
/// Lanes past `count` hold zeros, are computed and never read. Each row's values go
/// through the operations of [`PleModel::predict`] in the same order.
fn flat_tile<W: Weight, K: Kernels<W>>(
    kernels: &K,
    model: &PleModel<'_, W>,
    input: &BatchInput<'_>,
    first: usize,
    count: usize,
    scratch: &mut [f32],
    probabilities: &mut [f32],
) -> Result<(), PleError> {
    let s = *model.shape();
    let tasks = s.tasks as usize;
    let width = s.expert_width() as usize;
    let group_width = usize::try_from(level0_width(&s)).map_err(|_| PleError::ScratchLength)?;
    let hidden = usize::try_from(max_hidden(&s)).map_err(|_| PleError::ScratchLength)?;
    let (group_lanes, rest) = take(scratch, group_width, LANES)?;
    let (tower_in, rest) = take(rest, tasks * width, LANES)?;
    let (ping, rest) = take(rest, hidden, LANES)?;
    let (pong, rest) = take(rest, hidden, LANES)?;
    let (logits, rest) = take(rest, 1, LANES)?;

    // The first layer: the one group of every expert and gate, row by row, from the aligned
    // copy of the weights when the model has one.
    let mut cursor = Cursor {
        rest: model.weights(),
    };
    let (w, bias) = cursor.layer(s.input_dim as usize, group_width)?;
    let aligned = model.aligned_first_layer();
    let stride = aligned.map_or(group_width, |a| a.width).max(1);
    // Each row's values on whole lines too, for the kernel's stores.
    let rest = from_line(rest).ok_or(PleError::ScratchLength)?;
    let (groups, _) = take(rest, stride, count)?;
    let tile = Tile {
        input,
        first,
        spare: tower_in,
        groups,
    };
    match aligned {
        // The aligned copy is in f32 whatever the model's weights: the backend's f32 kernels.
        Some(a) => {
            let layer = FirstLayer {
                w: a.w,
                bias: a.bias,
                stride,
            };
            first_layer(&kernels.f32_kernels(), model, layer, tile)?;
        }
        None => first_layer(kernels, model, FirstLayer { w, bias, stride }, tile)?,
    }

    // Gates and mixing on the rows side by side: the experts too, or, on kernels that
    // mix rows, only the gates and then the mixed tower inputs.
    let experts_len = s.total_experts() as usize * width;
    let gate_width = s.task_gate_width() as usize;
    let mixed_len = count * tasks * width;
    if kernels.mix_rows() && mixed_len <= experts_len * LANES {
        let (mixed, gate_lanes) = split_gates(group_lanes, experts_len, tasks * gate_width)?;
        let gate_rows = groups.get(experts_len..).ok_or(PleError::ScratchLength)?;
        kernels.to_lanes(gate_rows, stride, count, gate_lanes);
        kernels.softmax_lanes(gate_lanes, gate_width);
        let mixed = mixed.get_mut(..mixed_len).ok_or(PleError::ScratchLength)?;
        let mix = RowMix {
            rows: count,
            tasks,
            experts_per_task: s.experts_per_task as usize,
            shared_experts: s.shared_experts as usize,
            width,
            stride,
            out_stride: tasks * width,
        };
        kernels.mix_relu_rows(gate_lanes, groups, mixed, mix);
        kernels.to_lanes(mixed, tasks * width, count, tower_in);
    } else {
        kernels.to_lanes(groups, stride, count, group_lanes);
        let (expert_lanes, gate_lanes) = split_gates(group_lanes, experts_len, tasks * gate_width)?;
        kernels.softmax_lanes(gate_lanes, gate_width);
        mix_lanes(kernels, &s, expert_lanes, gate_lanes, tower_in);
    }

    // The towers, task by task, each layer one product over the tile's rows.
    for (t, task_in) in tower_in.chunks_exact(width * LANES).take(tasks).enumerate() {
        tower_lanes(
            kernels,
            &mut cursor,
            s.tower_units,
            task_in,
            &mut *ping,
            &mut *pong,
            &mut *logits,
        )?;
        kernels.sigmoid(logits);
        for (r, &p) in logits.iter().take(count).enumerate() {
            *probabilities
                .get_mut(r * tasks + t)
                .ok_or(PleError::OutputLength)? = p;
        }
    }
    Ok(())
}

/// A tile's first-layer lanes split into the experts' `experts` values and the gates'
/// `gates` values after them, [`LANES`] rows each.
fn split_gates(
    group_lanes: &mut [f32],
    experts: usize,
    gates: usize,
) -> Result<(&mut [f32], &mut [f32]), PleError> {
    let (experts, rest) = group_lanes
        .split_at_mut_checked(experts * LANES)
        .ok_or(PleError::ScratchLength)?;
    let gates = rest
        .get_mut(..gates * LANES)
        .ok_or(PleError::ScratchLength)?;
    Ok((experts, gates))
}

/// Whether every layer after the first fits [`Kernels::layer_lanes`]: the experts' width
/// and every tower layer at most [`LANES_MAX_WIDTH`].
fn lanes_fit(s: &PleShape<'_>) -> bool {
    let narrow = |units: u32| units as usize <= LANES_MAX_WIDTH;
    narrow(s.expert_width()) && s.tower_units.iter().all(|&u| narrow(u))
}

/// Every task's gate mixing of the experts' ReLU on rows in lanes: from zero, its own
/// experts then the shared ones ([`Kernels::mix_relu_lanes`]), as `forward::levels` mixes a
/// row.
fn mix_lanes<W: Weight, K: Kernels<W>>(
    kernels: &K,
    s: &PleShape<'_>,
    experts: &[f32],
    gates: &[f32],
    tower_in: &mut [f32],
) {
    let (tasks, ept) = (s.tasks as usize, s.experts_per_task as usize);
    let (width, gate_width) = (s.expert_width() as usize, s.task_gate_width() as usize);
    let own_len = ept * width * LANES;
    let shared = experts.get(tasks * own_len..).unwrap_or(&[]);
    for (t, (out, gate)) in tower_in
        .chunks_exact_mut((width * LANES).max(1))
        .zip(gates.chunks_exact((gate_width * LANES).max(1)))
        .take(tasks)
        .enumerate()
    {
        out.fill(0.0);
        let (own_weights, shared_weights) = gate.split_at((ept * LANES).min(gate.len()));
        let own = experts.get(t * own_len..(t + 1) * own_len).unwrap_or(&[]);
        kernels.mix_relu_lanes(own_weights, own, out);
        kernels.mix_relu_lanes(shared_weights, shared, out);
    }
}

/// One task's tower on rows in lanes: hidden layers with ReLU, ping-ponging between two
/// buffers, then the one-unit output layer into `logits`.
fn tower_lanes<W: Weight, K: Kernels<W>>(
    kernels: &K,
    cursor: &mut Cursor<'_, W>,
    units: &[u32],
    tower_in: &[f32],
    ping: &mut [f32],
    pong: &mut [f32],
    logits: &mut [f32],
) -> Result<(), PleError> {
    #[derive(Clone, Copy)]
    enum At {
        Input,
        Ping,
        Pong,
    }
    let (mut at, mut inputs) = (At::Input, tower_in.len() / LANES);
    for &width in units {
        let width = width as usize;
        let (w, bias) = cursor.layer(inputs, width)?;
        let (x, out, next) = match at {
            At::Input => (tower_in, &mut *ping, At::Ping),
            At::Ping => (&*ping, &mut *pong, At::Pong),
            At::Pong => (&*pong, &mut *ping, At::Ping),
        };
        let out = out
            .get_mut(..width * LANES)
            .ok_or(PleError::ScratchLength)?;
        kernels.layer_lanes(x.get(..inputs * LANES).unwrap_or(&[]), w, bias, out);
        kernels.relu(out);
        (at, inputs) = (next, width);
    }
    let (w, bias) = cursor.layer(inputs, 1)?;
    let x = match at {
        At::Input => tower_in,
        At::Ping => &*ping,
        At::Pong => &*pong,
    };
    let x = x.get(..inputs * LANES).unwrap_or(&[]);
    kernels.layer_lanes(x, w, bias, logits);
    Ok(())
}

/// The first layer's weights: rows `stride` values apart, the group's width or, in an
/// aligned first layer, more (the padding columns are zero).
#[derive(Clone, Copy)]
struct FirstLayer<'w, V> {
    w: &'w [V],
    bias: &'w [V],
    stride: usize,
}

/// A tile's rows for its first layer: rows `first..` of the batch, one `groups` row of
/// `stride` values each, and `spare` scratch (free until the mixing).
struct Tile<'t, 'i> {
    input: &'t BatchInput<'i>,
    first: usize,
    spare: &'t mut [f32],
    groups: &'t mut [f32],
}

/// The first layer of a tile's rows with weights of type `V` (the model's own, or its
/// aligned `f32` copy): all sparse rows at once, otherwise row by row as
/// `forward::level0_group` computes them.
fn first_layer<W: Weight, V: Weight, K: Kernels<V>>(
    kernels: &K,
    model: &PleModel<'_, W>,
    layer: FirstLayer<'_, V>,
    tile: Tile<'_, '_>,
) -> Result<(), PleError> {
    let Tile {
        input,
        first,
        spare,
        groups,
    } = tile;
    if sparse_first_layer(kernels, model, input, first, layer, spare, groups) {
        return Ok(());
    }
    let standardisation = model.standardisation().filter(|st| !st.is_empty());
    if standardisation.is_some() && spare.is_empty() {
        return Err(PleError::ScratchLength);
    }
    for (r, group) in groups.chunks_exact_mut(layer.stride.max(1)).enumerate() {
        let row_input = row(model, input, first + r);
        level0_group_with(
            kernels,
            model.layout(),
            standardisation,
            spare,
            layer.w,
            layer.bias,
            &row_input,
            group,
        );
    }
    Ok(())
}

/// The first layer of the tile's sparse rows (those of `groups`, from row `first` of the
/// batch), as `forward::level0_group` computes it for each: the tile's numeric values
/// standardised at once ([`Kernels::standardise`], into the tower inputs, free until the
/// mixing), then every row's categories' dense rows and fused layer in one
/// [`Kernels::sparse_rows`]. Returns `false`, touching nothing, for the inputs it does not
/// take (dense rows, more than [`MAX_SPARSE_FIELDS`] fields, numeric values that do not fit
/// the tower inputs): the caller then goes row by row.
fn sparse_first_layer<W: Weight, V: Weight, K: Kernels<V>>(
    kernels: &K,
    model: &PleModel<'_, W>,
    input: &BatchInput<'_>,
    first: usize,
    layer: FirstLayer<'_, V>,
    spare: &mut [f32],
    groups: &mut [f32],
) -> bool {
    let BatchInput::Sparse {
        numeric,
        categories,
    } = *input
    else {
        return false;
    };
    let layout = model.layout();
    let (columns, fields) = (layout.numeric as usize, layout.fields());
    let stride = layer.stride.max(1);
    let count = groups.len() / stride;
    let tile = |len: usize| first * len..(first + count) * len;
    let (Some(numeric), Some(categories)) =
        (numeric.get(tile(columns)), categories.get(tile(fields)))
    else {
        return false;
    };
    if fields > MAX_SPARSE_FIELDS {
        return false;
    }
    let mut starts = [0u32; MAX_SPARSE_FIELDS];
    let mut block = layout.numeric;
    for (start, &vocab) in starts.iter_mut().zip(layout.vocab_sizes) {
        *start = block;
        block = block.saturating_add(u32::from(vocab));
    }
    let starts = starts.get(..fields).unwrap_or(&[]);
    let values = match model.standardisation().filter(|st| !st.is_empty()) {
        Some(st) => {
            let Some(values) = spare.get_mut(..numeric.len()) else {
                return false;
            };
            kernels.standardise(numeric, st.mean(), st.std(), values);
            &*values
        }
        None => numeric,
    };
    kernels.sparse_rows(values, layer.w, layer.bias, categories, starts, groups);
    true
}

/// Rows `first..first + count` (at most one tile) of a validated batch.
fn tile<W: Weight, K: Kernels<W>>(
    kernels: &K,
    model: &PleModel<'_, W>,
    input: &BatchInput<'_>,
    first: usize,
    count: usize,
    scratch: &mut [f32],
    probabilities: &mut [f32],
) -> Result<(), PleError> {
    let s = *model.shape();
    let row_len = scratch_len(&s);
    let width = s.expert_width() as usize;
    let hidden = usize::try_from(max_hidden(&s)).map_err(|_| PleError::ScratchLength)?;
    let (rows_scratch, rest) = take(scratch, row_len, count)?;
    let (tower_in, rest) = take(rest, width, count)?;
    let (ping, rest) = take(rest, hidden, count)?;
    let (pong, rest) = take(rest, hidden, count)?;
    let (logits, _) = take(rest, 1, count)?;

    // The levels, row by row, each in its own part of the scratch.
    let regions = scratch_regions(&s);
    let mut towers = model.weights();
    let mut outputs = 0;
    for (r, row_scratch) in rows_scratch.chunks_exact_mut(row_len).enumerate() {
        let mut cursor = Cursor {
            rest: model.weights(),
        };
        let row_input = row(model, input, first + r);
        outputs = levels(
            kernels,
            model,
            regions,
            &mut cursor,
            &row_input,
            row_scratch,
            None,
        )?;
        towers = cursor.rest;
    }

    // The towers, task by task, each layer one product over the tile's rows.
    let mut cursor = Cursor { rest: towers };
    for t in 0..s.tasks as usize {
        for (r, row_scratch) in rows_scratch.chunks_exact(row_len).enumerate() {
            let from = row_scratch
                .get(outputs + t * width..outputs + (t + 1) * width)
                .ok_or(PleError::ScratchLength)?;
            let to = tower_in
                .get_mut(r * width..(r + 1) * width)
                .ok_or(PleError::ScratchLength)?;
            copy(from, to);
        }
        tower_rows(
            kernels,
            &mut cursor,
            s.tower_units,
            Buffers {
                count,
                width,
                hidden,
                tower_in: &*tower_in,
                ping: &mut *ping,
                pong: &mut *pong,
                logits: &mut *logits,
            },
        )?;
        for (r, &logit) in logits.iter().enumerate() {
            let p = probabilities
                .get_mut(r * s.tasks as usize + t)
                .ok_or(PleError::OutputLength)?;
            *p = sigmoid(logit);
        }
    }
    Ok(())
}

/// The first `count` rows of `len` values, and the rest.
fn take(rest: &mut [f32], len: usize, count: usize) -> Result<(&mut [f32], &mut [f32]), PleError> {
    rest.split_at_mut_checked(len.saturating_mul(count))
        .ok_or(PleError::ScratchLength)
}

/// The tile's tower buffers, `count` rows each.
struct Buffers<'b> {
    count: usize,
    width: usize,
    hidden: usize,
    tower_in: &'b [f32],
    ping: &'b mut [f32],
    pong: &'b mut [f32],
    logits: &'b mut [f32],
}

/// One task's tower over the tile: hidden layers with ReLU, ping-ponging between two
/// buffers, then the one-unit output layer into `logits`.
fn tower_rows<W: Weight, K: Kernels<W>>(
    kernels: &K,
    cursor: &mut Cursor<'_, W>,
    units: &[u32],
    b: Buffers<'_>,
) -> Result<(), PleError> {
    #[derive(Clone, Copy)]
    enum At {
        Input,
        Ping,
        Pong,
    }
    let (mut at, mut inputs) = (At::Input, b.width);
    for &width in units {
        let width = width as usize;
        let (w, bias) = cursor.layer(inputs, width)?;
        let (src, stride, dst, next) = match at {
            At::Input => (b.tower_in, b.width, &mut *b.ping, At::Ping),
            At::Ping => (&*b.ping, b.hidden, &mut *b.pong, At::Pong),
            At::Pong => (&*b.pong, b.hidden, &mut *b.ping, At::Ping),
        };
        let tile = RowTile {
            rows: b.count,
            x_stride: stride,
            out_stride: b.hidden,
        };
        kernels.layer_rows(src, w, bias, dst, tile);
        for out in dst.chunks_mut(b.hidden) {
            kernels.relu(out.get_mut(..width).unwrap_or(&mut []));
        }
        (at, inputs) = (next, width);
    }
    let (w, bias) = cursor.layer(inputs, 1)?;
    let (src, stride) = match at {
        At::Input => (b.tower_in, b.width),
        At::Ping => (&*b.ping, b.hidden),
        At::Pong => (&*b.pong, b.hidden),
    };
    let tile = RowTile {
        rows: b.count,
        x_stride: stride,
        out_stride: 1,
    };
    kernels.layer_rows(src, w, bias, b.logits, tile);
    Ok(())
}
