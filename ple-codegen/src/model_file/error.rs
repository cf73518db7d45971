//! The one error type of the model file: every way a file can be unreadable or wrong.

use std::fmt;
use std::path::PathBuf;

use ple_core::ShapeError;

/// Why a model file could not be written or read, or why a model disagrees with itself.
///
/// Every variant names the file (`path`; `(model in memory)` for a model that has not been
/// written yet) and, where there is one, the tensor or metadata key at fault.
#[derive(Debug)]
#[non_exhaustive]
pub enum ModelFileError {
    /// The file could not be opened, read, written, synced or renamed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`](super::MAX_FILE_BYTES).
    FileTooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    /// The file ends before its header length, its header or its tensor data.
    Truncated {
        path: PathBuf,
        needed: u64,
        found: u64,
    },
    /// The header length field exceeds [`MAX_HEADER_BYTES`](super::MAX_HEADER_BYTES).
    HeaderTooLarge {
        path: PathBuf,
        declared: u64,
        limit: u64,
    },
    /// The header is not UTF-8 JSON of the safetensors form.
    HeaderJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// The file holds bytes after the last tensor's data.
    TrailingBytes {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    /// A tensor's data offsets are reversed, overlap another's, leave a hole or do not match
    /// its shape and dtype.
    DataLayout {
        path: PathBuf,
        tensor: String,
        reason: &'static str,
    },
    /// The product of a tensor's dimensions (times its element size) overflows.
    ShapeOverflow { path: PathBuf, tensor: String },
    /// The reference safetensors reader rejects the file although every check here passed.
    Malformed {
        path: PathBuf,
        source: safetensors::SafeTensorError,
    },
    /// A required metadata key is absent.
    MissingMetadata { path: PathBuf, key: &'static str },
    /// A metadata value is not the JSON it should be.
    Metadata {
        path: PathBuf,
        key: String,
        source: serde_json::Error,
    },
    /// The `ple.format` version is not one this crate reads.
    UnsupportedFormat { path: PathBuf, found: String },
    /// The configuration describes no valid network.
    InvalidShape { path: PathBuf, reason: ShapeError },
    /// A tensor's dtype is not one of F32, F16, BF16, F64.
    UnsupportedDtype {
        path: PathBuf,
        tensor: String,
        dtype: String,
    },
    /// A tensor the configuration requires is absent.
    MissingTensor { path: PathBuf, tensor: String },
    /// The file holds a tensor the configuration does not have.
    UnexpectedTensor { path: PathBuf, tensor: String },
    /// A tensor's dimensions differ from the configuration's.
    TensorShape {
        path: PathBuf,
        tensor: String,
        expected: Vec<u64>,
        found: Vec<u64>,
    },
    /// A parameter is NaN or infinite (after conversion to f32).
    NonFinite {
        path: PathBuf,
        tensor: String,
        index: usize,
        value: f32,
    },
    /// The number of task names differs from the number of tasks.
    TaskNames {
        path: PathBuf,
        tasks: u32,
        names: usize,
    },
    /// The feature spec's dense width differs from the configuration's input width.
    FeatureSpecWidth {
        path: PathBuf,
        spec_width: usize,
        input_dim: u32,
    },
    /// The feature spec has a different number of task labels than the model has tasks.
    FeatureSpecTasks {
        path: PathBuf,
        spec_tasks: usize,
        tasks: u32,
    },
    /// A categorical field's one-hot block does not start where the layout puts it.
    FeatureSpecLayout {
        path: PathBuf,
        field: String,
        offset: usize,
        expected: usize,
    },
    /// The normalisation's mean and std lengths differ from the number of numeric columns
    /// (or from each other, or exceed the input width when there is no feature spec).
    NormalisationLength {
        path: PathBuf,
        numeric_columns: usize,
        mean: usize,
        std: usize,
    },
    /// A normalisation mean is not finite, or a std is not finite and positive.
    NormalisationValue {
        path: PathBuf,
        column: usize,
        mean: f32,
        std: f32,
    },
    /// An in-memory model's parameter count differs from its configuration's.
    ParameterCount {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
    /// An extra metadata key collides with a key the format reserves.
    ReservedKey { path: PathBuf, key: String },
}

impl fmt::Display for ModelFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ModelFileError as E;
        match self {
            E::Io { path, source } => write!(f, "{}: {source}", path.display()),
            E::FileTooLarge { path, size, limit } => write!(
                f,
                "{}: file is {size} bytes, more than the {limit}-byte limit for a model file",
                path.display()
            ),
            E::Truncated {
                path,
                needed,
                found,
            } => write!(
                f,
                "{}: file is truncated: {needed} bytes needed, {found} present",
                path.display()
            ),
            E::HeaderTooLarge {
                path,
                declared,
                limit,
            } => write!(
                f,
                "{}: header length field says {declared} bytes, more than the {limit}-byte limit",
                path.display()
            ),
            E::HeaderJson { path, source } => {
                write!(
                    f,
                    "{}: header is not safetensors JSON: {source}",
                    path.display()
                )
            }
            E::TrailingBytes {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: tensors end at byte {expected} but the file has {found} bytes",
                path.display()
            ),
            E::DataLayout {
                path,
                tensor,
                reason,
            } => {
                write!(f, "{}: tensor `{tensor}`: {reason}", path.display())
            }
            E::ShapeOverflow { path, tensor } => write!(
                f,
                "{}: tensor `{tensor}`: the size implied by its shape overflows",
                path.display()
            ),
            E::Malformed { path, source } => {
                write!(
                    f,
                    "{}: not a valid safetensors file: {source}",
                    path.display()
                )
            }
            E::MissingMetadata { path, key } => {
                write!(f, "{}: metadata key `{key}` is missing", path.display())
            }
            E::Metadata { path, key, source } => {
                write!(
                    f,
                    "{}: metadata key `{key}` is invalid: {source}",
                    path.display()
                )
            }
            E::UnsupportedFormat { path, found } => write!(
                f,
                "{}: metadata `ple.format` is {found:?}; this version reads format {:?}",
                path.display(),
                super::FORMAT_VERSION
            ),
            E::InvalidShape { path, reason } => {
                write!(f, "{}: metadata `ple.config`: {reason}", path.display())
            }
            E::UnsupportedDtype {
                path,
                tensor,
                dtype,
            } => write!(
                f,
                "{}: tensor `{tensor}` has dtype {dtype}; F32, F16, BF16 or F64 expected",
                path.display()
            ),
            E::MissingTensor { path, tensor } => {
                write!(f, "{}: tensor `{tensor}` is missing", path.display())
            }
            E::UnexpectedTensor { path, tensor } => write!(
                f,
                "{}: tensor `{tensor}` is not part of the configured network",
                path.display()
            ),
            E::TensorShape {
                path,
                tensor,
                expected,
                found,
            } => write!(
                f,
                "{}: tensor `{tensor}` has shape {found:?}; the configuration needs {expected:?}",
                path.display()
            ),
            E::NonFinite {
                path,
                tensor,
                index,
                value,
            } => write!(
                f,
                "{}: tensor `{tensor}` element {index} is {value}",
                path.display()
            ),
            E::TaskNames { path, tasks, names } => write!(
                f,
                "{}: metadata `ple.config`: {tasks} tasks but {names} task names",
                path.display()
            ),
            E::FeatureSpecWidth {
                path,
                spec_width,
                input_dim,
            } => write!(
                f,
                "{}: metadata `ple.feature_spec` encodes {spec_width} dense columns but the \
                 network's input width is {input_dim}",
                path.display()
            ),
            E::FeatureSpecTasks {
                path,
                spec_tasks,
                tasks,
            } => write!(
                f,
                "{}: metadata `ple.feature_spec` has {spec_tasks} task labels but the network \
                 has {tasks} tasks",
                path.display()
            ),
            E::FeatureSpecLayout {
                path,
                field,
                offset,
                expected,
            } => write!(
                f,
                "{}: metadata `ple.feature_spec`: field `{field}` starts at dense column \
                 {offset}, expected {expected}",
                path.display()
            ),
            E::NormalisationLength {
                path,
                numeric_columns,
                mean,
                std,
            } => write!(
                f,
                "{}: metadata `ple.normalisation` has {mean} means and {std} stds for \
                 {numeric_columns} numeric columns",
                path.display()
            ),
            E::NormalisationValue {
                path,
                column,
                mean,
                std,
            } => write!(
                f,
                "{}: metadata `ple.normalisation`: column {column} has mean {mean} and std \
                 {std}; a finite mean and a finite positive std are needed",
                path.display()
            ),
            E::ParameterCount {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: the configuration needs {expected} parameters, the model has {found}",
                path.display()
            ),
            E::ReservedKey { path, key } => write!(
                f,
                "{}: extra metadata key `{key}` is reserved by the model file format",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ModelFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ModelFileError::Io { source, .. } => Some(source),
            ModelFileError::HeaderJson { source, .. } | ModelFileError::Metadata { source, .. } => {
                Some(source)
            }
            ModelFileError::Malformed { source, .. } => Some(source),
            _ => None,
        }
    }
}
