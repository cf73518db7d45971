//! A whole training run: epochs, validation, best-epoch selection, checkpoints and outputs.
//!
//! The run writes into its output directory, each file atomically:
//! `checkpoint.bin` after every epoch, and at the end `model.safetensors` (the best epoch's
//! weights, with configuration, feature spec and normalisation in its metadata),
//! `report.json`, `training_curves.svg` and `gate_usage.svg` (the best weights' mean gate
//! weights over the test split, see [`crate::gates`]); the report holds the saved model's
//! [deployment report](crate::deploy) unless [`RunOptions::deployment_report`] is off. A run interrupted by Ctrl-C stops between two
//! steps and discards the unfinished epoch; `--resume` continues from the last checkpoint
//! and produces the same bits as a run that was never interrupted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use ple_codegen::model_file::{ModelConfig as FileConfig, ModelFile};
use ple_codegen::{FeatureSpec, Normalisation};

use crate::checkpoint::{write_atomically, Checkpoint, CheckpointHeader};
use crate::config::TrainConfig;
use crate::dataset::Dataset;
use crate::report::{curves_svg, mean_auc, metrics_map, DataCounts, EpochRecord, Report};
use crate::trainer::{normalisation_of, Prepared, Trainer};

/// File names inside the output directory.
pub const MODEL_FILE: &str = "model.safetensors";
/// The report.
pub const REPORT_FILE: &str = "report.json";
/// The curves.
pub const CURVES_FILE: &str = "training_curves.svg";
/// The mean gate weights per task and level.
pub const GATES_FILE: &str = "gate_usage.svg";

/// The data of a run.
pub struct RunData<'a> {
    /// Training split.
    pub train: &'a Dataset,
    /// Validation split (model selection).
    pub validation: &'a Dataset,
    /// Test split (reported for the best epoch only).
    pub test: &'a Dataset,
    /// The encoding, stored in the model file when known.
    pub spec: Option<&'a FeatureSpec>,
    /// Rows with unseen categories, per split and field.
    pub unknown_categories: BTreeMap<String, BTreeMap<String, u64>>,
}

/// How progress is shown.
pub trait Progress {
    /// An epoch of `rows` rows starts.
    fn start_epoch(&mut self, epoch: u32, epochs: u32, rows: usize);
    /// `done` rows of the epoch are done.
    fn rows_done(&mut self, done: usize);
    /// The epoch ended; `line` summarises it.
    fn end_epoch(&mut self, line: &str);
}

/// Progress that prints nothing.
pub struct Silent;

impl Progress for Silent {
    fn start_epoch(&mut self, _: u32, _: u32, _: usize) {}
    fn rows_done(&mut self, _: usize) {}
    fn end_epoch(&mut self, _: &str) {}
}

/// Options of a run that do not change its result.
pub struct RunOptions<'a> {
    /// Output directory.
    pub out_dir: PathBuf,
    /// Continue from the output directory's checkpoint.
    pub resume: bool,
    /// Set (e.g. by a Ctrl-C handler) to stop between steps.
    pub interrupt: Option<&'a AtomicBool>,
    /// Stop after this many epochs of this invocation (the checkpoint allows resuming).
    pub stop_after: Option<u32>,
    /// At the end, evaluate the saved model as deployed ([`crate::deploy`]) into the
    /// report's `deployment` key. It reads the model file and never changes it.
    pub deployment_report: bool,
}

