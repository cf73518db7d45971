//! Support for tests: the small Census model that the workspace's tests share.
//!
//! This module is public so that the tests of other crates (ple-codegen's golden tests, the
//! end-to-end `ple-tests`) can use it; it is not part of the trainer's interface otherwise.
//!
//! The small model is ple-train's default PLE trained with the default seed for one epoch
//! on the first [`TRAIN_ROWS`] rows of the training file, without weight averaging (over the
//! 625 steps of that epoch an average would still lean on the initial weights), and selected
//! and reported on PaddleRec's full validation and test halves. Its test AUCs are below the
//! fully trained model's, but its weights are what training makes of them (many near zero, a
//! few large, ReLUs off for many rows, gates that prefer some experts), so that parity,
//! bit-exactness and quantisation tolerances are checked on the kind of numbers a deployment
//! runs, and training it takes seconds.
//!
//! Training is still too slow to repeat in every test, so the model is kept in
//! `<workspace>/target/ple-tests/trained-model.safetensors` and made again only when it is
//! older than the running test executable (which any change to the trainer, the data reader
//! or the test rebuilds). Test processes may race to make it: each trains into a directory of
//! its own and renames the model into place, an atomic replacement of one byte-identical file
//! by another, since the same seed and data give the same model bit for bit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use ple_codegen::codegen::sha256_hex;
use ple_codegen::model_file::ModelFile;
use ple_codegen::quantise::categories_from_columns;
use ple_core::InputLayout;

use crate::census::{load_census, select_rows, CensusData};
use crate::config::TrainConfig;
use crate::dataset::Dataset;
use crate::network::Network;
use crate::run::{run, Outcome, RunData, RunOptions, Silent, MODEL_FILE};
use crate::trainer::{logits_of, Prepared};

/// Training rows the small model learns from (the first of the training file).
pub const TRAIN_ROWS: usize = 20_000;

/// The file name of the cached small model inside [`artefacts_dir`].
pub const SMALL_MODEL_FILE: &str = "trained-model.safetensors";

/// The workspace root (the parent of this crate's directory).
pub fn workspace_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map_or_else(|| here.to_path_buf(), Path::to_path_buf)
}

/// The directory of cached test artefacts, `<workspace>/target/ple-tests/`, created if
/// missing.
pub fn artefacts_dir() -> Result<PathBuf, String> {
    let dir = workspace_dir().join("target/ple-tests");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// The Census directory the tests read: `$PLE_CENSUS_DIR` when set, else `../shared/census`
/// beside the workspace; `None` (with a line on stderr naming `test` and the directory) when
/// it holds no `census-income.data[.gz]`.
pub fn census_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("PLE_CENSUS_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| workspace_dir().join("../shared/census"), PathBuf::from);
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

/// The small model's training settings: the defaults, one epoch, no weight averaging.
pub fn small_model_config() -> TrainConfig {
    TrainConfig {
        epochs: 1,
        ema_decay: 0.0,
        ..TrainConfig::default()
    }
}

/// The first `rows` rows of a split (all of them if it has fewer).
pub fn first_rows(data: &Dataset, rows: usize) -> Dataset {
    let rows: Vec<usize> = (0..rows.min(data.rows())).collect();
    select_rows(data, &rows)
}

/// Trains the small model on `data` and writes it to `path` (atomically, by a rename).
pub fn train_small_model(data: &CensusData, path: &Path) -> Result<(), String> {
    let train = first_rows(&data.train, TRAIN_ROWS);
    let run_data = RunData {
        train: &train,
        validation: &data.validation,
        test: &data.test,
        spec: Some(&data.spec),
        unknown_categories: BTreeMap::new(),
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    let out_dir = parent.join(format!("training-{}", std::process::id()));
    let options = RunOptions {
        out_dir: out_dir.clone(),
        resume: false,
        interrupt: None,
        stop_after: None,
        deployment_report: false,
    };
    match run(&small_model_config(), &run_data, &options, &mut Silent)? {
        Outcome::Finished(_) => {}
        Outcome::Stopped { epochs_done } => {
            return Err(format!(
                "training the small model stopped after {epochs_done} epochs"
            ))
        }
    }
    let trained = out_dir.join(MODEL_FILE);
    std::fs::rename(&trained, path).map_err(|e| {
        format!(
            "cannot move {} to {}: {e}",
            trained.display(),
            path.display()
        )
    })?;
    // The checkpoint and the report are not needed; a leftover directory is harmless.
    let _ = std::fs::remove_dir_all(&out_dir);
    Ok(())
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

/// The cached small model file, trained first (from the data in `census_dir`) when missing
/// or older than the running executable. Once per process.
pub fn small_model_path(census_dir: &Path) -> Result<PathBuf, String> {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = artefacts_dir()?.join(SMALL_MODEL_FILE);
        if !is_current(&path) {
            let data = load_census(census_dir).map_err(|e| e.to_string())?;
            train_small_model(&data, &path)?;
        }
        Ok(path)
    })
    .clone()
}

/// The small model, loaded, with the data it came from.
pub struct SmallModel {
    /// The Census data.
    pub data: CensusData,
    /// The training rows the model learnt from (and int8 calibrates on).
    pub train: Dataset,
    /// The cached model file.
    pub path: PathBuf,
    /// Its contents.
    pub model: ModelFile,
    /// Hex sha256 of the file.
    pub sha256: String,
}

impl SmallModel {
    /// Loads the data in `census_dir` and the small model (trained first if needed, see
    /// [`small_model_path`]).
    pub fn load(census_dir: &Path) -> Result<Self, String> {
        let path = small_model_path(census_dir)?;
        let data = load_census(census_dir).map_err(|e| e.to_string())?;
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let model = ModelFile::from_bytes(&path, &bytes).map_err(|e| e.to_string())?;
        Ok(SmallModel {
            train: first_rows(&data.train, TRAIN_ROWS),
            data,
            path,
            model,
            sha256: sha256_hex(&bytes),
        })
    }

    /// The trainer's probabilities on the test split, `[task][row]`, from its own forward
    /// pass on standardised input, as `1 / (1 + exp(-z))` of each logit.
    pub fn trainer_probabilities(&self) -> Vec<Vec<f32>> {
        let shape = self.model.config.shape();
        let net = Network::new(&shape);
        let params = net.from_canonical(&self.model.parameters);
        let test = &self.data.test;
        let identity = || ple_codegen::Normalisation {
            mean: vec![0.0; test.numeric_width],
            std: vec![1.0; test.numeric_width],
        };
        let norm = self.model.normalisation.clone().unwrap_or_else(identity);
        let tasks = net.tasks();
        let prepared = match Prepared::new(test, &norm, net.input_dim(), tasks) {
            Ok(prepared) => prepared,
            Err(e) => panic!("the test split does not fit the small model: {e}"),
        };
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
