//! The f64 forward pass of a folded PLE on sparse rows: the reference the int8 model is
//! compared with, and the source of the activation statistics calibration needs.

use std::collections::HashMap;

use ple_core::input::{InputLayout, UNKNOWN_CATEGORY};
use ple_core::shape::{Block, Layer, Param};
use ple_core::PleShape;

use super::QuantiseError;
use crate::model_file::parameter_ranges;

/// Calibration statistics: the largest output of every ReLU layer.
#[derive(Default)]
pub(super) struct Stats {
    pub(super) max: HashMap<Block, f64>,
}

impl Stats {
    fn record(&mut self, block: Block, values: &[f64]) {
        let m = values.iter().copied().fold(0.0, f64::max);
        let e = self.max.entry(block).or_insert(0.0);
        *e = e.max(m);
    }
}

/// The folded f64 parameters, by layer.
pub(super) struct Network<'s> {
    shape: PleShape<'s>,
    layers: Vec<(Layer, Vec<f64>, Vec<f64>)>,
    index: HashMap<Block, usize>,
}

impl<'s> Network<'s> {
    pub(super) fn new(shape: &PleShape<'s>, parameters: &[f32]) -> Result<Self, QuantiseError> {
        if parameters.len() != shape.parameter_count() {
            return Err(QuantiseError::Shape(format!(
                "{} parameters for a shape of {}",
                parameters.len(),
                shape.parameter_count()
            )));
        }
        let mut layers: Vec<(Layer, Vec<f64>, Vec<f64>)> = Vec::new();
        for (tensor, range) in parameter_ranges(shape) {
            let values = &parameters[range];
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(QuantiseError::NonFinite {
                    what: format!("{tensor}[{i}]"),
                });
            }
            let values: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
            match tensor.param {
                Param::Weight => layers.push((tensor.layer, values, Vec::new())),
                Param::Bias => {
                    if let Some(last) = layers.last_mut() {
                        last.2 = values;
                    }
                }
            }
        }
        let index = layers
            .iter()
            .enumerate()
            .map(|(i, l)| (l.0.block, i))
            .collect();
        Ok(Network {
            shape: *shape,
            layers,
            index,
        })
    }

    pub(super) fn layer(&self, block: Block) -> &(Layer, Vec<f64>, Vec<f64>) {
        &self.layers[self.index[&block]]
    }

    fn dense(
        &self,
        block: Block,
        x: &[f64],
        relu: bool,
        stats: &mut Option<&mut Stats>,
    ) -> Vec<f64> {
        let (_, w, b) = self.layer(block);
        let out: Vec<f64> = w
            .chunks_exact(x.len())
            .zip(b)
            .map(|(row, &b)| {
                let y = row.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + b;
                if relu {
                    y.max(0.0)
                } else {
                    y
                }
            })
            .collect();
        if let (true, Some(s)) = (relu, stats.as_deref_mut()) {
            s.record(block, &out);
        }
        out
    }

    /// The first layer of a level-0 block on a sparse row.
    fn sparse_dense(
        &self,
        block: Block,
        layout: &InputLayout<'_>,
        x: &[f32],
        c: &[u16],
        relu: bool,
    ) -> Vec<f64> {
        let (layer, w, b) = self.layer(block);
        let inputs = layer.inputs as usize;
        let columns = active_columns(layout, c);
        w.chunks_exact(inputs)
            .zip(b)
            .map(|(row, &b)| {
                let y = b
                    + row
                        .iter()
                        .zip(x)
                        .map(|(w, &x)| w * f64::from(x))
                        .sum::<f64>()
                    + columns.iter().map(|&j| row[j]).sum::<f64>();
                if relu {
                    y.max(0.0)
                } else {
                    y
                }
            })
            .collect()
    }

    /// The reference logits of one row, recording activation maxima into `stats`.
    pub(super) fn forward(
        &self,
        layout: &InputLayout<'_>,
        x: &[f32],
        c: &[u16],
        mut stats: Option<&mut Stats>,
    ) -> Vec<f64> {
        let shape = &self.shape;
        let (tasks, per_task) = (shape.tasks as usize, shape.experts_per_task as usize);
        let depth = shape.expert_units.len() as u32;
        let blocks = expert_blocks(shape);
        let mut task_in: Vec<Vec<f64>> = Vec::new();
        let mut shared_in: Vec<f64> = Vec::new();
        for level in 0..shape.levels {
            let first =
                |block: Block, input: &[f64], relu: bool, stats: &mut Option<&mut Stats>| {
                    if level == 0 {
                        let out = self.sparse_dense(block, layout, x, c, relu);
                        if let (true, Some(s)) = (relu, stats.as_deref_mut()) {
                            s.record(block, &out);
                        }
                        out
                    } else {
                        self.dense(block, input, relu, stats)
                    }
                };
            let mut outputs = Vec::new();
            for (e, make) in blocks.iter().enumerate() {
                let input: &[f64] = if level == 0 {
                    &[]
                } else if e < tasks * per_task {
                    &task_in[e / per_task]
                } else {
                    &shared_in
                };
                let mut h = first(make(level, 0), input, true, &mut stats);
                for k in 1..depth {
                    h = self.dense(make(level, k), &h, true, &mut stats);
                }
                outputs.push(h);
            }
            let mut next = Vec::new();
            for t in 0..tasks {
                let input: &[f64] = task_in.get(t).map_or(&[], Vec::as_slice);
                let logits = first(
                    Block::TaskGate {
                        level,
                        task: t as u32,
                    },
                    input,
                    false,
                    &mut stats,
                );
                let members: Vec<usize> = (t * per_task..(t + 1) * per_task)
                    .chain(tasks * per_task..blocks.len())
                    .collect();
                next.push(mix(&logits, &members, &outputs));
            }
            if shape.has_shared_gate(level) {
                let input: &[f64] = if level == 0 { &[] } else { &shared_in };
                let logits = first(Block::SharedGate { level }, input, false, &mut stats);
                let members: Vec<usize> = (0..blocks.len()).collect();
                shared_in = mix(&logits, &members, &outputs);
            }
            task_in = next;
        }
        task_in
            .iter()
            .enumerate()
            .map(|(t, h)| {
                let task = t as u32;
                let mut h = h.clone();
                for layer in 0..shape.tower_units.len() as u32 {
                    h = self.dense(Block::Tower { task, layer }, &h, true, &mut stats);
                }
                self.dense(Block::Output { task }, &h, false, &mut stats)[0]
            })
            .collect()
    }
}

