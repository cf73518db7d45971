//! The backward pass against finite differences, the forward pass against ple-core, and the
//! parameter layout against the canonical tensor order.

use ple_core::PleShape;
use ple_train::dataset::NO_COLUMN;
use ple_train::metrics::{log_loss_of_logit, sigmoid};
use ple_train::network::{Network, INITIAL_BIAS};
use ple_train::rng::SplitMix64;

const NUMERIC: usize = 3;

/// A deliberately awkward shape: 3 tasks, 2 experts each, 1 shared, 3 levels, two expert
/// layers and two tower layers, 14 inputs (3 numeric, then 3 one-hot fields).
fn shape() -> PleShape<'static> {
    PleShape {
        input_dim: 14,
        tasks: 3,
        experts_per_task: 2,
        shared_experts: 1,
        levels: 3,
        expert_units: &[5, 4],
        tower_units: &[3, 2],
    }
}

struct Sample {
    numeric: Vec<f32>,
    hot: Vec<u32>,
    labels: Vec<u8>,
}

fn samples(rng: &mut SplitMix64) -> Vec<Sample> {
    (0..4)
        .map(|i| Sample {
            numeric: (0..NUMERIC).map(|_| rng.next_f32() * 2.0 - 1.0).collect(),
            // Fields: columns 3..7, 7..11, 11..14; the last sample has an unknown category.
            hot: vec![
                3 + rng.below(4) as u32,
                7 + rng.below(4) as u32,
                if i == 3 {
                    NO_COLUMN
                } else {
                    11 + rng.below(3) as u32
                },
            ],
            labels: (0..3).map(|_| rng.below(2) as u8).collect(),
        })
        .collect()
}

const TASK_WEIGHTS: [f32; 3] = [1.0, 0.5, 2.0];

fn loss(net: &Network, params: &[f32], data: &[Sample]) -> f64 {
    let mut tape = vec![0.0; net.tape_len()];
    let mut total = 0.0;
    for s in data {
        net.forward(params, &s.numeric, &s.hot, &mut tape);
        for t in 0..net.tasks() {
            let z = tape[net.logit_offset(t)];
            total += f64::from(TASK_WEIGHTS[t]) * log_loss_of_logit(z, s.labels[t]);
        }
    }
    total
}

/// Which activations are exactly zero, over every sample: the ReLU pattern.
fn zero_pattern(net: &Network, params: &[f32], data: &[Sample]) -> Vec<bool> {
    let mut tape = vec![0.0; net.tape_len()];
    let mut pattern = Vec::new();
    for s in data {
        net.forward(params, &s.numeric, &s.hot, &mut tape);
        pattern.extend(tape.iter().map(|&v| v == 0.0));
    }
    pattern
}

fn analytic_gradient(net: &Network, params: &[f32], data: &[Sample]) -> Vec<f32> {
    let mut tape = vec![0.0; net.tape_len()];
    let mut dtape = vec![0.0; net.tape_len()];
    let mut grad = vec![0.0; net.param_len()];
    for s in data {
        net.forward(params, &s.numeric, &s.hot, &mut tape);
        let dlogits: Vec<f32> = (0..net.tasks())
            .map(|t| {
                TASK_WEIGHTS[t] * (sigmoid(tape[net.logit_offset(t)]) - f32::from(s.labels[t]))
            })
            .collect();
        net.backward(
            params, &s.numeric, &s.hot, &tape, &dlogits, &mut dtape, &mut grad,
        );
    }
    grad
}

#[test]
fn backward_pass_matches_finite_differences_on_a_multi_level_multi_task_shape() {
    let net = Network::new(&shape());
    let mut rng = SplitMix64::new(11);
    // Start from the initialisation, with biases spread out so gates are not uniform.
    let mut params = net.init(5);
    for p in params.iter_mut() {
        *p += (rng.next_f32() - 0.5) * 0.4;
    }
    let data = samples(&mut rng);
    let grad = analytic_gradient(&net, &params, &data);

    // Large enough that f32 rounding stays far below the tolerance. A parameter whose
    // perturbation moves a ReLU across zero (a kink, where finite differences are not the
    // derivative) is recognised by a change in which activations are zero, and skipped.
    let eps = 1e-3f32;
    let mut kinks = 0;
    let mut worst = 0.0f64;
    let mut checked_nonzero = 0;
    let mut failures = 0;
    for i in 0..params.len() {
        let mut plus = params.clone();
        plus[i] += eps;
        let mut minus = params.clone();
        minus[i] -= eps;
        if zero_pattern(&net, &plus, &data) != zero_pattern(&net, &minus, &data) {
            kinks += 1;
            continue;
        }
        let numeric =
            (loss(&net, &plus, &data) - loss(&net, &minus, &data)) / f64::from(plus[i] - minus[i]);
        let analytic = f64::from(grad[i]);
        let error = (numeric - analytic).abs() / (1e-2 + analytic.abs().max(numeric.abs()));
        worst = worst.max(error);
        if error >= 2e-2 {
            eprintln!("parameter {i}: analytic {analytic}, numeric {numeric} (error {error})");
            failures += 1;
        }
        if analytic.abs() > 1e-4 {
            checked_nonzero += 1;
        }
    }
    // The check is meaningful only if many parameters actually receive gradient (input rows
    // that no sample touches, and units that ReLU silences for all four samples, get none).
    assert!(
        checked_nonzero > params.len() / 4,
        "{checked_nonzero} of {}",
        params.len()
    );
    eprintln!("worst relative error {worst:.2e}, {kinks} parameters at a ReLU kink skipped");
    assert!(kinks < params.len() / 100, "{kinks} kinks");
    assert_eq!(failures, 0);
}

