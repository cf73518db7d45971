//! The int8 model view: validation, input errors, no panics on any valid arrays and inputs,
//! and identical results from every kernel.

use ple_core::input::{InputLayout, UNKNOWN_CATEGORY};
use ple_core::int8::{
    category_weights_len, scratch_words, DenseLayers, Int8Array, Int8BatchError, Int8Error,
    Int8Input, Int8Kernel, Int8Model, Int8Rows, Requant, SparseLayer, SparseOutput,
};
use ple_core::shape::Block;
use ple_core::PleShape;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// Owned arrays of a random model that satisfies the documented bounds.
#[derive(Debug, Clone)]
struct Arrays {
    expert_units: Vec<u32>,
    tower_units: Vec<u32>,
    counts: [u32; 4], // tasks, experts per task, shared experts, levels
    numeric: u32,
    vocab: Vec<u16>,
    prescale: Vec<Requant>,
    category_weights: Vec<i8>,
    numeric_weights: Vec<i16>,
    outputs: Vec<SparseOutput>,
    dense_weights: Vec<i8>,
    dense_bias: Vec<i32>,
    dense_requant: Vec<Requant>,
    mix: Vec<u16>,
}

impl Arrays {
    fn shape(&self) -> PleShape<'_> {
        let [tasks, experts_per_task, shared_experts, levels] = self.counts;
        PleShape {
            input_dim: self.numeric + self.vocab.iter().map(|&v| u32::from(v)).sum::<u32>(),
            tasks,
            experts_per_task,
            shared_experts,
            levels,
            expert_units: &self.expert_units,
            tower_units: &self.tower_units,
        }
    }

    fn model(&self) -> Result<Int8Model<'_>, Int8Error> {
        let sparse = SparseLayer {
            numeric_frac_bits: 8,
            numeric_prescale: &self.prescale,
            layout: InputLayout {
                numeric: self.numeric,
                vocab_sizes: &self.vocab,
            },
            category_weights: &self.category_weights,
            numeric_weights: &self.numeric_weights,
            outputs: &self.outputs,
        };
        let dense = DenseLayers {
            weights: &self.dense_weights,
            bias: &self.dense_bias,
            requant: &self.dense_requant,
        };
        Int8Model::new(self.shape(), sparse, dense, &self.mix)
    }
}

fn is_sparse(block: Block) -> bool {
    matches!(
        block,
        Block::TaskExpert {
            level: 0,
            layer: 0,
            ..
        } | Block::SharedExpert {
            level: 0,
            layer: 0,
            ..
        } | Block::TaskGate { level: 0, .. }
            | Block::SharedGate { level: 0 }
    )
}

/// Random model arrays with layers of fewer than 10 units.
fn arrays() -> impl Strategy<Value = Arrays> {
    arrays_up_to(10)
}

