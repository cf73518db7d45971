//! Shared helpers of the integration tests: random models and a straightforward f64
//! reference forward pass written from the network definition in `ple_core::shape`.
#![allow(dead_code)]

use std::collections::HashMap;

use ple_core::shape::{Block, PleShape};
use ple_core::PADDLEREC_DEFAULT;
use proptest::prelude::*;

/// The default network with a Census-like layout (11 numeric columns, 29 categorical fields,
/// 488 one-hot columns): wide enough for every SIMD path (the 138-wide first layer, the
/// 8-wide towers, the one-unit outputs).
pub fn census_like() -> Net {
    Net {
        tasks: PADDLEREC_DEFAULT.tasks,
        experts_per_task: PADDLEREC_DEFAULT.experts_per_task,
        shared_experts: PADDLEREC_DEFAULT.shared_experts,
        levels: PADDLEREC_DEFAULT.levels,
        expert_units: PADDLEREC_DEFAULT.expert_units.to_vec(),
        tower_units: PADDLEREC_DEFAULT.tower_units.to_vec(),
        numeric: 11,
        vocab_sizes: vec![
            9, 52, 47, 17, 3, 24, 15, 5, 10, 2, 3, 6, 8, 6, 6, 51, 38, 8, 10, 9, 10, 3, 4, 5, 43,
            43, 43, 5, 3,
        ],
    }
}

/// `params` (canonical order) packed as f32 and as f16 weights.
pub fn packed_pair(shape: &PleShape<'_>, params: &[f32]) -> (Vec<f32>, Vec<half::f16>) {
    let mut packed = vec![0.0f32; ple_core::packed_len(shape)];
    ple_core::pack_f32(shape, params, &mut packed).unwrap();
    let mut halves = vec![half::f16::ZERO; ple_core::packed_len(shape)];
    ple_core::pack_f16(shape, params, &mut halves).unwrap();
    (packed, halves)
}

/// An owned shape plus input layout, for proptest.
#[derive(Clone, Debug)]
pub struct Net {
    pub tasks: u32,
    pub experts_per_task: u32,
    pub shared_experts: u32,
    pub levels: u32,
    pub expert_units: Vec<u32>,
    pub tower_units: Vec<u32>,
    pub numeric: u32,
    pub vocab_sizes: Vec<u16>,
}

impl Net {
    pub fn shape(&self) -> PleShape<'_> {
        PleShape {
            input_dim: self.numeric + self.vocab_sizes.iter().map(|&v| v as u32).sum::<u32>(),
            tasks: self.tasks,
            experts_per_task: self.experts_per_task,
            shared_experts: self.shared_experts,
            levels: self.levels,
            expert_units: &self.expert_units,
            tower_units: &self.tower_units,
        }
    }

    pub fn layout(&self) -> ple_core::InputLayout<'_> {
        ple_core::InputLayout {
            numeric: self.numeric,
            vocab_sizes: &self.vocab_sizes,
        }
    }
}

/// Small random networks covering PLE, CGC (one level), MMoE (no task experts), single-task,
/// deep experts, no tower, and inputs with and without categorical fields.
pub fn nets() -> impl Strategy<Value = Net> {
    (
        1u32..4,
        0u32..3,
        0u32..3,
        1u32..4,
        prop::collection::vec(1u32..9, 1..4),
        prop::collection::vec(1u32..9, 0..3),
        0u32..6,
        prop::collection::vec(1u16..7, 0..5),
    )
        .prop_filter("a task needs an expert and the input a column", |n| {
            n.1 + n.2 > 0 && n.6 + n.7.len() as u32 > 0
        })
        .prop_map(|(tasks, ept, shared, levels, eu, tu, numeric, vocab)| Net {
            tasks,
            experts_per_task: ept,
            shared_experts: shared,
            levels,
            expert_units: eu,
            tower_units: tu,
            numeric,
            vocab_sizes: vocab,
        })
}

