//! The small model trained on the real Census-Income data, and what the trainer predicts with
//! it on the test split: the reference the Census golden tests compare baked models with.
//!
//! The model and its cache are ple-train's ([`ple_train::test_support`]): the default PLE
//! trained for one epoch on the first 20,000 training rows, without weight averaging, the
//! same file the end-to-end tests bake.

use std::path::{Path, PathBuf};

use ple_train::metrics::exact_auc;
pub use ple_train::test_support::SmallModel as Trained;

/// The Census directory (`$PLE_CENSUS_DIR`, else `../shared/census` beside the checkout), or
/// `None` with a message naming `test` when the data is not there.
pub fn data_dir(test: &str) -> Option<PathBuf> {
    ple_train::test_support::census_dir(test)
}

/// Area under the ROC curve (ties counted half); both classes must occur.
pub fn auc(scores: &[f32], labels: &[u8]) -> f64 {
    match exact_auc(scores, labels) {
        Some(auc) => auc,
        None => panic!("the AUC needs both classes among the labels"),
    }
}

/// The small model and the data in `dir` (trained first if the cache is stale).
pub fn train_small_model(dir: &Path) -> Trained {
    Trained::load(dir).unwrap_or_else(|e| panic!("the small Census model: {e}"))
}
