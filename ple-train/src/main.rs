//! The `ple-train` command line: `train` (the default), `eval`, `deploy-report` and `prepare`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use ple_train::census::{self, CensusData};
use ple_train::config::{ConfigFile, Preset, TrainConfig};
use ple_train::metrics::sigmoid;
use ple_train::network::Network;
use ple_train::report::metrics_map;
use ple_train::run::{run, Outcome, Progress, RunData, RunOptions};
use ple_train::trainer::{logits_of, metrics_of, Prepared};

/// Train PLE (Progressive Layered Extraction) multi-task models on Census-Income (KDD).
#[derive(Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model and write model.safetensors, report.json, training_curves.svg and
    /// gate_usage.svg (the default command).
    Train(TrainArgs),
    /// Score a saved model on the test split: ROC AUC, Paddle's bucketed AUC and log loss.
    Eval(EvalArgs),
    /// Bake a saved model at f32, f16 and int8 (int8 calibrated on the first training rows)
    /// and run each through ple-core on the test split: AUC, largest difference from the
    /// trainer, flash and RAM footprint (training prints the same at its end).
    DeployReport(DeployReportArgs),
    /// Write the encoded splits (features as little-endian f32, labels as bytes).
    Prepare(PrepareArgs),
}

#[derive(Args, Default)]
struct TrainArgs {
    /// Directory with census-income.data[.gz] and census-income.test[.gz]
    /// (default: $PLE_CENSUS_DIR, else data/census).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Download the raw files from the UCI archive into the data directory if missing.
    #[arg(long)]
    download: bool,
    /// Output directory.
    #[arg(long, default_value = "target/ple-train")]
    out: PathBuf,
    /// YAML config file (our keys and/or PaddleRec's config.yaml keys).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start from a preset: paddlerec (default), cgc, ple, mmoe, single-task.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Passes over the training data.
    #[arg(long)]
    epochs: Option<u32>,
    /// Random seed (initialisation and shuffles).
    #[arg(long)]
    seed: Option<u64>,
    /// Rows per Adam step.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam learning rate.
    #[arg(long)]
    lr: Option<f32>,
    /// Extraction levels.
    #[arg(long)]
    levels: Option<u32>,
    /// Task-specific experts per task and level.
    #[arg(long)]
    experts_per_task: Option<u32>,
    /// Shared experts per level.
    #[arg(long)]
    shared_experts: Option<u32>,
    /// Expert layer widths, comma separated (e.g. 32,16).
    #[arg(long, value_delimiter = ',')]
    expert_units: Option<Vec<u32>>,
    /// Tower hidden layer widths, comma separated (e.g. 8).
    #[arg(long, value_delimiter = ',')]
    tower_units: Option<Vec<u32>>,
    /// Lazy Adam: update only the first-layer rows each batch touches.
    #[arg(long)]
    lazy_adam: bool,
    /// Loss weight per task, comma separated, in task order.
    #[arg(long, value_delimiter = ',')]
    task_weights: Option<Vec<f32>>,
    /// Decay of the moving average of the weights that is evaluated and saved, per Adam
    /// step (0 turns the average off; default 0.9998).
    #[arg(long)]
    ema_decay: Option<f32>,
    /// Continue from the checkpoint in the output directory.
    #[arg(long)]
    resume: bool,
    /// Stop after this many epochs (resume later with --resume).
    #[arg(long, hide = true)]
    stop_after: Option<u32>,
    /// Do not evaluate the saved model at f32, f16 and int8 at the end (the deployment
    /// table and the `deployment` key of report.json).
    #[arg(long)]
    no_deployment_report: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// Data directory (as for train).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct DeployReportArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// Data directory (as for train): the test split, and the training rows that calibrate
    /// int8.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Also write the report as JSON (the `deployment` key of report.json) to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args)]
struct PrepareArgs {
    /// Data directory (as for train).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where to write the encoded splits.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => train(cli.train),
        Some(Command::Train(args)) => train(args),
        Some(Command::Eval(args)) => eval(args),
        Some(Command::DeployReport(args)) => deploy_report(args),
        Some(Command::Prepare(args)) => prepare(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ple-train: error: {message}");
            ExitCode::from(2)
        }
    }
}

