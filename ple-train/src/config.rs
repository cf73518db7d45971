//! Training configuration: the network's shape and the optimiser's settings, with presets
//! for the models the PLE paper compares, and a config file reader that also accepts
//! PaddleRec's `config.yaml` unchanged.
//!
//! # Presets
//!
//! | preset | experts per task | shared experts | levels | what it is |
//! |---|---|---|---|---|
//! | `paddlerec` (default) | 3 | 2 | 1 | PaddleRec's default PLE config (a one-level PLE is CGC) |
//! | `cgc` | 3 | 2 | 1 | Customized Gate Control, the paper's single-level PLE |
//! | `ple` | 3 | 2 | 2 | two extraction levels, shared gate on the first |
//! | `mmoe` | 0 | 8 | 1 | Multi-gate Mixture-of-Experts: every expert shared |
//! | `single-task` | 1 | 0 | 1 | one independent network per task (no shared parameter) |
//!
//! All presets use experts of 16 units and towers of 8, Adam at 0.001 and batches of 32, as
//! PaddleRec does. With one task expert and no shared expert the task gate is a softmax over
//! a single expert, always 1, so every task is its own network and their sum of losses trains
//! them exactly as separately trained single-task models would be.
//!
//! # Config files
//!
//! A YAML file may hold our own keys at the top level (`preset`, `epochs`, `batch_size`,
//! `learning_rate`, `seed`, `levels`, `experts_per_task`, `shared_experts`, `expert_units`,
//! `tower_units`, `lazy_adam`, `task_weights`, `ema_decay`) and/or PaddleRec's sections:
//! `runner.{train_batch_size, epochs}` and `hyper_parameters.{feature_size, task_num,
//! exp_per_task, shared_num, level_number, expert_size, tower_size,
//! optimizer.learning_rate}`. PaddleRec's other keys (paths, GPU switches) are accepted and
//! ignored; an unknown top-level key is an error, so a typo cannot pass silently. Our keys win
//! over PaddleRec's when both are given, and command-line flags win over the file.
//!
//! YAML is read with `yaml_serde`, the serde_yaml fork maintained by the YAML organisation
//! (serde_yaml itself is archived).

use std::path::Path;

use ple_core::PleShape;
use serde::{Deserialize, Serialize};

/// The network's shape, less what the data decides (input width and number of tasks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Task-specific experts per task and level.
    pub experts_per_task: u32,
    /// Shared experts per level.
    pub shared_experts: u32,
    /// Extraction levels.
    pub levels: u32,
    /// Widths of each expert's layers.
    pub expert_units: Vec<u32>,
    /// Widths of each tower's hidden layers.
    pub tower_units: Vec<u32>,
}

impl ModelConfig {
    /// The full shape for data of `input_dim` columns and `tasks` tasks.
    pub fn shape(&self, input_dim: usize, tasks: usize) -> PleShape<'_> {
        PleShape {
            input_dim: u32::try_from(input_dim).unwrap_or(u32::MAX),
            tasks: u32::try_from(tasks).unwrap_or(u32::MAX),
            experts_per_task: self.experts_per_task,
            shared_experts: self.shared_experts,
            levels: self.levels,
            expert_units: &self.expert_units,
            tower_units: &self.tower_units,
        }
    }
}

/// Everything that decides a training run's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The network.
    pub model: ModelConfig,
    /// Passes over the training data.
    pub epochs: u32,
    /// Rows per optimiser step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f32,
    /// Seed of the initialisation and of every epoch's shuffle.
    pub seed: u64,
    /// Update only the first-layer rows a batch touches (Paddle's `lazy_mode`).
    pub lazy_adam: bool,
    /// Weight of each task's log loss in the summed loss (empty: all 1).
    pub task_weights: Vec<f32>,
    /// Decay of the exponential moving average of the weights that is evaluated and saved
    /// (0: evaluate and save the optimiser's weights themselves).
    #[serde(default)]
    pub ema_decay: f32,
}

/// The named configurations of the PLE paper's comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// PaddleRec's default: 3 experts per task, 2 shared, 1 level.
    Paddlerec,
    /// Customized Gate Control: one level of task and shared experts.
    Cgc,
    /// Progressive Layered Extraction with two levels.
    Ple,
    /// Multi-gate Mixture-of-Experts: 8 shared experts, none task-specific.
    Mmoe,
    /// An independent network per task.
    SingleTask,
}

/// The default number of epochs: the best validation AUC on Census-Income is reached within
/// it (see the crate documentation for the measurements).
pub const DEFAULT_EPOCHS: u32 = 6;

/// The default decay of the weight average.
pub const DEFAULT_EMA_DECAY: f32 = 0.9998;