prop_compose! {
    /// Random model arrays with layers of fewer than `units` units.
    fn arrays_up_to(units: u32)(
        expert_units in proptest::collection::vec(1u32..units, 1..3),
        tower_units in proptest::collection::vec(1u32..units.min(70), 0..3),
        counts in (1u32..4, 0u32..3, 1u32..3, 1u32..3),
        numeric in 0u32..5,
        vocab in proptest::collection::vec(1u16..6, 1..5),
        seed in any::<u64>(),
    ) -> Arrays {
        let mut a = Arrays {
            expert_units, tower_units,
            counts: [counts.0, counts.1, counts.2, counts.3],
            numeric, vocab,
            prescale: vec![], category_weights: vec![], numeric_weights: vec![],
            outputs: vec![], dense_weights: vec![], dense_bias: vec![],
            dense_requant: vec![], mix: vec![],
        };
        let mut rng = seed;
        let mut next = move || {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (rng >> 33) as u32
        };
        let (eu, tu) = (a.expert_units.clone(), a.tower_units.clone());
        let shape = PleShape { expert_units: &eu, tower_units: &tu, ..a.shape() };
        let sparse: Vec<_> = shape.layers().filter(|l| is_sparse(l.block)).collect();
        let outputs: usize = sparse.iter().map(|l| l.outputs as usize).sum();
        let rows = (shape.input_dim - numeric) as usize;
        let numeric_stride = (numeric as usize).div_ceil(2) * 2;
        a.prescale = (0..numeric).map(|_| Requant::new((1 << 30) + (next() as i32 & 0x3fff_ffff), 1 + (next() % 40) as u8)).collect();
        a.category_weights = (0..category_weights_len(rows, outputs)).map(|i| if i < rows * outputs { next() as i8 } else { 0 }).collect();
        // Numeric weight sums at most 2^15: each weight below 2^15 / 4.
        a.numeric_weights = (0..outputs * numeric_stride).map(|_| (next() % 8192) as i16 - 4096).collect();
        a.outputs = (0..outputs).map(|_| SparseOutput {
            bias: (next() % (1 << 29)) as i32 - (1 << 28),
            category_shift: (next() % 16) as u8,
            multiplier: (1 << 30) + (next() as i32 & 0x3fff_ffff),
            right_shift: 20 + (next() % 30) as u8,
        }).collect();
        let dense: Vec<_> = shape.layers().filter(|l| !is_sparse(l.block)).collect();
        let weights: usize = dense.iter().map(|l| (l.inputs * l.outputs) as usize).sum();
        let douts: usize = dense.iter().map(|l| l.outputs as usize).sum();
        a.dense_weights = (0..weights).map(|_| next() as i8).collect();
        a.dense_bias = (0..douts).map(|_| next() as i32).collect();
        a.dense_requant = (0..douts).map(|_| Requant::new((1 << 30) + (next() as i32 & 0x3fff_ffff), 10 + (next() % 30) as u8)).collect();
        let gates: usize = (0..shape.levels)
            .map(|l| (shape.tasks * shape.task_gate_width()) as usize
                + if shape.has_shared_gate(l) { shape.total_experts() as usize } else { 0 })
            .sum();
        a.mix = (0..gates).map(|_| (next() % 32769) as u16).collect();
        a
    }
}

/// A random input for `a`, possibly with unknown categories.
fn input_for(a: &Arrays, seed: u64) -> (Vec<i32>, Vec<u16>) {
    let mut rng = seed | 1;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let numeric = (0..a.numeric).map(|_| next() as i32).collect();
    let cats = a
        .vocab
        .iter()
        .map(|&v| {
            let c = (next() % (u64::from(v) + 1)) as u16;
            if c == v {
                UNKNOWN_CATEGORY
            } else {
                c
            }
        })
        .collect();
    (numeric, cats)
}

fn run(model: &Int8Model<'_>, numeric: &[i32], cats: &[u16]) -> (Vec<i32>, Vec<u16>, Vec<u16>) {
    let tasks = model.shape().tasks as usize;
    let mut scratch = vec![i32::MIN; model.scratch_words()];
    let (mut logits, mut probs) = (vec![0; tasks], vec![0; tasks]);
    let mut gates = vec![0; model.gate_weight_count()];
    let input = Int8Input {
        numeric,
        categories: cats,
    };
    model
        .predict_with_gates(&input, &mut scratch, &mut logits, &mut probs, &mut gates)
        .unwrap();
    (logits, probs, gates)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_kernel_gives_the_same_bits_and_nothing_panics(a in arrays(), seed in any::<u64>()) {
        let model = a.model().unwrap();
        let (numeric, cats) = input_for(&a, seed);
        let scalar = run(&model.with_kernel(Int8Kernel::Scalar), &numeric, &cats);
        let packed = run(&model.with_kernel(Int8Kernel::PortablePacked), &numeric, &cats);
        prop_assert_eq!(&scalar, &packed);
        let best = run(&model.with_kernel(Int8Kernel::best()), &numeric, &cats);
        prop_assert_eq!(&scalar, &best);
        let (logits, probs, gates) = scalar;
        prop_assert!(probs.iter().all(|&p| p <= 32768));
        let limit = 256 << 16;
        prop_assert!(logits.iter().all(|&l| l.abs() <= limit), "{:?}", logits);
        let width = model.shape().task_gate_width() as usize;
        for gate in gates.chunks(width) {
            let sum: i64 = gate.iter().map(|&w| i64::from(w)).sum();
            prop_assert!((sum - 32768).abs() <= width as i64);
        }
    }

    /// Wide enough layers that every vector kernel takes part (16 and more first-layer
    /// outputs for the gather, blocks of eight for the step, the dense layers and the
    /// mixing, inputs past 64 for the dense fallback).
    #[test]
    fn wide_layers_give_every_kernel_the_same_bits(a in arrays_up_to(80), seed in any::<u64>()) {
        let model = a.model().unwrap();
        let (numeric, cats) = input_for(&a, seed);
        let scalar = run(&model.with_kernel(Int8Kernel::Scalar), &numeric, &cats);
        let best = run(&model.with_kernel(Int8Kernel::best()), &numeric, &cats);
        prop_assert_eq!(&scalar, &best);
        let packed = run(&model.with_kernel(Int8Kernel::PortablePacked), &numeric, &cats);
        prop_assert_eq!(&scalar, &packed);
    }

    #[test]
    fn scratch_size_is_a_const_of_the_shape(a in arrays()) {
        let model = a.model().unwrap();
        let words = scratch_words(&a.shape(), a.numeric as usize, a.vocab.len());
        prop_assert_eq!(model.scratch_words(), words);
        let (numeric, cats) = input_for(&a, 1);
        let tasks = a.counts[0] as usize;
        let mut scratch = vec![0; words.saturating_sub(1)];
        let input = Int8Input { numeric: &numeric, categories: &cats };
        let r = model.predict(&input, &mut scratch, &mut vec![0; tasks], &mut vec![0; tasks]);
        prop_assert_eq!(r, Err(Int8Error::Scratch { needed: words, found: words.saturating_sub(1) }));
    }

    #[test]
    fn wrong_lengths_are_refused_not_panicked_on(a in arrays(), which in 0usize..6) {
        let mut b = a.clone();
        match which {
            0 => { b.category_weights.push(0); }
            1 => { b.numeric_weights.push(0); }
            2 => { b.outputs.pop(); }
            3 => { b.dense_weights.pop(); }
            4 => { b.mix.push(0); }
            _ => { b.dense_requant.push(Requant::new(1 << 30, 1)); }
        }
        let refused = matches!(b.model(), Err(Int8Error::Length { .. }));
        prop_assert!(refused, "case {}", which);
    }
}

