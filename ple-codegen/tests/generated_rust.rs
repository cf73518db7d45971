//! The generated Rust for a small model (checked in under `tests/generated/`, kept up to date
//! by `generated_up_to_date.rs`) compiles, and predicts on raw records what the unfolded model
//! predicts on normalised dense input: bit for bit at f32, since the generated model keeps the
//! trained weights and standardises with the trainer's arithmetic.

mod common;

use ple_codegen::model_file::ModelFile;
use ple_core::{Input, InputLayout, ModelF32, UNKNOWN_CATEGORY};

use common::{calibration_rows, tiny_model, SHAPE};

mod tiny_f32 {
    include!("generated/tiny_f32.rs");
}
#[allow(dead_code)] // the f16 and int8 modules are only used for their predictions
mod tiny_int8 {
    include!("generated/tiny_int8.rs");
}
#[allow(dead_code)]
mod tiny_f16 {
    include!("generated/tiny_f16.rs");
}

/// The dense, normalised input the trainer feeds for a raw row.
fn dense_normalised(model: &ModelFile, numeric: &[f32], categories: &[u16]) -> Vec<f32> {
    let spec = model.feature_spec.as_ref().unwrap();
    let norm = model.normalisation.as_ref().unwrap();
    let mut dense = vec![0.0; SHAPE.input_dim as usize];
    for (j, &x) in numeric.iter().enumerate() {
        dense[j] = (x - norm.mean[j]) / norm.std[j];
    }
    for (field, &c) in spec.categorical.iter().zip(categories) {
        if c != UNKNOWN_CATEGORY {
            dense[field.offset + c as usize] = 1.0;
        }
    }
    dense
}

