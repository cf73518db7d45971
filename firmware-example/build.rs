//! Bakes the model and the test rows into the firmware.
//!
//! Inputs (environment variables, each re-read when it changes):
//! - `PLE_MODEL`: the trained `model.safetensors` (default `../target/ple-train/model.safetensors`);
//! - `PLE_PRECISION`: `f32`, `f16` or `int8` (default `f32`);
//! - `PLE_CENSUS_DIR`: the Census data directory (default `../../shared/census`, then
//!   `../data/census`);
//! - `PLE_TEST_ROWS`: how many rows of the test split to embed (default 256).
//!
//! It writes three files into `OUT_DIR`: `memory.x` (the board's memory layout), `model.rs`
//! (the packed weights as a `static` and the ple-core model view over them) and `fixture.rs`
//! (the first `PLE_TEST_ROWS` rows of the test split in the sparse form a device has, and the
//! probabilities the host computes for them with ple-core's portable kernels). Nothing of the
//! data is ever written into the source tree.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

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
    let mut model = ModelFile::load(&model_path).unwrap_or_else(|e| fail(&e.to_string()));
    model
        .fold_normalisation()
        .unwrap_or_else(|e| fail(&format!("{}: {e}", model_path.display())));
    let rows = rows_to_embed();
    let data_dir = env_path("PLE_CENSUS_DIR", &["../../shared/census", "../data/census"]);
    let fixture = TestRows::load(&model, &data_dir, rows);

    let (model_rs, fixture_rs) = match precision.as_str() {
        "f32" => bake_float::<f32>(&model, &fixture, "f32", |v| format!("{v:?}")),
        "f16" => bake_float::<half::f16>(&model, &fixture, "half::f16", |v| {
            format!("half::f16::from_bits({:#06x})", v.to_bits())
        }),
        "int8" => fail(
            "PLE_PRECISION=int8 needs ple-core's int8 model view, which this firmware does not \
             embed yet; use f32 or f16",
        ),
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

fn rows_to_embed() -> usize {
    match env::var("PLE_TEST_ROWS") {
        Err(_) => 256,
        Ok(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => fail(&format!(
                "PLE_TEST_ROWS must be a positive integer, not `{text}`"
            )),
        },
    }
}

/// The first rows of the test split, in the sparse form a device holds.
struct TestRows {
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
    fn load(model: &ModelFile, data_dir: &Path, wanted: usize) -> TestRows {
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

    fn layout(&self) -> InputLayout<'_> {
        InputLayout {
            numeric: self.numeric_width as u32,
            vocab_sizes: &self.vocab_sizes,
        }
    }
}

/// A weight type ple-core runs, with the host conversion from the trained `f32` values.
trait HostWeight: ple_core::Weight + Default {
    fn pack(shape: &ple_core::PleShape<'_>, canonical: &[f32], out: &mut [Self]);
}
impl HostWeight for f32 {
    fn pack(shape: &ple_core::PleShape<'_>, canonical: &[f32], out: &mut [Self]) {
        ple_core::pack_f32(shape, canonical, out).unwrap_or_else(|e| fail(&e.to_string()));
    }
}
impl HostWeight for half::f16 {
    fn pack(shape: &ple_core::PleShape<'_>, canonical: &[f32], out: &mut [Self]) {
        ple_core::pack_f16(shape, canonical, out).unwrap_or_else(|e| fail(&e.to_string()));
    }
}

/// Packs the model in precision `W`, predicts every test row on the host with the portable
/// kernels, and returns the Rust sources of the model and of the fixture.
fn bake_float<W: HostWeight>(
    model: &ModelFile,
    rows: &TestRows,
    type_name: &str,
    literal: impl Fn(W) -> String,
) -> (String, String)
where
    Scalar: ple_core::kernels::Kernels<W>,
{
    let shape = model.config.shape();
    let mut packed = vec![W::default(); ple_core::packed_len(&shape)];
    W::pack(&shape, &model.parameters, &mut packed);
    let view =
        PleModel::new(shape, rows.layout(), &packed).unwrap_or_else(|e| fail(&e.to_string()));
    let tasks = view.tasks();
    let mut scratch = vec![0f32; view.scratch_len()];
    let mut expected = Vec::with_capacity(rows.rows() * tasks);
    for row in 0..rows.rows() {
        let input = Input::Sparse {
            numeric: &rows.numeric[row * rows.numeric_width..(row + 1) * rows.numeric_width],
            categories: &rows.categories[row * rows.fields..(row + 1) * rows.fields],
        };
        let mut probabilities = vec![0f32; tasks];
        view.predict_using(&Scalar, input, &mut scratch, &mut probabilities, None)
            .unwrap_or_else(|e| fail(&format!("host prediction of test row {row}: {e}")));
        expected.extend(probabilities);
    }

    let mut m = String::new();
    m.push_str("// @generated by firmware-example/build.rs from the model file: do not edit.\n");
    writeln!(m, "pub type WeightType = {type_name};").unwrap();
    writeln!(
        m,
        "pub const SHAPE: ple_core::PleShape<'static> = {};",
        shape_literal(&shape)
    )
    .unwrap();
    writeln!(
        m,
        "pub const LAYOUT: ple_core::InputLayout<'static> = ple_core::InputLayout {{ numeric: {}, vocab_sizes: &{:?} }};",
        rows.numeric_width, rows.vocab_sizes
    )
    .unwrap();
    writeln!(m, "pub const TASKS: usize = {tasks};").unwrap();
    writeln!(
        m,
        "pub const SCRATCH_LEN: usize = ple_core::scratch_len(&SHAPE);"
    )
    .unwrap();
    writeln!(
        m,
        "pub static WEIGHTS: [WeightType; ple_core::packed_len(&SHAPE)] = ["
    )
    .unwrap();
    for chunk in packed.chunks(8) {
        let line: Vec<String> = chunk.iter().map(|&v| literal(v)).collect();
        writeln!(m, "    {},", line.join(", ")).unwrap();
    }
    m.push_str("];\n");
    m.push_str(
        "pub static MODEL: ple_core::PleModel<'static, WeightType> = \
         match ple_core::PleModel::new(SHAPE, LAYOUT, &WEIGHTS) {\n    Ok(m) => m,\n    \
         Err(_) => panic!(\"the baked model does not fit its shape\"),\n};\n",
    );

    (m, fixture_source(rows, &expected, tasks))
}

fn shape_literal(s: &ple_core::PleShape<'_>) -> String {
    format!(
        "ple_core::PleShape {{ input_dim: {}, tasks: {}, experts_per_task: {}, shared_experts: {}, \
         levels: {}, expert_units: &{:?}, tower_units: &{:?} }}",
        s.input_dim, s.tasks, s.experts_per_task, s.shared_experts, s.levels, s.expert_units,
        s.tower_units
    )
}

/// The fixture: inputs and the host's probabilities, as statics whose names start with
/// `FIXTURE_` so that the size test can tell test data from the deployable firmware.
fn fixture_source(rows: &TestRows, expected: &[f32], tasks: usize) -> String {
    let mut f = String::new();
    f.push_str(
        "// @generated by firmware-example/build.rs from the Census test split: do not edit.\n",
    );
    writeln!(f, "pub const ROWS: usize = {};", rows.rows()).unwrap();
    writeln!(f, "pub const NUMERIC: usize = {};", rows.numeric_width).unwrap();
    writeln!(f, "pub const FIELDS: usize = {};", rows.fields).unwrap();
    writeln!(
        f,
        "#[no_mangle]\npub static FIXTURE_NUMERIC: [[f32; NUMERIC]; ROWS] = ["
    )
    .unwrap();
    for row in rows.numeric.chunks(rows.numeric_width.max(1)) {
        let values: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        writeln!(f, "    [{}],", values.join(", ")).unwrap();
    }
    f.push_str("];\n");
    writeln!(
        f,
        "#[no_mangle]\npub static FIXTURE_CATEGORIES: [[u16; FIELDS]; ROWS] = ["
    )
    .unwrap();
    for row in rows.categories.chunks(rows.fields.max(1)) {
        writeln!(f, "    {row:?},").unwrap();
    }
    f.push_str("];\n");
    writeln!(
        f,
        "#[no_mangle]\npub static FIXTURE_EXPECTED: [[f32; {tasks}]; ROWS] = ["
    )
    .unwrap();
    for row in expected.chunks(tasks.max(1)) {
        let values: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        writeln!(f, "    [{}],", values.join(", ")).unwrap();
    }
    f.push_str("];\n");
    f
}
