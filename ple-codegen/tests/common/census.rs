//! A small model trained on the real Census-Income data, and what the trainer predicts with
//! it on the test split: the reference the Census golden tests compare baked models with.
//!
//! The model is ple-train's default PLE trained for one epoch on the first 20,000 training
//! rows, without weight averaging, so that a test trains it in seconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ple_codegen::codegen::sha256_hex;
use ple_codegen::model_file::ModelFile;
use ple_codegen::quantise::categories_from_columns;
use ple_core::InputLayout;
use ple_train::census::{load_census, CensusData};
use ple_train::config::TrainConfig;
use ple_train::dataset::Dataset;
use ple_train::network::Network;
use ple_train::run::{run, Outcome, RunData, RunOptions, Silent, MODEL_FILE};
use ple_train::trainer::{logits_of, Prepared};

/// Training rows the small model sees.
pub const TRAIN_ROWS: usize = 20_000;

/// The Census directory (`$PLE_CENSUS_DIR`, else `../shared/census` beside the checkout), or
/// `None` with a message naming `test` when the data is not there.
pub fn data_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("PLE_CENSUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/census"));
    if dir.join("census-income.data.gz").is_file() || dir.join("census-income.data").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "{test}: SKIPPED, no Census data in {} (set PLE_CENSUS_DIR)",
            dir.display()
        );
        None
    }
}

/// The first `rows` rows of a split.
pub fn first_rows(data: &Dataset, rows: usize) -> Dataset {
    Dataset {
        numeric: data.numeric[..rows * data.numeric_width].to_vec(),
        hot: data.hot[..rows * data.fields].to_vec(),
        labels: data.labels.iter().map(|l| l[..rows].to_vec()).collect(),
        task_names: data.task_names.clone(),
        ..*data
    }
}

/// Area under the ROC curve (ties counted half).
pub fn auc(scores: &[f32], labels: &[u8]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut i) = (0f64, 0);
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            j += 1;
        }
        let mid = (i + j + 1) as f64 / 2.0;
        rank_sum += order[i..j].iter().filter(|&&k| labels[k] == 1).count() as f64 * mid;
        i = j;
    }
    let positives = labels.iter().filter(|&&l| l == 1).count() as f64;
    let negatives = labels.len() as f64 - positives;
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// The trained small model and the data it came from.
pub struct Trained {
    pub data: CensusData,
    /// The rows it was trained on.
    pub train: Dataset,
    /// `model.safetensors`, in a directory that lives as long as this value.
    pub path: PathBuf,
    pub model: ModelFile,
    pub sha256: String,
    _dir: tempfile::TempDir,
}

/// Trains the small model on the data in `dir`.
pub fn train_small_model(dir: &Path) -> Trained {
    let data = load_census(dir).unwrap();
    let train = first_rows(&data.train, TRAIN_ROWS);
    let out = tempfile::tempdir().unwrap();
    let run_data = RunData {
        train: &train,
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
    };
    // No weight averaging: over the 625 steps of this short run an average would still
    // lean on the initial weights, and the comparison wants a model that has learnt.
    let config = TrainConfig {
        epochs: 1,
        ema_decay: 0.0,
        ..TrainConfig::default()
    };
    let Outcome::Finished(_) = run(&config, &run_data, &options, &mut Silent).unwrap() else {
        panic!("training stopped early");
    };
    let path = out.path().join(MODEL_FILE);
    let bytes = std::fs::read(&path).unwrap();
    let model = ModelFile::from_bytes(&path, &bytes).unwrap();
    Trained {
        data,
        train,
        path,
        model,
        sha256: sha256_hex(&bytes),
        _dir: out,
    }
}

impl Trained {
    /// The trainer's probabilities on the test split, `[task][row]`, from its own forward
    /// pass on standardised input.
    pub fn trainer_probabilities(&self) -> Vec<Vec<f32>> {
        let shape = self.model.config.shape();
        let net = Network::new(&shape);
        let params = net.from_canonical(&self.model.parameters);
        let norm = self.model.normalisation.clone().unwrap();
        let test = &self.data.test;
        let prepared = Prepared::new(test, &norm, net.input_dim(), 2).unwrap();
        let mut tape = vec![0.0; net.tape_len()];
        let logits = logits_of(&net, &params, &prepared, &mut tape);
        logits
            .iter()
            .map(|z| z.iter().map(|&z| 1.0 / (1.0 + (-z).exp())).collect())
            .collect()
    }

    /// Vocabulary size of each categorical field.
    pub fn vocab_sizes(&self) -> Vec<u16> {
        let fields = &self.data.spec.categorical;
        fields.iter().map(|f| f.vocabulary.len() as u16).collect()
    }

    /// The category indices of every row of `split`, row-major (one per field).
    pub fn categories(&self, split: &Dataset) -> Vec<u16> {
        let vocab = self.vocab_sizes();
        let layout = InputLayout {
            numeric: split.numeric_width as u32,
            vocab_sizes: &vocab,
        };
        let mut out = vec![0u16; split.rows() * split.fields];
        for (row, slot) in out.chunks_mut(split.fields.max(1)).enumerate() {
            categories_from_columns(&layout, split.hot_row(row), slot);
        }
        out
    }
}
