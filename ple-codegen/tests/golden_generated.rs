//! Golden test of the generated code on the real Census-Income data: a small model trained by
//! ple-train is baked at f32, f16 and int8; the generated Rust is compiled as a crate of its
//! own (depending on ple-core alone) and the generated C is compiled with `gcc -std=c99 -Wall
//! -Wextra -Werror -pedantic` and linked with `libple_core.a`; both run over the whole test
//! split (the rows go through a file) and are compared with the trainer's predictions:
//!
//! - f32: every probability within 1e-6 of the trainer's, relative to `max(p, 1 - p)` of the
//!   trainer's probability, and the AUC within 1e-5. The baked model keeps the trained
//!   weights and standardises the raw numeric values on the device, as the trainer does;
//! - f16: every probability within 2e-3 of the f32 model's, and the AUC within 0.0005 of the
//!   trainer's;
//! - int8: AUC within 0.001 of the trainer's (the contract of the int8 engine, which bounds no
//!   single probability: the maximum difference is printed), and the generated Rust, the
//!   generated C and ple-core called in this process agree bit for bit (logits and
//!   probabilities).
//!
//! The generated C and Rust run the same scalar kernels (neither enables run-time CPU
//! detection), so their f32 and f16 outputs must be identical too. The generated C also
//! compiles warning-free with `arm-none-eabi-gcc` for a Cortex-M4F (skipped, with a message,
//! only where that compiler is not installed).
//!
//! The same model baked with `fold_normalisation` (the standardisation folded into the
//! first layer) is run through ple-core in this process: it must still be close (f32 within
//! 1e-5, f16 within 0.01) and is less exact than the unfolded model, which is why folding is
//! not the default.
//!
//! The built crate, library and programs stay in `CARGO_TARGET_TMPDIR/golden-generated`, so
//! a second run rebuilds only what changed.

#[path = "common/census.rs"]
mod census;
use census::{max_errors, Comparison, Within};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ple_codegen::codegen::{
    bake, bake_int8, bake_with, emit_c, emit_rust, BakeOptions, Baked, BakedWeights, Precision,
};
use ple_codegen::quantise::SparseRows;
use ple_core::int8::Int8Input;

const TASKS: usize = 2;

/// `gcc` flags of every C compile: the issue's, plus `-pedantic`.
const STRICT: [&str; 6] = [
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-O2",
];

const CORTEX_M4F: [&str; 4] = [
    "-mcpu=cortex-m4",
    "-mthumb",
    "-mfloat-abi=hard",
    "-mfpu=fpv4-sp-d16",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn has(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a command; panics with its output when it fails.
fn run(command: &mut Command) -> std::process::Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A cargo command for a build outside this workspace: run from this crate's directory (so
/// it sees the same cargo configuration as the library under test), without the flags of
/// the current build.
fn cargo() -> Command {
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
    command
}

const DRIVER: &str = r#"//! Predicts every row of a rows file with the generated f32, f16 and int8 models.
#![allow(dead_code)]

mod f32_model {
    include!("f32.rs");
}
mod f16_model {
    include!("f16.rs");
}
mod int8_model {
    include!("int8.rs");
}

const N: usize = f32_model::NUMERIC_LEN;
const F: usize = f32_model::FIELDS;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows = std::fs::read(&args[1]).expect("rows file");
    let int8 = int8_model::model().expect("int8 model");
    let mut s32 = [0.0; f32_model::SCRATCH_LEN];
    let mut s16 = [0.0; f16_model::SCRATCH_LEN];
    let mut s8 = [0; int8_model::SCRATCH_WORDS];
    let mut out = Vec::new();
    for row in rows.chunks_exact(4 * N + 2 * F) {
        let (n, c) = row.split_at(4 * N);
        let numeric: [f32; N] =
            std::array::from_fn(|i| f32::from_ne_bytes(n[4 * i..4 * i + 4].try_into().unwrap()));
        let categories: [u16; F] =
            std::array::from_fn(|i| u16::from_ne_bytes(c[2 * i..2 * i + 2].try_into().unwrap()));
        let p32 = f32_model::predict(&numeric, &categories, &mut s32).expect("f32");
        let p16 = f16_model::predict(&numeric, &categories, &mut s16).expect("f16");
        let fixed = int8_model::numeric_to_fixed(&numeric);
        let q15 = int8_model::predict(&int8, &fixed, &categories, &mut s8).expect("int8");
        for p in p32.iter().chain(&p16) {
            out.extend_from_slice(&p.to_ne_bytes());
        }
        for q in q15 {
            out.extend_from_slice(&q.to_ne_bytes());
        }
    }
    std::fs::write(&args[2], out).expect("output file");
}
"#;

/// Outputs of one implementation, `[task][row]`.
#[derive(Debug, Default, PartialEq)]
struct Outputs {
    probabilities: [Vec<f32>; TASKS],
    logits: [Vec<i32>; TASKS],
    q15: [Vec<u16>; TASKS],
}

fn f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    let words = bytes.chunks_exact(4);
    words.map(|b| f32::from_ne_bytes(b.try_into().unwrap()))
}

