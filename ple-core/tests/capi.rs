//! The C ABI, called from Rust exactly as C calls it: results equal the Rust API's, and every
//! kind of bad argument gets its own error code instead of undefined behaviour.

#[path = "common/capi_calls.rs"]
mod capi_calls;
mod common;

use std::ffi::CStr;
use std::ptr::{null, null_mut};

use common::{canonical, row, Net, Rng};
use half::f16;
use ple_core::capi::*;
use ple_core::{pack_f16, pack_f32, packed_len, scratch_len, Input, PleModel, PADDLEREC_DEFAULT};

/// A small two-level PLE over 3 numeric columns and fields of 4 and 2 categories.
fn net() -> Net {
    Net {
        tasks: 2,
        experts_per_task: 2,
        shared_experts: 1,
        levels: 2,
        expert_units: vec![6, 4],
        tower_units: vec![3],
        numeric: 3,
        vocab_sizes: vec![4, 2],
    }
}

struct Fixture {
    net: Net,
    params: Vec<f32>,
    packed: Vec<f32>,
}

impl Fixture {
    fn new() -> Self {
        let net = net();
        let params = canonical(&net.shape(), &mut Rng(7));
        let mut packed = vec![0.0; packed_len(&net.shape())];
        pack_f32(&net.shape(), &params, &mut packed).unwrap();
        Fixture {
            net,
            params,
            packed,
        }
    }

    fn shape_c(&self) -> PleShapeC {
        let s = self.net.shape();
        PleShapeC {
            input_dim: s.input_dim,
            tasks: s.tasks,
            experts_per_task: s.experts_per_task,
            shared_experts: s.shared_experts,
            levels: s.levels,
            expert_units: self.net.expert_units.as_ptr(),
            expert_layers: self.net.expert_units.len() as u32,
            tower_units: self.net.tower_units.as_ptr(),
            tower_layers: self.net.tower_units.len() as u32,
        }
    }

    fn layout_c(&self) -> PleInputLayoutC {
        PleInputLayoutC {
            numeric: self.net.numeric,
            vocab_sizes: self.net.vocab_sizes.as_ptr(),
            fields: self.net.vocab_sizes.len() as u32,
        }
    }

    fn model_c(&self) -> PleModelF32 {
        PleModelF32 {
            shape: self.shape_c(),
            layout: self.layout_c(),
            weights: self.packed.as_ptr(),
            weights_len: self.packed.len(),
            numeric_mean: null(),
            numeric_std: null(),
        }
    }
}

/// Calls the sparse f32 entry point with Rust slices.
fn sparse(
    model: &PleModelF32,
    numeric: &[f32],
    cats: &[u16],
    scratch: &mut [f32],
    probs: &mut [f32],
) -> i32 {
    capi_calls::sparse(ple_predict_sparse_f32, model, numeric, cats, scratch, probs)
}

#[test]
fn c_predictions_equal_the_rust_api() {
    let f = Fixture::new();
    let model = f.model_c();
    let shape = f.net.shape();
    assert_eq!(unsafe { ple_validate_f32(&model) }, PLE_OK);
    assert_eq!(
        unsafe { ple_scratch_len(&model.shape) },
        scratch_len(&shape)
    );
    assert_eq!(unsafe { ple_packed_len(&model.shape) }, packed_len(&shape));
    let rust = PleModel::new(shape, f.net.layout(), &f.packed).unwrap();
    let mut rng = Rng(11);
    let mut scratch = vec![0.0; scratch_len(&shape)];
    let gates_len = unsafe { ple_gates_len(&model.shape) };
    for _ in 0..20 {
        let (numeric, cats, dense) = row(&f.net, &mut rng);
        let (mut expected, mut expected_gates) = (vec![0.0; 2], vec![0.0; gates_len]);
        rust.predict_with_gates(
            Input::Dense(&dense),
            &mut scratch,
            &mut expected,
            &mut expected_gates,
        )
        .unwrap();
        let mut probs = vec![0.0; 2];
        assert_eq!(
            sparse(&model, &numeric, &cats, &mut scratch, &mut probs),
            PLE_OK
        );
        assert_eq!(probs, expected);
        let (mut probs, mut gates) = (vec![0.0; 2], vec![0.0; gates_len]);
        let code = unsafe {
            ple_predict_dense_f32(
                &model,
                dense.as_ptr(),
                dense.len(),
                scratch.as_mut_ptr(),
                scratch.len(),
                probs.as_mut_ptr(),
                2,
                gates.as_mut_ptr(),
                gates.len(),
            )
        };
        assert_eq!(code, PLE_OK);
        assert_eq!((probs, gates), (expected, expected_gates));
    }
}

