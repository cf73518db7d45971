//! Post-training int8 quantisation: from a trained f32 model to the arrays of
//! [`ple_core::int8::Int8Model`].
//!
//! The numeric design (formats, bounds, rounding) is documented in [`ple_core::int8`]; this
//! module chooses the scales:
//!
//! - The normalisation is folded into the level-0 layers first ([`crate::fold`]), in f64.
//! - Numeric inputs: the input format `2^numeric_frac_bits` is the finest power of two that
//!   still holds four times the largest calibration value in an `i32`; each column is then
//!   rescaled to `i16` so that twice its largest calibration magnitude maps to 32767.
//! - First layer, per output: the weight scale is the largest of what its category weights
//!   (`max |w| / 127`, symmetric), its numeric weights and its bias need to respect the
//!   overflow bounds of the integer layer; the accumulator then gets as many extra fraction
//!   bits (`category_shift`) as those bounds allow, which keeps the numeric weights and the
//!   bias precise to about 2^-15 of their range.
//! - Other dense layers: symmetric per-output-channel weight scales `max |w| / 127`; biases in
//!   units of input scale times weight scale.
//! - Activations: each expert and tower layer's output scale is its largest value over the
//!   calibration rows (an f64 forward pass of the folded model) divided by 32767. A gate's
//!   mixed output takes the largest scale among the experts it mixes (exact, no clipping).
//! - Gate and output logits are Q16, probabilities Q15: fixed formats, nothing to calibrate.
//!
//! Every multiplier between two scales becomes a [`Requant`] (31-bit mantissa, right shift).

use std::fmt;

use ple_core::input::{InputLayout, UNKNOWN_CATEGORY};
use ple_core::int8::{
    category_weights_len, DenseLayers, Int8Error, Int8Input, Int8Model, Requant, SparseLayer,
    SparseOutput, CATEGORY_SUM_LIMIT, FIRST_BIAS_LIMIT, NUMERIC_WEIGHT_SUM_LIMIT,
};
use ple_core::shape::Block;
use ple_core::PleShape;

use crate::feature_spec::Normalisation;
use crate::fold::{fold_normalisation, FoldError};

mod reference;

use reference::{expert_blocks, Network, Stats};

/// Largest `i16` magnitude used for activations and numeric column values.
const I16_MAX: f64 = 32767.0;

/// Rows in sparse form: numeric values (raw, unnormalised) and one category per field.
#[derive(Clone, Copy, Debug)]
pub struct SparseRows<'a> {
    /// Row-major `[rows, numeric]` raw numeric values.
    pub numeric: &'a [f32],
    /// Row-major `[rows, fields]` category indices (or [`UNKNOWN_CATEGORY`]).
    pub categories: &'a [u16],
}

/// Why a model could not be quantised or evaluated.
#[derive(Clone, Debug, PartialEq)]
pub enum QuantiseError {
    /// The normalisation could not be folded.
    Fold(FoldError),
    /// The shape is invalid, or the input layout does not describe its input.
    Shape(String),
    /// Calibration or evaluation rows do not match the layout, or there are none.
    Rows(String),
    /// A value is NaN or infinite: `what` says where.
    NonFinite { what: String },
    /// A ratio of two scales is too large for a [`Requant`] (above 2^30).
    ScaleOutOfRange { what: String, ratio: f64 },
    /// The produced arrays were refused by the model view (a bug if it ever happens).
    Model(Int8Error),
}

impl fmt::Display for QuantiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantiseError::Fold(e) => write!(f, "int8 quantisation: {e}"),
            QuantiseError::Shape(what) => write!(f, "int8 quantisation: {what}"),
            QuantiseError::Rows(what) => write!(f, "int8 quantisation: {what}"),
            QuantiseError::NonFinite { what } => {
                write!(f, "int8 quantisation: {what} is not a finite number")
            }
            QuantiseError::ScaleOutOfRange { what, ratio } => write!(
                f,
                "int8 quantisation: {what} needs a rescaling by {ratio:e}, beyond 2^30"
            ),
            QuantiseError::Model(e) => {
                write!(f, "int8 quantisation produced an invalid model: {e}")
            }
        }
    }
}

impl std::error::Error for QuantiseError {}

impl From<FoldError> for QuantiseError {
    fn from(e: FoldError) -> Self {
        QuantiseError::Fold(e)
    }
}

