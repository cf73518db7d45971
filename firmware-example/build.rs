//! Bakes the model and the test rows into the firmware.
//!
//! Inputs (environment variables, each re-read when it changes):
//! - `PLE_MODEL`: the trained `model.safetensors` (default `../target/ple-train/model.safetensors`);
//! - `PLE_PRECISION`: `f32`, `f16` or `int8` (default `f32`);
//! - `PLE_CENSUS_DIR`: the Census data directory (default `../../shared/census`, then
//!   `../data/census`);
//! - `PLE_TEST_ROWS`: how many rows of the test split to embed (default 200: as many as the
//!   int8 Cortex-M4F firmware holds within 90 KiB of flash, see README.md).
//!
//! It writes three files into `OUT_DIR`: `memory.x` (the board's memory layout), `model.rs`
//! (the packed weights as a `static` and the ple-core model view over them) and `fixture.rs`
//! (the first `PLE_TEST_ROWS` rows of the test split in the sparse form a device has, and the
//! outputs the host computes for them with ple-core's portable kernels; for int8 models in the
//! compact bit stream of `src/compact.rs`). Nothing of the data is ever written into the
//! source tree.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

#[path = "src/compact.rs"]
#[allow(dead_code)]
mod compact;
#[path = "build/compact.rs"]
mod compact_writer;
#[path = "build/int8.rs"]
mod int8;

use ple_codegen::codegen::{bake_file, emit_rust, BakedWeights, Precision};
use ple_codegen::ModelFile;
use ple_core::kernels::scalar::Scalar;
use ple_core::{Input, InputLayout, PleModel, UNKNOWN_CATEGORY};
use ple_train::census::{encode_file, locate_raw_files, select_rows, validation_test_positions};
use ple_train::dataset::NO_COLUMN;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = env::var("TARGET").unwrap_or_default();
    let board = board(&target);
    println!("cargo::rustc-check-cfg=cfg(board, values(\"mps2\", \"microbit\", \"nrf52840\", \"riscv_virt\"))");
    println!("cargo::rustc-check-cfg=cfg(precision, values(\"f32\", \"f16\", \"int8\"))");
    println!("cargo::rustc-cfg=board=\"{board}\"");
    let memory = format!("memory/{board}.x");
    println!("cargo::rerun-if-changed={memory}");
    fs::copy(&memory, out.join("memory.x")).expect("copy the memory layout");
    // cortex-m-rt's `device` mode includes a `device.x` naming the interrupt handlers; the
    // firmware's one-entry table (src/interrupts.rs) needs none.
    fs::write(
        out.join("device.x"),
        "/* No interrupt handlers: see src/interrupts.rs. */\n",
    )
    .expect("write device.x");
    println!("cargo::rustc-link-search={}", out.display());

    for var in [
        "PLE_MODEL",
        "PLE_PRECISION",
        "PLE_CENSUS_DIR",
        "PLE_TEST_ROWS",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let precision = env::var("PLE_PRECISION").unwrap_or_else(|_| "f32".into());
    if board == "microbit" && precision != "int8" {
        fail(&format!(
            "the Cortex-M0 (thumbv6m-none-eabi) has no FPU: build it with PLE_PRECISION=int8, \
             not {precision}"
        ));
    }
    println!("cargo::rustc-cfg=precision=\"{precision}\"");
    let model_path = env_path("PLE_MODEL", &["../target/ple-train/model.safetensors"]);
    println!("cargo::rerun-if-changed={}", model_path.display());
    let model = ModelFile::load(&model_path).unwrap_or_else(|e| fail(&e.to_string()));
    let rows = rows_to_embed();
    let data_dir = env_path("PLE_CENSUS_DIR", &["../../shared/census", "../data/census"]);
    let fixture = TestRows::load(&model, &data_dir, rows);

    let (model_rs, fixture_rs) = match precision.as_str() {
        "f32" => bake_float(&model_path, Precision::F32, &fixture),
        "f16" => bake_float(&model_path, Precision::F16, &fixture),
        "int8" => int8::bake(&model, &data_dir, &fixture),
        other => fail(&format!(
            "PLE_PRECISION must be f32, f16 or int8, not `{other}`"
        )),
    };
    fs::write(out.join("model.rs"), model_rs).expect("write model.rs");
    fs::write(out.join("fixture.rs"), fixture_rs).expect("write fixture.rs");
}

fn board(target: &str) -> &'static str {
    if target.starts_with("riscv32") {
        "riscv_virt"
    } else if target.starts_with("thumbv6m") {
        "microbit"
    } else if env::var_os("CARGO_FEATURE_NRF52840").is_some() {
        "nrf52840"
    } else {
        "mps2"
    }
}

