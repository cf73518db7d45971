//! The `ple-codegen` command: every precision and language, the footprint line, and clear
//! errors for bad input.

mod common;

use std::process::Command;

use common::tiny_model;

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ple-codegen"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn command_bakes_every_precision_and_reports_the_footprint() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.safetensors");
    tiny_model().save(&model).unwrap();
    // Raw records in the small model's six columns: age, sex, education, wage, marital, income.
    let records: String = (0..50)
        .map(|i| {
            format!(
                "{}, {}, {}, {}, x, y\n",
                20 + i,
                ["Female", "Male"][i % 2],
                [" Masters", " ?"][i % 2].trim(),
                i * 10
            )
        })
        .collect();
    let calibration = dir.path().join("rows.data");
    std::fs::write(&calibration, records).unwrap();
    for (precision, lang, expected) in [
        ("f32", "rust", "model.rs"),
        ("f16", "c", "model.h"),
        ("int8", "rust", "model.rs"),
    ] {
        let out = dir.path().join(format!("{precision}-{lang}"));
        let output = run(&[
            "--model".as_ref(),
            model.as_os_str(),
            "--precision".as_ref(),
            precision.as_ref(),
            "--lang".as_ref(),
            lang.as_ref(),
            "--calibration".as_ref(),
            calibration.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{precision} {lang}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(out.join(expected).exists());
        assert!(
            stdout.contains(&format!("footprint ({precision}): ")),
            "{stdout}"
        );
        assert!(
            stdout.contains("bytes of weights (flash)")
                && stdout.contains("bytes of scratch (RAM)")
        );
    }
}

#[test]
fn command_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.safetensors");
    tiny_model().save(&model).unwrap();
    let out = dir.path().join("out");

    let missing = run(&[
        "--model".as_ref(),
        dir.path().join("none.safetensors").as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("none.safetensors"));

    let no_rows = run(&[
        "--model".as_ref(),
        model.as_os_str(),
        "--precision".as_ref(),
        "int8".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(!no_rows.status.success());
    assert!(String::from_utf8_lossy(&no_rows.stderr).contains("--calibration"));

    let bad = dir.path().join("bad.data");
    std::fs::write(&bad, "30, Male, ?, 10, x, y\n31, Male, ?, lots, x, y\n").unwrap();
    let bad_rows = run(&[
        "--model".as_ref(),
        model.as_os_str(),
        "--precision".as_ref(),
        "int8".as_ref(),
        "--calibration".as_ref(),
        bad.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&bad_rows.stderr);
    assert!(!bad_rows.status.success());
    assert!(
        stderr.contains("bad.data:2") && stderr.contains("wage per hour"),
        "{stderr}"
    );

    let int8_c = run(&[
        "--model".as_ref(),
        model.as_os_str(),
        "--precision".as_ref(),
        "int8".as_ref(),
        "--lang".as_ref(),
        "c".as_ref(),
        "--calibration".as_ref(),
        bad.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(!int8_c.status.success());
}