/// The owned arrays of an int8 model; [`model`](Self::model) borrows them as an
/// [`Int8Model`], and codegen emits each field as a `static`.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Params {
    /// `PleShape::input_dim`.
    pub input_dim: u32,
    /// `PleShape::tasks`.
    pub tasks: u32,
    /// `PleShape::experts_per_task`.
    pub experts_per_task: u32,
    /// `PleShape::shared_experts`.
    pub shared_experts: u32,
    /// `PleShape::levels`.
    pub levels: u32,
    /// `PleShape::expert_units`.
    pub expert_units: Vec<u32>,
    /// `PleShape::tower_units`.
    pub tower_units: Vec<u32>,
    /// `InputLayout::numeric`.
    pub numeric: u32,
    /// `InputLayout::vocab_sizes`.
    pub vocab_sizes: Vec<u16>,
    /// [`SparseLayer::numeric_frac_bits`].
    pub numeric_frac_bits: u8,
    /// [`SparseLayer::numeric_prescale`].
    pub numeric_prescale: Vec<Requant>,
    /// [`SparseLayer::category_weights`].
    pub category_weights: Vec<i8>,
    /// [`SparseLayer::numeric_weights`].
    pub numeric_weights: Vec<i16>,
    /// [`SparseLayer::outputs`].
    pub sparse_outputs: Vec<SparseOutput>,
    /// [`DenseLayers::weights`].
    pub dense_weights: Vec<i8>,
    /// [`DenseLayers::bias`].
    pub dense_bias: Vec<i32>,
    /// [`DenseLayers::requant`].
    pub dense_requant: Vec<Requant>,
    /// Per gate and mixed expert, the expert's activation scale over the gate's largest, Q15.
    pub mix_ratios: Vec<u16>,
}

impl Int8Params {
    /// The network's shape.
    pub fn shape(&self) -> PleShape<'_> {
        PleShape {
            input_dim: self.input_dim,
            tasks: self.tasks,
            experts_per_task: self.experts_per_task,
            shared_experts: self.shared_experts,
            levels: self.levels,
            expert_units: &self.expert_units,
            tower_units: &self.tower_units,
        }
    }

    /// The input layout.
    pub fn layout(&self) -> InputLayout<'_> {
        InputLayout {
            numeric: self.numeric,
            vocab_sizes: &self.vocab_sizes,
        }
    }

    /// The arrays as a validated model view.
    pub fn model(&self) -> Result<Int8Model<'_>, Int8Error> {
        let sparse = SparseLayer {
            numeric_frac_bits: self.numeric_frac_bits,
            numeric_prescale: &self.numeric_prescale,
            layout: self.layout(),
            category_weights: &self.category_weights,
            numeric_weights: &self.numeric_weights,
            outputs: &self.sparse_outputs,
        };
        let dense = DenseLayers {
            weights: &self.dense_weights,
            bias: &self.dense_bias,
            requant: &self.dense_requant,
        };
        Int8Model::new(self.shape(), sparse, dense, &self.mix_ratios)
    }

    /// Converts raw numeric values to the model's integer inputs (`round(raw * 2^frac_bits)`,
    /// saturating at the `i32` range). A NaN or infinite value is an error naming its column.
    pub fn encode_numeric(&self, raw: &[f32], out: &mut [i32]) -> Result<(), QuantiseError> {
        encode_numeric(self.numeric_frac_bits, raw, out)
    }

    /// Flash bytes of the arrays (what codegen emits as statics).
    pub fn weight_bytes(&self) -> usize {
        let requants = self.numeric_prescale.len() + self.dense_requant.len();
        self.category_weights.len()
            + 2 * self.numeric_weights.len()
            + core::mem::size_of::<SparseOutput>() * self.sparse_outputs.len()
            + 4 * self.dense_bias.len()
            + 8 * requants
            + self.dense_weights.len()
            + 2 * (self.mix_ratios.len() + self.vocab_sizes.len())
    }
}

/// `round(raw * 2^frac_bits)` per value, saturating; a NaN or infinity is an error naming its
/// column.
pub fn encode_numeric(frac_bits: u8, raw: &[f32], out: &mut [i32]) -> Result<(), QuantiseError> {
    if raw.len() != out.len() {
        return Err(QuantiseError::Rows(format!(
            "{} numeric values for {} columns",
            raw.len(),
            out.len()
        )));
    }
    let scale = f64::from(1u32 << frac_bits.min(30));
    for (column, (o, &x)) in out.iter_mut().zip(raw).enumerate() {
        if !x.is_finite() {
            return Err(QuantiseError::NonFinite {
                what: format!("numeric column {column} ({x})"),
            });
        }
        // `as` saturates at the i32 range.
        *o = (f64::from(x) * scale).round() as i32;
    }
    Ok(())
}

