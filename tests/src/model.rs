//! The model file every end-to-end test bakes.
//!
//! `$PLE_MODEL`, when set, names a model to use (for instance the one `cargo run --release -p
//! ple-train` wrote). Otherwise the tests use a *trained* Census model: ple-train's default
//! PLE, one epoch over the first [`TRAIN_ROWS`] training rows with the default seed, selected
//! and reported on PaddleRec's full validation and test halves. Its test AUCs are far from the
//! full model's, but its weights are what training makes of them (many near zero, a few large,
//! ReLUs that are off for many rows, gates that prefer some experts), so that parity with the
//! host, bit-exactness and the int8 tolerances are checked on the kind of numbers a deployment
//! runs, not on uniform noise.
//!
//! Training takes a few seconds, so the model is kept in `target/ple-tests/trained-model.safetensors`
//! and made again only when it is older than the running test executable (which any change to
//! the trainer, the data reader or these tests rebuilds). Test binaries may race to make it:
//! each trains into a file of its own and renames it into place, an atomic replacement of one
//! byte-identical file by another, since the same seed and the same data give the same model
//! bit for bit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use ple_train::census::{load_census, select_rows};
use ple_train::config::TrainConfig;
use ple_train::run::{run, Outcome, RunData, RunOptions, Silent, MODEL_FILE};

use crate::paths;

/// Training rows the test model learns from (the first of the training file).
pub const TRAIN_ROWS: usize = 20_000;

/// Path of the model file the tests use (trained on first use, see the module docs).
///
/// # Panics
/// When the Census data cannot be read, training fails or the file cannot be written.
pub fn model_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("PLE_MODEL").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let path = paths::artefacts().join("trained-model.safetensors");
        if !is_current(&path) {
            train_census_model(&path);
        }
        path
    })
    .clone()
}

/// Whether `path` exists and was written after the running executable was built.
fn is_current(path: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let built = std::env::current_exe()
        .ok()
        .and_then(|exe| modified(&exe))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    modified(path).is_some_and(|written| written >= built)
}

/// Trains the test model (see the module docs) and writes it to `path`.
///
/// # Panics
/// When the Census data cannot be read, training fails or the file cannot be written.
pub fn train_census_model(path: &Path) {
    let data = match load_census(&paths::census_dir()) {
        Ok(data) => data,
        Err(e) => panic!("{e}"),
    };
    let first: Vec<usize> = (0..TRAIN_ROWS.min(data.train.rows())).collect();
    let train = select_rows(&data.train, &first);
    let run_data = RunData {
        train: &train,
        validation: &data.validation,
        test: &data.test,
        spec: Some(&data.spec),
        unknown_categories: BTreeMap::new(),
    };
    let out_dir = paths::artefacts().join(format!("training-{}", std::process::id()));
    let options = RunOptions {
        out_dir: out_dir.clone(),
        resume: false,
        interrupt: None,
        stop_after: None,
    };
    // No weight averaging: over one short epoch an average would still lean on the initial
    // weights.
    let config = TrainConfig {
        epochs: 1,
        ema_decay: 0.0,
        ..TrainConfig::default()
    };
    match run(&config, &run_data, &options, &mut Silent) {
        Ok(Outcome::Finished(_)) => {}
        Ok(Outcome::Stopped { epochs_done }) => {
            panic!("training the test model stopped after {epochs_done} epochs")
        }
        Err(e) => panic!("training the test model failed: {e}"),
    }
    let trained = out_dir.join(MODEL_FILE);
    if let Err(e) = std::fs::rename(&trained, path) {
        panic!(
            "cannot move {} to {}: {e}",
            trained.display(),
            path.display()
        );
    }
    // The checkpoint and report are not needed; a leftover directory is harmless.
    let _ = std::fs::remove_dir_all(&out_dir);
}
