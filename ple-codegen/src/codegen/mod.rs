//! Code generation: a model file becomes Rust or C source that holds the model as static
//! data for ple-core.
//!
//! The pipeline is the same for every output: read the file (keeping its sha256 for the
//! generated header), validate it ([`ModelFile::from_bytes`]), fold the normalisation into
//! the first layers ([`ModelFile::fold_normalisation`]), pack the parameters into ple-core's
//! runtime layout at the chosen precision ([`ple_core::pack_f32`], [`ple_core::pack_f16`]),
//! then emit. Emission only formats what [`Baked`] holds, so the same model always gives the
//! same bytes.
//!
//! Rust output (`model.rs`) is meant for `include!` (from a `build.rs` writing to `OUT_DIR`,
//! or a checked-in file): it needs only the `ple-core` crate (f16 weights are
//! `ple_core::half::f16`). It holds `SHAPE`,
//! `LAYOUT`, `WEIGHTS` (exact bit patterns), `MODEL` (checked at compile time), `SCRATCH_LEN`,
//! `TASKS`, `TASK_NAMES`, the feature spec tables with `encode`, and `predict`. C output is a
//! header and a source file for ple-core's C ABI (see [`c`]).

pub mod c;
pub mod calibration;
pub mod int8;
pub mod rust;

use std::fmt;
use std::path::{Path, PathBuf};

use half::f16;
use sha2::{Digest, Sha256};

use crate::feature_spec::FeatureSpec;
use crate::fold::FoldError;
use crate::model_file::{ModelConfig, ModelFile, ModelFileError};
use crate::quantise::{quantise, Int8Params, QuantiseError, QuantiseOptions, SparseRows};

/// Number format of the baked weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// Exact `f32` weights.
    F32,
    /// `f16` weights (nearest to each `f32`), computed in `f32`.
    F16,
    /// Integer-only inference ([`ple_core::int8`]), quantised by [`crate::quantise`] with
    /// calibration rows ([`bake_int8`]).
    Int8,
}

impl Precision {
    /// The name used on the command line and in generated headers.
    pub const fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        }
    }
}

/// Output language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// A Rust module for `include!`.
    Rust,
    /// A C header and source file.
    C,
}

/// The packed weights at their baked precision.
#[derive(Clone, Debug, PartialEq)]
pub enum BakedWeights {
    F32(Vec<f32>),
    F16(Vec<f16>),
    /// The int8 arrays.
    Int8(Box<Int8Params>),
}

impl BakedWeights {
    /// Number of weights.
    pub fn len(&self) -> usize {
        match self {
            BakedWeights::F32(v) => v.len(),
            BakedWeights::F16(v) => v.len(),
            BakedWeights::Int8(p) => {
                p.category_weights.len() + p.numeric_weights.len() + p.dense_weights.len()
            }
        }
    }

    /// Whether there are none (never, for a valid model).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the weights take in flash.
    pub fn bytes(&self) -> usize {
        match self {
            BakedWeights::F32(v) => 4 * v.len(),
            BakedWeights::F16(v) => 2 * v.len(),
            BakedWeights::Int8(p) => p.weight_bytes(),
        }
    }
}

/// Everything emission needs, already validated, folded and packed.
#[derive(Clone, Debug)]
pub struct Baked {
    /// The network's configuration.
    pub config: ModelConfig,
    /// The feature spec, if the model file has one (then the model takes the sparse input).
    pub feature_spec: Option<FeatureSpec>,
    /// Numeric columns of the input layout (`input_dim` when there is no feature spec).
    pub layout_numeric: u32,
    /// Vocabulary size of each categorical field.
    pub vocab_sizes: Vec<u16>,
    /// The packed weights, normalisation folded in.
    pub weights: BakedWeights,
    /// Hex sha256 of the model file the weights come from.
    pub model_sha256: String,
}

/// Flash and RAM a baked model needs on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// Bytes of weight data (flash).
    pub weight_bytes: usize,
    /// Bytes of scratch memory a prediction needs (RAM).
    pub scratch_bytes: usize,
}

impl Baked {
    /// The model's flash and scratch needs.
    pub fn footprint(&self) -> Footprint {
        let shape = self.config.shape();
        let words = match self.weights {
            BakedWeights::Int8(_) => {
                let (numeric, fields) = (self.layout_numeric as usize, self.vocab_sizes.len());
                ple_core::int8::scratch_words(&shape, numeric, fields)
            }
            BakedWeights::F32(_) | BakedWeights::F16(_) => ple_core::scratch_len(&shape),
        };
        // Scratch is f32 values for f32 and f16 models, i32 words for int8: 4 bytes each.
        Footprint {
            weight_bytes: self.weights.bytes(),
            scratch_bytes: 4 * words,
        }
    }
}