#[test]
fn bad_inputs_get_errors_naming_what_is_wrong() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let a = loop {
        let a = arrays().new_tree(&mut runner).unwrap().current();
        if !a.vocab.is_empty() && a.numeric > 0 {
            break a;
        }
    };
    let model = a.model().unwrap();
    let (numeric, mut cats) = input_for(&a, 9);
    let tasks = a.counts[0] as usize;
    let mut scratch = vec![0; model.scratch_words()];
    let (mut logits, mut probs) = (vec![0; tasks], vec![0; tasks]);
    cats[0] = a.vocab[0];
    let input = Int8Input {
        numeric: &numeric,
        categories: &cats,
    };
    assert_eq!(
        model.predict(&input, &mut scratch, &mut logits, &mut probs),
        Err(Int8Error::CategoryOutOfRange {
            field: 0,
            category: a.vocab[0],
            size: a.vocab[0].into()
        })
    );
    let input = Int8Input {
        numeric: &numeric[1..],
        categories: &cats,
    };
    assert!(matches!(
        model.predict(&input, &mut scratch, &mut logits, &mut probs),
        Err(Int8Error::NumericInputs { .. })
    ));
    let input = Int8Input {
        numeric: &numeric,
        categories: &cats[1..],
    };
    assert!(matches!(
        model.predict(&input, &mut scratch, &mut logits, &mut probs),
        Err(Int8Error::CategoricalInputs { .. })
    ));
    cats[0] = 0;
    let input = Int8Input {
        numeric: &numeric,
        categories: &cats,
    };
    assert!(matches!(
        model.predict(&input, &mut scratch, &mut logits[1..], &mut probs),
        Err(Int8Error::Output { .. })
    ));
}

