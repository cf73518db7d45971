//! The model file, `model.safetensors`: a trained PLE network, its configuration, and how to
//! encode its input.
//!
//! # Format
//!
//! A standard [safetensors](https://github.com/huggingface/safetensors) file:
//!
//! - **One tensor per parameter**, under the canonical names of [`ple_core::shape`]
//!   (`level{l}.task{t}.expert{e}.layer{k}.weight`, `level{l}.shared.gate.bias`,
//!   `task{t}.tower.layer{k}.weight`, `task{t}.output.bias`, ...). Weights have shape
//!   `[outputs, inputs]` (row-major, the `torch.nn.Linear` layout), biases `[outputs]`. This
//!   crate writes F32 and stores the data in canonical order ([`PleShape::tensors`]).
//! - **Metadata** (`__metadata__`, strings):
//!
//! | key | value |
//! |---|---|
//! | `ple.format` | `"1"`, the version of this layout ([`FORMAT_VERSION`]) |
//! | `ple.config` | [`ModelConfig`] as JSON (required) |
//! | `ple.feature_spec` | [`FeatureSpec`] as JSON (optional): how a raw record becomes the input |
//! | `ple.normalisation` | [`Normalisation`] as JSON (optional): the network expects numeric column `i` as `(x - mean[i]) / std[i]` |
//! | anything else | kept verbatim in [`ModelFile::extra`] (e.g. `ple.training`, a training summary) |
//!
//! # Reading is defensive
//!
//! [`ModelFile::load`] trusts nothing: the file size and header length are bounded
//! ([`MAX_FILE_BYTES`], [`MAX_HEADER_BYTES`]) before anything is allocated from them, shape
//! products use checked arithmetic, the tensors must tile the data region exactly, and the
//! reference `safetensors` reader must accept the file too. Then every tensor is checked
//! against the configured shape (name, dimensions, dtype, finiteness), and the metadata
//! against itself (task names, feature spec width and layout, normalisation length and
//! values). Each fault is its own [`ModelFileError`] variant naming the file and the tensor or
//! key.
//!
//! Tensors stored as F16, BF16 or F64 (as exported from PyTorch or NumPy) are accepted and
//! converted to f32; an F64 value beyond f32's range becomes infinite and is rejected as
//! non-finite. Any other dtype is an error.
//!
//! # Writing is atomic and deterministic
//!
//! [`ModelFile::save`] writes a temporary file in the destination directory, syncs it and
//! renames it over the destination, so a reader never sees half a model. The header is
//! emitted with sorted keys and the data in canonical order, so the same model always gives
//! the same bytes.

mod error;
mod header;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ple_core::shape::{Param, Tensor};
use ple_core::PleShape;
use serde::{Deserialize, Serialize};

pub use error::ModelFileError;
use header::FloatDtype;

use crate::feature_spec::{FeatureSpec, Normalisation};

/// The value of the `ple.format` metadata key this crate writes and reads.
pub const FORMAT_VERSION: &str = "1";
/// Metadata key of the format version.
pub const FORMAT_KEY: &str = "ple.format";
/// Metadata key of the [`ModelConfig`] JSON.
pub const CONFIG_KEY: &str = "ple.config";
/// Metadata key of the [`FeatureSpec`] JSON.
pub const FEATURE_SPEC_KEY: &str = "ple.feature_spec";
/// Metadata key of the [`Normalisation`] JSON.
pub const NORMALISATION_KEY: &str = "ple.normalisation";
/// The metadata keys the format itself defines; [`ModelFile::extra`] may not use them.
pub const RESERVED_KEYS: [&str; 4] = [FORMAT_KEY, CONFIG_KEY, FEATURE_SPEC_KEY, NORMALISATION_KEY];

/// Largest model file [`ModelFile::load`] reads (2 GiB).
pub const MAX_FILE_BYTES: u64 = 1 << 31;
/// Largest header (JSON) [`ModelFile::load`] accepts (16 MiB).
pub const MAX_HEADER_BYTES: u64 = 16 << 20;

/// The `path` shown in errors about a model that has not been read from or written to a file.
const IN_MEMORY: &str = "(model in memory)";

/// The network's configuration: a [`PleShape`] that owns its layer widths, plus task names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Width of the dense model input.
    pub input_dim: u32,
    /// Number of tasks.
    pub tasks: u32,
    /// Task-specific experts per task and level.
    pub experts_per_task: u32,
    /// Shared experts per level.
    pub shared_experts: u32,
    /// Number of extraction levels.
    pub levels: u32,
    /// Widths of each expert's dense layers.
    pub expert_units: Vec<u32>,
    /// Widths of each tower's hidden layers.
    pub tower_units: Vec<u32>,
    /// One name per task, in task order (e.g. `income`, `marital`).
    pub task_names: Vec<String>,
}

