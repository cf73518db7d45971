//! The generated C compiles warning-free (`gcc -std=c99 -Wall -Wextra -Werror -pedantic`, and
//! `arm-none-eabi-gcc` for a Cortex-M4F), and, linked with `libple_core.a`, predicts what
//! ple-core predicts from the same baked weights and standardisation (the generated model
//! struct points to the mean and std tables, so the C program passes raw values).
//!
//! Each compiler that is not installed is reported on stderr and skipped; the static library
//! is built with cargo into its own target directory under the system temporary directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ple_codegen::codegen::{bake, emit_c, sha256_hex, Baked, BakedWeights, Precision};
use ple_core::normalise::Standardisation;
use ple_core::{Input, PleModel, UNKNOWN_CATEGORY};

use common::{tiny_model, SHAPE};

fn capi_include() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ple-core/capi/include")
}

fn has(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Writes the generated files of `precision` into `dir`; returns the C source's path.
fn generate(dir: &Path, precision: Precision) -> (PathBuf, Baked) {
    let model = tiny_model();
    let bytes = model.to_bytes().unwrap();
    let baked = bake(
        Path::new("tiny.safetensors"),
        model,
        sha256_hex(&bytes),
        precision,
    )
    .unwrap();
    for file in emit_c(&baked, "tiny").unwrap() {
        std::fs::write(dir.join(&file.name), &file.contents).unwrap();
    }
    (dir.join("tiny.c"), baked)
}

#[test]
fn generated_c_carries_the_standardisation_tables_as_exact_literals() {
    let dir = tempfile::tempdir().unwrap();
    let (source, baked) = generate(dir.path(), Precision::F16);
    let norm = baked.normalisation.as_ref().unwrap();
    let c = std::fs::read_to_string(source).unwrap();
    let h = std::fs::read_to_string(dir.path().join("tiny.h")).unwrap();
    assert!(h.contains("extern const float tiny_numeric_mean[TINY_NUMERIC_LEN];"));
    assert!(h.contains("extern const float tiny_numeric_std[TINY_NUMERIC_LEN];"));
    let literals = |values: &[f32]| {
        let items: Vec<String> = values
            .iter()
            .map(|&v| ple_codegen::codegen::c::hex_float(v))
            .collect();
        items.join(", ")
    };
    assert!(c.contains(&format!(
        "const float tiny_numeric_mean[TINY_NUMERIC_LEN] = {{\n    {},\n}};",
        literals(&norm.mean)
    )));
    assert!(c.contains(&format!(
        "const float tiny_numeric_std[TINY_NUMERIC_LEN] = {{\n    {},\n}};",
        literals(&norm.std)
    )));
    assert!(
        c.contains("    .numeric_mean = tiny_numeric_mean,\n    .numeric_std = tiny_numeric_std,")
    );
}

const STRICT: [&str; 6] = [
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-O1",
];

#[test]
fn generated_c_compiles_warning_free_for_host_and_cortex_m() {
    let dir = tempfile::tempdir().unwrap();
    for precision in [Precision::F32, Precision::F16] {
        let (source, _) = generate(dir.path(), precision);
        let mut compiled = 0;
        for (compiler, flags) in [
            ("gcc", &[][..]),
            (
                "arm-none-eabi-gcc",
                &[
                    "-mcpu=cortex-m4",
                    "-mthumb",
                    "-mfloat-abi=hard",
                    "-mfpu=fpv4-sp-d16",
                ][..],
            ),
        ] {
            if !has(compiler) {
                eprintln!("generated_c: {compiler} not installed; not compiled with it");
                continue;
            }
            let output = Command::new(compiler)
                .args(STRICT)
                .args(flags)
                .arg("-I")
                .arg(capi_include())
                .arg("-c")
                .arg(&source)
                .arg("-o")
                .arg(dir.path().join(format!("tiny-{compiler}.o")))
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{compiler} rejected the generated C:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            compiled += 1;
        }
        if compiled == 0 {
            eprintln!("generated_c: no C compiler; nothing compiled");
        }
    }
}

/// Builds `libple_core.a` (release profile: a debug `no_std` static library still refers to
/// the unwinding personality routine; own target directory); `None` if cargo fails.
fn static_library() -> Option<PathBuf> {
    let target = std::env::temp_dir().join("ple-codegen-capi-target");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--release",
            "--manifest-path",
            "../ple-core/capi/Cargo.toml",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .ok()?;
    status.success().then(|| target.join("release"))
}

const ROWS: [([f32; 2], [u16; 2]); 4] = [
    ([17.0, 0.0], [0, 1]),
    ([45.5, 1200.0], [1, 4]),
    ([90.0, 9999.0], [UNKNOWN_CATEGORY, 2]),
    ([33.0, 20.5], [1, UNKNOWN_CATEGORY]),
];

#[test]
fn generated_c_linked_with_the_static_library_predicts_like_ple_core() {
    if !has("gcc") {
        eprintln!("generated_c: gcc not installed; C predictions not checked");
        return;
    }
    let Some(lib_dir) = static_library() else {
        panic!("cargo could not build ple-core-capi");
    };
    let dir = tempfile::tempdir().unwrap();
    for precision in [Precision::F32, Precision::F16] {
        let (source, baked) = generate(dir.path(), precision);
        let mut main =
            String::from("#include <stdio.h>\n#include \"tiny.h\"\n\nint main(void) {\n");
        main.push_str("    static float scratch[TINY_SCRATCH_LEN];\n    float p[TINY_TASKS];\n");
        for (numeric, categories) in ROWS {
            main.push_str(&format!(
                "    {{\n        const float n[2] = {{{:?}f, {:?}f}};\n        const uint16_t c[2] = {{{}u, {}u}};\n        \
                 int32_t status = tiny_predict(n, c, scratch, p);\n        \
                 if (status != PLE_OK) {{ printf(\"error %s\\n\", ple_error_message(status)); return 1; }}\n        \
                 printf(\"%.9g %.9g\\n\", (double)p[0], (double)p[1]);\n    }}\n",
                numeric[0], numeric[1], categories[0], categories[1]
            ));
        }
        main.push_str("    return 0;\n}\n");
        let main_path = dir.path().join("main.c");
        std::fs::write(&main_path, main).unwrap();
        let exe = dir.path().join("tiny");
        let output = Command::new("gcc")
            .args(STRICT)
            .arg("-I")
            .arg(capi_include())
            .arg(&main_path)
            .arg(&source)
            .arg("-L")
            .arg(&lib_dir)
            .args(["-lple_core", "-lm", "-lpthread", "-ldl", "-o"])
            .arg(&exe)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "link failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let run = Command::new(&exe).output().unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stdout)
        );
        let printed: Vec<f32> = String::from_utf8(run.stdout)
            .unwrap()
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();

        let layout = ple_core::InputLayout {
            numeric: 2,
            vocab_sizes: &[2, 5],
        };
        let mut scratch = vec![0.0; ple_core::scratch_len(&SHAPE)];
        let norm = baked.normalisation.as_ref().unwrap();
        let st = Standardisation::new(&norm.mean, &norm.std).unwrap();
        let mut expected = Vec::new();
        for (numeric, categories) in ROWS {
            let input = Input::Sparse {
                numeric: &numeric,
                categories: &categories,
            };
            let mut p = [0.0; 2];
            match &baked.weights {
                BakedWeights::F32(w) => {
                    let model = PleModel::new(SHAPE, layout, &w[..]).unwrap();
                    let model = model.with_standardisation(st).unwrap();
                    model.predict(input, &mut scratch, &mut p).unwrap();
                }
                BakedWeights::F16(w) => {
                    let model = PleModel::new(SHAPE, layout, &w[..]).unwrap();
                    let model = model.with_standardisation(st).unwrap();
                    model.predict(input, &mut scratch, &mut p).unwrap();
                }
                BakedWeights::Int8(_) => unreachable!("only f32 and f16 are emitted in C"),
            }
            expected.extend(p);
        }
        assert_eq!(printed.len(), expected.len());
        for (c, rust) in printed.iter().zip(&expected) {
            // Same weights, same library: only kernel choice (SIMD vs scalar) may differ.
            assert!(
                (c - rust).abs() <= 1e-6,
                "{precision:?}: C {c} vs Rust {rust}"
            );
        }
    }
}
