//! The int8 C ABI (`ple_model_int8`, `ple_predict_int8`), called from Rust exactly as C calls
//! it, on a model quantised by ple-codegen: results equal the Rust API's bit for bit, and
//! every kind of bad argument gets its documented error code instead of undefined behaviour.

mod common;

use std::ffi::CStr;
use std::ptr::{null, null_mut};

use ple_codegen::codegen::{bake_int8, BakedWeights};
use ple_codegen::quantise::{Int8Params, SparseRows};
use ple_core::capi::*;
use ple_core::int8::Int8Input;

use common::{calibration_rows, tiny_model};

fn params() -> Int8Params {
    let (numeric, categories) = calibration_rows();
    let rows = SparseRows {
        numeric: &numeric,
        categories: &categories,
    };
    let path = std::path::Path::new("tiny.safetensors");
    let baked = bake_int8(path, tiny_model(), String::new(), rows).unwrap();
    let BakedWeights::Int8(params) = baked.weights else {
        panic!("int8 bake gave another precision");
    };
    *params
}

/// The C struct over `p`'s arrays.
fn model_c(p: &Int8Params) -> PleModelInt8 {
    PleModelInt8 {
        shape: PleShapeC {
            input_dim: p.input_dim,
            tasks: p.tasks,
            experts_per_task: p.experts_per_task,
            shared_experts: p.shared_experts,
            levels: p.levels,
            expert_units: p.expert_units.as_ptr(),
            expert_layers: p.expert_units.len() as u32,
            tower_units: p.tower_units.as_ptr(),
            tower_layers: p.tower_units.len() as u32,
        },
        layout: PleInputLayoutC {
            numeric: p.numeric,
            vocab_sizes: p.vocab_sizes.as_ptr(),
            fields: p.vocab_sizes.len() as u32,
        },
        numeric_frac_bits: p.numeric_frac_bits,
        numeric_prescale: p.numeric_prescale.as_ptr(),
        numeric_prescale_len: p.numeric_prescale.len(),
        category_weights: p.category_weights.as_ptr(),
        category_weights_len: p.category_weights.len(),
        numeric_weights: p.numeric_weights.as_ptr(),
        numeric_weights_len: p.numeric_weights.len(),
        sparse_outputs: p.sparse_outputs.as_ptr(),
        sparse_outputs_len: p.sparse_outputs.len(),
        dense_weights: p.dense_weights.as_ptr(),
        dense_weights_len: p.dense_weights.len(),
        dense_bias: p.dense_bias.as_ptr(),
        dense_bias_len: p.dense_bias.len(),
        dense_requant: p.dense_requant.as_ptr(),
        dense_requant_len: p.dense_requant.len(),
        mix_ratios: p.mix_ratios.as_ptr(),
        mix_ratios_len: p.mix_ratios.len(),
    }
}

/// The buffers of one call, sized as the model needs.
struct Call {
    numeric: Vec<i32>,
    categories: Vec<u16>,
    scratch: Vec<i32>,
    logits: Vec<i32>,
    probabilities: Vec<u16>,
    gates: Vec<u16>,
}

impl Call {
    fn new(model: &PleModelInt8) -> Self {
        // SAFETY: the struct's pointers address the fixture's live arrays.
        let (scratch, gates) = unsafe { (ple_int8_scratch_len(model), ple_int8_gates_len(model)) };
        assert!(scratch > 0 && gates > 0);
        Call {
            numeric: vec![3 << 12, 1200 << 12],
            categories: vec![1, 4],
            scratch: vec![0; scratch],
            logits: vec![0; 2],
            probabilities: vec![0; 2],
            gates: vec![0; gates],
        }
    }

    /// `ple_predict_int8` with every buffer as is.
    fn run(&mut self, model: *const PleModelInt8) -> i32 {
        // SAFETY: every pointer addresses as many values as its length says.
        unsafe {
            ple_predict_int8(
                model,
                self.numeric.as_ptr(),
                self.numeric.len(),
                self.categories.as_ptr(),
                self.categories.len(),
                self.scratch.as_mut_ptr(),
                self.scratch.len(),
                self.logits.as_mut_ptr(),
                self.logits.len(),
                self.probabilities.as_mut_ptr(),
                self.probabilities.len(),
                self.gates.as_mut_ptr(),
                self.gates.len(),
            )
        }
    }
}

