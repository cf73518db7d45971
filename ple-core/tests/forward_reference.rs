//! The f32 and f16 engines against the f64 reference pass, and dense against sparse input.

mod common;

use common::{canonical, nets, reference, row, Net, Rng};
use half::f16;
use ple_core::kernels::scalar::Scalar;
use ple_core::kernels::Detected;
use ple_core::{gates_len, pack_f16, pack_f32, packed_len, scratch_len, Input, PleModel, PleShape};
use proptest::prelude::*;

/// Random canonical parameters of a shape, packed at both precisions.
struct Packed {
    params: Vec<f32>,
    singles: Vec<f32>,
    halves: Vec<f16>,
}

impl Packed {
    fn new(shape: &PleShape<'_>, rng: &mut Rng) -> Self {
        let params = canonical(shape, rng);
        let mut singles = vec![0.0f32; packed_len(shape)];
        let mut halves = vec![f16::ZERO; packed_len(shape)];
        pack_f32(shape, &params, &mut singles).unwrap();
        pack_f16(shape, &params, &mut halves).unwrap();
        Packed {
            params,
            singles,
            halves,
        }
    }

    fn f32_model<'a>(&'a self, net: &'a Net) -> PleModel<'a, f32> {
        PleModel::new(net.shape(), net.layout(), &self.singles).unwrap()
    }

    fn f16_model<'a>(&'a self, net: &'a Net) -> PleModel<'a, f16> {
        PleModel::new(net.shape(), net.layout(), &self.halves).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 2 } else { 96 }))]

    #[test]
    fn f32_engine_matches_the_f64_reference_on_random_networks(net in nets(), seed in any::<u64>()) {
        let shape = net.shape();
        let mut rng = Rng(seed);
        let packed = Packed::new(&shape, &mut rng);
        let (params, model) = (&packed.params, packed.f32_model(&net));
        let mut scratch = vec![f32::NAN; scratch_len(&shape)];
        for _ in 0..4 {
            let (numeric, categories, dense) = row(&net, &mut rng);
            let expected = reference(&shape, params, &dense);
            let mut probs = vec![0.0; shape.tasks as usize];
            let mut gates = vec![0.0; gates_len(&shape)];
            model
                .predict_with_gates(Input::Sparse { numeric: &numeric, categories: &categories }, &mut scratch, &mut probs, &mut gates)
                .unwrap();
            for (p, e) in probs.iter().zip(&expected.probabilities) {
                prop_assert!((*p as f64 - e).abs() < 1e-5, "probability {p} vs reference {e}");
            }
            prop_assert_eq!(gates.len(), expected.gates.len());
            for (g, e) in gates.iter().zip(&expected.gates) {
                prop_assert!((*g as f64 - e).abs() < 1e-5, "gate {g} vs reference {e}");
            }
        }
    }

    #[test]
    fn dense_and_sparse_inputs_give_identical_outputs(net in nets(), seed in any::<u64>()) {
        let shape = net.shape();
        let mut rng = Rng(seed);
        let packed = Packed::new(&shape, &mut rng);
        let model = packed.f32_model(&net);
        let mut scratch = vec![0.0; scratch_len(&shape)];
        let (numeric, categories, dense) = row(&net, &mut rng);
        let tasks = shape.tasks as usize;
        let detected = Detected::new();
        for kernels in [Detected::Scalar(Scalar), detected] {
            let (mut a, mut b) = (vec![0.0; tasks], vec![0.0; tasks]);
            let (mut ga, mut gb) = (vec![0.0; gates_len(&shape)], vec![0.0; gates_len(&shape)]);
            let sparse = Input::Sparse { numeric: &numeric, categories: &categories };
            model.predict_using(&kernels, sparse, &mut scratch, &mut a, Some(&mut ga)).unwrap();
            model.predict_using(&kernels, Input::Dense(&dense), &mut scratch, &mut b, Some(&mut gb)).unwrap();
            prop_assert_eq!(&a, &b, "kernels {}", kernels.name());
            prop_assert_eq!(&ga, &gb, "kernels {}", kernels.name());
        }
    }

    #[test]
    fn f16_weights_stay_close_to_f32(net in nets(), seed in any::<u64>()) {
        let shape = net.shape();
        let mut rng = Rng(seed);
        let packed = Packed::new(&shape, &mut rng);
        let (m32, m16) = (packed.f32_model(&net), packed.f16_model(&net));
        let mut scratch = vec![0.0; scratch_len(&shape)];
        let (numeric, categories, _) = row(&net, &mut rng);
        let input = Input::Sparse { numeric: &numeric, categories: &categories };
        let tasks = shape.tasks as usize;
        let (mut a, mut b) = (vec![0.0; tasks], vec![0.0; tasks]);
        m32.predict(input, &mut scratch, &mut a).unwrap();
        m16.predict(input, &mut scratch, &mut b).unwrap();
        for (x, y) in a.iter().zip(&b) {
            prop_assert!((x - y).abs() < 5e-3, "f32 {x} vs f16 {y}");
        }
    }
}

