//! Int8 quantisation against the f64 reference of the same folded model, on random models.

use ple_codegen::quantise::{compare_logits, quantise, QuantiseOptions, SparseRows};
use ple_codegen::Normalisation;
use ple_core::input::{InputLayout, UNKNOWN_CATEGORY};
use ple_core::PleShape;
use proptest::prelude::*;

/// SplitMix64: deterministic test data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random problem: shape, layout, parameters, normalisation, rows.
struct Problem {
    expert_units: Vec<u32>,
    tower_units: Vec<u32>,
    tasks: u32,
    experts_per_task: u32,
    shared_experts: u32,
    levels: u32,
    numeric: u32,
    vocab: Vec<u16>,
    parameters: Vec<f32>,
    normalisation: Normalisation,
    numeric_rows: Vec<f32>,
    category_rows: Vec<u16>,
}

impl Problem {
    fn shape(&self) -> PleShape<'_> {
        PleShape {
            input_dim: self.numeric + self.vocab.iter().map(|&v| u32::from(v)).sum::<u32>(),
            tasks: self.tasks,
            experts_per_task: self.experts_per_task,
            shared_experts: self.shared_experts,
            levels: self.levels,
            expert_units: &self.expert_units,
            tower_units: &self.tower_units,
        }
    }

    fn layout(&self) -> InputLayout<'_> {
        InputLayout {
            numeric: self.numeric,
            vocab_sizes: &self.vocab,
        }
    }

    fn new(seed: u64, rows: usize) -> Problem {
        let mut rng = Rng(seed);
        let numeric = rng.below(5) as u32;
        let fields = 1 + rng.below(6) as usize;
        let vocab: Vec<u16> = (0..fields).map(|_| 1 + rng.below(7) as u16).collect();
        let expert_units: Vec<u32> = (0..1 + rng.below(2))
            .map(|_| 1 + rng.below(12) as u32)
            .collect();
        let tower_units: Vec<u32> = (0..rng.below(3)).map(|_| 1 + rng.below(8) as u32).collect();
        let mut p = Problem {
            expert_units,
            tower_units,
            tasks: 1 + rng.below(3) as u32,
            experts_per_task: rng.below(3) as u32,
            shared_experts: 1 + rng.below(2) as u32,
            levels: 1 + rng.below(2) as u32,
            numeric,
            vocab,
            parameters: Vec::new(),
            normalisation: Normalisation {
                mean: Vec::new(),
                std: Vec::new(),
            },
            numeric_rows: Vec::new(),
            category_rows: Vec::new(),
        };
        let count = p.shape().parameter_count();
        p.parameters = (0..count).map(|_| rng.uniform() * 0.7).collect();
        // Numeric columns of very different magnitudes, like Census (ages to capital gains).
        let magnitudes: Vec<f32> = (0..numeric)
            .map(|_| 10f32.powi(rng.below(6) as i32))
            .collect();
        for _ in 0..rows {
            for &m in &magnitudes {
                p.numeric_rows
                    .push(((rng.uniform() + 1.0) * 0.5 * m).round());
            }
            for &v in &p.vocab {
                let c = rng.below(u64::from(v) + 1) as u16;
                p.category_rows
                    .push(if c == v { UNKNOWN_CATEGORY } else { c });
            }
        }
        p.normalisation = Normalisation {
            mean: magnitudes.iter().map(|m| m * 0.5).collect(),
            std: magnitudes.iter().map(|m| m * 0.3).collect(),
        };
        p
    }

    fn rows(&self) -> SparseRows<'_> {
        SparseRows {
            numeric: &self.numeric_rows,
            categories: &self.category_rows,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn int8_logits_stay_close_to_the_f64_reference(seed in any::<u64>()) {
        let p = Problem::new(seed, 300);
        let params = quantise(&p.shape(), &p.parameters, Some(&p.normalisation), &p.layout(), p.rows(), &QuantiseOptions::default()).unwrap();
        let pairs = compare_logits(&params, &p.parameters, Some(&p.normalisation), p.rows()).unwrap();
        let spread = pairs.iter().map(|[r, _]| r.abs()).fold(0.0, f64::max).max(0.5);
        let worst = pairs.iter().map(|[r, q]| (r - q).abs()).fold(0.0, f64::max);
        // int8 weights carry up to 0.4% error each (half a step of 1/127), compounding over
        // layers: the logit may stray by at most 3% of its range (typically 1 to 2%).
        prop_assert!(worst <= 0.03 * spread, "worst {worst} spread {spread}");
    }
}
