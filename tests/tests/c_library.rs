//! The C static library: a C program links `libple_core.a` with a model header baked by
//! ple-codegen and predicts Census test rows exactly as ple-core does in Rust, at f32
//! (`tests/c/predict.c`) and int8 (`tests/c/predict_int8.c`, bit for bit).

use std::process::Command;

use ple_tests::{c_program, model, paths, tools};

/// Test rows the C program checks.
const ROWS: usize = 128;

#[test]
fn host_c_program_matches_rust_under_address_and_undefined_sanitizers() {
    let dir = paths::artefacts().join("c-host");
    c_program::generate(&model::model_path(), ROWS, &dir);
    run_on_host(&dir, "predict.c");
}

#[test]
fn host_c_program_int8_matches_rust_bit_for_bit_under_sanitizers() {
    let dir = paths::artefacts().join("c-host-int8");
    c_program::generate_int8(&model::model_path(), ROWS, &dir);
    run_on_host(&dir, "predict_int8.c");
}

#[test]
fn cortex_m4f_c_program_matches_rust_under_qemu() {
    let dir = paths::artefacts().join("c-cortex-m4f");
    c_program::generate(&model::model_path(), ROWS, &dir);
    run_on_cortex_m4f(&dir, "predict.c");
}

#[test]
fn cortex_m4f_c_program_int8_matches_rust_bit_for_bit_under_qemu() {
    let dir = paths::artefacts().join("c-cortex-m4f-int8");
    c_program::generate_int8(&model::model_path(), ROWS, &dir);
    run_on_cortex_m4f(&dir, "predict_int8.c");
}

/// Builds `tests/c/<source>` with the generated files in `dir` for the host, with
/// AddressSanitizer and UBSan, runs it and checks its report.
fn run_on_host(dir: &std::path::Path, source: &str) {
    let gcc = tools::require(tools::GCC);
    let library = c_program::static_library(None);
    let program = dir.join("predict");
    tools::run(
        Command::new(gcc)
            .args(["-std=c99", "-O2", "-g", "-Wall", "-Wextra", "-Werror"])
            .args(["-fsanitize=address,undefined", "-fno-sanitize-recover=all"])
            .arg("-I")
            .arg(c_program::abi_include())
            .arg("-I")
            .arg(dir)
            .arg(c_program::sources().join(source))
            .arg(dir.join("model.c"))
            .arg(&library)
            .args(["-lm", "-lpthread", "-ldl", "-o"])
            .arg(&program),
    );
    let output = tools::run(&mut Command::new(&program));
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(stdout.contains(&format!("rows={ROWS}\n")), "{stdout}");
    assert!(stdout.contains("mismatches=0\n"), "{stdout}");
    assert!(stdout.contains("errors=0\n"), "{stdout}");
    if source == "predict.c" {
        assert!(stdout.contains("standardised=1\n"), "{stdout}");
    }
}

/// Builds `tests/c/<source>` with the generated files in `dir` for a Cortex-M4F, runs it
/// under QEMU and checks its report.
fn run_on_cortex_m4f(dir: &std::path::Path, source: &str) {
    let gcc = tools::require(tools::ARM_GCC);
    let qemu = tools::require(tools::QEMU_ARM);
    let library = c_program::static_library(Some("thumbv7em-none-eabihf"));
    let sources = c_program::sources();
    let program = dir.join("predict.elf");
    tools::run(
        Command::new(gcc)
            .args([
                "-mcpu=cortex-m4",
                "-mthumb",
                "-mfloat-abi=hard",
                "-mfpu=fpv4-sp-d16",
            ])
            .args([
                "-std=c99",
                "-O2",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-DPLE_SEMIHOSTING",
                "-DPLE_COUNT_INSTRUCTIONS",
            ])
            .args([
                "--specs=rdimon.specs",
                "-nostartfiles",
                "-Wl,--gc-sections",
                "-T",
            ])
            .arg(sources.join("cortex_m4f.ld"))
            .arg("-I")
            .arg(c_program::abi_include())
            .arg("-I")
            .arg(dir)
            .arg(sources.join("cortex_m4f_startup.c"))
            .arg(sources.join(source))
            .arg(dir.join("model.c"))
            .arg(&library)
            .args(["-lm", "-o"])
            .arg(&program),
    );
    let output = tools::run_unchecked(
        Command::new(tools::require(tools::TIMEOUT))
            .arg("120")
            .arg(qemu)
            .args(["-cpu", "cortex-m4", "-machine", "mps2-an386", "-nographic"])
            // One instruction per 2^10 ns of virtual time: the programs' timer counts
            // instructions (predict_int8.c reports them per kind of call).
            .args(["-icount", "shift=10"])
            .args(["-monitor", "none", "-serial", "none"])
            .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
            .arg(&program),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(&format!("rows={ROWS}\n")), "{stdout}");
    assert!(stdout.contains("mismatches=0\n"), "{stdout}");
    assert!(stdout.contains("errors=0\n"), "{stdout}");
    if source == "predict_int8.c" {
        let field = |key: &str| -> u64 {
            stdout
                .lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no `{key}` in the report:\n{stdout}"))
        };
        let measured = field("calibration_measured");
        assert!(
            measured.abs_diff(field("calibration_expected")) <= 2,
            "the instruction counter is off:\n{stdout}"
        );
        for kind in ["plain_gates", "plain", "validated"] {
            assert!(field(&format!("instructions_{kind}_min")) > 0, "{stdout}");
        }
    }
}