#[test]
fn c_abi_predictions_equal_the_rust_api_with_any_choice_of_outputs() {
    let p = params();
    let model = model_c(&p);
    // SAFETY: the struct's pointers address the fixture's live arrays.
    assert_eq!(unsafe { ple_validate_int8(&model) }, PLE_OK);
    let view = p.model().unwrap();
    let (numeric, categories) = calibration_rows();
    let mut rust_scratch = vec![0; view.scratch_words()];
    for row in 0..40 {
        let mut call = Call::new(&model);
        p.encode_numeric(&numeric[2 * row..2 * row + 2], &mut call.numeric)
            .unwrap();
        call.categories = categories[2 * row..2 * row + 2].to_vec();
        assert_eq!(call.run(&model), PLE_OK);

        let input = Int8Input {
            numeric: &call.numeric,
            categories: &call.categories,
        };
        let (mut logits, mut probabilities) = ([0; 2], [0; 2]);
        let mut gates = vec![0; view.gate_weight_count()];
        view.predict_with_gates(
            &input,
            &mut rust_scratch,
            &mut logits,
            &mut probabilities,
            &mut gates,
        )
        .unwrap();
        assert_eq!(call.logits, logits);
        assert_eq!(call.probabilities, probabilities);
        assert_eq!(call.gates, gates);

        // Only the probabilities, no gates: the logits go to the scratch's spare words.
        let mut only = [0u16; 2];
        // SAFETY: as in `Call::run`.
        let status = unsafe {
            ple_predict_int8(
                &model,
                call.numeric.as_ptr(),
                2,
                call.categories.as_ptr(),
                2,
                call.scratch.as_mut_ptr(),
                call.scratch.len(),
                null_mut(),
                0,
                only.as_mut_ptr(),
                2,
                null_mut(),
                0,
            )
        };
        assert_eq!(status, PLE_OK);
        assert_eq!(only, probabilities);
        // Only the logits.
        let mut only = [0i32; 2];
        // SAFETY: as in `Call::run`.
        let status = unsafe {
            ple_predict_int8(
                &model,
                call.numeric.as_ptr(),
                2,
                call.categories.as_ptr(),
                2,
                call.scratch.as_mut_ptr(),
                call.scratch.len(),
                only.as_mut_ptr(),
                2,
                null_mut(),
                0,
                null_mut(),
                0,
            )
        };
        assert_eq!(status, PLE_OK);
        assert_eq!(only, logits);
    }
}

#[test]
fn bad_models_get_their_error_codes() {
    let p = params();
    let good = model_c(&p);
    let validate = |m: &PleModelInt8| {
        // SAFETY: every pointer addresses as many values as its length says (or is checked
        // to be refused before use).
        unsafe { ple_validate_int8(m) }
    };
    // SAFETY: null is refused.
    assert_eq!(unsafe { ple_validate_int8(null()) }, PLE_ERR_NULL);
    // SAFETY: a misaligned pointer is refused before it is read.
    let misaligned = unsafe { (&good as *const PleModelInt8).cast::<u8>().add(1) };
    assert_eq!(
        // SAFETY: as above.
        unsafe { ple_validate_int8(misaligned.cast()) },
        PLE_ERR_POINTER
    );
    // SAFETY: null and invalid models give 0.
    unsafe {
        assert_eq!(ple_int8_scratch_len(null()), 0);
        assert_eq!(ple_int8_gates_len(null()), 0);
    }

    let mut m = good;
    m.shape.tasks = 0;
    assert_eq!(validate(&m), PLE_ERR_SHAPE);
    // SAFETY: as above.
    assert_eq!(unsafe { ple_int8_scratch_len(&m) }, 0);
    let mut m = good;
    m.layout.numeric += 1;
    assert_eq!(validate(&m), PLE_ERR_INPUT_LAYOUT);
    let mut m = good;
    m.category_weights_len -= 1;
    assert_eq!(validate(&m), PLE_ERR_WEIGHTS_LENGTH);
    let mut m = good;
    m.dense_bias_len += 1;
    assert_eq!(validate(&m), PLE_ERR_WEIGHTS_LENGTH);
    let mut m = good;
    m.sparse_outputs = null();
    assert_eq!(validate(&m), PLE_ERR_NULL);
    let mut m = good;
    m.dense_requant = m.dense_requant.wrapping_byte_add(1);
    assert_eq!(validate(&m), PLE_ERR_POINTER);
    let mut m = good;
    m.mix_ratios_len = usize::MAX / 2;
    assert_eq!(validate(&m), PLE_ERR_POINTER);

    // Entries outside their bounds.
    let mut bad = p.clone();
    bad.mix_ratios[0] = 40_000;
    assert_eq!(validate(&model_c(&bad)), PLE_ERR_RANGE);
    let mut bad = p.clone();
    bad.dense_requant[0].right_shift = 0;
    assert_eq!(validate(&model_c(&bad)), PLE_ERR_RANGE);
    let mut bad = p.clone();
    bad.sparse_outputs[0].category_shift = 40;
    assert_eq!(validate(&model_c(&bad)), PLE_ERR_RANGE);
    // predict validates too.
    let mut call = Call::new(&good);
    assert_eq!(call.run(&model_c(&bad)), PLE_ERR_RANGE);
    assert_eq!(call.run(null()), PLE_ERR_NULL);
}