#[test]
fn bounds_that_prove_no_overflow_are_enforced() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let a = loop {
        let a = arrays().new_tree(&mut runner).unwrap().current();
        if !a.vocab.is_empty() && a.numeric > 0 {
            break a;
        }
    };
    let mut b = a.clone();
    b.outputs[0].bias = (1 << 29) + 1;
    assert_eq!(
        b.model().err(),
        Some(Int8Error::Range {
            array: Int8Array::FirstBias,
            index: 0
        })
    );
    let mut b = a.clone();
    b.numeric_weights[0] = i16::MAX;
    b.numeric_weights[1] = i16::MAX;
    assert_eq!(
        b.model().err(),
        Some(Int8Error::Range {
            array: Int8Array::NumericWeights,
            index: 0
        })
    );
    let mut b = a.clone();
    b.outputs[0].category_shift = 29;
    assert_eq!(
        b.model().err(),
        Some(Int8Error::Range {
            array: Int8Array::CategoryShift,
            index: 0
        })
    );
    let mut b = a.clone();
    (b.outputs[0].multiplier, b.outputs[0].right_shift) = (5, 3);
    assert_eq!(
        b.model().err(),
        Some(Int8Error::Range {
            array: Int8Array::FirstRequant,
            index: 0
        })
    );
    let mut b = a;
    b.mix[0] = 40000;
    assert_eq!(
        b.model().err(),
        Some(Int8Error::Range {
            array: Int8Array::MixRatios,
            index: 0
        })
    );
}

proptest! {
    /// A batch gives every row the bits a single-row prediction gives it.
    #[test]
    fn a_batch_gives_each_row_its_single_row_bits(
        a in arrays_up_to(40),
        seeds in proptest::collection::vec(any::<u64>(), 0..6),
    ) {
        let model = a.model().unwrap();
        let (mut numeric, mut categories) = (vec![], vec![]);
        let (mut expected_logits, mut expected_probabilities) = (vec![], vec![]);
        for &seed in &seeds {
            let (n, c) = input_for(&a, seed);
            let (logits, probabilities, _) = run(&model, &n, &c);
            numeric.extend(n);
            categories.extend(c);
            expected_logits.extend(logits);
            expected_probabilities.extend(probabilities);
        }
        let mut scratch = vec![i32::MIN; model.scratch_words()];
        let mut logits = vec![0; expected_logits.len()];
        let mut probabilities = vec![0; expected_logits.len()];
        let rows = Int8Rows { numeric: &numeric, categories: &categories };
        model.predict_batch(rows, &mut scratch, &mut logits, &mut probabilities).unwrap();
        prop_assert_eq!(logits, expected_logits);
        prop_assert_eq!(probabilities, expected_probabilities);
    }
}

#[test]
fn batch_errors_name_the_array_or_the_row() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let a = arrays().new_tree(&mut runner).unwrap().current();
    let model = a.model().unwrap();
    let tasks = a.counts[0] as usize;
    let (n, c) = input_for(&a, 7);
    let numeric: Vec<i32> = n.iter().chain(&n).copied().collect();
    let mut categories: Vec<u16> = c.iter().chain(&c).copied().collect();
    let mut scratch = vec![0; model.scratch_words()];
    let (mut logits, mut probabilities) = (vec![0; 2 * tasks], vec![0; 2 * tasks]);
    let rows = Int8Rows {
        numeric: &numeric,
        categories: &categories,
    };
    let short = model.predict_batch(rows, &mut scratch, &mut logits, &mut probabilities[1..]);
    assert_eq!(
        short,
        Err(Int8BatchError::Shape(Int8Error::Output {
            expected: 2 * tasks,
            found: 2 * tasks - 1
        }))
    );
    let rows = Int8Rows {
        numeric: &numeric,
        categories: &categories[1..],
    };
    let missing = model.predict_batch(rows, &mut scratch, &mut logits, &mut probabilities);
    let expected = Int8Error::CategoricalInputs {
        expected: 2 * c.len(),
        found: 2 * c.len() - 1,
    };
    assert_eq!(missing, Err(Int8BatchError::Shape(expected)));
    // A category past its vocabulary in the second row: the first row is predicted.
    let last = categories.len() - 1;
    categories[last] = a.vocab[a.vocab.len() - 1];
    let rows = Int8Rows {
        numeric: &numeric,
        categories: &categories,
    };
    let bad = model.predict_batch(rows, &mut scratch, &mut logits, &mut probabilities);
    assert!(
        matches!(
            bad,
            Err(Int8BatchError::Row {
                row: 1,
                error: Int8Error::CategoryOutOfRange { .. }
            })
        ),
        "{bad:?}"
    );
    let (first_logits, first_probabilities, _) = run(&model, &n, &c);
    assert_eq!(logits[..tasks], first_logits[..]);
    assert_eq!(probabilities[..tasks], first_probabilities[..]);
    assert!(bad.unwrap_err().to_string().starts_with("row 1: "));
}
