//! The model file every end-to-end test bakes.
//!
//! `$PLE_MODEL`, when set, names a model to use (for instance the one `cargo run --release -p
//! ple-train` wrote). Otherwise the tests use the small *trained* Census model of
//! [`ple_train::test_support`]: ple-train's default PLE, one epoch over the first
//! [`TRAIN_ROWS`] training rows with the default seed, selected and reported on PaddleRec's
//! full validation and test halves. Its test AUCs are far from the full model's, but its
//! weights are what training makes of them (many near zero, a few large, ReLUs that are off
//! for many rows, gates that prefer some experts), so that parity with the host,
//! bit-exactness and the int8 tolerances are checked on the kind of numbers a deployment
//! runs, not on uniform noise. It is cached in `target/ple-tests/trained-model.safetensors`
//! and made again only when older than the running test executable.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::paths;

/// Training rows the test model learns from (the first of the training file).
pub const TRAIN_ROWS: usize = ple_train::test_support::TRAIN_ROWS;

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
        match ple_train::test_support::small_model_path(&paths::census_dir()) {
            Ok(path) => path,
            Err(e) => panic!("the test model: {e}"),
        }
    })
    .clone()
}