#[test]
fn untouched_input_rows_get_no_gradient() {
    let net = Network::new(&shape());
    let params = net.init(1);
    let data = [Sample {
        numeric: vec![0.3, -0.2, 1.0],
        hot: vec![4, 9, NO_COLUMN],
        labels: vec![1, 0, 1],
    }];
    let grad = analytic_gradient(&net, &params, &data);
    let wide = net.wide();
    for row in 0..net.input_dim() {
        let touched = row < NUMERIC || row == 4 || row == 9;
        let nonzero = grad[row * wide..(row + 1) * wide].iter().any(|&g| g != 0.0);
        assert_eq!(nonzero, touched, "row {row}");
    }
}

#[test]
fn canonical_conversion_round_trips_and_puts_weights_under_their_names() {
    let shape = shape();
    let net = Network::new(&shape);
    assert_eq!(net.param_len(), shape.parameter_count());
    let params = net.init(3);
    let canonical = net.to_canonical(&params);
    assert_eq!(net.from_canonical(&canonical), params);
    // Forward on a one-hot input picks column c of every level-0 first-layer weight: check
    // one directly against the canonical `[outputs, inputs]` layout.
    let first = shape.tensors().next().unwrap();
    assert_eq!(first.to_string(), "level0.task0.expert0.layer0.weight");
    let (outputs, inputs) = first.dims();
    let wide = net.wide();
    for o in 0..outputs as usize {
        for i in 0..inputs as usize {
            assert_eq!(canonical[o * inputs as usize + i], params[i * wide + o]);
        }
    }
}

#[test]
fn initialisation_is_xavier_uniform_with_constant_bias() {
    let shape = shape();
    let net = Network::new(&shape);
    let canonical = net.to_canonical(&net.init(9));
    let mut at = 0;
    for tensor in shape.tensors() {
        let values = &canonical[at..at + tensor.len()];
        at += tensor.len();
        if tensor.rank() == 1 {
            assert!(values.iter().all(|&b| b == INITIAL_BIAS), "{tensor}");
        } else {
            let bound = (6.0 / (tensor.layer.inputs + tensor.layer.outputs) as f32).sqrt();
            assert!(values.iter().all(|w| w.abs() <= bound), "{tensor}");
            let distinct = values
                .iter()
                .map(|w| w.to_bits())
                .collect::<std::collections::HashSet<_>>();
            assert!(distinct.len() > values.len() / 2, "{tensor} not random");
        }
    }
}

#[test]
fn training_forward_matches_the_ple_core_inference_path() {
    use ple_core::{pack_f32, packed_len, Input, InputLayout, ModelF32};
    let shape = shape();
    let net = Network::new(&shape);
    let mut rng = SplitMix64::new(21);
    let mut params = net.init(4);
    for p in params.iter_mut() {
        *p += (rng.next_f32() - 0.5) * 0.4;
    }
    let canonical = net.to_canonical(&params);
    let mut packed = vec![0.0f32; packed_len(&shape)];
    pack_f32(&shape, &canonical, &mut packed).unwrap();
    let model = ModelF32::new(shape, InputLayout::dense(shape.input_dim), &packed).unwrap();
    let mut scratch = vec![0.0f32; model.scratch_len()];
    let mut tape = vec![0.0; net.tape_len()];
    for s in samples(&mut rng) {
        let mut dense = vec![0.0f32; shape.input_dim as usize];
        dense[..NUMERIC].copy_from_slice(&s.numeric);
        for &c in s.hot.iter().filter(|&&c| c != NO_COLUMN) {
            dense[c as usize] = 1.0;
        }
        let mut probabilities = vec![0.0f32; net.tasks()];
        model
            .predict(Input::Dense(&dense), &mut scratch, &mut probabilities)
            .unwrap();
        net.forward(&params, &s.numeric, &s.hot, &mut tape);
        for (t, &p) in probabilities.iter().enumerate() {
            let ours = sigmoid(tape[net.logit_offset(t)]);
            assert!(
                (ours - p).abs() < 1e-5,
                "task {t}: trainer {ours}, ple-core {p}"
            );
        }
    }
}
