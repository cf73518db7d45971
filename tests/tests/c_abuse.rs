//! The C ABI under abuse: `tests/c/abuse.c` (f32, f16) and `tests/c/abuse_int8.c` (int8 and
//! its validated handle) call every entry point of `ple_core.h` with null pointers, short
//! and long buffers, zero and huge lengths, misaligned pointers, overlapping outputs,
//! out-of-range categories, NaN, infinite and extreme inputs, inconsistent model structs
//! (every field) and forged or stale handles, and check each documented status code. It is built with AddressSanitizer and UBSan, links the
//! release static library, and places every buffer the library may touch right before an
//! inaccessible page, so an access past the end faults even inside the Rust code.

use std::process::Command;

use ple_tests::{c_program, paths, tools};

#[test]
fn every_c_entry_point_returns_its_documented_code_under_abuse() {
    let gcc = tools::require(tools::GCC);
    let library = c_program::static_library(None);
    let dir = paths::artefacts().join("c-abuse");
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("abuse");
    tools::run(
        Command::new(gcc)
            .args(["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror"])
            .args(["-fsanitize=address,undefined", "-fno-sanitize-recover=all"])
            .arg("-I")
            .arg(c_program::abi_include())
            .arg(c_program::sources().join("abuse.c"))
            .arg(c_program::sources().join("abuse_int8.c"))
            .arg(&library)
            .args(["-lm", "-lpthread", "-ldl", "-o"])
            .arg(&program),
    );
    let output = Command::new(&program).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "abuse harness failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("failures=0\n"), "{stdout}");
    let count = |key: &str| -> u32 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (checks, int8_checks) = (count("checks="), count("int8 checks="));
    assert!(
        checks >= 1_000 && int8_checks >= 800,
        "only {checks} checks ran ({int8_checks} of int8):\n{stdout}"
    );
    assert!(stderr.is_empty(), "sanitizer or other output:\n{stderr}");
}