#[test]
fn f16_models_run_through_the_c_abi() {
    let f = Fixture::new();
    let shape = f.net.shape();
    let mut halves = vec![f16::ZERO; packed_len(&shape)];
    pack_f16(&shape, &f.params, &mut halves).unwrap();
    let bits: Vec<u16> = halves.iter().map(|h| h.to_bits()).collect();
    let model = PleModelF16 {
        shape: f.shape_c(),
        layout: f.layout_c(),
        weights: bits.as_ptr(),
        weights_len: bits.len(),
        numeric_mean: null(),
        numeric_std: null(),
    };
    assert_eq!(unsafe { ple_validate_f16(&model) }, PLE_OK);
    let rust = PleModel::new(shape, f.net.layout(), &halves).unwrap();
    let (numeric, cats, _) = row(&f.net, &mut Rng(3));
    let mut scratch = vec![0.0; scratch_len(&shape)];
    let mut expected = vec![0.0; 2];
    rust.predict(
        Input::Sparse {
            numeric: &numeric,
            categories: &cats,
        },
        &mut scratch,
        &mut expected,
    )
    .unwrap();
    let mut probs = vec![0.0; 2];
    let code = capi_calls::sparse(
        ple_predict_sparse_f16,
        &model,
        &numeric,
        &cats,
        &mut scratch,
        &mut probs,
    );
    assert_eq!(code, PLE_OK);
    assert_eq!(probs, expected);
}

#[test]
fn null_pointers_are_reported_not_dereferenced() {
    let f = Fixture::new();
    let model = f.model_c();
    let mut scratch = vec![0.0; scratch_len(&f.net.shape())];
    let mut probs = [0.0; 2];
    unsafe {
        assert_eq!(ple_validate_f32(null()), PLE_ERR_NULL);
        assert_eq!(ple_scratch_len(null()), 0);
        let code = ple_predict_sparse_f32(
            null(),
            null(),
            3,
            null(),
            2,
            scratch.as_mut_ptr(),
            scratch.len(),
            probs.as_mut_ptr(),
            2,
            null_mut(),
            0,
        );
        assert_eq!(code, PLE_ERR_NULL);
        let code = ple_predict_sparse_f32(
            &model,
            null(),
            3,
            [0u16, 0].as_ptr(),
            2,
            scratch.as_mut_ptr(),
            scratch.len(),
            probs.as_mut_ptr(),
            2,
            null_mut(),
            0,
        );
        assert_eq!(code, PLE_ERR_NULL);
        let code = ple_predict_dense_f32(
            &model,
            [0.0f32; 9].as_ptr(),
            9,
            null_mut(),
            100,
            probs.as_mut_ptr(),
            2,
            null_mut(),
            0,
        );
        assert_eq!(code, PLE_ERR_NULL);
        // Null gates with a non-zero length are an error, not "no gates".
        let code = ple_predict_dense_f32(
            &model,
            [0.0f32; 9].as_ptr(),
            9,
            scratch.as_mut_ptr(),
            scratch.len(),
            probs.as_mut_ptr(),
            2,
            null_mut(),
            5,
        );
        assert_eq!(code, PLE_ERR_NULL);
    }
    let mut broken = model;
    broken.weights = null();
    assert_eq!(unsafe { ple_validate_f32(&broken) }, PLE_ERR_NULL);
    let mut broken = model;
    broken.shape.expert_units = null();
    assert_eq!(unsafe { ple_validate_f32(&broken) }, PLE_ERR_NULL);
    let mut broken = model;
    broken.layout.vocab_sizes = null();
    assert_eq!(unsafe { ple_validate_f32(&broken) }, PLE_ERR_NULL);
}

#[test]
fn inconsistent_model_structs_are_rejected() {
    let f = Fixture::new();
    let model = f.model_c();
    let mut m = model;
    m.weights_len -= 1;
    assert_eq!(unsafe { ple_validate_f32(&m) }, PLE_ERR_WEIGHTS_LENGTH);
    let mut m = model;
    m.shape.tasks = 0;
    assert_eq!(unsafe { ple_validate_f32(&m) }, PLE_ERR_SHAPE);
    let mut m = model;
    m.layout.numeric = 4;
    assert_eq!(unsafe { ple_validate_f32(&m) }, PLE_ERR_INPUT_LAYOUT);
    let mut m = model;
    m.shape.expert_layers = 0;
    assert_eq!(unsafe { ple_validate_f32(&m) }, PLE_ERR_SHAPE);
    let mut m = model;
    m.weights = unsafe { f.packed.as_ptr().cast::<u8>().add(1).cast() };
    assert_eq!(unsafe { ple_validate_f32(&m) }, PLE_ERR_POINTER);
}

