//! The generated Rust for a small model (checked in under `tests/generated/`, kept up to date
//! by `generated_up_to_date.rs`) compiles, and predicts on raw records what the unfolded model
//! predicts on normalised dense input.

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
    let mut scratch = vec![0.0; ple_core::scratch_len(&SHAPE)];
    let mut generated_scratch = [0.0; tiny_f32::SCRATCH_LEN];

    let mut checked = 0;
    for age in [0.0f32, 17.0, 45.5, 90.0] {
        for wage in [0.0f32, 1200.0, 9999.0] {
            for sex in [0, 1, UNKNOWN_CATEGORY] {
                for education in [0, 2, 4, UNKNOWN_CATEGORY] {
                    let (numeric, categories) = ([age, wage], [sex, education]);
                    let dense = dense_normalised(&model, &numeric, &categories);
                    let mut expected = [0.0; 2];
                    unfolded
                        .predict(Input::Dense(&dense), &mut scratch, &mut expected)
                        .unwrap();
                    let f32s =
                        tiny_f32::predict(&numeric, &categories, &mut generated_scratch).unwrap();
                    let f16s =
                        tiny_f16::predict(&numeric, &categories, &mut generated_scratch).unwrap();
                    for task in 0..2 {
                        assert!(
                            (f32s[task] - expected[task]).abs() < 1e-5,
                            "{f32s:?} vs {expected:?}"
                        );
                        assert!(
                            (f16s[task] - expected[task]).abs() < 2e-2,
                            "{f16s:?} vs {expected:?}"
                        );
                    }
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
    assert_eq!(footprint.scratch_bytes, 4 * tiny_f16::SCRATCH_LEN);
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