/// A deterministic generator for weights and inputs (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[-scale, scale)`.
    pub fn uniform(&mut self, scale: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (unit * 2.0 - 1.0) * scale
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Random canonical parameters for `shape`.
pub fn canonical(shape: &PleShape<'_>, rng: &mut Rng) -> Vec<f32> {
    shape
        .tensors()
        .flat_map(|t| {
            let scale = 1.5 / (t.layer.inputs as f32).sqrt();
            (0..t.len()).map(|_| rng.uniform(scale)).collect::<Vec<_>>()
        })
        .collect()
}

/// A random sparse row (some categories unknown) and its dense equivalent.
pub fn row(net: &Net, rng: &mut Rng) -> (Vec<f32>, Vec<u16>, Vec<f32>) {
    let numeric: Vec<f32> = (0..net.numeric).map(|_| rng.uniform(2.0)).collect();
    let categories: Vec<u16> = net
        .vocab_sizes
        .iter()
        .map(|&v| {
            if rng.below(5) == 0 {
                ple_core::UNKNOWN_CATEGORY
            } else {
                rng.below(v as u64) as u16
            }
        })
        .collect();
    (
        numeric.clone(),
        categories.clone(),
        densify(net, &numeric, &categories),
    )
}

pub fn densify(net: &Net, numeric: &[f32], categories: &[u16]) -> Vec<f32> {
    let mut dense = numeric.to_vec();
    for (&c, &v) in categories.iter().zip(&net.vocab_sizes) {
        let mut block = vec![0.0; v as usize];
        if c != ple_core::UNKNOWN_CATEGORY {
            block[c as usize] = 1.0;
        }
        dense.extend(block);
    }
    dense
}

/// Probabilities and gate weights of the reference forward pass.
pub struct Reference {
    pub probabilities: Vec<f64>,
    pub gates: Vec<f64>,
}

/// The network of `ple_core::shape`'s documentation, computed in f64 from the canonical
/// `[outputs, inputs]` tensors, one block at a time.
pub fn reference(shape: &PleShape<'_>, canonical: &[f32], x: &[f32]) -> Reference {
    type DenseLayer<'p> = (usize, usize, &'p [f32], &'p [f32]);
    let mut layers: HashMap<Block, DenseLayer<'_>> = HashMap::new();
    let mut at = 0;
    for l in shape.layers() {
        let (i, o) = (l.inputs as usize, l.outputs as usize);
        let w = &canonical[at..at + i * o];
        let b = &canonical[at + i * o..at + i * o + o];
        layers.insert(l.block, (i, o, w, b));
        at += (i + 1) * o;
    }
    assert_eq!(at, canonical.len());
    let dense = |block: Block, x: &[f64]| -> Vec<f64> {
        let (i, o, w, b) = layers[&block];
        assert_eq!(x.len(), i);
        (0..o)
            .map(|r| b[r] as f64 + (0..i).map(|c| w[r * i + c] as f64 * x[c]).sum::<f64>())
            .collect()
    };
    let relu = |v: Vec<f64>| v.into_iter().map(|a| a.max(0.0)).collect::<Vec<_>>();
    let softmax = |v: Vec<f64>| {
        let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = v.iter().map(|a| (a - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.into_iter().map(|a| a / s).collect::<Vec<_>>()
    };
    let mix = |g: &[f64], experts: &[&Vec<f64>]| {
        let mut out = vec![0.0; experts[0].len()];
        for (w, e) in g.iter().zip(experts) {
            for (o, v) in out.iter_mut().zip(e.iter()) {
                *o += w * v;
            }
        }
        out
    };
    let units = shape.expert_units.len() as u32;
    let x: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let tasks = shape.tasks as usize;
    let mut task_in = vec![x.clone(); tasks];
    let mut shared_in = x;
    let mut gates = Vec::new();
    for level in 0..shape.levels {
        let own: Vec<Vec<Vec<f64>>> = (0..shape.tasks)
            .map(|task| {
                (0..shape.experts_per_task)
                    .map(|expert| {
                        (0..units).fold(task_in[task as usize].clone(), |h, layer| {
                            relu(dense(
                                Block::TaskExpert {
                                    level,
                                    task,
                                    expert,
                                    layer,
                                },
                                &h,
                            ))
                        })
                    })
                    .collect()
            })
            .collect();
        let shared: Vec<Vec<f64>> = (0..shape.shared_experts)
            .map(|expert| {
                (0..units).fold(shared_in.clone(), |h, layer| {
                    relu(dense(
                        Block::SharedExpert {
                            level,
                            expert,
                            layer,
                        },
                        &h,
                    ))
                })
            })
            .collect();
        let mut next = Vec::new();
        for task in 0..shape.tasks {
            let g = softmax(dense(
                Block::TaskGate { level, task },
                &task_in[task as usize],
            ));
            let experts: Vec<&Vec<f64>> = own[task as usize].iter().chain(&shared).collect();
            next.push(mix(&g, &experts));
            gates.extend(g);
        }
        if shape.has_shared_gate(level) {
            let g = softmax(dense(Block::SharedGate { level }, &shared_in));
            let experts: Vec<&Vec<f64>> = own.iter().flatten().chain(&shared).collect();
            shared_in = mix(&g, &experts);
            gates.extend(g);
        }
        task_in = next;
    }
    let probabilities = (0..shape.tasks)
        .map(|task| {
            let h = (0..shape.tower_units.len() as u32)
                .fold(task_in[task as usize].clone(), |h, layer| {
                    relu(dense(Block::Tower { task, layer }, &h))
                });
            let logit = dense(Block::Output { task }, &h)[0];
            1.0 / (1.0 + (-logit).exp())
        })
        .collect();
    Reference {
        probabilities,
        gates,
    }
}
