//! The deployment report: the model as a device runs it, at every precision, on the test split.
//!
//! A trained model is not deployed as the trainer evaluates it. `ple-codegen` bakes it
//! ([`ple_codegen::codegen::bake`], [`bake_int8`]) into f32 or f16 weights, or into
//! integer-only int8 whose activation scales are calibrated on training rows, and ple-core
//! runs it on raw numeric values and category indices (f32 and f16 standardise the numeric
//! values on the device with the trainer's arithmetic; int8 has the standardisation folded
//! into its weights). This module does exactly that from the model file as written: it
//! reads and validates the file, bakes it at f32, f16 and int8 (int8 calibrated on the first
//! [`calibration_rows`] training rows, the records `ple-codegen --precision int8
//! --calibration census-income.data` reads), runs each baked model through ple-core on every
//! test row, and sets each precision's test AUC and largest probability difference from the
//! trainer's own forward pass beside the footprint a device needs ([`Baked::footprint`]:
//! weight and standardisation-table bytes in flash, scratch bytes in RAM).
//!
//! `ple-train` appends it to every training run (the `deployment` key of `report.json`, and
//! a table on the terminal) and prints it for an existing model with `ple-train
//! deploy-report --model M`. It reads the model file and writes nothing into it, so the
//! model is the same bytes with or without the report. On the Census test split (49,881
//! rows, int8 calibrated on 20,000) the report costs about half a second of CPU time besides
//! loading the data (1.1 to 1.8 s of wall time measured on a loaded two-core machine).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::Instant;

use ple_codegen::codegen::{bake, bake_int8, sha256_hex, Baked, BakedWeights, Precision};
use ple_codegen::model_file::ModelFile;
use ple_codegen::quantise::{categories_from_columns, QuantiseOptions, SparseRows};
use ple_core::int8::Int8Input;
use ple_core::kernels::{Detected, Kernels};
use ple_core::normalise::Standardisation;
use ple_core::{Input, InputLayout, PleError, PleModel, Weight};
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::metrics::exact_auc;

/// The precisions a model is deployed at, in the order of the report.
pub const PRECISIONS: [Precision; 3] = [Precision::F32, Precision::F16, Precision::Int8];

/// One precision of the deployed model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrecisionReport {
    /// `f32`, `f16` or `int8`.
    pub precision: String,
    /// Test ROC AUC per task (`null` on a split with one class only).
    pub auc: BTreeMap<String, Option<f64>>,
    /// Per task, the largest `|p - p_trainer|` over the test rows.
    pub max_abs_diff: BTreeMap<String, f64>,
    /// Bytes of weight data (flash).
    pub weight_bytes: usize,
    /// Bytes of the standardisation tables the device applies to the numeric inputs
    /// (flash; 0 when the standardisation is folded into the weights, as for int8).
    pub table_bytes: usize,
    /// Bytes of scratch memory one prediction needs (RAM).
    pub scratch_bytes: usize,
}

/// The whole report (the `deployment` key of `report.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentReport {
    /// Task names, in task order.
    pub tasks: Vec<String>,
    /// Test rows every precision predicted.
    pub test_rows: usize,
    /// Training rows (the first ones) the int8 activation scales were calibrated on.
    pub calibration_rows: usize,
    /// The trainer's own test AUC per task, the reference of the differences.
    pub trainer_auc: BTreeMap<String, Option<f64>>,
    /// f32, f16 and int8, in that order.
    pub precisions: Vec<PrecisionReport>,
    /// Wall-clock seconds to bake, calibrate and evaluate every precision.
    pub seconds: f64,
}

/// How many training rows calibrate int8: those `ple-codegen --calibration` reads, at most
/// [`QuantiseOptions::max_calibration_rows`] from the top of the file.
pub fn calibration_rows(train: &Dataset) -> usize {
    train
        .rows()
        .min(QuantiseOptions::default().max_calibration_rows)
}

/// The category index of every field of the first `rows` rows of `data`, row-major.
fn categories(layout: &InputLayout<'_>, data: &Dataset, rows: usize) -> Vec<u16> {
    let mut out = vec![0u16; rows * data.fields];
    for (row, slot) in out.chunks_exact_mut(data.fields.max(1)).enumerate() {
        categories_from_columns(layout, data.hot_row(row), slot);
    }
    out
}