/// Stops the build with `message` (cargo shows it as the build script's error).
fn fail(message: &str) -> ! {
    eprintln!("firmware-example build: {message}");
    std::process::exit(1)
}

/// The path in `var`, else the first default (relative to this crate) that exists.
fn env_path(var: &str, defaults: &[&str]) -> PathBuf {
    if let Some(value) = env::var_os(var).filter(|v| !v.is_empty()) {
        return PathBuf::from(value);
    }
    let here = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let candidates: Vec<PathBuf> = defaults.iter().map(|d| here.join(d)).collect();
    match candidates.iter().find(|p| p.exists()) {
        Some(found) => found.clone(),
        None => fail(&format!(
            "set {var}: none of the default locations exists ({})",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Rows embedded when `PLE_TEST_ROWS` is not set (the firmware tests embed as many).
const DEFAULT_TEST_ROWS: usize = 200;

fn rows_to_embed() -> usize {
    match env::var("PLE_TEST_ROWS") {
        Err(_) => DEFAULT_TEST_ROWS,
        Ok(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => fail(&format!(
                "PLE_TEST_ROWS must be a positive integer, not `{text}`"
            )),
        },
    }
}

/// The first rows of the test split, in the sparse form a device holds.
pub(crate) struct TestRows {
    numeric_width: usize,
    fields: usize,
    /// Row-major `[rows, numeric_width]`, raw values.
    numeric: Vec<f32>,
    /// Row-major `[rows, fields]`: category index within the field, or UNKNOWN_CATEGORY.
    categories: Vec<u16>,
    /// Per-field vocabulary sizes (the model's input layout).
    vocab_sizes: Vec<u16>,
}

impl TestRows {
    pub(crate) fn load(model: &ModelFile, data_dir: &Path, wanted: usize) -> TestRows {
        let spec = model.feature_spec.as_ref().unwrap_or_else(|| {
            fail("the model file has no feature spec: the firmware cannot encode Census rows")
        });
        let (_, test_path) = locate_raw_files(data_dir).unwrap_or_else(|e| fail(&e.to_string()));
        println!("cargo::rerun-if-changed={}", test_path.display());
        let (all, _) = encode_file(&test_path, spec).unwrap_or_else(|e| fail(&e.to_string()));
        let (_, test_positions) = validation_test_positions(all.rows());
        let take: Vec<usize> = test_positions.into_iter().take(wanted).collect();
        let rows = select_rows(&all, &take);
        let mut categories = Vec::with_capacity(rows.rows() * rows.fields);
        for row in 0..rows.rows() {
            for (field, &column) in spec.categorical.iter().zip(rows.hot_row(row)) {
                let index = if column == NO_COLUMN {
                    UNKNOWN_CATEGORY
                } else {
                    u16::try_from(column as usize - field.offset).expect("vocabulary fits u16")
                };
                categories.push(index);
            }
        }
        let vocab_sizes = spec
            .categorical
            .iter()
            .map(|f| u16::try_from(f.vocabulary.len()).expect("vocabulary fits u16"))
            .collect();
        TestRows {
            numeric_width: rows.numeric_width,
            fields: rows.fields,
            numeric: rows.numeric,
            categories,
            vocab_sizes,
        }
    }

    fn rows(&self) -> usize {
        self.numeric.len() / self.numeric_width.max(1)
    }

    /// The numeric values and category indices of row `row`.
    fn row(&self, row: usize) -> (&[f32], &[u16]) {
        (
            &self.numeric[row * self.numeric_width..(row + 1) * self.numeric_width],
            &self.categories[row * self.fields..(row + 1) * self.fields],
        )
    }

    fn layout(&self) -> InputLayout<'_> {
        InputLayout {
            numeric: self.numeric_width as u32,
            vocab_sizes: &self.vocab_sizes,
        }
    }
}

/// Bakes the model with ple-codegen (`model.rs`) and predicts every test row on the host
/// with ple-core's portable kernels over the very same packed weights (`fixture.rs`).
fn bake_float(model_path: &Path, precision: Precision, rows: &TestRows) -> (String, String) {
    let baked = bake_file(model_path, precision).unwrap_or_else(|e| fail(&e.to_string()));
    let source = emit_rust(&baked).unwrap_or_else(|e| fail(&e.to_string()));
    let shape = baked.config.shape();
    let layout = InputLayout {
        numeric: baked.layout_numeric,
        vocab_sizes: &baked.vocab_sizes,
    };
    // The model standardises its raw numeric inputs on the device, as the generated MODEL.
    let standardisation = baked.normalisation.as_ref().map(|n| {
        ple_core::normalise::Standardisation::new(&n.mean, &n.std)
            .unwrap_or_else(|e| fail(&e.to_string()))
    });
    let expected = match &baked.weights {
        BakedWeights::F32(weights) => {
            host_predictions(shape, layout, standardisation, weights, rows)
        }
        BakedWeights::F16(weights) => {
            host_predictions(shape, layout, standardisation, weights, rows)
        }
        #[allow(unreachable_patterns)]
        _ => fail("ple-codegen baked the model in another precision than asked"),
    };
    let tasks = shape.tasks as usize;
    let mut fixture = fixture_inputs(rows, "f32", |v: &f32| format!("{v:?}"), &rows.numeric);
    push_array(
        &mut fixture,
        "FIXTURE_EXPECTED",
        &format!("[f32; {tasks}]"),
        &expected,
        tasks,
        |v| format!("{v:?}"),
    );
    (source.contents, fixture)
}

fn host_predictions<W: ple_core::Weight>(
    shape: ple_core::PleShape<'_>,
    layout: InputLayout<'_>,
    standardisation: Option<ple_core::normalise::Standardisation<'_>>,
    weights: &[W],
    rows: &TestRows,
) -> Vec<f32>
where
    Scalar: ple_core::kernels::Kernels<W>,
{
    let mut view = PleModel::new(shape, layout, weights).unwrap_or_else(|e| fail(&e.to_string()));
    if let Some(standardisation) = standardisation {
        view = view
            .with_standardisation(standardisation)
            .unwrap_or_else(|e| fail(&e.to_string()));
    }
    let mut scratch = vec![0f32; view.scratch_len()];
    let mut expected = Vec::with_capacity(rows.rows() * view.tasks());
    for row in 0..rows.rows() {
        let (numeric, categories) = rows.row(row);
        let input = Input::Sparse {
            numeric,
            categories,
        };
        let mut probabilities = vec![0f32; view.tasks()];
        view.predict_using(&Scalar, input, &mut scratch, &mut probabilities, None)
            .unwrap_or_else(|e| fail(&format!("host prediction of test row {row}: {e}")));
        expected.extend(probabilities);
    }
    expected
}

fn shape_literal(s: &ple_core::PleShape<'_>) -> String {
    format!(
        "ple_core::PleShape {{ input_dim: {}, tasks: {}, experts_per_task: {}, shared_experts: {}, \
         levels: {}, expert_units: &{:?}, tower_units: &{:?} }}",
        s.input_dim, s.tasks, s.experts_per_task, s.shared_experts, s.levels, s.expert_units,
        s.tower_units
    )
}

/// Appends `#[no_mangle] pub static NAME: [ITEM; ROWS]` with `values` in rows of `per_row`.
fn push_array<T>(
    out: &mut String,
    name: &str,
    item: &str,
    values: &[T],
    per_row: usize,
    literal: impl Fn(&T) -> String,
) {
    writeln!(out, "#[no_mangle]\npub static {name}: [{item}; ROWS] = [").unwrap();
    for row in values.chunks(per_row.max(1)) {
        let items: Vec<String> = row.iter().map(&literal).collect();
        writeln!(out, "    [{}],", items.join(", ")).unwrap();
    }
    out.push_str("];\n");
}

/// The fixture's inputs: statics whose names start with `FIXTURE_` so that the size test can
/// tell test data from the deployable firmware. `numeric` is what the device is given for the
/// numeric columns (raw `f32`, or the int8 model's fixed-point `i32`).
fn fixture_inputs<T>(
    rows: &TestRows,
    numeric_type: &str,
    literal: impl Fn(&T) -> String,
    numeric: &[T],
) -> String {
    let mut f = String::new();
    f.push_str(
        "// @generated by firmware-example/build.rs from the Census test split: do not edit.\n",
    );
    writeln!(f, "pub const ROWS: usize = {};", rows.rows()).unwrap();
    writeln!(f, "pub const NUMERIC: usize = {};", rows.numeric_width).unwrap();
    writeln!(f, "pub const FIELDS: usize = {};", rows.fields).unwrap();
    push_array(
        &mut f,
        "FIXTURE_NUMERIC",
        &format!("[{numeric_type}; NUMERIC]"),
        numeric,
        rows.numeric_width,
        literal,
    );
    push_array(
        &mut f,
        "FIXTURE_CATEGORIES",
        "[u16; FIELDS]",
        &rows.categories,
        rows.fields,
        |v| v.to_string(),
    );
    f
}