/// Why code could not be generated.
#[derive(Debug)]
#[non_exhaustive]
pub enum CodegenError {
    /// The model file is unreadable or invalid.
    Model(ModelFileError),
    /// The normalisation could not be folded.
    Fold { path: PathBuf, source: FoldError },
    /// ple-core refused to pack the parameters.
    Pack {
        path: PathBuf,
        source: ple_core::PleError,
    },
    /// A categorical field's vocabulary is too large for a `u16` category index.
    Vocabulary {
        path: PathBuf,
        field: String,
        size: usize,
    },
    /// A feature spec column lies outside the raw record.
    SourceColumn {
        path: PathBuf,
        field: String,
        column: usize,
        raw_columns: usize,
    },
    /// Quantisation failed, or int8 was asked for without calibration rows.
    Quantise {
        path: PathBuf,
        source: QuantiseError,
    },
    /// A calibration record is malformed (`line` is 1-based; 0 for the file as a whole).
    Calibration {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// What was asked for is not supported (e.g. int8 without calibration rows).
    Unsupported { what: &'static str },
    /// The generated tokens are not a Rust file (a bug in the emitter).
    Syntax(syn::Error),
    /// An output file could not be written.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodegenError::Model(e) => e.fmt(f),
            CodegenError::Fold { path, source } => write!(f, "{}: {source}", path.display()),
            CodegenError::Pack { path, source } => {
                write!(f, "{}: cannot pack the weights: {source}", path.display())
            }
            CodegenError::Vocabulary { path, field, size } => write!(
                f,
                "{}: field `{field}` has {size} categories; at most 65534 are supported",
                path.display()
            ),
            CodegenError::SourceColumn {
                path,
                field,
                column,
                raw_columns,
            } => write!(
                f,
                "{}: field `{field}` reads raw column {column} of a {raw_columns}-column record",
                path.display()
            ),
            CodegenError::Quantise { path, source } => {
                write!(f, "{}: int8 quantisation: {source}", path.display())
            }
            CodegenError::Calibration { path, line, reason } => {
                write!(f, "{}:{line}: calibration record: {reason}", path.display())
            }
            CodegenError::Unsupported { what } => write!(f, "not supported: {what}"),
            CodegenError::Syntax(e) => write!(f, "generated code does not parse: {e}"),
            CodegenError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for CodegenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CodegenError::Model(e) => Some(e),
            CodegenError::Fold { source, .. } => Some(source),
            CodegenError::Quantise { source, .. } => Some(source),
            CodegenError::Syntax(e) => Some(e),
            CodegenError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ModelFileError> for CodegenError {
    fn from(e: ModelFileError) -> Self {
        CodegenError::Model(e)
    }
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads, validates, folds and packs the model file at `path`.
pub fn bake_file(path: &Path, precision: Precision) -> Result<Baked, CodegenError> {
    let bytes = std::fs::read(path).map_err(|source| {
        CodegenError::Model(ModelFileError::Io {
            path: path.into(),
            source,
        })
    })?;
    let model = ModelFile::from_bytes(path, &bytes)?;
    bake(path, model, sha256_hex(&bytes), precision)
}

/// The input layout of a model: numeric columns and vocabulary sizes, checked to fit the
/// runtime's `u16` category indices and the raw record.
fn input_layout(path: &Path, model: &ModelFile) -> Result<(u32, Vec<u16>), CodegenError> {
    let Some(spec) = &model.feature_spec else {
        return Ok((model.config.input_dim, Vec::new()));
    };
    let mut sizes = Vec::with_capacity(spec.categorical.len());
    for field in &spec.categorical {
        let size = field.vocabulary.len();
        if size >= usize::from(ple_core::UNKNOWN_CATEGORY) {
            return Err(CodegenError::Vocabulary {
                path: path.into(),
                field: field.name.clone(),
                size,
            });
        }
        sizes.push(size as u16);
    }
    let columns = spec.numeric.iter().map(|c| (&c.name, c.source_column));
    let columns = columns.chain(spec.categorical.iter().map(|f| (&f.name, f.source_column)));
    for (name, column) in columns {
        if column >= spec.raw_columns {
            let (field, raw_columns) = (name.clone(), spec.raw_columns);
            return Err(CodegenError::SourceColumn {
                path: path.into(),
                field,
                column,
                raw_columns,
            });
        }
    }
    Ok((spec.numeric.len() as u32, sizes))
}

/// Folds and packs a validated model at f32 or f16; `path` names it in errors. Int8 needs
/// calibration rows: see [`bake_int8`].
pub fn bake(
    path: &Path,
    mut model: ModelFile,
    model_sha256: String,
    precision: Precision,
) -> Result<Baked, CodegenError> {
    model.validate()?;
    let (layout_numeric, vocab_sizes) = input_layout(path, &model)?;
    model
        .fold_normalisation()
        .map_err(|source| CodegenError::Fold {
            path: path.into(),
            source,
        })?;
    let shape = model.config.shape();
    let pack_error = |source| CodegenError::Pack {
        path: path.into(),
        source,
    };
    let weights = match precision {
        Precision::F32 => {
            let mut out = vec![0f32; ple_core::packed_len(&shape)];
            ple_core::pack_f32(&shape, &model.parameters, &mut out).map_err(pack_error)?;
            BakedWeights::F32(out)
        }
        Precision::F16 => {
            let mut out = vec![f16::ZERO; ple_core::packed_len(&shape)];
            ple_core::pack_f16(&shape, &model.parameters, &mut out).map_err(pack_error)?;
            BakedWeights::F16(out)
        }
        Precision::Int8 => {
            let source = QuantiseError::Rows("int8 needs calibration rows (bake_int8)".into());
            return Err(CodegenError::Quantise {
                path: path.into(),
                source,
            });
        }
    };
    Ok(Baked {
        config: model.config,
        feature_spec: model.feature_spec,
        layout_numeric,
        vocab_sizes,
        weights,
        model_sha256,
    })
}

/// Quantises a validated model to int8 ([`crate::quantise`], which folds the normalisation
/// itself), calibrating activations on `calibration` (raw numeric values and category
/// indices, e.g. training rows).
pub fn bake_int8(
    path: &Path,
    model: ModelFile,
    model_sha256: String,
    calibration: SparseRows<'_>,
) -> Result<Baked, CodegenError> {
    model.validate()?;
    let (layout_numeric, vocab_sizes) = input_layout(path, &model)?;
    let layout = ple_core::InputLayout {
        numeric: layout_numeric,
        vocab_sizes: &vocab_sizes,
    };
    let params = quantise(
        &model.config.shape(),
        &model.parameters,
        model.normalisation.as_ref(),
        &layout,
        calibration,
        &QuantiseOptions::default(),
    )
    .map_err(|source| CodegenError::Quantise {
        path: path.into(),
        source,
    })?;
    Ok(Baked {
        config: model.config,
        feature_spec: model.feature_spec,
        layout_numeric,
        vocab_sizes,
        weights: BakedWeights::Int8(Box::new(params)),
        model_sha256,
    })
}

/// One generated file: its name (no directory) and contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub name: String,
    pub contents: String,
}

fn header_lines(baked: &Baked) -> Vec<String> {
    vec![
        "@generated by ple-codegen".into(),
        format!("model sha256: {}", baked.model_sha256),
        format!("precision: {}", baked.weights_precision().name()),
    ]
}

impl Baked {
    /// The precision the weights were baked at.
    pub fn weights_precision(&self) -> Precision {
        match self.weights {
            BakedWeights::F32(_) => Precision::F32,
            BakedWeights::F16(_) => Precision::F16,
            BakedWeights::Int8(_) => Precision::Int8,
        }
    }
}

/// The Rust module (`model.rs`) for a baked model.
pub fn emit_rust(baked: &Baked) -> Result<GeneratedFile, CodegenError> {
    let contents =
        rust::render(&header_lines(baked), rust::module(baked)).map_err(CodegenError::Syntax)?;
    Ok(GeneratedFile {
        name: "model.rs".into(),
        contents,
    })
}

/// The C header and source (`<name>.h`, `<name>.c`) for a baked model; `name` prefixes every
/// C identifier (e.g. `ple_model`).
pub fn emit_c(baked: &Baked, name: &str) -> Result<Vec<GeneratedFile>, CodegenError> {
    Ok(c::emit(baked, name, &header_lines(baked)))
}

/// Generates the files for `lang` and writes them into `dir` (atomically, each). `c_name`
/// names the C files and prefixes their identifiers (`model` gives `model.h`, `model.c`,
/// `model_predict`, `MODEL_TASKS`); it must be a C identifier.
pub fn generate_into(
    baked: &Baked,
    lang: Lang,
    c_name: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>, CodegenError> {
    let files = match lang {
        Lang::Rust => vec![emit_rust(baked)?],
        Lang::C => emit_c(baked, c_name)?,
    };
    std::fs::create_dir_all(dir).map_err(|source| CodegenError::Io {
        path: dir.into(),
        source,
    })?;
    let mut written = Vec::new();
    for file in files {
        let path = dir.join(&file.name);
        crate::model_file::write_atomically(&path, file.contents.as_bytes()).map_err(
            |e| match e {
                ModelFileError::Io { path, source } => CodegenError::Io { path, source },
                other => CodegenError::Model(other),
            },
        )?;
        written.push(path);
    }
    Ok(written)
}
