//! Golden test on the real Census-Income data: a model trained by ple-train (one epoch on the
//! first 20,000 training rows, to keep the test short), written to `model.safetensors`, baked
//! at f32, f16 and int8, predicts on the whole test split what the trainer predicts.
//!
//! The f32 and f16 models keep the trained weights and standardise the raw numeric values on
//! the device with the trainer's arithmetic (`Baked::normalisation`, `PleModel::with_standardisation`);
//! int8 folds the standardisation into its first layer. Asserted here, the engine's contracts:
//! f32 within 1e-6 of the trainer relative to `max(p, 1 - p)` and the AUC within 1e-5; f16
//! within 2e-3 of f32 and the AUC within 0.0005; int8 within 0.05 and the AUC within 0.001 of
//! the trainer. (`golden_generated` checks the same through the generated Rust and C.)

use std::collections::BTreeMap;

use ple_codegen::codegen::calibration::read_calibration;
use ple_codegen::codegen::{bake, bake_int8, BakedWeights, Precision};
use ple_codegen::quantise::{categories_from_columns, SparseRows};
use ple_core::int8::Int8Input;
use ple_core::normalise::Standardisation;
use ple_core::{Input, InputLayout, ModelF16, ModelF32, PleModel};
use ple_train::dataset::Dataset;

#[path = "common/census.rs"]
mod census;
use census::{data_dir, train_small_model, Comparison, Within};

#[test]
fn baked_models_predict_the_test_split_like_the_trainer() {
    let Some(dir) = data_dir("golden_census") else {
        return;
    };
    let trained = train_small_model(&dir);
    let (data, train, path, model) = (&trained.data, &trained.train, &trained.path, &trained.model);
    let shape = model.config.shape();
    // The trainer's probabilities on the test split.
    let trainer = trained.trainer_probabilities();
    let test = &data.test;

    let vocab = trained.vocab_sizes();
    let layout = InputLayout {
        numeric: test.numeric_width as u32,
        vocab_sizes: &vocab,
    };
    let categories_of = |d: &Dataset, row: usize| {
        let mut c = vec![0u16; d.fields];
        categories_from_columns(&layout, d.hot_row(row), &mut c);
        c
    };
    let sha = trained.sha256.clone();
    let rows = test.rows();
    let mut scratch = vec![0.0; ple_core::scratch_len(&shape)];
    let mut predictions = BTreeMap::new();
    for precision in [Precision::F32, Precision::F16] {
        let baked = bake(path, model.clone(), sha.clone(), precision).unwrap();
        eprintln!(
            "golden_census: {} footprint {:?}",
            precision.name(),
            baked.footprint()
        );
        let norm = baked
            .normalisation
            .as_ref()
            .expect("f32/f16 models carry their standardisation");
        let standardisation = Standardisation::new(&norm.mean, &norm.std).unwrap();
        let mut p = [Vec::with_capacity(rows), Vec::with_capacity(rows)];
        let mut out = [0.0; 2];
        for row in 0..rows {
            let cats = categories_of(test, row);
            let input = Input::Sparse {
                numeric: test.numeric_row(row),
                categories: &cats,
            };
            match &baked.weights {
                BakedWeights::F32(w) => {
                    let m: ModelF32 = PleModel::new(shape, layout, w).unwrap();
                    let m = m.with_standardisation(standardisation).unwrap();
                    m.predict(input, &mut scratch, &mut out).unwrap();
                }
                BakedWeights::F16(w) => {
                    let m: ModelF16 = PleModel::new(shape, layout, w).unwrap();
                    let m = m.with_standardisation(standardisation).unwrap();
                    m.predict(input, &mut scratch, &mut out).unwrap();
                }
                BakedWeights::Int8(_) => unreachable!(),
            }
            p[0].push(out[0]);
            p[1].push(out[1]);
        }
        predictions.insert(precision.name(), p.to_vec());
    }

    // The command line's calibration reader encodes raw records exactly as the trainer did.
    let raw = ["census-income.data.gz", "census-income.data"].map(|f| dir.join(f));
    let raw = raw.iter().find(|p| p.is_file()).unwrap();
    let (cal_numeric, cal_cats) = read_calibration(raw, &data.spec, 2_000).unwrap();
    assert_eq!(
        cal_numeric,
        data.train.numeric[..2_000 * test.numeric_width]
    );
    let trainer_cats: Vec<u16> = (0..2_000)
        .flat_map(|r| categories_of(&data.train, r))
        .collect();
    assert_eq!(cal_cats, trainer_cats);

    // int8, calibrated on the training rows the model was trained on.
    let cal_categories = trained.categories(train);
    let rows_in = SparseRows {
        numeric: &train.numeric,
        categories: &cal_categories,
    };
    let baked = bake_int8(path, model.clone(), sha, rows_in).unwrap();
    eprintln!("golden_census: int8 footprint {:?}", baked.footprint());
    let BakedWeights::Int8(int8) = &baked.weights else {
        unreachable!()
    };
    let int8_model = int8.model().unwrap();
    let mut words = vec![0; int8_model.scratch_words()];
    let mut p = [Vec::with_capacity(rows), Vec::with_capacity(rows)];
    for row in 0..rows {
        let cats = categories_of(test, row);
        let mut fixed = vec![0; test.numeric_width];
        int8.encode_numeric(test.numeric_row(row), &mut fixed)
            .unwrap();
        let (mut logits, mut q15) = ([0; 2], [0; 2]);
        let input = Int8Input {
            numeric: &fixed,
            categories: &cats,
        };
        int8_model
            .predict(&input, &mut words, &mut logits, &mut q15)
            .unwrap();
        p[0].push(f32::from(q15[0]) / 32768.0);
        p[1].push(f32::from(q15[1]) / 32768.0);
    }
    predictions.insert("int8", p.to_vec());

    // f32 against the trainer, relative to max(p, 1 - p); f16 against f32 and int8 against the
    // trainer, absolute; each AUC against its reference's.
    let [f32_p, f16_p, int8_p] = ["f32", "f16", "int8"].map(|name| &predictions[name][..]);
    let trainer = ("trainer", &trainer[..]);
    let checks = [
        (("f32", f32_p), trainer, Within::Relative(1e-6), 1e-5),
        (
            ("f16", f16_p),
            ("f32", f32_p),
            Within::Absolute(2e-3),
            0.0005,
        ),
        (("int8", int8_p), trainer, Within::Absolute(0.05), 0.001),
    ];
    for (model, reference, within, max_auc_diff) in checks {
        let comparison = Comparison {
            model,
            reference,
            within,
            auc_reference: reference,
            max_auc_diff,
        };
        comparison.check("golden_census", &test.labels);
    }
}