fn load_data(flag: Option<&Path>, download: bool) -> Result<CensusData, String> {
    let dir = census::resolve_data_dir(flag);
    if download && census::locate_raw_files(&dir).is_err() {
        eprintln!("downloading Census-Income (KDD) into {}", dir.display());
        ple_train::download::download(ple_train::download::UCI_BASE_URL, &dir)
            .map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let data = census::load_census(&dir).map_err(|e| e.to_string())?;
    eprintln!(
        "{} ({:.1}s)",
        data.describe(),
        started.elapsed().as_secs_f64()
    );
    Ok(data)
}

fn build_config(args: &TrainArgs, file: Option<&ConfigFile>) -> TrainConfig {
    let mut config = TrainConfig::default();
    if let Some(file) = file {
        file.apply(&mut config);
    }
    if let Some(preset) = args.preset {
        config.model = preset.model();
    }
    let m = &mut config.model;
    macro_rules! set {
        ($slot:expr, $value:expr) => {
            if let Some(v) = $value.clone() {
                $slot = v;
            }
        };
    }
    set!(m.levels, args.levels);
    set!(m.experts_per_task, args.experts_per_task);
    set!(m.shared_experts, args.shared_experts);
    set!(m.expert_units, args.expert_units);
    set!(m.tower_units, args.tower_units);
    set!(config.epochs, args.epochs);
    set!(config.seed, args.seed);
    set!(config.batch_size, args.batch_size);
    set!(config.learning_rate, args.lr);
    set!(config.task_weights, args.task_weights);
    set!(config.ema_decay, args.ema_decay);
    if args.lazy_adam {
        config.lazy_adam = true;
    }
    config
}

fn train(args: TrainArgs) -> Result<ExitCode, String> {
    let file = args.config.as_deref().map(ConfigFile::read).transpose()?;
    let config = build_config(&args, file.as_ref());
    // Check what can be checked before the (slow) data load.
    config
        .validate(config.task_weights.len().max(1))
        .or_else(|e| {
            if e.contains("task weights given") {
                Ok(())
            } else {
                Err(e)
            }
        })?;
    config
        .model
        .shape(1, 1)
        .validate()
        .map_err(|e| format!("invalid network: {e}"))?;
    let data = load_data(args.data_dir.as_deref(), args.download)?;
    if let Some(file) = &file {
        file.check_data(data.train.dense_width, data.train.labels.len())?;
    }
    let mut unknown = BTreeMap::new();
    for (split, counts) in [
        ("validation", data.validation_unknown_categories()),
        ("test", data.test_unknown_categories()),
    ] {
        let fields: BTreeMap<String, u64> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
        unknown.insert(split.to_string(), fields);
    }
    let run_data = RunData {
        train: &data.train,
        validation: &data.validation,
        test: &data.test,
        spec: Some(&data.spec),
        unknown_categories: unknown,
    };
    static INTERRUPTED: AtomicBool = AtomicBool::new(false);
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::Relaxed) {
            // A second Ctrl-C: the user insists; every file written so far is complete.
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping; the last finished epoch stays in the checkpoint");
    });
    let options = RunOptions {
        out_dir: args.out.clone(),
        resume: args.resume,
        interrupt: Some(&INTERRUPTED),
        stop_after: args.stop_after,
        deployment_report: !args.no_deployment_report,
    };
    let shape = config
        .model
        .shape(data.train.dense_width, data.train.labels.len());
    eprintln!(
        "training {} parameters: {} tasks, {} experts per task, {} shared, {} levels, experts {:?}, towers {:?}; \
         {} epochs, batch {}, Adam lr {}{}, {}, seed {}",
        shape.parameter_count(),
        shape.tasks,
        shape.experts_per_task,
        shape.shared_experts,
        shape.levels,
        shape.expert_units,
        shape.tower_units,
        config.epochs,
        config.batch_size,
        config.learning_rate,
        if config.lazy_adam { " (lazy)" } else { "" },
        if config.ema_decay > 0.0 {
            format!("weight average decay {}", config.ema_decay)
        } else {
            "no weight average".to_string()
        },
        config.seed
    );
    let mut progress = Terminal::new();
    match run(&config, &run_data, &options, &mut progress)? {
        Outcome::Finished(report) => {
            let tasks = &report.data.tasks;
            println!(
                "best epoch {} (of {}), by mean validation AUC",
                report.best_epoch,
                report.epochs.len()
            );
            for (split, metrics) in [("validation", &report.validation), ("test", &report.test)] {
                let parts: Vec<String> = tasks
                    .iter()
                    .map(|t| {
                        let auc = metrics
                            .get(&format!("auc_{t}"))
                            .copied()
                            .flatten()
                            .unwrap_or(f64::NAN);
                        let bucket = metrics
                            .get(&format!("bucket_auc_{t}"))
                            .copied()
                            .flatten()
                            .unwrap_or(f64::NAN);
                        format!("{t} auc {auc:.5} (paddle {bucket:.5})")
                    })
                    .collect();
                println!("{split:<10} {}", parts.join(", "));
            }
            if let Some(deployment) = &report.deployment {
                println!("{}", ple_train::deploy::table(deployment));
            }
            if let Some(error) = &report.deployment_error {
                eprintln!("ple-train: warning: no deployment report: {error}");
            }
            println!(
                "{:.3} s per epoch; wrote {}",
                report.seconds_per_epoch,
                args.out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Stopped { epochs_done } => {
            eprintln!(
                "stopped after {epochs_done} epochs; continue with `ple-train train --resume --out {}` and the same settings",
                args.out.display()
            );
            Ok(ExitCode::from(if INTERRUPTED.load(Ordering::Relaxed) {
                130
            } else {
                0
            }))
        }
    }
}

/// Loads the model file and the data, checks that they belong together, and runs the
/// trainer's forward pass on the test split: the data and the logits `[task][row]`.
fn model_on_test_split(
    path: &Path,
    data_dir: Option<&Path>,
) -> Result<(CensusData, Vec<Vec<f32>>), String> {
    let model = ple_train::run::load_model(path)?;
    let data = load_data(data_dir, false)?;
    if let Some(spec) = &model.feature_spec {
        if *spec != data.spec {
            return Err(format!(
                "{}: the model's feature spec differs from the encoding of {}",
                path.display(),
                census::resolve_data_dir(data_dir).display()
            ));
        }
    }
    let shape = model.config.shape();
    let tasks = &model.config.task_names;
    if *tasks != data.test.task_names {
        return Err(format!(
            "model tasks {tasks:?} differ from the data's {:?}",
            data.test.task_names
        ));
    }
    let net = Network::new(&shape);
    let params = net.from_canonical(&model.parameters);
    let norm = model
        .normalisation
        .clone()
        .unwrap_or_else(|| ple_codegen::Normalisation {
            mean: vec![0.0; data.test.numeric_width],
            std: vec![1.0; data.test.numeric_width],
        });
    let test = Prepared::new(&data.test, &norm, net.input_dim(), tasks.len())?;
    let mut tape = vec![0.0; net.tape_len()];
    let logits = logits_of(&net, &params, &test, &mut tape);
    Ok((data, logits))
}

fn eval(args: EvalArgs) -> Result<ExitCode, String> {
    let (data, logits) = model_on_test_split(&args.model, args.data_dir.as_deref())?;
    let tasks = &data.test.task_names;
    let metrics = metrics_map(tasks, &metrics_of(&logits, &data.test.labels));
    println!("test split, {} rows", data.test.rows());
    for (key, value) in &metrics {
        println!(
            "{key:<20} {}",
            value.map_or("undefined".into(), |v| format!("{v:.6}"))
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn deploy_report(args: DeployReportArgs) -> Result<ExitCode, String> {
    let (data, logits) = model_on_test_split(&args.model, args.data_dir.as_deref())?;
    let trainer: Vec<Vec<f32>> = logits
        .iter()
        .map(|task| task.iter().map(|&z| sigmoid(z)).collect())
        .collect();
    let report = ple_train::deploy::evaluate(&args.model, &data.train, &data.test, &trainer)?;
    println!("{}", ple_train::deploy::table(&report));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        ple_train::checkpoint::write_atomically(path, json.as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn prepare(args: PrepareArgs) -> Result<ExitCode, String> {
    let dir = census::resolve_data_dir(args.data_dir.as_deref());
    census::prepare(&dir, &args.out).map_err(|e| e.to_string())?;
    println!("wrote the encoded splits to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on a terminal, one line per epoch otherwise.
struct Terminal {
    bar: Option<ProgressBar>,
    tty: bool,
}

impl Terminal {
    fn new() -> Self {
        Self {
            bar: None,
            tty: std::io::stderr().is_terminal(),
        }
    }
}

impl Progress for Terminal {
    fn start_epoch(&mut self, epoch: u32, epochs: u32, rows: usize) {
        if self.tty {
            let bar = ProgressBar::new(rows as u64);
            let style = ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} rows  {per_sec}  ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("{epoch}/{epochs}"));
            self.bar = Some(bar);
        }
    }

    fn rows_done(&mut self, done: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
        }
    }

    fn end_epoch(&mut self, line: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        eprintln!("{line}");
    }
}