impl Preset {
    /// The preset's model.
    pub fn model(self) -> ModelConfig {
        let (experts_per_task, shared_experts, levels) = match self {
            Preset::Paddlerec | Preset::Cgc => (3, 2, 1),
            Preset::Ple => (3, 2, 2),
            Preset::Mmoe => (0, 8, 1),
            Preset::SingleTask => (1, 0, 1),
        };
        ModelConfig {
            experts_per_task,
            shared_experts,
            levels,
            expert_units: vec![16],
            tower_units: vec![8],
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: Preset::Paddlerec.model(),
            epochs: DEFAULT_EPOCHS,
            batch_size: 32,
            learning_rate: 0.001,
            seed: 2020,
            lazy_adam: false,
            task_weights: Vec::new(),
            ema_decay: DEFAULT_EMA_DECAY,
        }
    }
}

/// A config file's settings; `None` leaves the current value.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Start from this preset.
    pub preset: Option<Preset>,
    /// Passes over the training data.
    pub epochs: Option<u32>,
    /// Rows per optimiser step.
    pub batch_size: Option<usize>,
    /// Adam's learning rate.
    pub learning_rate: Option<f32>,
    /// Random seed.
    pub seed: Option<u64>,
    /// Extraction levels.
    pub levels: Option<u32>,
    /// Task-specific experts per task.
    pub experts_per_task: Option<u32>,
    /// Shared experts per level.
    pub shared_experts: Option<u32>,
    /// Expert layer widths.
    pub expert_units: Option<Vec<u32>>,
    /// Tower hidden layer widths.
    pub tower_units: Option<Vec<u32>>,
    /// Lazy (sparse-row) Adam.
    pub lazy_adam: Option<bool>,
    /// Per-task loss weights.
    pub task_weights: Option<Vec<f32>>,
    /// Decay of the weight average (0: off).
    pub ema_decay: Option<f32>,
    /// PaddleRec's `runner` section.
    pub runner: Option<PaddleRunner>,
    /// PaddleRec's `hyper_parameters` section.
    pub hyper_parameters: Option<PaddleHyperParameters>,
}

/// The keys of PaddleRec's `runner` section we use (the others are ignored).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct PaddleRunner {
    /// Batch size.
    pub train_batch_size: Option<usize>,
    /// Epochs.
    pub epochs: Option<u32>,
}

/// The keys of PaddleRec's `hyper_parameters` section we use (the others are ignored).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct PaddleHyperParameters {
    /// Input width; must match the data.
    pub feature_size: Option<usize>,
    /// Number of tasks; must match the data.
    pub task_num: Option<usize>,
    /// Task-specific experts per task.
    pub exp_per_task: Option<u32>,
    /// Shared experts.
    pub shared_num: Option<u32>,
    /// Levels.
    pub level_number: Option<u32>,
    /// Expert width (one layer).
    pub expert_size: Option<u32>,
    /// Tower width (one hidden layer).
    pub tower_size: Option<u32>,
    /// The optimiser.
    pub optimizer: Option<PaddleOptimizer>,
}

/// PaddleRec's `hyper_parameters.optimizer`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct PaddleOptimizer {
    /// Learning rate.
    pub learning_rate: Option<f32>,
}

impl ConfigFile {
    /// Reads a YAML config file; errors name the file (and the line, from the parser).
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// Parses YAML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        yaml_serde::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies the file's settings to `config`; PaddleRec's keys first, then ours.
    pub fn apply(&self, config: &mut TrainConfig) {
        if let Some(preset) = self.preset {
            config.model = preset.model();
        }
        if let Some(runner) = &self.runner {
            set(&mut config.batch_size, runner.train_batch_size);
            set(&mut config.epochs, runner.epochs);
        }
        if let Some(hp) = &self.hyper_parameters {
            set(&mut config.model.experts_per_task, hp.exp_per_task);
            set(&mut config.model.shared_experts, hp.shared_num);
            set(&mut config.model.levels, hp.level_number);
            if let Some(size) = hp.expert_size {
                config.model.expert_units = vec![size];
            }
            if let Some(size) = hp.tower_size {
                config.model.tower_units = vec![size];
            }
            set(
                &mut config.learning_rate,
                hp.optimizer.as_ref().and_then(|o| o.learning_rate),
            );
        }
        set(&mut config.epochs, self.epochs);
        set(&mut config.batch_size, self.batch_size);
        set(&mut config.learning_rate, self.learning_rate);
        set(&mut config.seed, self.seed);
        set(&mut config.model.levels, self.levels);
        set(&mut config.model.experts_per_task, self.experts_per_task);
        set(&mut config.model.shared_experts, self.shared_experts);
        set(&mut config.model.expert_units, self.expert_units.clone());
        set(&mut config.model.tower_units, self.tower_units.clone());
        set(&mut config.lazy_adam, self.lazy_adam);
        set(&mut config.task_weights, self.task_weights.clone());
        set(&mut config.ema_decay, self.ema_decay);
    }