/// Builds the generated Rust of the three models as one program and runs it on the rows;
/// returns the f32, f16 and int8 outputs.
fn generated_rust(work: &Path, models: [&Baked; 3], rows_file: &Path) -> [Outputs; 3] {
    let krate = work.join("rust");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    let manifest = format!(
        "[package]\nname = \"ple-golden-generated\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nple-core = {{ path = {:?} }}\n\n[workspace]\n",
        workspace().join("ple-core").canonicalize().unwrap()
    );
    std::fs::write(krate.join("Cargo.toml"), manifest).unwrap();
    // The workspace's lock file: the same dependency versions, no registry look-up.
    if let Ok(lock) = std::fs::read(workspace().join("Cargo.lock")) {
        std::fs::write(krate.join("Cargo.lock"), lock).unwrap();
    }
    for (baked, file) in models.iter().zip(["f32.rs", "f16.rs", "int8.rs"]) {
        let generated = emit_rust(baked).unwrap().contents;
        write_if_changed(&krate.join("src").join(file), &generated);
    }
    write_if_changed(&krate.join("src/main.rs"), DRIVER);
    let start = Instant::now();
    run(cargo()
        .args(["build", "--quiet", "--release", "--manifest-path"])
        .arg(krate.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(work.join("rust-target")));
    eprintln!(
        "golden_generated: generated Rust built in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let out = work.join("rust-outputs.bin");
    run(
        Command::new(work.join("rust-target/release/ple-golden-generated"))
            .arg(rows_file)
            .arg(&out),
    );
    let bytes = std::fs::read(&out).unwrap();
    let row_bytes = 2 * 4 * TASKS + 2 * TASKS;
    let mut outputs: [Outputs; 3] = Default::default();
    for row in bytes.chunks_exact(row_bytes) {
        let (floats, halves) = row.split_at(2 * 4 * TASKS);
        for (i, p) in f32s(floats).enumerate() {
            outputs[i / TASKS].probabilities[i % TASKS].push(p);
        }
        for (task, q) in halves.chunks_exact(2).enumerate() {
            let q = u16::from_ne_bytes(q.try_into().unwrap());
            outputs[2].q15[task].push(q);
            outputs[2].probabilities[task].push(f32::from(q) / 32768.0);
        }
    }
    outputs
}

/// Leaves an unchanged file alone, so cargo does not rebuild for nothing.
fn write_if_changed(path: &Path, contents: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
        std::fs::write(path, contents).unwrap();
    }
}

/// Builds `libple_core.a` for the host (release: a debug `no_std` static library still refers
/// to the unwinding personality routine), in the target directory `generated_c.rs` uses too.
fn static_library() -> PathBuf {
    let target = std::env::temp_dir().join("ple-codegen-capi-target");
    let start = Instant::now();
    run(cargo()
        .args(["build", "--quiet", "--release", "--manifest-path"])
        .arg(workspace().join("ple-core/capi/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target));
    eprintln!(
        "golden_generated: libple_core.a built in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    target.join("release/libple_core.a")
}

fn include_dir() -> PathBuf {
    workspace().join("ple-core/capi/include")
}

/// Writes the generated C of `baked` (`model.h`, `model.c`) into `dir`; returns `model.c`.
fn write_c(baked: &Baked, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for file in emit_c(baked, "model").unwrap() {
        write_if_changed(&dir.join(&file.name), &file.contents);
    }
    dir.join("model.c")
}

/// Compiles the generated C with the driver `tests/c/predict_rows.c`, links it with the
/// static library and runs it on the rows.
fn generated_c(baked: &Baked, dir: &Path, library: &Path, rows_file: &Path) -> Outputs {
    let source = write_c(baked, dir);
    let int8 = baked.weights_precision() == Precision::Int8;
    let program = dir.join("predict_rows");
    let mut gcc = Command::new("gcc");
    gcc.args(STRICT)
        .arg("-I")
        .arg(include_dir())
        .arg("-I")
        .arg(dir)
        .args(int8.then_some("-DPREDICT_INT8"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/predict_rows.c"))
        .arg(&source)
        .arg(library)
        .args(["-lm", "-lpthread", "-ldl", "-o"])
        .arg(&program);
    run(&mut gcc);
    let out = dir.join("outputs.bin");
    run(Command::new(&program).arg(rows_file).arg(&out));
    let bytes = std::fs::read(&out).unwrap();
    let mut outputs = Outputs::default();
    if int8 {
        for row in bytes.chunks_exact(6 * TASKS) {
            let (logits, halves) = row.split_at(4 * TASKS);
            for (task, z) in logits.chunks_exact(4).enumerate() {
                outputs.logits[task].push(i32::from_ne_bytes(z.try_into().unwrap()));
            }
            for (task, q) in halves.chunks_exact(2).enumerate() {
                let q = u16::from_ne_bytes(q.try_into().unwrap());
                outputs.q15[task].push(q);
                outputs.probabilities[task].push(f32::from(q) / 32768.0);
            }
        }
    } else {
        for (i, p) in f32s(&bytes).enumerate() {
            outputs.probabilities[i % TASKS].push(p);
        }
    }
    outputs
}

/// Probabilities `[task][row]` of a baked f32 or f16 model run by ple-core in this process
/// (scalar kernels, as the generated code) on raw numeric values and category indices.
fn in_process(baked: &Baked, numeric: &[f32], categories: &[u16], rows: usize) -> Vec<Vec<f32>> {
    match &baked.weights {
        BakedWeights::F32(w) => run_rows(baked, w, numeric, categories, rows),
        BakedWeights::F16(w) => run_rows(baked, w, numeric, categories, rows),
        BakedWeights::Int8(_) => panic!("in_process runs f32 and f16 models"),
    }
}

fn run_rows<W: ple_core::Weight>(
    baked: &Baked,
    weights: &[W],
    numeric: &[f32],
    categories: &[u16],
    rows: usize,
) -> Vec<Vec<f32>> {
    let shape = baked.config.shape();
    let layout = ple_core::InputLayout {
        numeric: baked.layout_numeric,
        vocab_sizes: &baked.vocab_sizes,
    };
    let mut model = ple_core::PleModel::new(shape, layout, weights).unwrap();
    if let Some(norm) = &baked.normalisation {
        let st = ple_core::normalise::Standardisation::new(&norm.mean, &norm.std).unwrap();
        model = model.with_standardisation(st).unwrap();
    }
    let (n, f) = (baked.layout_numeric as usize, baked.vocab_sizes.len());
    let mut scratch = vec![0.0; ple_core::scratch_len(&shape)];
    let mut out: Vec<Vec<f32>> = (0..TASKS).map(|_| Vec::with_capacity(rows)).collect();
    for row in 0..rows {
        let input = ple_core::Input::Sparse {
            numeric: &numeric[row * n..(row + 1) * n],
            categories: &categories[row * f..(row + 1) * f],
        };
        let mut p = [0.0; TASKS];
        model
            .predict_using(
                &ple_core::kernels::scalar::Scalar,
                input,
                &mut scratch,
                &mut p,
                None,
            )
            .unwrap();
        for (task, &p) in p.iter().enumerate() {
            out[task].push(p);
        }
    }
    out
}

#[test]
fn generated_rust_and_c_predict_the_test_split_like_the_trainer() {
    let Some(dir) = census::data_dir("golden_generated") else {
        return;
    };
    let start = Instant::now();
    let trained = census::train_small_model(&dir);
    let trainer = trained.trainer_probabilities();
    eprintln!(
        "golden_generated: model trained and trainer predictions made in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let test = &trained.data.test;
    let rows = test.rows();
    let categories = trained.categories(test);
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden-generated");
    std::fs::create_dir_all(&work).unwrap();

    // The whole test split as raw numeric values and category indices.
    let rows_file = work.join("rows.bin");
    let mut bytes = Vec::new();
    for row in 0..rows {
        for v in test.numeric_row(row) {
            bytes.extend_from_slice(&v.to_ne_bytes());
        }
        for c in &categories[row * test.fields..(row + 1) * test.fields] {
            bytes.extend_from_slice(&c.to_ne_bytes());
        }
    }
    std::fs::write(&rows_file, bytes).unwrap();

    let (path, model, sha) = (&trained.path, &trained.model, &trained.sha256);
    let f32 = bake(path, model.clone(), sha.clone(), Precision::F32).unwrap();
    let f16 = bake(path, model.clone(), sha.clone(), Precision::F16).unwrap();
    let train_categories = trained.categories(&trained.train);
    let calibration = SparseRows {
        numeric: &trained.train.numeric,
        categories: &train_categories,
    };
    let int8 = bake_int8(path, model.clone(), sha.clone(), calibration).unwrap();

    // ple-core's int8 engine in this process: the bit-exact reference for both languages.
    let BakedWeights::Int8(params) = &int8.weights else {
        unreachable!("baked as int8")
    };
    let view = params.model().unwrap();
    let mut reference = Outputs::default();
    let mut scratch = vec![0; view.scratch_words()];
    let mut fixed = vec![0; test.numeric_width];
    for row in 0..rows {
        params
            .encode_numeric(test.numeric_row(row), &mut fixed)
            .unwrap();
        let input = Int8Input {
            numeric: &fixed,
            categories: &categories[row * test.fields..(row + 1) * test.fields],
        };
        let (mut logits, mut q15) = ([0; TASKS], [0; TASKS]);
        view.predict(&input, &mut scratch, &mut logits, &mut q15)
            .unwrap();
        for task in 0..TASKS {
            reference.logits[task].push(logits[task]);
            reference.q15[task].push(q15[task]);
            reference.probabilities[task].push(f32::from(q15[task]) / 32768.0);
        }
    }

    let start = Instant::now();
    let [rust_f32, rust_f16, rust_int8] = generated_rust(&work, [&f32, &f16, &int8], &rows_file);
    eprintln!(
        "golden_generated: generated Rust built and run in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    assert!(has("gcc"), "gcc is needed to compile the generated C");
    let library = static_library();
    let c: Vec<Outputs> = [&f32, &f16, &int8]
        .iter()
        .map(|baked| {
            let dir = work.join(format!("c-{}", baked.weights_precision().name()));
            generated_c(baked, &dir, &library, &rows_file)
        })
        .collect();
    eprintln!(
        "golden_generated: generated C built and run in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    if has("arm-none-eabi-gcc") {
        for baked in [&f32, &f16, &int8] {
            let dir = work.join(format!("c-{}", baked.weights_precision().name()));
            run(Command::new("arm-none-eabi-gcc")
                .args(STRICT)
                .args(CORTEX_M4F)
                .arg("-I")
                .arg(include_dir())
                .arg("-c")
                .arg(dir.join("model.c"))
                .arg("-o")
                .arg(dir.join("model-cortex-m4f.o")));
        }
        eprintln!("golden_generated: arm-none-eabi-gcc compiled the generated C for Cortex-M4F");
    } else {
        eprintln!(
            "golden_generated: arm-none-eabi-gcc is not installed (Debian: gcc-arm-none-eabi); \
             the generated C was not compiled for Cortex-M"
        );
    }

    // int8: bit for bit the same in every language.
    assert_eq!(
        rust_int8.q15, reference.q15,
        "generated Rust int8 vs ple-core"
    );
    assert_eq!(c[2].q15, reference.q15, "generated C int8 vs ple-core");
    assert_eq!(
        c[2].logits, reference.logits,
        "generated C int8 logits vs ple-core"
    );
    // f32 and f16: the same scalar kernels in both languages, and in ple-core here.
    assert_eq!(c[0].probabilities, rust_f32.probabilities, "f32: C vs Rust");
    assert_eq!(c[1].probabilities, rust_f16.probabilities, "f16: C vs Rust");
    assert!(f32.normalisation.is_some() && f16.normalisation.is_some());
    let raw_numeric = &test.numeric[..rows * test.numeric_width];
    let here = in_process(&f32, raw_numeric, &categories, rows);
    assert_eq!(
        here, rust_f32.probabilities,
        "f32: ple-core vs generated Rust"
    );

    // f32 against the trainer, f16 against f32, every precision's AUC against the trainer's.
    let f32_probabilities = rust_f32.probabilities.clone();
    let trainer_p = ("trainer", &trainer[..]);
    for (model, reference, within, max_auc_diff) in [
        (
            ("f32", &rust_f32.probabilities[..]),
            trainer_p,
            Within::Relative(1e-6),
            1e-5,
        ),
        (
            ("f16", &rust_f16.probabilities[..]),
            ("f32", &f32_probabilities[..]),
            Within::Relative(2e-3),
            0.0005,
        ),
        (
            ("int8", &rust_int8.probabilities[..]),
            trainer_p,
            Within::AucOnly,
            0.001,
        ),
    ] {
        assert!(
            model.1.iter().all(|p| p.len() == rows),
            "{}: rows predicted",
            model.0
        );
        let comparison = Comparison {
            model,
            reference,
            within,
            auc_reference: trainer_p,
            max_auc_diff,
        };
        comparison.check("golden_generated (Rust = C)", &test.labels);
    }

    // Folding the standardisation into the first layer still works, less exactly.
    let folded = BakeOptions {
        fold_normalisation: true,
    };
    let folded_f32 = bake_with(path, model.clone(), sha.clone(), Precision::F32, folded).unwrap();
    let folded_f16 = bake_with(path, model.clone(), sha.clone(), Precision::F16, folded).unwrap();
    assert!(folded_f32.normalisation.is_none() && folded_f16.normalisation.is_none());
    let folded_f32 = in_process(&folded_f32, raw_numeric, &categories, rows);
    let folded_f16 = in_process(&folded_f16, raw_numeric, &categories, rows);
    let mut worst = [[0f64; 2]; 2];
    for task in 0..TASKS {
        let (abs32, rel32) = max_errors(&folded_f32[task], &trainer[task]);
        let (abs16, _) = max_errors(&folded_f16[task], &folded_f32[task]);
        let (_, unfolded_rel32) = max_errors(&f32_probabilities[task], &trainer[task]);
        let (unfolded_abs16, _) =
            max_errors(&rust_f16.probabilities[task], &f32_probabilities[task]);
        eprintln!(
            "golden_generated: folded task {task}: f32 max |p - trainer| {abs32:.2e} (relative \
             {rel32:.2e}, unfolded {unfolded_rel32:.2e}); f16 max |p - f32| {abs16:.2e} \
             (unfolded {unfolded_abs16:.2e})"
        );
        assert!(abs32 <= 1e-5, "folded f32 task {task}: {abs32:e}");
        assert!(abs16 <= 0.01, "folded f16 task {task}: {abs16:e}");
        worst[0] = [worst[0][0].max(rel32), worst[0][1].max(unfolded_rel32)];
        worst[1] = [worst[1][0].max(abs16), worst[1][1].max(unfolded_abs16)];
    }
    assert!(
        worst[0][1] < worst[0][0] && worst[1][1] < worst[1][0],
        "the unfolded model should be the more exact: {worst:?}"
    );
}
