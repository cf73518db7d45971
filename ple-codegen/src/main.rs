//! `ple-codegen`: bake a model file into Rust or C source for ple-core.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use ple_codegen::codegen::calibration::read_calibration;
use ple_codegen::codegen::{
    bake_int8, bake_with, generate_into, sha256_hex, BakeOptions, Baked, CodegenError, Lang,
    Precision,
};
use ple_codegen::model_file::{ModelFile, ModelFileError};
use ple_codegen::quantise::{QuantiseOptions, SparseRows};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PrecisionArg {
    F32,
    F16,
    Int8,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LangArg {
    Rust,
    C,
}

/// Bake a trained PLE model (model.safetensors) into Rust or C source for ple-core.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The model file written by ple-train (or by examples/export_pytorch.py).
    #[arg(long)]
    model: PathBuf,
    /// Number format of the baked weights.
    #[arg(long, value_enum, default_value = "f32")]
    precision: PrecisionArg,
    /// Output language: a Rust module for `include!`, or a C header and source.
    #[arg(long, value_enum, default_value = "rust")]
    lang: LangArg,
    /// Directory to write the generated files into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// For int8: raw records (plain or .gz, e.g. census-income.data) whose first rows
    /// calibrate the activation scales; encoded by the model's feature spec.
    #[arg(long)]
    calibration: Option<PathBuf>,
    /// For f32 and f16: fold the numeric standardisation into the first layer instead of
    /// keeping its mean and std tables (which the model applies on the device, as the
    /// trainer did). Saves 8 bytes and one division per numeric column (88 bytes and 11
    /// divisions for Census) but loses accuracy: about 3e-6 in f32 and 4e-3 in f16 on
    /// Census, against 1e-6 and 5e-4 unfolded. int8 always folds.
    #[arg(long)]
    fold_normalisation: bool,
    /// For C: the file names and the prefix of every identifier (`model.h`, `model_predict`).
    #[arg(long, default_value = "model", value_parser = c_identifier)]
    name: String,
}

fn c_identifier(text: &str) -> Result<String, String> {
    let mut chars = text.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(text.to_string())
    } else {
        Err(format!("`{text}` is not a C identifier"))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let precision = match args.precision {
        PrecisionArg::F32 => Precision::F32,
        PrecisionArg::F16 => Precision::F16,
        PrecisionArg::Int8 => Precision::Int8,
    };
    let lang = match args.lang {
        LangArg::Rust => Lang::Rust,
        LangArg::C => Lang::C,
    };
    let result = bake_model(&args, precision).and_then(|baked| {
        let written = generate_into(&baked, lang, &args.name, &args.out)?;
        Ok((baked, written))
    });
    match result {
        Ok((baked, written)) => {
            for path in written {
                println!("wrote {}", path.display());
            }
            let footprint = baked.footprint();
            println!(
                "footprint ({}): {} bytes of weights (flash), {} bytes of standardisation \
                 tables (flash), {} bytes of scratch (RAM)",
                precision.name(),
                footprint.weight_bytes,
                footprint.table_bytes,
                footprint.scratch_bytes
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ple-codegen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bake_model(args: &Args, precision: Precision) -> Result<Baked, CodegenError> {
    let path = args.model.as_path();
    let bytes = std::fs::read(path).map_err(|source| {
        CodegenError::Model(ModelFileError::Io {
            path: path.into(),
            source,
        })
    })?;
    let model = ModelFile::from_bytes(path, &bytes)?;
    let sha = sha256_hex(&bytes);
    if precision != Precision::Int8 {
        let options = BakeOptions {
            fold_normalisation: args.fold_normalisation,
        };
        return bake_with(path, model, sha, precision, options);
    }
    let Some(calibration) = &args.calibration else {
        return Err(CodegenError::Unsupported {
            what: "--precision int8 without --calibration FILE (raw training records, e.g. \
                   census-income.data, whose first 20,000 calibrate the activation scales)",
        });
    };
    let Some(spec) = &model.feature_spec else {
        return Err(CodegenError::Unsupported {
            what: "--precision int8 for a model file without a feature spec (the calibration \
                   records cannot be encoded)",
        });
    };
    let max_rows = QuantiseOptions::default().max_calibration_rows;
    let (numeric, categories) = read_calibration(calibration, spec, max_rows)?;
    println!(
        "int8 activation scales calibrated on the first {} records of {}",
        categories.len() / spec.categorical.len().max(1),
        calibration.display()
    );
    let rows = SparseRows {
        numeric: &numeric,
        categories: &categories,
    };
    bake_int8(path, model, sha, rows)
}
