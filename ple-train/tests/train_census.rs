//! End to end on the real Census-Income data: one epoch of the default model reaches a
//! sensible AUC, the model file it writes scores the test split exactly as the report says,
//! and the report's deployment section (f32, f16, int8 through ple-core) stays within the
//! inference engine's tolerances.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ple_codegen::codegen::{bake_file, Precision};
use ple_codegen::model_file::ModelFile;
use ple_train::census::load_census;
use ple_train::config::TrainConfig;
use ple_train::network::Network;
use ple_train::report::metrics_map;
use ple_train::run::{
    run, Outcome, RunData, RunOptions, Silent, CURVES_FILE, MODEL_FILE, REPORT_FILE,
};
use ple_train::trainer::{logits_of, metrics_of, Prepared};

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PLE_CENSUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/census"));
    if dir.join("census-income.data.gz").is_file() || dir.join("census-income.data").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "\n\n*** SKIPPED: no Census data in {} (set PLE_CENSUS_DIR) ***\n\n",
            dir.display()
        );
        None
    }
}

#[test]
fn one_epoch_on_census_reaches_a_good_auc_and_the_saved_model_reproduces_the_report() {
    let Some(dir) = data_dir() else { return };
    let data = load_census(&dir).unwrap();
    let out = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let run_data = RunData {
        train: &data.train,
        validation: &data.validation,
        test: &data.test,
        spec: Some(&data.spec),
        unknown_categories: BTreeMap::new(),
    };
    let options = RunOptions {
        out_dir: out.path().to_owned(),
        resume: false,
        interrupt: None,
        stop_after: None,
        deployment_report: true,
    };
    let Outcome::Finished(report) = run(&config, &run_data, &options, &mut Silent).unwrap() else {
        panic!("run stopped early");
    };
    let auc = |key: &str| report.test[key].unwrap();
    // One epoch is close to the final figures already (full runs: ~0.95 and ~0.995).
    assert!(auc("auc_income") > 0.94, "{:?}", report.test);
    assert!(auc("auc_marital") > 0.993, "{:?}", report.test);
    assert_eq!(report.best_epoch, 1);
    assert_eq!(report.data.train_rows, 199_523);

    for file in [REPORT_FILE, CURVES_FILE] {
        assert!(out.path().join(file).is_file(), "{file} missing");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join(REPORT_FILE)).unwrap()).unwrap();
    assert!(json["validation"]["auc_income"].is_f64());
    assert!(json["epochs"][0]["seconds"].is_f64());

    // The saved model, reloaded through the model file format, gives the same test metrics.
    let model = ModelFile::load(out.path().join(MODEL_FILE)).unwrap();
    assert_eq!(model.feature_spec.as_ref(), Some(&data.spec));
    let net = Network::new(&model.config.shape());
    let params = net.from_canonical(&model.parameters);
    let norm = model.normalisation.clone().unwrap();
    let test = Prepared::new(&data.test, &norm, net.input_dim(), 2).unwrap();
    let mut tape = vec![0.0; net.tape_len()];
    let logits = logits_of(&net, &params, &test, &mut tape);
    let metrics = metrics_map(
        &model.config.task_names,
        &metrics_of(&logits, &data.test.labels),
    );
    assert_eq!(metrics, report.test);

    // The deployment report: the saved model at f32, f16 and int8 through ple-core, within
    // the inference engine's AUC tolerances of each other, with ple-codegen's footprints.
    let deployment = report.deployment.as_ref().expect("a deployment report");
    assert_eq!(report.deployment_error, None);
    assert_eq!(deployment.test_rows, data.test.rows());
    assert_eq!(deployment.calibration_rows, 20_000);
    assert_eq!(json["deployment"]["precisions"][2]["precision"], "int8");
    let [f32, f16, int8] = &deployment.precisions[..] else {
        panic!("three precisions: {deployment:?}");
    };
    for task in &model.config.task_names {
        let auc = |p: &ple_train::deploy::PrecisionReport| p.auc[task].unwrap();
        let trainer = report.test[&format!("auc_{task}")].unwrap();
        assert!((auc(f32) - trainer).abs() <= 1e-4, "{task}: {deployment:?}");
        assert!(
            (auc(f16) - auc(f32)).abs() <= 5e-4,
            "{task}: {deployment:?}"
        );
        assert!(
            (auc(int8) - auc(f32)).abs() <= 1e-3,
            "{task}: {deployment:?}"
        );
    }
    let path = out.path().join(MODEL_FILE);
    for (reported, precision) in [(f32, Precision::F32), (f16, Precision::F16)] {
        let footprint = bake_file(&path, precision).unwrap().footprint();
        assert_eq!(reported.weight_bytes, footprint.weight_bytes);
        assert_eq!(reported.table_bytes, footprint.table_bytes);
        assert_eq!(reported.scratch_bytes, footprint.scratch_bytes);
    }
}