#[test]
fn packed_length_is_the_parameter_count() {
    let shape = ple_core::PADDLEREC_DEFAULT;
    assert_eq!(packed_len(&shape), shape.parameter_count());
    let deep = ple_core::PleShape {
        levels: 3,
        expert_units: &[7, 5, 3],
        tower_units: &[],
        ..shape
    };
    assert_eq!(packed_len(&deep), deep.parameter_count());
}

/// The Census-Income default: 11 numeric columns and 29 fields over 488 one-hot columns.
fn census_like_vocabularies() -> Vec<u16> {
    let mut vocab = vec![
        9u16, 52, 47, 17, 3, 7, 24, 15, 5, 10, 2, 3, 6, 8, 6, 6, 51, 38, 8, 10,
    ];
    vocab.extend([9u16, 10, 3, 4, 7, 5, 43, 43, 43]);
    let sum: i32 = vocab.iter().map(|&v| v as i32).sum();
    // Make the fields cover exactly the default shape's 499 - 11 one-hot columns.
    vocab[1] = (vocab[1] as i32 + 488 - sum) as u16;
    vocab
}

#[test]
fn default_model_matches_the_reference_in_f32_and_f16() {
    let shape = ple_core::PADDLEREC_DEFAULT;
    let vocab = census_like_vocabularies();
    let net = common::Net {
        tasks: shape.tasks,
        experts_per_task: shape.experts_per_task,
        shared_experts: shape.shared_experts,
        levels: shape.levels,
        expert_units: shape.expert_units.to_vec(),
        tower_units: shape.tower_units.to_vec(),
        numeric: 11,
        vocab_sizes: vocab,
    };
    assert_eq!(net.shape(), shape);
    let mut rng = Rng(2024);
    let packed = Packed::new(&shape, &mut rng);
    let (params, m32, m16) = (
        &packed.params,
        packed.f32_model(&net),
        packed.f16_model(&net),
    );
    let mut scratch = vec![0.0; scratch_len(&shape)];
    let mut worst_f16 = 0.0f32;
    for _ in 0..200 {
        let (numeric, categories, dense) = row(&net, &mut rng);
        let expected = reference(&shape, params, &dense);
        let input = Input::Sparse {
            numeric: &numeric,
            categories: &categories,
        };
        let (mut p32, mut p16) = ([0.0; 2], [0.0; 2]);
        m32.predict(input, &mut scratch, &mut p32).unwrap();
        m16.predict(input, &mut scratch, &mut p16).unwrap();
        for ((a, b), e) in p32.iter().zip(&p16).zip(&expected.probabilities) {
            assert!(
                (*a as f64 - e).abs() <= 1e-6 * e.abs().max(1e-3),
                "f32 {a} vs reference {e}"
            );
            worst_f16 = worst_f16.max((a - b).abs());
        }
    }
    assert!(
        worst_f16 < 2e-3,
        "f16 deviates from f32 by up to {worst_f16}"
    );
}