/// The category of each field from the dense one-hot columns of a row (as a trainer's sparse
/// rows hold them; `u32::MAX` or any column outside the field's block means unknown).
pub fn categories_from_columns(layout: &InputLayout<'_>, columns: &[u32], out: &mut [u16]) {
    let mut start = layout.numeric;
    for ((&size, &column), o) in layout.vocab_sizes.iter().zip(columns).zip(out.iter_mut()) {
        let end = start + u32::from(size);
        *o = if (start..end).contains(&column) {
            (column - start) as u16
        } else {
            UNKNOWN_CATEGORY
        };
        start = end;
    }
}

/// Options of [`quantise`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantiseOptions {
    /// At most this many calibration rows are used (the first ones).
    pub max_calibration_rows: usize,
    /// A numeric column's `i16` range covers this many times its largest calibration value.
    pub numeric_headroom: f64,
}

impl Default for QuantiseOptions {
    fn default() -> Self {
        QuantiseOptions {
            max_calibration_rows: 20_000,
            numeric_headroom: 2.0,
        }
    }
}

/// Quantises a model: canonical f32 `parameters` of `shape` (weights `[out, in]`), the
/// training `normalisation` (folded into the first layers; `None` if the parameters already
/// take raw values), the input `layout`, and calibration rows from the training split.
pub fn quantise(
    shape: &PleShape<'_>,
    parameters: &[f32],
    normalisation: Option<&Normalisation>,
    layout: &InputLayout<'_>,
    calibration: SparseRows<'_>,
    options: &QuantiseOptions,
) -> Result<Int8Params, QuantiseError> {
    shape
        .validate()
        .map_err(|e| QuantiseError::Shape(e.to_string()))?;
    layout
        .validate_for(shape)
        .map_err(|_| QuantiseError::Shape("the input layout does not match the shape".into()))?;
    let mut folded = parameters.to_vec();
    if let Some(norm) = normalisation {
        fold_normalisation(shape, &mut folded, norm)?;
    }
    let net = Network::new(shape, &folded)?;
    let rows = check_rows(layout, &calibration)?.min(options.max_calibration_rows);
    if rows == 0 {
        return Err(QuantiseError::Rows("no calibration rows".into()));
    }
    let numeric = layout.numeric as usize;
    let mut stats = Stats::default();
    let mut numeric_max = vec![0f64; numeric];
    for row in 0..rows {
        let (x, c) = row_of(layout, &calibration, row);
        for (m, &v) in numeric_max.iter_mut().zip(x) {
            *m = m.max(f64::from(v).abs());
        }
        net.forward(layout, x, c, Some(&mut stats));
    }
    Builder {
        shape,
        layout,
        net: &net,
        stats: &stats,
        options,
    }
    .build(&numeric_max)
}

fn check_rows(layout: &InputLayout<'_>, rows: &SparseRows<'_>) -> Result<usize, QuantiseError> {
    let (numeric, fields) = (layout.numeric as usize, layout.fields());
    let count = rows
        .numeric
        .len()
        .checked_div(numeric)
        .unwrap_or(rows.categories.len() / fields.max(1));
    if rows.numeric.len() != count * numeric || rows.categories.len() != count * fields {
        return Err(QuantiseError::Rows(format!(
            "{} numeric values and {} categories do not make whole rows of {numeric} and {fields}",
            rows.numeric.len(),
            rows.categories.len()
        )));
    }
    if let Some(i) = rows.numeric.iter().position(|v| !v.is_finite()) {
        return Err(QuantiseError::NonFinite {
            what: format!(
                "row {} numeric column {}",
                i / numeric.max(1),
                i % numeric.max(1)
            ),
        });
    }
    Ok(count)
}

fn row_of<'r>(
    layout: &InputLayout<'_>,
    rows: &SparseRows<'r>,
    row: usize,
) -> (&'r [f32], &'r [u16]) {
    let (n, f) = (layout.numeric as usize, layout.fields());
    (
        &rows.numeric[row * n..(row + 1) * n],
        &rows.categories[row * f..(row + 1) * f],
    )
}