#[test]
fn wrong_lengths_bad_categories_and_non_finite_inputs_get_their_codes() {
    let f = Fixture::new();
    let model = f.model_c();
    let len = scratch_len(&f.net.shape());
    let mut scratch = vec![0.0; len];
    let mut probs = [0.0; 2];
    let numeric = [0.5, -1.0, 2.0];
    assert_eq!(
        sparse(&model, &numeric, &[1, 1], &mut scratch, &mut probs),
        PLE_OK
    );
    assert_eq!(
        sparse(&model, &numeric[..2], &[1, 1], &mut scratch, &mut probs),
        PLE_ERR_INPUT_LENGTH
    );
    assert_eq!(
        sparse(&model, &numeric, &[1], &mut scratch, &mut probs),
        PLE_ERR_INPUT_LENGTH
    );
    assert_eq!(
        sparse(
            &model,
            &numeric,
            &[1, 1],
            &mut scratch[..len - 1],
            &mut probs
        ),
        PLE_ERR_SCRATCH_LENGTH
    );
    assert_eq!(
        sparse(&model, &numeric, &[1, 1], &mut scratch, &mut probs[..1]),
        PLE_ERR_OUTPUT_LENGTH
    );
    assert_eq!(
        sparse(&model, &numeric, &[4, 1], &mut scratch, &mut probs),
        PLE_ERR_CATEGORY
    );
    assert_eq!(
        sparse(&model, &numeric, &[1, 2], &mut scratch, &mut probs),
        PLE_ERR_CATEGORY
    );
    assert_eq!(
        sparse(
            &model,
            &numeric,
            &[u16::MAX, u16::MAX],
            &mut scratch,
            &mut probs
        ),
        PLE_OK
    );
    assert_eq!(
        sparse(
            &model,
            &[0.5, f32::NAN, 2.0],
            &[1, 1],
            &mut scratch,
            &mut probs
        ),
        PLE_ERR_NON_FINITE
    );
    assert_eq!(
        sparse(
            &model,
            &[f32::INFINITY, 0.0, 2.0],
            &[1, 1],
            &mut scratch,
            &mut probs
        ),
        PLE_ERR_NON_FINITE
    );
    let mut gates = [0.0; 3];
    let code = unsafe {
        ple_predict_sparse_f32(
            &model,
            numeric.as_ptr(),
            3,
            [1u16, 1].as_ptr(),
            2,
            scratch.as_mut_ptr(),
            len,
            probs.as_mut_ptr(),
            2,
            gates.as_mut_ptr(),
            gates.len(),
        )
    };
    assert_eq!(code, PLE_ERR_GATES_LENGTH);
}

#[test]
fn overlapping_output_buffers_are_refused() {
    let f = Fixture::new();
    let model = f.model_c();
    let len = scratch_len(&f.net.shape());
    let mut buffer = vec![0.0f32; len + 2];
    let numeric = [0.5, -1.0, 2.0];
    let base = buffer.as_mut_ptr();
    let code = unsafe {
        // Probabilities inside the scratch buffer.
        ple_predict_sparse_f32(
            &model,
            numeric.as_ptr(),
            3,
            [1u16, 1].as_ptr(),
            2,
            base,
            len + 2,
            base.add(len),
            2,
            null_mut(),
            0,
        )
    };
    assert_eq!(code, PLE_ERR_OVERLAP);
    let code = unsafe {
        // Side by side is fine.
        ple_predict_sparse_f32(
            &model,
            numeric.as_ptr(),
            3,
            [1u16, 1].as_ptr(),
            2,
            base,
            len,
            base.add(len),
            2,
            null_mut(),
            0,
        )
    };
    assert_eq!(code, PLE_OK);
}

#[test]
fn every_status_code_has_a_message() {
    let codes = [
        PLE_OK,
        PLE_ERR_NULL,
        PLE_ERR_SHAPE,
        PLE_ERR_INPUT_LAYOUT,
        PLE_ERR_WEIGHTS_LENGTH,
        PLE_ERR_SCRATCH_LENGTH,
        PLE_ERR_INPUT_LENGTH,
        PLE_ERR_OUTPUT_LENGTH,
        PLE_ERR_GATES_LENGTH,
        PLE_ERR_CATEGORY,
        PLE_ERR_NON_FINITE,
        PLE_ERR_CANONICAL_LENGTH,
        PLE_ERR_POINTER,
        PLE_ERR_OVERLAP,
    ];
    let messages: Vec<String> = codes
        .iter()
        .map(|&c| {
            unsafe { CStr::from_ptr(ple_error_message(c)) }
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let unknown = unsafe { CStr::from_ptr(ple_error_message(42)) }
        .to_str()
        .unwrap();
    for (i, m) in messages.iter().enumerate() {
        assert_ne!(m, unknown);
        assert!(!messages[..i].contains(m), "duplicate message {m}");
    }
}

#[test]
fn the_default_shape_reports_its_sizes_through_c() {
    let s = PADDLEREC_DEFAULT;
    let shape = PleShapeC {
        input_dim: s.input_dim,
        tasks: s.tasks,
        experts_per_task: s.experts_per_task,
        shared_experts: s.shared_experts,
        levels: s.levels,
        expert_units: s.expert_units.as_ptr(),
        expert_layers: 1,
        tower_units: s.tower_units.as_ptr(),
        tower_layers: 1,
    };
    assert_eq!(unsafe { ple_packed_len(&shape) }, s.parameter_count());
    assert_eq!(unsafe { ple_gates_len(&shape) }, 2 * 5);
    assert_eq!(unsafe { ple_scratch_len(&shape) }, scratch_len(&s));
}
