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

/// Maximum absolute difference, and maximum difference relative to `max(r, 1 - r)` of the
/// reference probability `r` (the scale of a probability's rounding error, whichever class
/// it favours), computed in f64.
pub fn max_errors(p: &[f32], reference: &[f32]) -> (f64, f64) {
    p.iter()
        .zip(reference)
        .fold((0f64, 0f64), |(abs, rel), (&a, &r)| {
            let (a, r) = (f64::from(a), f64::from(r));
            let d = (a - r).abs();
            (abs.max(d), rel.max(d / r.max(1.0 - r)))
        })
}

/// How far a model's probabilities may be from the reference's.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)] // each golden test uses some of the bounds
pub enum Within {
    /// At most this far relative to `max(r, 1 - r)` (see [`max_errors`]).
    Relative(f64),
    /// At most this far.
    Absolute(f64),
    /// No bound on single probabilities (the AUC is still bounded).
    AucOnly,
}

/// Probabilities `[task][row]` under a name, for [`Comparison`].
pub type Named<'a> = (&'a str, &'a [Vec<f32>]);

/// One model's probabilities on the test split against a reference's, and its AUC against
/// another's (the reference's or the trainer's).
pub struct Comparison<'a> {
    pub model: Named<'a>,
    pub reference: Named<'a>,
    pub within: Within,
    pub auc_reference: Named<'a>,
    pub max_auc_diff: f64,
}

impl Comparison<'_> {
    /// Prints, per task, the largest differences and both AUCs (as `test`), and asserts the
    /// bounds and that every row was predicted.
    pub fn check(&self, test: &str, labels: &[Vec<u8>]) {
        let ((name, p), (reference, r)) = (self.model, self.reference);
        let (auc_name, auc_r) = self.auc_reference;
        for (task, labels) in labels.iter().enumerate() {
            let (p, r, auc_r) = (&p[task], &r[task], &auc_r[task]);
            assert_eq!(p.len(), r.len(), "{name} task {task}: rows predicted");
            let (abs, rel) = max_errors(p, r);
            let (model_auc, reference_auc) = (auc(p, labels), auc(auc_r, labels));
            eprintln!(
                "{test}: {name} task {task} ({} rows): max |p - {reference}| {abs:.2e}, max \
                 relative to max(p, 1-p) {rel:.2e}, AUC {model_auc:.6} vs {auc_name} \
                 {reference_auc:.6} (diff {:+.6})",
                p.len(),
                model_auc - reference_auc
            );
            let (worst, bound, kind) = match self.within {
                Within::Relative(bound) => (rel, bound, "relative"),
                Within::Absolute(bound) => (abs, bound, "absolute"),
                Within::AucOnly => (0.0, 0.0, "no"),
            };
            assert!(
                worst <= bound,
                "{name} task {task}: max {kind} difference from {reference} {worst:e}"
            );
            assert!(
                (model_auc - reference_auc).abs() <= self.max_auc_diff,
                "{name} task {task}: AUC {model_auc} vs {auc_name} {reference_auc}"
            );
        }
    }
}
