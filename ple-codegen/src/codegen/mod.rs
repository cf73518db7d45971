//! Code generation: a model file becomes Rust or C source that holds the model as static
//! data for ple-core.
//!
//! The pipeline is the same for every output: read the file (keeping its sha256 for the
//! generated header), validate it ([`ModelFile::from_bytes`]), pack the parameters into
//! ple-core's runtime layout at the chosen precision ([`ple_core::pack_f32`],
//! [`ple_core::pack_f16`]), then emit. Emission only formats what [`Baked`] holds, so the
//! same model always gives the same bytes.
//!
//! # The numeric standardisation
//!
//! The trainer feeds numeric column `j` as `(x_j - mean_j) / std_j`. By default an f32 or
//! f16 model keeps its weights as trained and carries the mean and std tables
//! ([`Baked::normalisation`]); the generated model standardises raw values on the device
//! with the trainer's arithmetic ([`ple_core::normalise`]). Measured on the Census test
//! split, its f32 probabilities are then within 1e-6 (relative to `max(p, 1 - p)`) of the
//! trainer's and its f16 ones within 5e-4 of f32. [`BakeOptions::fold_normalisation`]
//! (`--fold-normalisation`) instead folds the standardisation into the first layer
//! ([`crate::fold`]): the model then takes raw values without the tables (8 bytes and one
//! subtraction and one division per numeric column: 88 bytes and 11 divisions for Census),
//! at the cost of about 3e-6 in f32 and 4e-3 in f16, because a column whose mean is large
//! against its std turns into large terms that cancel. int8 always folds (the quantiser
//! needs raw-value weights).
//!
//! Rust output (`model.rs`) is meant for `include!` (from a `build.rs` writing to `OUT_DIR`,
//! or a checked-in file): it needs only the `ple-core` crate (f16 weights are
//! `ple_core::half::f16`). It holds `SHAPE`, `LAYOUT`, `WEIGHTS` (exact bit patterns),
//! `NUMERIC_MEAN` and `NUMERIC_STD` (exact bit patterns, unless folded), `MODEL` (checked at
//! compile time, standardisation included), `SCRATCH_LEN`, `TASKS`, `TASK_NAMES`, the
//! feature spec tables with `encode`, and `predict`. C output is a header and a source file
//! for ple-core's C ABI (see [`c`]).

pub mod c;
pub mod calibration;
pub mod int8;
pub mod rust;

use std::fmt;
use std::path::{Path, PathBuf};

use half::f16;
use sha2::{Digest, Sha256};

use crate::feature_spec::{FeatureSpec, Normalisation};
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

/// How [`bake_with`] bakes an f32 or f16 model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BakeOptions {
    /// Fold the numeric standardisation into the first layer instead of keeping the mean
    /// and std tables for the device: saves 8 bytes and one division per numeric column,
    /// costs accuracy (see the [module documentation](self)). Off by default.
    pub fold_normalisation: bool,
}

/// Everything emission needs, already validated and packed.
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
    /// The packed weights: as trained when [`normalisation`](Self::normalisation) is
    /// `Some`, with the standardisation folded in otherwise.
    pub weights: BakedWeights,
    /// The standardisation the device applies to the numeric inputs (one mean and one std
    /// per numeric column); `None` when it was folded into the weights (always for int8) or
    /// the model has none (or no numeric column).
    pub normalisation: Option<Normalisation>,
    /// Hex sha256 of the model file the weights come from.
    pub model_sha256: String,
}

/// Flash and RAM a baked model needs on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// Bytes of weight data (flash).
    pub weight_bytes: usize,
    /// Bytes of the standardisation tables (flash): 8 per numeric column when the device
    /// standardises, 0 when the standardisation is folded.
    pub table_bytes: usize,
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
        let table_bytes = self
            .normalisation
            .as_ref()
            .map_or(0, |n| 4 * (n.mean.len() + n.std.len()));
        Footprint {
            weight_bytes: self.weights.bytes(),
            table_bytes,
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
    /// The normalisation does not fit the numeric columns, or has a mean that is not
    /// finite or a std that is not finite and positive.
    Normalisation { path: PathBuf, reason: String },
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
            CodegenError::Normalisation { path, reason } => {
                write!(f, "{}: normalisation: {reason}", path.display())
            }
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

/// Reads, validates and packs the model file at `path` ([`bake`]: the standardisation is
/// kept for the device).
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

/// Packs a validated model at f32 or f16, keeping its standardisation for the device
/// ([`BakeOptions::default`]); `path` names it in errors. Int8 needs calibration rows: see
/// [`bake_int8`].
pub fn bake(
    path: &Path,
    model: ModelFile,
    model_sha256: String,
    precision: Precision,
) -> Result<Baked, CodegenError> {
    bake_with(path, model, model_sha256, precision, BakeOptions::default())
}

/// The standardisation checked against the input layout, as the device will apply it. A
/// model without a feature spec takes a dense input whose every column counts as numeric;
/// its normalisation may cover only the first columns, and the others get mean 0 and std
/// 1, which give every finite value back unchanged, bit for bit.
fn device_normalisation(
    path: &Path,
    normalisation: Option<Normalisation>,
    numeric: u32,
    dense_only: bool,
) -> Result<Option<Normalisation>, CodegenError> {
    let Some(mut norm) = normalisation.filter(|n| !(n.mean.is_empty() && n.std.is_empty())) else {
        return Ok(None);
    };
    if dense_only && norm.mean.len() == norm.std.len() && norm.mean.len() < numeric as usize {
        norm.mean.resize(numeric as usize, 0.0);
        norm.std.resize(numeric as usize, 1.0);
    }
    let error = |reason: String| CodegenError::Normalisation {
        path: path.into(),
        reason,
    };
    if norm.mean.len() != numeric as usize || norm.std.len() != numeric as usize {
        return Err(error(format!(
            "{} means and {} stds for {numeric} numeric columns",
            norm.mean.len(),
            norm.std.len()
        )));
    }
    if let Some(column) = (0..norm.mean.len()).find(|&j| {
        ple_core::normalise::Standardisation::new(&norm.mean[j..=j], &norm.std[j..=j]).is_err()
    }) {
        return Err(error(format!(
            "numeric column {column} has mean {} and std {}",
            norm.mean[column], norm.std[column]
        )));
    }
    Ok(if norm.mean.is_empty() {
        None
    } else {
        Some(norm)
    })
}

/// Packs a validated model at f32 or f16 with the given options; `path` names it in
/// errors.
pub fn bake_with(
    path: &Path,
    mut model: ModelFile,
    model_sha256: String,
    precision: Precision,
    options: BakeOptions,
) -> Result<Baked, CodegenError> {
    model.validate()?;
    let (layout_numeric, vocab_sizes) = input_layout(path, &model)?;
    if options.fold_normalisation {
        model
            .fold_normalisation()
            .map_err(|source| CodegenError::Fold {
                path: path.into(),
                source,
            })?;
    }
    let dense_only = model.feature_spec.is_none();
    let normalisation =
        device_normalisation(path, model.normalisation.take(), layout_numeric, dense_only)?;
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
        normalisation,
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
        normalisation: None,
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