/// Reads and validates the model file at `path` and bakes it at every precision of
/// [`PRECISIONS`], int8 calibrated on the first [`calibration_rows`] rows of `train`.
pub fn bake_precisions(path: &Path, train: &Dataset) -> Result<Vec<Baked>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let model = ModelFile::from_bytes(path, &bytes).map_err(|e| e.to_string())?;
    let Some(spec) = &model.feature_spec else {
        return Err(format!(
            "{}: the model file has no feature spec, which the deployed model needs to take \
             category indices",
            path.display()
        ));
    };
    if spec.numeric.len() != train.numeric_width || spec.categorical.len() != train.fields {
        return Err(format!(
            "{}: the model's feature spec ({} numeric, {} categorical) differs from the \
             data's ({} numeric, {} categorical)",
            path.display(),
            spec.numeric.len(),
            spec.categorical.len(),
            train.numeric_width,
            train.fields
        ));
    }
    let sha = sha256_hex(&bytes);
    let mut baked = Vec::with_capacity(PRECISIONS.len());
    for precision in PRECISIONS {
        let one = match precision {
            Precision::Int8 => {
                let vocab: Vec<u16> = spec
                    .categorical
                    .iter()
                    .map(|f| f.vocabulary.len().min(usize::from(u16::MAX)) as u16)
                    .collect();
                let layout = InputLayout {
                    numeric: train.numeric_width as u32,
                    vocab_sizes: &vocab,
                };
                let rows = calibration_rows(train);
                let categories = categories(&layout, train, rows);
                let calibration = SparseRows {
                    numeric: &train.numeric[..rows * train.numeric_width],
                    categories: &categories,
                };
                bake_int8(path, model.clone(), sha.clone(), calibration)
            }
            _ => bake(path, model.clone(), sha.clone(), precision),
        };
        baked.push(one.map_err(|e| e.to_string())?);
    }
    Ok(baked)
}

/// The probabilities of a baked model on every row of `data`, `[task][row]`, computed by
/// ple-core from raw numeric values and category indices, as on a device.
pub fn predict(baked: &Baked, data: &Dataset) -> Result<Vec<Vec<f32>>, String> {
    let shape = baked.config.shape();
    let layout = InputLayout {
        numeric: baked.layout_numeric,
        vocab_sizes: &baked.vocab_sizes,
    };
    if layout.numeric as usize != data.numeric_width || layout.fields() != data.fields {
        return Err("the baked model's input layout differs from the data's".into());
    }
    let tasks = shape.tasks as usize;
    let rows = data.rows();
    let categories = categories(&layout, data, rows);
    let categories_of = |row: usize| &categories[row * data.fields..(row + 1) * data.fields];
    let mut p: Vec<Vec<f32>> = (0..tasks).map(|_| Vec::with_capacity(rows)).collect();
    let engine = |e: PleError| format!("ple-core refused the model or a row: {e}");
    let standardisation = match &baked.normalisation {
        Some(n) => Some(Standardisation::new(&n.mean, &n.std).map_err(engine)?),
        None => None,
    };
    let input_of = |row: usize| Input::Sparse {
        numeric: data.numeric_row(row),
        categories: categories_of(row),
    };
    match &baked.weights {
        BakedWeights::F32(weights) => {
            let model = PleModel::new(shape, layout, weights);
            predict_float(model, standardisation, rows, input_of, &mut p).map_err(engine)?;
        }
        BakedWeights::F16(weights) => {
            let model = PleModel::new(shape, layout, weights);
            predict_float(model, standardisation, rows, input_of, &mut p).map_err(engine)?;
        }
        BakedWeights::Int8(params) => {
            let int8 = |e: ple_core::int8::Int8Error| format!("int8 engine: {e}");
            let model = params.model().map_err(int8)?;
            let mut scratch = vec![0; model.scratch_words()];
            let mut fixed = vec![0; data.numeric_width];
            let (mut logits, mut q15) = (vec![0; tasks], vec![0; tasks]);
            let mut out = vec![0.0; tasks];
            for row in 0..rows {
                params
                    .encode_numeric(data.numeric_row(row), &mut fixed)
                    .map_err(|e| format!("test row {}: {e}", row + 1))?;
                let input = Int8Input {
                    numeric: &fixed,
                    categories: categories_of(row),
                };
                model
                    .predict(&input, &mut scratch, &mut logits, &mut q15)
                    .map_err(int8)?;
                for (o, &q) in out.iter_mut().zip(&q15) {
                    *o = f32::from(q) / 32768.0;
                }
                push_row(&mut p, &out);
            }
        }
    }
    Ok(p)
}

/// The probabilities of an f32 or f16 model (as [`PleModel::new`] returned it) on `rows`
/// rows, appended to `p` (`[task][row]`).
fn predict_float<'a, W: Weight>(
    model: Result<PleModel<'a, W>, PleError>,
    standardisation: Option<Standardisation<'a>>,
    rows: usize,
    input_of: impl Fn(usize) -> Input<'a>,
    p: &mut [Vec<f32>],
) -> Result<(), PleError>
where
    Detected: Kernels<W>,
{
    let model = model.and_then(|m| standardised(m, standardisation))?;
    let mut scratch = vec![0.0; model.scratch_len()];
    let mut out = vec![0.0; p.len()];
    for row in 0..rows {
        model.predict(input_of(row), &mut scratch, &mut out)?;
        push_row(p, &out);
    }
    Ok(())
}