/// Runs the int8 model and the f64 reference (of the same folded parameters) on `rows`:
/// per row and task, the reference logit and the int8 Q16 logit (divide by 65536).
pub fn compare_logits(
    params: &Int8Params,
    parameters: &[f32],
    normalisation: Option<&Normalisation>,
    rows: SparseRows<'_>,
) -> Result<Vec<[f64; 2]>, QuantiseError> {
    let shape = params.shape();
    let layout = params.layout();
    let mut folded = parameters.to_vec();
    if let Some(norm) = normalisation {
        fold_normalisation(&shape, &mut folded, norm)?;
    }
    let net = Network::new(&shape, &folded)?;
    let model = params.model().map_err(QuantiseError::Model)?;
    let count = check_rows(&layout, &rows)?;
    let tasks = shape.tasks as usize;
    let mut scratch = vec![0i32; model.scratch_words()];
    let (mut logits, mut probabilities) = (vec![0i32; tasks], vec![0u16; tasks]);
    let mut numeric = vec![0i32; layout.numeric as usize];
    let mut out = Vec::with_capacity(count * tasks);
    for row in 0..count {
        let (x, c) = row_of(&layout, &rows, row);
        let reference = net.forward(&layout, x, c, None);
        params.encode_numeric(x, &mut numeric)?;
        let input = Int8Input {
            numeric: &numeric,
            categories: c,
        };
        model
            .predict(&input, &mut scratch, &mut logits, &mut probabilities)
            .map_err(|e| QuantiseError::Rows(format!("row {row}: {e}")))?;
        for (r, &l) in reference.iter().zip(&logits) {
            out.push([*r, f64::from(l) / 65536.0]);
        }
    }
    Ok(out)
}

/// A real multiplier as a [`Requant`].
pub fn requant_from_real(ratio: f64, what: &str) -> Result<Requant, QuantiseError> {
    if !ratio.is_finite() || ratio < 0.0 {
        return Err(QuantiseError::NonFinite {
            what: what.to_string(),
        });
    }
    if ratio == 0.0 {
        return Ok(Requant::new(0, 31));
    }
    let mut exponent = ratio.log2().floor() as i32 + 1;
    let mut mantissa = (ratio / 2f64.powi(exponent) * 2f64.powi(31)).round();
    while mantissa >= 2f64.powi(31) {
        mantissa /= 2.0;
        exponent += 1;
    }
    while mantissa < 2f64.powi(30) {
        mantissa *= 2.0;
        exponent -= 1;
    }
    let shift = 31 - exponent;
    if shift < 1 {
        return Err(QuantiseError::ScaleOutOfRange {
            what: what.to_string(),
            ratio,
        });
    }
    if shift > 63 {
        return Ok(Requant::new(0, 31));
    }
    Ok(Requant::new(mantissa as i32, shift as u8))
}

struct Builder<'b, 's> {
    shape: &'b PleShape<'s>,
    layout: &'b InputLayout<'b>,
    net: &'b Network<'s>,
    stats: &'b Stats,
    options: &'b QuantiseOptions,
}

fn activation_scale(max: f64) -> f64 {
    max.max(1e-6) / I16_MAX
}

impl Builder<'_, '_> {
    fn act_scale(&self, block: Block) -> f64 {
        activation_scale(self.stats.max.get(&block).copied().unwrap_or(0.0))
    }

    /// Scale of the mixed output of a gate: the largest final-layer scale among its experts.
    fn members(&self, level: u32, gate: Option<u32>) -> Vec<f64> {
        let blocks = expert_blocks(self.shape);
        let last = self.shape.expert_units.len() as u32 - 1;
        let per_task = self.shape.experts_per_task as usize;
        let own = self.shape.tasks as usize * per_task;
        let members: Vec<usize> = match gate {
            Some(t) => (t as usize * per_task..(t as usize + 1) * per_task)
                .chain(own..blocks.len())
                .collect(),
            None => (0..blocks.len()).collect(),
        };
        members
            .iter()
            .map(|&e| self.act_scale(blocks[e](level, last)))
            .collect()
    }