/// What a run ended with.
pub enum Outcome {
    /// All epochs trained; outputs written.
    Finished(Box<Report>),
    /// Stopped early; the checkpoint holds `epochs_done` epochs.
    Stopped {
        /// Epochs in the checkpoint.
        epochs_done: u32,
    },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RunState {
    config: TrainConfig,
    train_rows: usize,
    features: usize,
    history: Vec<EpochRecord>,
    best_epoch: u32,
    best_score: f64,
    train_seconds: f64,
}

/// Trains `config` on `data`, writing checkpoints and outputs into `options.out_dir`.
pub fn run(
    config: &TrainConfig,
    data: &RunData<'_>,
    options: &RunOptions<'_>,
    progress: &mut dyn Progress,
) -> Result<Outcome, String> {
    let started = Instant::now();
    let train = data.train;
    let tasks = train.task_names.clone();
    let input_dim = train.dense_width;
    let norm = normalisation_of(train);
    let mut trainer = Trainer::new(config.clone(), input_dim, tasks.len())?;
    let prepared_train = Prepared::new(train, &norm, input_dim, tasks.len())
        .map_err(|e| format!("training data: {e}"))?;
    let validation = Prepared::new(data.validation, &norm, input_dim, tasks.len())
        .map_err(|e| format!("validation data: {e}"))?;
    if train.rows() == 0 {
        return Err("the training split has no rows".into());
    }
    std::fs::create_dir_all(&options.out_dir).map_err(|e| {
        format!(
            "cannot create output directory {}: {e}",
            options.out_dir.display()
        )
    })?;

    let mut state = RunState {
        config: config.clone(),
        train_rows: train.rows(),
        features: input_dim,
        history: Vec::new(),
        best_epoch: 0,
        best_score: f64::NEG_INFINITY,
        train_seconds: 0.0,
    };
    let mut best_params = trainer.eval_params().to_vec();
    if options.resume {
        let checkpoint = Checkpoint::load(&options.out_dir)?;
        let saved: RunState =
            serde_json::from_value(checkpoint.header.state.clone()).map_err(|e| {
                format!(
                    "checkpoint in {}: unreadable state: {e}",
                    options.out_dir.display()
                )
            })?;
        if saved.config != state.config
            || saved.train_rows != state.train_rows
            || saved.features != state.features
        {
            return Err(format!(
                "checkpoint in {} was made with a different configuration or data; \
                 resume with the same settings or delete it",
                options.out_dir.display()
            ));
        }
        if checkpoint.header.len != trainer.params.len() {
            return Err("checkpoint has the wrong number of parameters".into());
        }
        trainer.params = checkpoint.params;
        trainer.adam.m = checkpoint.m;
        trainer.adam.v = checkpoint.v;
        trainer.adam.step = checkpoint.header.adam_step;
        trainer.adam.beta1_pow = f64::from_bits(checkpoint.header.beta1_pow_bits);
        trainer.adam.beta2_pow = f64::from_bits(checkpoint.header.beta2_pow_bits);
        if checkpoint.average.len() != trainer.average.len() {
            return Err("checkpoint has no weight average, or one the configuration lacks".into());
        }
        trainer.average = checkpoint.average;
        best_params = checkpoint.best_params;
        state = saved;
    }

    let first_epoch = state.history.len() as u32;
    let interrupted = || options.interrupt.is_some_and(|f| f.load(Ordering::Relaxed));
    for epoch in first_epoch..config.epochs {
        if options.stop_after.is_some_and(|n| epoch - first_epoch >= n) || interrupted() {
            return Ok(Outcome::Stopped { epochs_done: epoch });
        }
        progress.start_epoch(epoch + 1, config.epochs, train.rows());
        let epoch_start = Instant::now();
        let mut stop = false;
        let train_loss = trainer.train_epoch(&prepared_train, epoch, &mut |done| {
            progress.rows_done(done);
            stop = stop || interrupted();
        });
        if stop || interrupted() {
            // The epoch may be incomplete: keep the last checkpoint as it is.
            return Ok(Outcome::Stopped { epochs_done: epoch });
        }
        let seconds = epoch_start.elapsed().as_secs_f64();
        state.train_seconds += seconds;
        let metrics = trainer.evaluate(&validation);
        let score = mean_auc(&metrics);
        let mut train_metrics = BTreeMap::new();
        for (t, l) in tasks.iter().zip(&train_loss) {
            train_metrics.insert(format!("train_loss_{t}"), Some(*l));
        }
        let record = EpochRecord {
            epoch: epoch + 1,
            seconds,
            train: train_metrics,
            validation: metrics_map(&tasks, &metrics),
        };
        let improved = score > state.best_score;
        if improved {
            state.best_score = score;
            state.best_epoch = epoch + 1;
            best_params.copy_from_slice(trainer.eval_params());
        }
        progress.end_epoch(&epoch_line(&record, &tasks, improved));
        state.history.push(record);
        let checkpoint = Checkpoint {
            header: CheckpointHeader {
                state: serde_json::to_value(&state).map_err(|e| e.to_string())?,
                epochs_done: epoch + 1,
                adam_step: trainer.adam.step,
                beta1_pow_bits: trainer.adam.beta1_pow.to_bits(),
                beta2_pow_bits: trainer.adam.beta2_pow.to_bits(),
                len: trainer.params.len(),
                has_average: !trainer.average.is_empty(),
            },
            params: trainer.params.clone(),
            m: trainer.adam.m.clone(),
            v: trainer.adam.v.clone(),
            best_params: best_params.clone(),
            average: trainer.average.clone(),
        };
        checkpoint.save(&options.out_dir)?;
    }

    // Final outputs from the best epoch.
    let test = Prepared::new(data.test, &norm, input_dim, tasks.len())
        .map_err(|e| format!("test data: {e}"))?;
    let mut tape = vec![0.0; trainer.net.tape_len()];
    let test_logits = crate::trainer::logits_of(&trainer.net, &best_params, &test, &mut tape);
    let test_metrics = crate::trainer::metrics_of(&test_logits, &test.data.labels);
    let shape = config.model.shape(input_dim, tasks.len());
    let gates = crate::gates::mean_gate_weights(&trainer.net, &shape, &best_params, &test, "test")?;
    let best = state
        .history
        .iter()
        .find(|r| r.epoch == state.best_epoch)
        .cloned();
    let mut report = Report {
        best_epoch: state.best_epoch,
        selection: "highest mean of the task validation ROC AUCs".into(),
        validation: best.map(|r| r.validation).unwrap_or_default(),
        test: metrics_map(&tasks, &test_metrics),
        config: config.clone(),
        seed: config.seed,
        parameters: trainer.params.len(),
        data: DataCounts {
            train_rows: train.rows(),
            validation_rows: data.validation.rows(),
            test_rows: data.test.rows(),
            features: input_dim,
            tasks: tasks.clone(),
        },
        unknown_categories: data.unknown_categories.clone(),
        seconds_per_epoch: state.train_seconds / state.history.len().max(1) as f64,
        train_seconds: state.train_seconds,
        wall_seconds: started.elapsed().as_secs_f64(),
        epochs: state.history.clone(),
        gates: Some(gates),
        deployment: None,
        deployment_error: None,
    };
    let model = model_file(&trainer, &best_params, &tasks, data.spec, &norm, &report)?;
    let model_path = options.out_dir.join(MODEL_FILE);
    model.save(&model_path).map_err(|e| e.to_string())?;
    if options.deployment_report {
        let trainer_probabilities: Vec<Vec<f32>> = test_logits
            .iter()
            .map(|task| task.iter().map(|&z| crate::metrics::sigmoid(z)).collect())
            .collect();
        match crate::deploy::evaluate(&model_path, train, data.test, &trainer_probabilities) {
            Ok(deployment) => report.deployment = Some(deployment),
            Err(e) => report.deployment_error = Some(e),
        }
    }
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    write_atomically(&options.out_dir.join(REPORT_FILE), json.as_bytes())?;
    let svg = curves_svg(&tasks, &report.epochs, report.best_epoch);
    write_atomically(&options.out_dir.join(CURVES_FILE), svg.as_bytes())?;
    if let Some(gates) = &report.gates {
        let svg = crate::gates::gates_svg(gates, &shape);
        write_atomically(&options.out_dir.join(GATES_FILE), svg.as_bytes())?;
    }
    Ok(Outcome::Finished(Box::new(report)))
}

fn model_file(
    trainer: &Trainer,
    params: &[f32],
    tasks: &[String],
    spec: Option<&FeatureSpec>,
    norm: &Normalisation,
    report: &Report,
) -> Result<ModelFile, String> {
    let shape = trainer
        .config
        .model
        .shape(trainer.net.input_dim(), tasks.len());
    let summary = serde_json::json!({
        "best_epoch": report.best_epoch,
        "validation": report.validation,
        "test": report.test,
        "seed": report.seed,
        "config": report.config,
    });
    let mut extra = BTreeMap::new();
    extra.insert("ple.training".to_string(), summary.to_string());
    Ok(ModelFile {
        config: FileConfig::new(&shape, tasks.to_vec()),
        feature_spec: spec.cloned(),
        normalisation: Some(norm.clone()),
        parameters: trainer.net.to_canonical(params),
        extra,
    })
}

/// One line per epoch: validation AUC (exact and bucketed) and log loss per task.
pub fn epoch_line(record: &EpochRecord, tasks: &[String], best: bool) -> String {
    let mut line = format!("epoch {:>3}  {:>6.2}s", record.epoch, record.seconds);
    for t in tasks {
        let get = |k: &str| {
            record
                .validation
                .get(&format!("{k}_{t}"))
                .copied()
                .flatten()
                .unwrap_or(f64::NAN)
        };
        line.push_str(&format!(
            "  {t}: auc {:.5} (paddle {:.5}) loss {:.5}",
            get("auc"),
            get("bucket_auc"),
            get("log_loss")
        ));
    }
    if best {
        line.push_str("  *");
    }
    line
}

/// Loads and validates a model file (errors name the file and what is wrong).
pub fn load_model(path: &Path) -> Result<ModelFile, String> {
    ModelFile::load(path).map_err(|e| e.to_string())
}