/// `model`, standardising its numeric inputs when the baked model keeps the tables.
fn standardised<'a, W: Weight>(
    model: PleModel<'a, W>,
    standardisation: Option<Standardisation<'a>>,
) -> Result<PleModel<'a, W>, PleError> {
    match standardisation {
        Some(s) => model.with_standardisation(s),
        None => Ok(model),
    }
}

fn push_row(p: &mut [Vec<f32>], row: &[f32]) {
    for (task, &value) in p.iter_mut().zip(row) {
        task.push(value);
    }
}

/// Bakes the model file at `path` at every precision and evaluates each on `test` against
/// `trainer`, the trainer's probabilities on `test` (`[task][row]`).
pub fn evaluate(
    path: &Path,
    train: &Dataset,
    test: &Dataset,
    trainer: &[Vec<f32>],
) -> Result<DeploymentReport, String> {
    let started = Instant::now();
    let tasks = &test.task_names;
    let trainer_auc = tasks
        .iter()
        .zip(trainer)
        .zip(&test.labels)
        .map(|((t, p), labels)| (t.clone(), exact_auc(p, labels)))
        .collect();
    let mut precisions = Vec::new();
    for baked in bake_precisions(path, train)? {
        let p = predict(&baked, test)?;
        let (mut auc, mut max_abs_diff) = (BTreeMap::new(), BTreeMap::new());
        let per_task = tasks.iter().zip(p.iter().zip(trainer)).zip(&test.labels);
        for ((task, (p, reference)), labels) in per_task {
            auc.insert(task.clone(), exact_auc(p, labels));
            let diff = p
                .iter()
                .zip(reference)
                .map(|(&a, &b)| f64::from((a - b).abs()))
                .fold(0.0, f64::max);
            max_abs_diff.insert(task.clone(), diff);
        }
        let footprint = baked.footprint();
        precisions.push(PrecisionReport {
            precision: baked.weights_precision().name().to_string(),
            auc,
            max_abs_diff,
            weight_bytes: footprint.weight_bytes,
            table_bytes: footprint.table_bytes,
            scratch_bytes: footprint.scratch_bytes,
        });
    }
    Ok(DeploymentReport {
        tasks: tasks.clone(),
        test_rows: test.rows(),
        calibration_rows: calibration_rows(train),
        trainer_auc,
        precisions,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The report as a table for the terminal: one line for the trainer, one per precision.
pub fn table(report: &DeploymentReport) -> String {
    let tasks = &report.tasks;
    let mut out = format!(
        "deployed model on the test split ({} rows; int8 calibrated on the first {} training rows):\n",
        report.test_rows, report.calibration_rows
    );
    let mut header = format!("{:<9}", "precision");
    for t in tasks {
        let _ = write!(header, " {:>12}", format!("AUC {t}"));
    }
    for t in tasks {
        let _ = write!(header, " {:>17}", format!("max |Δp| {t}"));
    }
    let _ = writeln!(
        out,
        "{header} {:>12} {:>11} {:>12}",
        "weights (B)", "tables (B)", "scratch (B)"
    );
    let auc = |v: Option<f64>| v.map_or("undefined".to_string(), |v| format!("{v:.5}"));
    let mut line = format!("{:<9}", "trainer");
    for t in tasks {
        let _ = write!(
            line,
            " {:>12}",
            auc(report.trainer_auc.get(t).copied().flatten())
        );
    }
    for _ in tasks {
        let _ = write!(line, " {:>17}", "-");
    }
    let _ = writeln!(out, "{line} {:>12} {:>11} {:>12}", "-", "-", "-");
    for p in &report.precisions {
        let mut line = format!("{:<9}", p.precision);
        for t in tasks {
            let _ = write!(line, " {:>12}", auc(p.auc.get(t).copied().flatten()));
        }
        for t in tasks {
            let diff = p.max_abs_diff.get(t).copied().unwrap_or(f64::NAN);
            let _ = write!(line, " {:>17}", format!("{diff:.2e}"));
        }
        let _ = writeln!(
            line,
            " {:>12} {:>11} {:>12}",
            p.weight_bytes, p.table_bytes, p.scratch_bytes
        );
        out.push_str(&line);
    }
    let _ = write!(
        out,
        "weights and tables (the numeric standardisation) are flash bytes, scratch is RAM per \
         prediction; {:.2} s",
        report.seconds
    );
    out
}