impl ModelConfig {
    /// A configuration of `shape` with the given task names.
    pub fn new(shape: &PleShape<'_>, task_names: Vec<String>) -> Self {
        Self {
            input_dim: shape.input_dim,
            tasks: shape.tasks,
            experts_per_task: shape.experts_per_task,
            shared_experts: shape.shared_experts,
            levels: shape.levels,
            expert_units: shape.expert_units.to_vec(),
            tower_units: shape.tower_units.to_vec(),
            task_names,
        }
    }

    /// The network's shape, borrowing the layer widths.
    pub fn shape(&self) -> PleShape<'_> {
        PleShape {
            input_dim: self.input_dim,
            tasks: self.tasks,
            experts_per_task: self.experts_per_task,
            shared_experts: self.shared_experts,
            levels: self.levels,
            expert_units: &self.expert_units,
            tower_units: &self.tower_units,
        }
    }
}

/// Where each parameter tensor of `shape` lives in the flat parameter vector: every tensor in
/// canonical order ([`PleShape::tensors`]) with its range.
pub fn parameter_ranges(shape: &PleShape<'_>) -> Vec<(Tensor, Range<usize>)> {
    let mut start = 0;
    shape
        .tensors()
        .map(|tensor| {
            let range = start..start + tensor.len();
            start = range.end;
            (tensor, range)
        })
        .collect()
}

/// The dimensions of `tensor` as stored in the file: `[outputs, inputs]` or `[outputs]`.
pub fn file_dims(tensor: &Tensor) -> Vec<u64> {
    match tensor.param {
        Param::Weight => vec![tensor.layer.outputs.into(), tensor.layer.inputs.into()],
        Param::Bias => vec![tensor.layer.outputs.into()],
    }
}

/// A trained model as stored in `model.safetensors`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFile {
    /// The network's configuration.
    pub config: ModelConfig,
    /// How a raw record becomes the dense input, if known.
    pub feature_spec: Option<FeatureSpec>,
    /// The standardisation the network expects on its numeric columns; `None` when it takes
    /// raw values (never normalised, or folded by [`fold_normalisation`](crate::fold)).
    pub normalisation: Option<Normalisation>,
    /// Every parameter, flat, tensor after tensor in canonical order (see
    /// [`parameter_ranges`]), each tensor row-major.
    pub parameters: Vec<f32>,
    /// Further metadata kept verbatim (e.g. `ple.training`, a JSON training summary).
    pub extra: BTreeMap<String, String>,
}

impl ModelFile {
    /// The parameters of the tensor named `name` (canonical name), if the network has it.
    pub fn tensor(&self, name: &str) -> Option<&[f32]> {
        let shape = self.config.shape();
        parameter_ranges(&shape)
            .into_iter()
            .find(|(tensor, _)| tensor.to_string() == name)
            .and_then(|(_, range)| self.parameters.get(range))
    }

    /// Checks everything [`load`](Self::load) would check, on a model in memory.
    pub fn validate(&self) -> Result<(), ModelFileError> {
        let path = Path::new(IN_MEMORY);
        check_metadata(
            path,
            &self.config,
            self.feature_spec.as_ref(),
            self.normalisation.as_ref(),
        )?;
        let expected = self.config.shape().parameter_count();
        if self.parameters.len() != expected {
            let found = self.parameters.len();
            return Err(ModelFileError::ParameterCount {
                path: path.into(),
                expected,
                found,
            });
        }
        for (tensor, range) in parameter_ranges(&self.config.shape()) {
            check_finite(path, &tensor.to_string(), &self.parameters[range])?;
        }
        check_extra(path, &self.extra)
    }

    /// The file's bytes: validates the model, then serialises it (deterministically).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelFileError> {
        self.validate()?;
        let json_of = |key: &str, value: Result<String, serde_json::Error>| {
            value.map_err(|source| ModelFileError::Metadata {
                path: IN_MEMORY.into(),
                key: key.into(),
                source,
            })
        };
        let mut metadata = self.extra.clone();
        metadata.insert(FORMAT_KEY.into(), FORMAT_VERSION.into());
        metadata.insert(
            CONFIG_KEY.into(),
            json_of(CONFIG_KEY, serde_json::to_string(&self.config))?,
        );
        if let Some(spec) = &self.feature_spec {
            metadata.insert(
                FEATURE_SPEC_KEY.into(),
                json_of(FEATURE_SPEC_KEY, serde_json::to_string(spec))?,
            );
        }
        if let Some(norm) = &self.normalisation {
            metadata.insert(
                NORMALISATION_KEY.into(),
                json_of(NORMALISATION_KEY, serde_json::to_string(norm))?,
            );
        }

