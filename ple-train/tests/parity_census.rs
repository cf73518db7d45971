//! Numeric parity of the inference engine with the trainer, on the whole Census test split.
//!
//! The small model of [`ple_train::test_support`] (one epoch on the first 20,000 training
//! rows, no weight averaging, cached in `target/ple-tests/`) predicts the 49,881 test rows in the trainer's own
//! forward pass and in ple-core, on the trainer's weights unfolded, with the numeric inputs
//! standardised on the device by [`Standardisation`] (the trainer's arithmetic, so both see
//! the same input bits).
//!
//! What "within 1e-6 relative" means here: the prediction of a row is the distribution
//! `(p, 1 - p)`, and its error is measured relative to that distribution's largest entry,
//! `|p - p_trainer| / max(p_trainer, 1 - p_trainer)` (the normwise relative error of the
//! pair). Relative to `p` alone cannot hold for rare events: at `p = 1e-6` one unit in the
//! last place of a logit near -14 is already a relative change of 1e-6 in `p`, and an f32
//! probability near 1 cannot even represent `1 - p` to 1e-6. The test also prints the
//! componentwise `|Δp| / p` and the absolute difference.
//!
//! Contracts asserted on every row and both tasks:
//! - f32, scalar kernels and the detected SIMD kernels (AVX2+FMA here): normwise relative
//!   error at most 1e-6;
//! - f16 weights (same engine and standardisation) against the f32 engine: at most 2e-3
//!   absolute, AUC within 0.0005.
//!
//! `PLE_TEST_MODEL=path/model.safetensors cargo test -p ple-train --test parity_census --
//! --ignored` runs the same comparison on any model file (e.g. a fully trained one).

use std::path::Path;

use ple_codegen::model_file::ModelFile;
use ple_codegen::quantise::categories_from_columns;
use ple_core::kernels::scalar::Scalar;
use ple_core::kernels::{Detected, Kernels};
use ple_core::normalise::Standardisation;
use ple_core::{pack_f16, pack_f32, packed_len, Input, InputLayout, PleModel, Weight};
use ple_train::census::{load_census, CensusData};
use ple_train::dataset::Dataset;
use ple_train::metrics::{exact_auc, sigmoid};
use ple_train::network::Network;
use ple_train::test_support::{census_dir, SmallModel};
use ple_train::trainer::{logits_of, Prepared};

/// Per task, one probability per test row.
type Predictions = Vec<Vec<f32>>;