    fn build(&self, numeric_max: &[f64]) -> Result<Int8Params, QuantiseError> {
        let shape = self.shape;
        let largest = numeric_max.iter().copied().fold(0.0, f64::max);
        let mut frac_bits = 0u8;
        while frac_bits < 16
            && 4.0 * largest * 2f64.powi(i32::from(frac_bits) + 1) <= f64::from(i32::MAX)
        {
            frac_bits += 1;
        }
        let column_step: Vec<f64> = numeric_max
            .iter()
            .map(|&m| {
                if m > 0.0 {
                    m * self.options.numeric_headroom / I16_MAX
                } else {
                    2f64.powi(-i32::from(frac_bits))
                }
            })
            .collect();
        let numeric_prescale = column_step
            .iter()
            .enumerate()
            .map(|(j, &c)| {
                requant_from_real(
                    2f64.powi(-i32::from(frac_bits)) / c,
                    &format!("numeric column {j}"),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;

        let mut p = Int8Params {
            input_dim: shape.input_dim,
            tasks: shape.tasks,
            experts_per_task: shape.experts_per_task,
            shared_experts: shape.shared_experts,
            levels: shape.levels,
            expert_units: shape.expert_units.to_vec(),
            tower_units: shape.tower_units.to_vec(),
            numeric: self.layout.numeric,
            vocab_sizes: self.layout.vocab_sizes.to_vec(),
            numeric_frac_bits: frac_bits,
            numeric_prescale,
            category_weights: Vec::new(),
            numeric_weights: Vec::new(),
            sparse_outputs: Vec::new(),
            dense_weights: Vec::new(),
            dense_bias: Vec::new(),
            dense_requant: Vec::new(),
            mix_ratios: Vec::new(),
        };
        self.first_layer(&mut p, &column_step)?;
        self.dense_layers(&mut p)?;
        for level in 0..shape.levels {
            let gates = (0..shape.tasks)
                .map(Some)
                .chain(shape.has_shared_gate(level).then_some(None));
            for gate in gates {
                let scales = self.members(level, gate);
                let max = scales.iter().copied().fold(0.0, f64::max);
                p.mix_ratios.extend(
                    scales
                        .iter()
                        .map(|s| (s / max * 32768.0).round().min(32768.0) as u16),
                );
            }
        }
        p.model().map_err(QuantiseError::Model)?;
        Ok(p)
    }

    /// The level-0 blocks of the sparse layer, in output order, with their output kind.
    fn sparse_blocks(&self) -> Vec<(Block, bool)> {
        let mut out: Vec<(Block, bool)> = expert_blocks(self.shape)
            .iter()
            .map(|b| (b(0, 0), true))
            .collect();
        out.extend((0..self.shape.tasks).map(|task| (Block::TaskGate { level: 0, task }, false)));
        if self.shape.has_shared_gate(0) {
            out.push((Block::SharedGate { level: 0 }, false));
        }
        out
    }

    fn first_layer(&self, p: &mut Int8Params, column_step: &[f64]) -> Result<(), QuantiseError> {
        let numeric = self.layout.numeric as usize;
        let numeric_stride = numeric.div_ceil(2) * 2;
        let fields = self.layout.fields() as i64;
        let rows = self.shape.input_dim as usize - numeric;
        let mut columns: Vec<Vec<i8>> = Vec::new(); // per output, its category weights
        for (block, relu) in self.sparse_blocks() {
            let (layer, w, b) = self.net.layer(block);
            let out_scale = if relu {
                self.act_scale(block)
            } else {
                2f64.powi(-16)
            };
            for (o, row) in w.chunks_exact(layer.inputs as usize).enumerate() {
                let (num, cat) = row.split_at(numeric);
                let bias = b[o];
                let contrib: Vec<f64> = num.iter().zip(column_step).map(|(w, c)| w * c).collect();
                let contrib_sum: f64 = contrib.iter().map(|v| v.abs()).sum();
                let numeric_room = NUMERIC_WEIGHT_SUM_LIMIT as f64 - numeric as f64;
                let cat_max = cat.iter().fold(0.0f64, |m, w| m.max(w.abs()));
                let mut scale = (cat_max / 127.0)
                    .max(contrib_sum / numeric_room)
                    .max(bias.abs() / (FIRST_BIAS_LIMIT as f64 - 1.0));
                if scale == 0.0 {
                    scale = 1.0;
                }
                let mut shift = 0u8;
                while shift < 24 {
                    let m = 2f64.powi(i32::from(shift) + 1);
                    let ok = (fields * 128) << (shift + 1) <= CATEGORY_SUM_LIMIT
                        && contrib_sum * m / scale <= numeric_room
                        && bias.abs() * m / scale + 0.5 <= FIRST_BIAS_LIMIT as f64;
                    if !ok {
                        break;
                    }
                    shift += 1;
                }
                let unit = scale / 2f64.powi(i32::from(shift));
                columns.push(
                    cat.iter()
                        .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8)
                        .collect(),
                );
                let mut nq: Vec<i16> = contrib.iter().map(|v| (v / unit).round() as i16).collect();
                nq.resize(numeric_stride, 0);
                p.numeric_weights.extend(nq);
                let requant = requant_from_real(unit / out_scale, &format!("{block} output {o}"))?;
                p.sparse_outputs.push(SparseOutput {
                    bias: (bias / unit).round() as i32,
                    multiplier: requant.multiplier,
                    right_shift: requant.right_shift,
                    category_shift: shift,
                });
            }
        }
        let stride = columns.len();
        p.category_weights = vec![0; category_weights_len(rows, stride)];
        for (o, column) in columns.iter().enumerate() {
            for (r, &w) in column.iter().enumerate() {
                p.category_weights[r * stride + o] = w;
            }
        }
        Ok(())
    }

    fn dense_layers(&self, p: &mut Int8Params) -> Result<(), QuantiseError> {
        let shape = self.shape;
        let tasks = shape.tasks;
        let mix_scale = |level: u32, gate: Option<u32>| {
            self.members(level, gate).into_iter().fold(0.0, f64::max)
        };
        for layer in shape.layers() {
            let block = layer.block;
            let (input_scale, output_scale) = match block {
                Block::TaskExpert {
                    level: 0, layer: 0, ..
                }
                | Block::SharedExpert {
                    level: 0, layer: 0, ..
                }
                | Block::TaskGate { level: 0, .. }
                | Block::SharedGate { level: 0 } => continue,
                Block::TaskExpert {
                    level,
                    task,
                    expert,
                    layer,
                } => {
                    let input = if layer > 0 {
                        self.act_scale(Block::TaskExpert {
                            level,
                            task,
                            expert,
                            layer: layer - 1,
                        })
                    } else {
                        mix_scale(level - 1, Some(task))
                    };
                    (input, self.act_scale(block))
                }
                Block::SharedExpert {
                    level,
                    expert,
                    layer,
                } => {
                    let input = if layer > 0 {
                        self.act_scale(Block::SharedExpert {
                            level,
                            expert,
                            layer: layer - 1,
                        })
                    } else {
                        mix_scale(level - 1, None)
                    };
                    (input, self.act_scale(block))
                }
                Block::TaskGate { level, task } => {
                    (mix_scale(level - 1, Some(task)), 2f64.powi(-16))
                }
                Block::SharedGate { level } => (mix_scale(level - 1, None), 2f64.powi(-16)),
                Block::Tower { task, layer } => {
                    let input = if layer > 0 {
                        self.act_scale(Block::Tower {
                            task,
                            layer: layer - 1,
                        })
                    } else {
                        mix_scale(shape.levels - 1, Some(task))
                    };
                    (input, self.act_scale(block))
                }
                Block::Output { task } => {
                    let input = match shape.tower_units.len() as u32 {
                        0 => mix_scale(shape.levels - 1, Some(task)),
                        n => self.act_scale(Block::Tower { task, layer: n - 1 }),
                    };
                    (input, 2f64.powi(-16))
                }
            };
            debug_assert!(tasks > 0);
            let (_, w, b) = self.net.layer(block);
            for (o, row) in w.chunks_exact(layer.inputs as usize).enumerate() {
                // The bias must fit in i32 (with room for the dot product): a tiny input scale
                // (an activation that never fired in calibration) raises the weight scale.
                let max = row.iter().fold(0.0f64, |m, w| m.max(w.abs()));
                let weight_scale = (max / 127.0).max(b[o].abs() / (input_scale * 2f64.powi(30)));
                let weight_scale = if weight_scale > 0.0 {
                    weight_scale
                } else {
                    1.0
                };
                p.dense_weights.extend(
                    row.iter()
                        .map(|w| (w / weight_scale).round().clamp(-127.0, 127.0) as i8),
                );
                let unit = input_scale * weight_scale;
                // `as` saturates: a bias beyond i32 saturates the accumulator anyway.
                p.dense_bias.push((b[o] / unit).round() as i32);
                p.dense_requant.push(requant_from_real(
                    unit / output_scale,
                    &format!("{block} output {o}"),
                )?);
            }
        }
        Ok(())
    }
}
