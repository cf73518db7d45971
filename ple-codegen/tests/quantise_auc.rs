//! Int8 against f32 on the real Census-Income test split: the AUC of each task may move by at
//! most 0.001.
//!
//! The test trains nothing: it quantises the model named by `$PLE_TEST_MODEL` (a
//! `model.safetensors` with its normalisation), calibrating on the first 20,000 training rows,
//! and compares on the 49,881 rows of the test split. It is ignored by default (run it with
//! `PLE_TEST_MODEL=target/ple-train/model.safetensors cargo test -p ple-codegen --test
//! quantise_auc -- --ignored`); `golden_census` runs the same bound on a model it trains.

use std::path::PathBuf;

use ple_codegen::quantise::{
    categories_from_columns, compare_logits, quantise, QuantiseOptions, SparseRows,
};
use ple_codegen::ModelFile;
use ple_core::input::InputLayout;
use ple_train::census::load_census;
use ple_train::dataset::Dataset;
use ple_train::metrics::exact_auc;

fn census_dir() -> PathBuf {
    std::env::var_os("PLE_CENSUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/census"))
}

/// The sparse rows (numeric raw values, categories) of `data`.
fn sparse(layout: &InputLayout<'_>, data: &Dataset, rows: usize) -> (Vec<f32>, Vec<u16>) {
    let rows = rows.min(data.rows());
    let numeric = data.numeric[..rows * data.numeric_width].to_vec();
    let mut categories = vec![0u16; rows * layout.fields()];
    for (row, out) in categories.chunks_exact_mut(layout.fields()).enumerate() {
        categories_from_columns(layout, data.hot_row(row), out);
    }
    (numeric, categories)
}

#[test]
#[ignore = "needs a trained model in $PLE_TEST_MODEL"]
fn int8_test_auc_is_within_a_thousandth_of_f32() {
    let Some(path) = std::env::var_os("PLE_TEST_MODEL") else {
        panic!("PLE_TEST_MODEL is not set: name a trained model.safetensors to check");
    };
    let model = ModelFile::load(&path).unwrap();
    let data = load_census(&census_dir()).unwrap();
    let vocab: Vec<u16> = data
        .spec
        .categorical
        .iter()
        .map(|f| f.vocabulary.len() as u16)
        .collect();
    let layout = InputLayout {
        numeric: data.spec.numeric.len() as u32,
        vocab_sizes: &vocab,
    };
    let shape = model.config.shape();
    let norm = model.normalisation.as_ref();
    let (num, cat) = sparse(&layout, &data.train, 20_000);
    let calibration = SparseRows {
        numeric: &num,
        categories: &cat,
    };
    let options = QuantiseOptions::default();
    let params = quantise(
        &shape,
        &model.parameters,
        norm,
        &layout,
        calibration,
        &options,
    )
    .unwrap();
    let (num, cat) = sparse(&layout, &data.test, usize::MAX);
    let rows = SparseRows {
        numeric: &num,
        categories: &cat,
    };
    let pairs = compare_logits(&params, &model.parameters, norm, rows).unwrap();
    let tasks = shape.tasks as usize;
    for task in 0..tasks {
        let name = &data.test.task_names[task];
        let model_task = model
            .config
            .task_names
            .iter()
            .position(|n| n == name)
            .unwrap();
        let reference: Vec<f32> = pairs
            .iter()
            .skip(model_task)
            .step_by(tasks)
            .map(|p| p[0] as f32)
            .collect();
        let int8: Vec<f32> = pairs
            .iter()
            .skip(model_task)
            .step_by(tasks)
            .map(|p| p[1] as f32)
            .collect();
        let labels = &data.test.labels[task];
        let (a, b) = (
            exact_auc(&reference, labels).unwrap(),
            exact_auc(&int8, labels).unwrap(),
        );
        eprintln!(
            "{name}: f32 AUC {a:.6}, int8 AUC {b:.6}, difference {:+.6}",
            b - a
        );
        assert!((a - b).abs() <= 0.001, "{name}: f32 {a} int8 {b}");
    }
    eprintln!("int8 weights and tables: {} bytes", params.weight_bytes());
}