        let mut header = serde_json::Map::new();
        header.insert(
            "__metadata__".into(),
            serde_json::to_value(metadata).unwrap_or_default(),
        );
        for (tensor, range) in parameter_ranges(&self.config.shape()) {
            let offsets = [range.start * 4, range.end * 4];
            let entry = serde_json::json!({
                "dtype": "F32",
                "shape": file_dims(&tensor),
                "data_offsets": offsets,
            });
            header.insert(tensor.to_string(), entry);
        }
        // A serde_json map of strings and numbers always serialises.
        let mut json = serde_json::to_vec(&header).unwrap_or_default();
        // Pad with spaces so the data starts 8-byte aligned, as safetensors writers do.
        json.resize(json.len().next_multiple_of(8), b' ');

        let mut bytes = Vec::with_capacity(8 + json.len() + 4 * self.parameters.len());
        bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&json);
        for value in &self.parameters {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        Ok(bytes)
    }

    /// Writes the model to `path` atomically: a temporary file beside it, synced, then renamed.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelFileError> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        write_atomically(path, &bytes)
    }

    /// Reads and validates the model file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<ModelFile, ModelFileError> {
        let path = path.as_ref();
        let io = |source| ModelFileError::Io {
            path: path.into(),
            source,
        };
        let file = fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        if size > MAX_FILE_BYTES {
            let limit = MAX_FILE_BYTES;
            return Err(ModelFileError::FileTooLarge {
                path: path.into(),
                size,
                limit,
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        // `take` guards against a file that grows while it is read.
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        Self::from_bytes(path, &bytes)
    }

    /// Parses and validates a model file's bytes; `path` only names the source in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<ModelFile, ModelFileError> {
        if bytes.len() as u64 > MAX_FILE_BYTES {
            let (size, limit) = (bytes.len() as u64, MAX_FILE_BYTES);
            return Err(ModelFileError::FileTooLarge {
                path: path.into(),
                size,
                limit,
            });
        }
        let header = header::parse(path, bytes)?;
        // A second opinion: the reference reader must accept what we accept.
        safetensors::SafeTensors::deserialize(bytes).map_err(|source| {
            ModelFileError::Malformed {
                path: path.into(),
                source,
            }
        })?;

        let mut metadata = header.metadata;
        let format = metadata
            .remove(FORMAT_KEY)
            .ok_or(ModelFileError::MissingMetadata {
                path: path.into(),
                key: FORMAT_KEY,
            })?;
        if format != FORMAT_VERSION {
            return Err(ModelFileError::UnsupportedFormat {
                path: path.into(),
                found: format,
            });
        }
        let config_json = metadata
            .remove(CONFIG_KEY)
            .ok_or(ModelFileError::MissingMetadata {
                path: path.into(),
                key: CONFIG_KEY,
            })?;
        let config: ModelConfig = parse_json(path, CONFIG_KEY, &config_json)?;
        let feature_spec = match metadata.remove(FEATURE_SPEC_KEY) {
            Some(json) => Some(parse_json::<FeatureSpec>(path, FEATURE_SPEC_KEY, &json)?),
            None => None,
        };
        let normalisation = match metadata.remove(NORMALISATION_KEY) {
            Some(json) => Some(parse_json::<Normalisation>(path, NORMALISATION_KEY, &json)?),
            None => None,
        };
        check_metadata(path, &config, feature_spec.as_ref(), normalisation.as_ref())?;

        let shape = config.shape();
        let data = &bytes[header.data_start..];
        let mut tensors = header.tensors;
        let mut parameters = Vec::with_capacity(shape.parameter_count());
        for tensor in shape.tensors() {
            let name = tensor.to_string();
            let Some(entry) = tensors.remove(&name) else {
                return Err(ModelFileError::MissingTensor {
                    path: path.into(),
                    tensor: name,
                });
            };
            let expected = file_dims(&tensor);
            if entry.shape != expected {
                let found = entry.shape;
                return Err(ModelFileError::TensorShape {
                    path: path.into(),
                    tensor: name,
                    expected,
                    found,
                });
            }
            let first = parameters.len();
            push_as_f32(&mut parameters, entry.dtype, &data[entry.start..entry.end]);
            check_finite(path, &name, &parameters[first..])?;
        }
        if let Some(name) = tensors.into_keys().next() {
            return Err(ModelFileError::UnexpectedTensor {
                path: path.into(),
                tensor: name,
            });
        }
        Ok(ModelFile {
            config,
            feature_spec,
            normalisation,
            parameters,
            extra: metadata,
        })
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    key: &str,
    json: &str,
) -> Result<T, ModelFileError> {
    serde_json::from_str(json).map_err(|source| ModelFileError::Metadata {
        path: path.into(),
        key: key.into(),
        source,
    })
}

/// Checks the configuration and the optional metadata against each other.
fn check_metadata(
    path: &Path,
    config: &ModelConfig,
    spec: Option<&FeatureSpec>,
    norm: Option<&Normalisation>,
) -> Result<(), ModelFileError> {
    let p = || PathBuf::from(path);
    config
        .shape()
        .validate()
        .map_err(|reason| ModelFileError::InvalidShape { path: p(), reason })?;
    if config.task_names.len() != config.tasks as usize {
        return Err(ModelFileError::TaskNames {
            path: p(),
            tasks: config.tasks,
            names: config.task_names.len(),
        });
    }
    let mut numeric_columns = None;
    if let Some(spec) = spec {
        let spec_width = spec.dense_width();
        if spec_width != config.input_dim as usize {
            return Err(ModelFileError::FeatureSpecWidth {
                path: p(),
                spec_width,
                input_dim: config.input_dim,
            });
        }
        if spec.tasks.len() != config.tasks as usize {
            return Err(ModelFileError::FeatureSpecTasks {
                path: p(),
                spec_tasks: spec.tasks.len(),
                tasks: config.tasks,
            });
        }
        let mut expected = spec.numeric.len();
        for field in &spec.categorical {
            if field.offset != expected {
                let (field, offset) = (field.name.clone(), field.offset);
                return Err(ModelFileError::FeatureSpecLayout {
                    path: p(),
                    field,
                    offset,
                    expected,
                });
            }
            expected += field.vocabulary.len();
        }
        numeric_columns = Some(spec.numeric.len());
    }
    if let Some(norm) = norm {
        let (mean, std) = (norm.mean.len(), norm.std.len());
        let length_ok = match numeric_columns {
            Some(n) => mean == n && std == n,
            None => mean == std && mean <= config.input_dim as usize,
        };
        if !length_ok {
            let numeric_columns = numeric_columns.unwrap_or(mean);
            return Err(ModelFileError::NormalisationLength {
                path: p(),
                numeric_columns,
                mean,
                std,
            });
        }
        for (column, (&mean, &std)) in norm.mean.iter().zip(&norm.std).enumerate() {
            if !mean.is_finite() || !std.is_finite() || std <= 0.0 {
                return Err(ModelFileError::NormalisationValue {
                    path: p(),
                    column,
                    mean,
                    std,
                });
            }
        }
    }
    Ok(())
}

fn check_finite(path: &Path, tensor: &str, values: &[f32]) -> Result<(), ModelFileError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(ModelFileError::NonFinite {
            path: path.into(),
            tensor: tensor.into(),
            index,
            value: values[index],
        }),
    }
}

