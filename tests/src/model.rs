//! The model file every end-to-end test bakes.
//!
//! `$PLE_MODEL`, when set, names a model to use (for instance the one `cargo run --release -p
//! ple-train` wrote). Otherwise the tests make a *seeded* Census model: the real feature spec
//! and standardisation built from the training file, and weights drawn from a fixed-seed
//! uniform distribution scaled like a trained network's (`1/sqrt(inputs)`). The properties the
//! device tests check do not depend on training quality: parity with the host, instruction
//! counts (the work of a forward pass does not depend on the values of the weights), sizes and
//! the absence of panic paths. Training quality is the trainer's tests' business.
//!
//! The seeded model is written once to `target/ple-tests/seeded-model.safetensors` (atomically)
//! and reused by later runs.

use std::path::PathBuf;
use std::sync::OnceLock;

use ple_codegen::{ModelConfig, ModelFile, Normalisation};
use ple_core::PADDLEREC_DEFAULT;
use ple_train::census::{encode_training_file, locate_raw_files};

use crate::paths;

/// The seed of the seeded model's weights.
pub const SEED: u64 = 20_201_008;

/// Path of the model file the tests use (made on first use).
pub fn model_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("PLE_MODEL").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let path = paths::artefacts().join("seeded-model.safetensors");
        if !path.is_file() {
            let model = seeded_census_model();
            if let Err(e) = model.save(&path) {
                panic!("cannot write {}: {e}", path.display());
            }
        }
        path
    })
    .clone()
}

/// The default PLE shape over the Census feature spec, with seeded weights.
///
/// # Panics
/// When the Census training file cannot be found or read.
pub fn seeded_census_model() -> ModelFile {
    let (train_path, _) = match locate_raw_files(&paths::census_dir()) {
        Ok(found) => found,
        Err(e) => panic!("{e}"),
    };
    let (spec, train, _) = match encode_training_file(&train_path) {
        Ok(encoded) => encoded,
        Err(e) => panic!("{e}"),
    };
    let normalisation = standardisation(&train.numeric, train.numeric_width);
    let shape = ple_core::PleShape {
        input_dim: spec.dense_width() as u32,
        ..PADDLEREC_DEFAULT
    };
    let mut rng = SplitMix64(SEED);
    let mut parameters = Vec::with_capacity(shape.parameter_count());
    for tensor in shape.tensors() {
        let bound = 1.0 / (tensor.layer.inputs as f32).sqrt();
        for _ in 0..tensor.len() {
            parameters.push(bound * (2.0 * rng.unit() - 1.0));
        }
    }
    let task_names = spec.tasks.iter().map(|t| t.name.clone()).collect();
    ModelFile {
        config: ModelConfig::new(&shape, task_names),
        feature_spec: Some(spec),
        normalisation: Some(normalisation),
        parameters,
        extra: Default::default(),
    }
}

/// Mean and standard deviation of each numeric column (1 where a column is constant).
fn standardisation(numeric: &[f32], width: usize) -> Normalisation {
    let rows = (numeric.len() / width.max(1)).max(1) as f64;
    let mut mean = vec![0f64; width];
    let mut square = vec![0f64; width];
    for row in numeric.chunks_exact(width.max(1)) {
        for (j, &v) in row.iter().enumerate() {
            mean[j] += f64::from(v);
            square[j] += f64::from(v) * f64::from(v);
        }
    }
    let mean: Vec<f64> = mean.iter().map(|s| s / rows).collect();
    let std = square
        .iter()
        .zip(&mean)
        .map(|(s, m)| {
            let sd = (s / rows - m * m).max(0.0).sqrt();
            if sd > 0.0 {
                sd as f32
            } else {
                1.0
            }
        })
        .collect();
    Normalisation {
        mean: mean.iter().map(|&m| m as f32).collect(),
        std,
    }
}

/// A small deterministic generator (SplitMix64), enough for test weights.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 24 bits.
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}