fn active_columns(layout: &InputLayout<'_>, c: &[u16]) -> Vec<usize> {
    let mut start = layout.numeric as usize;
    let mut out = Vec::with_capacity(c.len());
    for (&size, &cat) in layout.vocab_sizes.iter().zip(c) {
        if cat != UNKNOWN_CATEGORY && cat < size {
            out.push(start + usize::from(cat));
        }
        start += usize::from(size);
    }
    out
}

fn mix(logits: &[f64], members: &[usize], outputs: &[Vec<f64>]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    let mut out = vec![0.0; outputs[members[0]].len()];
    for (&e, weight) in members.iter().zip(&exps) {
        for (o, v) in out.iter_mut().zip(&outputs[e]) {
            *o += weight / total * v;
        }
    }
    out
}

pub(super) type ExpertBlock = Box<dyn Fn(u32, u32) -> Block>;

/// For every expert of a level in canonical order, its block at (level, layer).
pub(super) fn expert_blocks(shape: &PleShape<'_>) -> Vec<ExpertBlock> {
    let mut out: Vec<ExpertBlock> = Vec::new();
    for task in 0..shape.tasks {
        for expert in 0..shape.experts_per_task {
            out.push(Box::new(move |level, layer| Block::TaskExpert {
                level,
                task,
                expert,
                layer,
            }));
        }
    }
    for expert in 0..shape.shared_experts {
        out.push(Box::new(move |level, layer| Block::SharedExpert {
            level,
            expert,
            layer,
        }));
    }
    out
}