fn check_extra(path: &Path, extra: &BTreeMap<String, String>) -> Result<(), ModelFileError> {
    match extra
        .keys()
        .find(|key| RESERVED_KEYS.contains(&key.as_str()) || *key == "__metadata__")
    {
        None => Ok(()),
        Some(key) => Err(ModelFileError::ReservedKey {
            path: path.into(),
            key: key.clone(),
        }),
    }
}

/// Appends little-endian `data` of `dtype` to `out` as f32 (`data.len()` is a multiple of
/// the element size: the header check made sure).
fn push_as_f32(out: &mut Vec<f32>, dtype: FloatDtype, data: &[u8]) {
    match dtype {
        FloatDtype::F32 => out.extend(
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
        FloatDtype::F16 => out.extend(
            data.chunks_exact(2)
                .map(|b| half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32()),
        ),
        FloatDtype::BF16 => out.extend(
            data.chunks_exact(2)
                .map(|b| half::bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32()),
        ),
        FloatDtype::F64 => out.extend(data.chunks_exact(8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            f64::from_le_bytes(a) as f32
        })),
    }
}

/// Writes `bytes` to a temporary file in `path`'s directory, syncs it, renames it to `path`
/// and syncs the directory, so that `path` holds either the old or the new file, whole.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ModelFileError> {
    let io = |source| ModelFileError::Io {
        path: path.into(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per process and per call, so concurrent writers never share a temporary file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let serial = NEXT.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{file_name}.{}-{serial}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        // Make the rename itself durable; not every platform can open a directory.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(io)
}