#[test]
fn bad_call_arguments_get_their_error_codes() {
    let p = params();
    let model = model_c(&p);
    let expect = |code: i32, change: &dyn Fn(&mut Call)| {
        let mut call = Call::new(&model);
        change(&mut call);
        assert_eq!(
            call.run(&model),
            code,
            "{}",
            // SAFETY: a static NUL-terminated string.
            unsafe { CStr::from_ptr(ple_error_message(code)) }.to_string_lossy()
        );
    };
    expect(PLE_OK, &|_| {});
    expect(PLE_ERR_INPUT_LENGTH, &|c| c.numeric.push(0));
    expect(PLE_ERR_INPUT_LENGTH, &|c| {
        c.categories.pop();
    });
    expect(PLE_ERR_CATEGORY, &|c| c.categories[1] = 5);
    expect(PLE_ERR_SCRATCH_LENGTH, &|c| c.scratch.truncate(10));
    expect(PLE_ERR_OUTPUT_LENGTH, &|c| c.logits.push(0));
    expect(PLE_ERR_OUTPUT_LENGTH, &|c| c.probabilities.truncate(1));
    expect(PLE_ERR_GATES_LENGTH, &|c| c.gates.push(0));

    // Null pointers with non-zero lengths, both outputs left out, misaligned buffers.
    let mut call = Call::new(&model);
    // SAFETY (each call below): the pointers that are used address their lengths; the bad
    // ones are refused before use.
    let status = unsafe {
        ple_predict_int8(
            &model,
            null(),
            2,
            call.categories.as_ptr(),
            2,
            call.scratch.as_mut_ptr(),
            call.scratch.len(),
            call.logits.as_mut_ptr(),
            2,
            call.probabilities.as_mut_ptr(),
            2,
            null_mut(),
            0,
        )
    };
    assert_eq!(status, PLE_ERR_NULL);
    let status = unsafe {
        ple_predict_int8(
            &model,
            call.numeric.as_ptr(),
            2,
            call.categories.as_ptr(),
            2,
            call.scratch.as_mut_ptr(),
            call.scratch.len(),
            null_mut(),
            0,
            null_mut(),
            0,
            null_mut(),
            0,
        )
    };
    assert_eq!(status, PLE_ERR_NULL);
    let status = unsafe {
        ple_predict_int8(
            &model,
            call.numeric.as_ptr(),
            2,
            call.categories.as_ptr(),
            2,
            call.scratch.as_mut_ptr().cast::<u8>().add(2).cast(),
            call.scratch.len() - 1,
            call.logits.as_mut_ptr(),
            2,
            call.probabilities.as_mut_ptr(),
            2,
            null_mut(),
            0,
        )
    };
    assert_eq!(status, PLE_ERR_POINTER);
    // With an output left out the engine's own scratch is one word per task short.
    let engine_words = p.model().unwrap().scratch_words();
    let status = unsafe {
        ple_predict_int8(
            &model,
            call.numeric.as_ptr(),
            2,
            call.categories.as_ptr(),
            2,
            call.scratch.as_mut_ptr(),
            engine_words,
            null_mut(),
            0,
            call.probabilities.as_mut_ptr(),
            2,
            null_mut(),
            0,
        )
    };
    assert_eq!(status, PLE_ERR_SCRATCH_LENGTH);
    // An output inside the scratch, or inside a model array.
    let scratch = call.scratch.as_mut_ptr();
    let status = unsafe {
        ple_predict_int8(
            &model,
            call.numeric.as_ptr(),
            2,
            call.categories.as_ptr(),
            2,
            scratch,
            call.scratch.len(),
            scratch.add(4),
            2,
            call.probabilities.as_mut_ptr(),
            2,
            null_mut(),
            0,
        )
    };
    assert_eq!(status, PLE_ERR_OVERLAP);
    let mut mix = p.clone();
    let inside_model = mix.mix_ratios.as_mut_ptr();
    let model_over_mix = model_c(&mix);
    let status = unsafe {
        ple_predict_int8(
            &model_over_mix,
            call.numeric.as_ptr(),
            2,
            call.categories.as_ptr(),
            2,
            call.scratch.as_mut_ptr(),
            call.scratch.len(),
            call.logits.as_mut_ptr(),
            2,
            inside_model,
            2,
            null_mut(),
            0,
        )
    };
    assert_eq!(status, PLE_ERR_OVERLAP);
    // SAFETY: a static NUL-terminated string.
    let message = unsafe { CStr::from_ptr(ple_error_message(PLE_ERR_RANGE)) };
    assert_eq!(
        message.to_str().unwrap(),
        "an int8 model entry is out of its range"
    );
}