#[test]
fn generated_models_predict_like_the_unfolded_model_on_normalised_input() {
    let model = tiny_model();
    let mut packed = vec![0.0; ple_core::packed_len(&SHAPE)];
    ple_core::pack_f32(&SHAPE, &model.parameters, &mut packed).unwrap();
    let unfolded = ModelF32::new(SHAPE, InputLayout::dense(SHAPE.input_dim), &packed).unwrap();
    let mut halves = vec![ple_core::half::f16::ZERO; ple_core::packed_len(&SHAPE)];
    ple_core::pack_f16(&SHAPE, &model.parameters, &mut halves).unwrap();
    let unfolded16 =
        ple_core::ModelF16::new(SHAPE, InputLayout::dense(SHAPE.input_dim), &halves).unwrap();
    let mut scratch = vec![0.0; ple_core::scratch_len(&SHAPE)];
    let mut generated_scratch = [0.0; tiny_f32::SCRATCH_LEN];

    let mut checked = 0;
    for age in [0.0f32, 17.0, 45.5, 90.0] {
        for wage in [0.0f32, 1200.0, 9999.0] {
            for sex in [0, 1, UNKNOWN_CATEGORY] {
                for education in [0, 2, 4, UNKNOWN_CATEGORY] {
                    let (numeric, categories) = ([age, wage], [sex, education]);
                    let dense = dense_normalised(&model, &numeric, &categories);
                    let (mut expected, mut expected16) = ([0.0; 2], [0.0; 2]);
                    unfolded
                        .predict(Input::Dense(&dense), &mut scratch, &mut expected)
                        .unwrap();
                    unfolded16
                        .predict(Input::Dense(&dense), &mut scratch, &mut expected16)
                        .unwrap();
                    let f32s =
                        tiny_f32::predict(&numeric, &categories, &mut generated_scratch).unwrap();
                    let f16s =
                        tiny_f16::predict(&numeric, &categories, &mut generated_scratch).unwrap();
                    assert_eq!(f32s, expected);
                    assert_eq!(f16s, expected16);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 4 * 3 * 3 * 4);
}

#[test]
fn generated_encode_reads_raw_records_like_the_trainer() {
    let record = [
        " 38",
        " Male",
        " Masters",
        " 1250.5",
        " Married",
        " - 50000.",
    ];
    let (mut numeric, mut categories) = ([0.0; 2], [0; 2]);
    tiny_f32::encode(&record, &mut numeric, &mut categories).unwrap();
    assert_eq!(numeric, [38.0, 1250.5]);
    assert_eq!(categories, [1, 4]);

    let unseen = [" 38", " Unknown", " ?", " 0", "", ""];
    tiny_f32::encode(&unseen, &mut numeric, &mut categories).unwrap();
    assert_eq!(categories, [UNKNOWN_CATEGORY, 3]);

    let bad = [" 38", " Male", " Masters", " lots", "", ""];
    assert_eq!(
        tiny_f32::encode(&bad, &mut numeric, &mut categories),
        Err(tiny_f32::EncodeError::Numeric { column: 3 })
    );
    assert_eq!(
        tiny_f32::encode(&record[..5], &mut numeric, &mut categories),
        Err(tiny_f32::EncodeError::Columns { found: 5 })
    );
}

#[test]
fn generated_tables_describe_the_model() {
    assert_eq!(tiny_f32::SHAPE, SHAPE);
    assert_eq!(tiny_f32::TASK_NAMES, ["income", "never married"]);
    assert_eq!(tiny_f32::VOCAB_SIZES, [2, 5]);
    assert_eq!(tiny_f32::CATEGORICAL[1].vocabulary[3], " ?");
    assert_eq!(tiny_f32::NUMERIC[1].name, "wage per hour");
    assert_eq!(tiny_f32::SCRATCH_LEN, ple_core::scratch_len(&SHAPE));
    assert_eq!(tiny_f16::WEIGHTS.len(), SHAPE.parameter_count());
    let model = tiny_model();
    let bytes = model.to_bytes().unwrap();
    let sha = ple_codegen::codegen::sha256_hex(&bytes);
    let path = std::path::Path::new("tiny.safetensors");
    let f16 =
        ple_codegen::codegen::bake(path, model, sha, ple_codegen::codegen::Precision::F16).unwrap();
    let footprint = f16.footprint();
    assert_eq!(footprint.weight_bytes, 2 * tiny_f16::WEIGHTS.len());
    assert_eq!(footprint.table_bytes, 4 * 2 * tiny_f16::NUMERIC_LEN);
    assert_eq!(footprint.scratch_bytes, 4 * tiny_f16::SCRATCH_LEN);
}

#[test]
fn generated_weights_start_at_a_16_byte_boundary() {
    // The Arm FPU kernels read f16 weights a word at a time only from word-aligned matrices;
    // a plain `static [f16; N]` is wherever the linker puts it.
    assert_eq!(tiny_f32::WEIGHTS.as_ptr() as usize % 16, 0);
    assert_eq!(tiny_f16::WEIGHTS.as_ptr() as usize % 16, 0);
    assert_eq!(
        tiny_f16::MODEL.weights().as_ptr(),
        tiny_f16::WEIGHTS.as_ptr()
    );
}

#[test]
fn generated_standardisation_tables_are_the_model_file_s() {
    let norm = tiny_model().normalisation.unwrap();
    for (mean, std) in [
        (&tiny_f32::NUMERIC_MEAN, &tiny_f32::NUMERIC_STD),
        (&tiny_f16::NUMERIC_MEAN, &tiny_f16::NUMERIC_STD),
    ] {
        assert_eq!((&mean[..], &std[..]), (&norm.mean[..], &norm.std[..]));
    }
    let st = tiny_f32::MODEL.standardisation().unwrap();
    assert_eq!(st.mean().as_ptr(), tiny_f32::NUMERIC_MEAN.as_ptr());
    assert_eq!(st.std().as_ptr(), tiny_f32::NUMERIC_STD.as_ptr());
    assert!(tiny_f16::MODEL.standardisation().is_some());
}

#[test]
fn folding_on_request_drops_the_tables_and_keeps_the_predictions_close() {
    use ple_codegen::codegen::{bake_with, emit_rust, BakeOptions, BakedWeights, Precision};
    let path = std::path::Path::new("tiny.safetensors");
    let options = BakeOptions {
        fold_normalisation: true,
    };
    let folded = bake_with(path, tiny_model(), String::new(), Precision::F32, options).unwrap();
    assert!(folded.normalisation.is_none());
    assert_eq!(folded.footprint().table_bytes, 0);
    let source = emit_rust(&folded).unwrap().contents;
    assert!(!source.contains("NUMERIC_MEAN") && !source.contains("with_standardisation"));
    let BakedWeights::F32(weights) = &folded.weights else {
        panic!("baked at f32");
    };
    let layout = InputLayout {
        numeric: 2,
        vocab_sizes: &[2, 5],
    };
    let model = ModelF32::new(SHAPE, layout, weights).unwrap();
    let (mut scratch, mut generated_scratch) = (
        vec![0.0; ple_core::scratch_len(&SHAPE)],
        [0.0; tiny_f32::SCRATCH_LEN],
    );
    for (numeric, categories) in [([45.5f32, 1200.0], [1u16, 2u16]), ([17.0, 0.0], [0, 4])] {
        let mut folded_p = [0.0; 2];
        let input = Input::Sparse {
            numeric: &numeric,
            categories: &categories,
        };
        model.predict(input, &mut scratch, &mut folded_p).unwrap();
        let p = tiny_f32::predict(&numeric, &categories, &mut generated_scratch).unwrap();
        for task in 0..2 {
            assert!(
                (folded_p[task] - p[task]).abs() < 1e-5,
                "{folded_p:?} vs {p:?}"
            );
        }
    }
}

#[test]
fn generated_int8_model_predicts_like_the_quantised_arrays_and_near_f32() {
    let model = tiny_model();
    let (numeric, categories) = calibration_rows();
    let rows = ple_codegen::quantise::SparseRows {
        numeric: &numeric,
        categories: &categories,
    };
    let path = std::path::Path::new("tiny.safetensors");
    let baked = ple_codegen::codegen::bake_int8(path, model, String::new(), rows).unwrap();
    let ple_codegen::codegen::BakedWeights::Int8(params) = &baked.weights else {
        panic!("int8 bake gave another precision");
    };
    let footprint = baked.footprint();
    assert_eq!(footprint.scratch_bytes, 4 * tiny_int8::SCRATCH_WORDS);
    assert_eq!(footprint.weight_bytes, params.weight_bytes());
    let direct = params.model().unwrap();
    let generated = tiny_int8::model().unwrap();
    let mut scratch = [0; tiny_int8::SCRATCH_WORDS];
    let mut direct_scratch = vec![0; tiny_int8::SCRATCH_WORDS];
    let mut f32_scratch = [0.0; tiny_f32::SCRATCH_LEN];
    let mut worst = 0f32;
    for row in 0..40 {
        let raw = [numeric[2 * row], numeric[2 * row + 1]];
        let cats = [categories[2 * row], categories[2 * row + 1]];
        let fixed = tiny_int8::numeric_to_fixed(&raw);
        let mut expected_fixed = [0; 2];
        params.encode_numeric(&raw, &mut expected_fixed).unwrap();
        assert_eq!(fixed, expected_fixed);
        let q15 = tiny_int8::predict(&generated, &fixed, &cats, &mut scratch).unwrap();
        let input = ple_core::int8::Int8Input {
            numeric: &fixed,
            categories: &cats,
        };
        let (mut logits, mut probabilities) = ([0; 2], [0; 2]);
        direct
            .predict(&input, &mut direct_scratch, &mut logits, &mut probabilities)
            .unwrap();
        assert_eq!(q15, probabilities);
        let f32s = tiny_f32::predict(&raw, &cats, &mut f32_scratch).unwrap();
        for task in 0..2 {
            worst = worst.max((f32::from(q15[task]) / 32768.0 - f32s[task]).abs());
        }
    }
    assert!(
        worst < 0.05,
        "int8 probabilities differ from f32 by up to {worst}"
    );
}
