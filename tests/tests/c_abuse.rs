//! The C ABI under abuse: `tests/c/abuse.c` calls every entry point of `ple_core.h` with null
//! pointers, short buffers, zero and huge lengths, misaligned pointers, overlapping outputs,
//! out-of-range categories, NaN and infinite inputs and inconsistent model structs, and
//! checks each documented status code. It is built with AddressSanitizer and UBSan, links the
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
    let checks: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("checks="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(checks >= 150, "only {checks} checks ran:\n{stdout}");
    assert!(stderr.is_empty(), "sanitizer or other output:\n{stderr}");
}
