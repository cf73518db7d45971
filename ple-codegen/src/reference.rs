//! A deliberately plain PLE forward pass over canonical parameters, in f64, for tests: it
//! follows the network description of [`ple_core::shape`] line by line, nothing more.

use ple_core::PleShape;

use crate::model_file::parameter_ranges;

/// A small deterministic generator (SplitMix64) for test parameters and inputs.
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Parameters for `shape` drawn uniformly from [-0.5, 0.5).
pub(crate) fn random_parameters(shape: &PleShape<'_>, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix(seed);
    (0..shape.parameter_count())
        .map(|_| rng.uniform() * 0.5)
        .collect()
}

/// Reads dense layers from the parameter vector in canonical order.
struct Layers<'p> {
    params: &'p [f32],
    ranges: std::vec::IntoIter<(ple_core::shape::Tensor, std::ops::Range<usize>)>,
}

impl Layers<'_> {
    fn dense(&mut self, x: &[f64], relu: bool) -> Vec<f64> {
        let (w, wr) = self.ranges.next().expect("weight");
        let (_, br) = self.ranges.next().expect("bias");
        assert_eq!(w.layer.inputs as usize, x.len(), "{w}");
        let (weights, biases) = (&self.params[wr], &self.params[br]);
        weights
            .chunks_exact(x.len())
            .zip(biases)
            .map(|(row, &b)| {
                let y = row
                    .iter()
                    .zip(x)
                    .map(|(&w, &x)| f64::from(w) * x)
                    .sum::<f64>()
                    + f64::from(b);
                if relu {
                    y.max(0.0)
                } else {
                    y
                }
            })
            .collect()
    }

    fn expert(&mut self, x: &[f64], depth: usize) -> Vec<f64> {
        (0..depth).fold(x.to_vec(), |h, _| self.dense(&h, true))
    }

    fn gate_mix(&mut self, x: &[f64], experts: &[&Vec<f64>]) -> Vec<f64> {
        let logits = self.dense(x, false);
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
        let total: f64 = exps.iter().sum();
        let mut out = vec![0.0; experts[0].len()];
        for (e, weight) in experts.iter().zip(&exps) {
            for (o, v) in out.iter_mut().zip(e.iter()) {
                *o += weight / total * v;
            }
        }
        out
    }
}

/// Each task's probability for the dense input `input`.
pub(crate) fn forward(shape: &PleShape<'_>, params: &[f32], input: &[f32]) -> Vec<f32> {
    let mut layers = Layers {
        params,
        ranges: parameter_ranges(shape).into_iter(),
    };
    let (tasks, per_task) = (shape.tasks as usize, shape.experts_per_task as usize);
    let depth = shape.expert_units.len();
    let input: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
    let mut task_in = vec![input.clone(); tasks];
    let mut shared_in = input;
    for level in 0..shape.levels {
        let own: Vec<Vec<Vec<f64>>> = (0..tasks)
            .map(|t| {
                (0..per_task)
                    .map(|_| layers.expert(&task_in[t], depth))
                    .collect()
            })
            .collect();
        let shared: Vec<Vec<f64>> = (0..shape.shared_experts)
            .map(|_| layers.expert(&shared_in, depth))
            .collect();
        let task_out: Vec<Vec<f64>> = (0..tasks)
            .map(|t| {
                let experts: Vec<&Vec<f64>> = own[t].iter().chain(&shared).collect();
                layers.gate_mix(&task_in[t], &experts)
            })
            .collect();
        if shape.has_shared_gate(level) {
            let experts: Vec<&Vec<f64>> = own.iter().flatten().chain(&shared).collect();
            shared_in = layers.gate_mix(&shared_in, &experts);
        }
        task_in = task_out;
    }
    task_in
        .iter()
        .map(|x| {
            let hidden =
                (0..shape.tower_units.len()).fold(x.clone(), |h, _| layers.dense(&h, true));
            let logit = layers.dense(&hidden, false)[0];
            (1.0 / (1.0 + (-logit).exp())) as f32
        })
        .collect()
}