/// `ple_core::pack_f32` or `ple_core::pack_f16`.
type Pack<W> = fn(&ple_core::PleShape<'_>, &[f32], &mut [W]) -> Result<(), ple_core::PleError>;

/// The worst differences of `p` from `reference` over every row of one task.
struct Worst {
    absolute: f64,
    normwise: f64,
    componentwise: f64,
}

fn worst(p: &[f32], reference: &[f32]) -> Worst {
    let mut w = Worst {
        absolute: 0.0,
        normwise: 0.0,
        componentwise: 0.0,
    };
    for (&a, &r) in p.iter().zip(reference) {
        let (a, r) = (f64::from(a), f64::from(r));
        let d = (a - r).abs();
        w.absolute = w.absolute.max(d);
        w.normwise = w.normwise.max(d / r.max(1.0 - r));
        w.componentwise = w.componentwise.max(d / r);
    }
    w
}

/// ple-core's probabilities on the test split, from canonical (unfolded) parameters packed
/// with `pack`, the numeric inputs standardised by the model's normalisation.
fn engine<W: Weight + Default + Copy, K: Kernels<W>>(
    model: &ModelFile,
    test: &Dataset,
    layout: InputLayout<'_>,
    pack: Pack<W>,
    kernels: &K,
) -> Predictions {
    let shape = model.config.shape();
    let mut packed = vec![W::default(); packed_len(&shape)];
    pack(&shape, &model.parameters, &mut packed).unwrap();
    let net: PleModel<W> = PleModel::new(shape, layout, &packed).unwrap();
    let norm = model.normalisation.as_ref().unwrap();
    let standardise = Standardisation::new(&norm.mean, &norm.std).unwrap();
    let mut scratch = vec![0.0; net.scratch_len()];
    let (mut numeric, mut categories) = (vec![0.0; layout.numeric as usize], vec![0; test.fields]);
    let mut out = vec![0.0; net.tasks()];
    let mut p = vec![Vec::with_capacity(test.rows()); net.tasks()];
    for row in 0..test.rows() {
        standardise
            .apply(test.numeric_row(row), &mut numeric)
            .unwrap();
        categories_from_columns(&layout, test.hot_row(row), &mut categories);
        let input = Input::Sparse {
            numeric: &numeric,
            categories: &categories,
        };
        net.predict_using(kernels, input, &mut scratch, &mut out, None)
            .unwrap();
        for (task, &probability) in p.iter_mut().zip(&out) {
            task.push(probability);
        }
    }
    p
}

/// Runs every comparison on `model` and asserts the contracts of the module docs.
fn check_parity(model: &ModelFile, data: &CensusData) {
    let shape = model.config.shape();
    let net = Network::new(&shape);
    let params = net.from_canonical(&model.parameters);
    let norm = model.normalisation.as_ref().unwrap();
    let test = &data.test;
    let prepared = Prepared::new(test, norm, net.input_dim(), net.tasks()).unwrap();
    let mut tape = vec![0.0; net.tape_len()];
    let trainer: Predictions = logits_of(&net, &params, &prepared, &mut tape)
        .iter()
        .map(|z| z.iter().map(|&z| sigmoid(z)).collect())
        .collect();

    let vocab: Vec<u16> = data
        .spec
        .categorical
        .iter()
        .map(|f| f.vocabulary.len() as u16)
        .collect();
    let layout = InputLayout {
        numeric: test.numeric_width as u32,
        vocab_sizes: &vocab,
    };
    let detected = Detected::new();
    let f32_runs: [(&str, Predictions); 2] = [
        ("scalar", engine(model, test, layout, pack_f32, &Scalar)),
        (
            detected.name(),
            engine(model, test, layout, pack_f32, &detected),
        ),
    ];
    for (backend, p) in &f32_runs {
        for (task, (p, r)) in p.iter().zip(&trainer).enumerate() {
            let w = worst(p, r);
            eprintln!(
                "parity_census: f32 {backend} task {task}: max |Δp| {:.2e}, max |Δp|/max(p,1-p) {:.2e}, max |Δp|/p {:.2e}",
                w.absolute, w.normwise, w.componentwise
            );
            assert!(
                w.normwise <= 1e-6,
                "f32 {backend} task {task}: normwise relative error {:.3e} > 1e-6",
                w.normwise
            );
        }
    }

    let reference = &f32_runs[1].1;
    let f16_run = engine(model, test, layout, pack_f16, &detected);
    for (task, (p, r)) in f16_run.iter().zip(reference).enumerate() {
        let w = worst(p, r);
        let labels = &test.labels[task];
        let (auc16, auc32) = (exact_auc(p, labels).unwrap(), exact_auc(r, labels).unwrap());
        eprintln!(
            "parity_census: f16 {} task {task}: max |p - p_f32| {:.2e}, AUC {auc16:.6} vs f32 {auc32:.6}",
            detected.name(),
            w.absolute
        );
        assert!(
            w.absolute <= 2e-3,
            "f16 task {task}: {:.3e} > 2e-3",
            w.absolute
        );
        assert!(
            (auc16 - auc32).abs() <= 5e-4,
            "f16 task {task}: AUC {auc16} vs {auc32}"
        );
    }
}

fn load(path: &Path) -> ModelFile {
    let bytes = std::fs::read(path).unwrap();
    ModelFile::from_bytes(path, &bytes).unwrap()
}

#[test]
fn the_engine_predicts_the_test_split_like_the_trainer() {
    let Some(dir) = census_dir("parity_census") else {
        return;
    };
    let small = SmallModel::load(&dir).unwrap();
    check_parity(&small.model, &small.data);
}

#[test]
#[ignore = "needs PLE_TEST_MODEL=path/to/model.safetensors"]
fn a_given_model_predicts_the_test_split_like_the_trainer() {
    let path = std::env::var_os("PLE_TEST_MODEL").expect("set PLE_TEST_MODEL");
    let dir = census_dir("parity_census").expect("Census data");
    check_parity(&load(Path::new(&path)), &load_census(&dir).unwrap());
}