    /// Checks PaddleRec's data-dependent keys against the data actually loaded.
    pub fn check_data(&self, input_dim: usize, tasks: usize) -> Result<(), String> {
        let Some(hp) = &self.hyper_parameters else {
            return Ok(());
        };
        if let Some(size) = hp.feature_size.filter(|&s| s != input_dim) {
            return Err(format!(
                "hyper_parameters.feature_size is {size} but the data has {input_dim} features"
            ));
        }
        if let Some(n) = hp.task_num.filter(|&n| n != tasks) {
            return Err(format!(
                "hyper_parameters.task_num is {n} but the data has {tasks} tasks"
            ));
        }
        Ok(())
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

impl TrainConfig {
    /// Checks everything but the shape (which [`PleShape::validate`] checks): a positive batch
    /// size, epochs and learning rate, and one finite non-negative weight per task.
    pub fn validate(&self, tasks: usize) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("batch size must be at least 1".into());
        }
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(format!(
                "learning rate must be positive, got {}",
                self.learning_rate
            ));
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return Err(format!(
                "EMA decay must be in [0, 1), got {}",
                self.ema_decay
            ));
        }
        if !self.task_weights.is_empty() && self.task_weights.len() != tasks {
            return Err(format!(
                "{} task weights given for {tasks} tasks",
                self.task_weights.len()
            ));
        }
        if let Some(w) = self
            .task_weights
            .iter()
            .find(|w| !(w.is_finite() && **w >= 0.0))
        {
            return Err(format!(
                "task weights must be finite and non-negative, got {w}"
            ));
        }
        Ok(())
    }

    /// The weight of each of `tasks` tasks.
    pub fn weights(&self, tasks: usize) -> Vec<f32> {
        if self.task_weights.is_empty() {
            vec![1.0; tasks]
        } else {
            self.task_weights.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PADDLEREC_CONFIG: &str = "
runner:
  train_data_dir: \"data/train\"
  train_reader_path: \"census_reader\"
  use_gpu: False
  use_auc: True
  train_batch_size: 32
  epochs: 100
  print_interval: 10
  model_save_path: \"output_model_ple_all\"
hyper_parameters:
  optimizer:
    class: adam
    learning_rate: 0.001
    strategy: async
  feature_size: 499
  task_num: 2
  exp_per_task: 3
  shared_num: 2
  expert_size: 16
  tower_size: 8
  level_number: 2
";

    #[test]
    fn paddlerec_config_is_accepted_unchanged() {
        let file = ConfigFile::parse(PADDLEREC_CONFIG).unwrap();
        let mut config = TrainConfig::default();
        file.apply(&mut config);
        assert_eq!(config.epochs, 100);
        assert_eq!(config.batch_size, 32);
        assert_eq!(config.model.levels, 2);
        assert_eq!(config.model.experts_per_task, 3);
        assert_eq!(config.model.expert_units, [16]);
        assert!(file.check_data(499, 2).is_ok());
        assert!(file
            .check_data(500, 2)
            .unwrap_err()
            .contains("feature_size"));
        assert!(file.check_data(499, 3).unwrap_err().contains("task_num"));
    }

    #[test]
    fn own_keys_override_paddlerec_keys_and_presets_apply_first() {
        let text = format!("{PADDLEREC_CONFIG}\nepochs: 4\npreset: mmoe\nexpert_units: [32, 16]\n");
        let file = ConfigFile::parse(&text).unwrap();
        let mut config = TrainConfig::default();
        file.apply(&mut config);
        assert_eq!(config.epochs, 4);
        // PaddleRec's exp_per_task was applied on top of the preset.
        assert_eq!(config.model.experts_per_task, 3);
        assert_eq!(config.model.expert_units, [32, 16]);
    }

    #[test]
    fn unknown_top_level_key_is_an_error_naming_it() {
        let err = ConfigFile::parse("epoch: 3\n").unwrap_err();
        assert!(err.contains("epoch"), "{err}");
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let config = TrainConfig {
            batch_size: 0,
            ..TrainConfig::default()
        };
        assert!(config.validate(2).is_err());
        let config = TrainConfig {
            task_weights: vec![1.0],
            ..TrainConfig::default()
        };
        assert!(config.validate(2).unwrap_err().contains("task weights"));
        let config = TrainConfig {
            learning_rate: f32::NAN,
            ..TrainConfig::default()
        };
        assert!(config.validate(2).is_err());
        for decay in [1.0, -0.1, f32::NAN] {
            let config = TrainConfig {
                ema_decay: decay,
                ..TrainConfig::default()
            };
            assert!(
                config.validate(2).unwrap_err().contains("EMA decay"),
                "{decay}"
            );
        }
        let mut config = TrainConfig::default();
        ConfigFile::parse("ema_decay: 0\n")
            .unwrap()
            .apply(&mut config);
        assert_eq!(config.ema_decay, 0.0);
        assert!(config.validate(2).is_ok());
    }

    #[test]
    fn presets_give_valid_shapes() {
        for preset in [
            Preset::Paddlerec,
            Preset::Cgc,
            Preset::Ple,
            Preset::Mmoe,
            Preset::SingleTask,
        ] {
            assert_eq!(
                preset.model().shape(499, 2).validate(),
                Ok(()),
                "{preset:?}"
            );
        }
    }
}
