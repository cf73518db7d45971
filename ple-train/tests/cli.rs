//! The command line's error paths: each names what is wrong and exits with status 2.

use std::process::Command;

fn ple_train(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ple-train"))
        .args(args)
        .env_remove("PLE_CENSUS_DIR")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn missing_data_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let (code, err) = ple_train(&[
        "train",
        "--data-dir",
        missing.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nowhere"), "{err}");
}

#[test]
fn invalid_network_is_refused_before_loading_data() {
    let (code, err) = ple_train(&["--levels", "0", "--data-dir", "/nonexistent"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("levels"), "{err}");
    let (code, err) = ple_train(&[
        "--experts-per-task",
        "0",
        "--shared-experts",
        "0",
        "--data-dir",
        "/nonexistent",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expert"), "{err}");
    let (code, err) = ple_train(&["--batch-size", "0", "--data-dir", "/nonexistent"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("batch size"), "{err}");
}

#[test]
fn bad_config_file_is_named_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ple.yaml");
    std::fs::write(&path, "epochs: 3\nleraning_rate: 0.1\n").unwrap();
    let (code, err) = ple_train(&[
        "--config",
        path.to_str().unwrap(),
        "--data-dir",
        "/nonexistent",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ple.yaml") && err.contains("leraning_rate"),
        "{err}"
    );
}

#[test]
fn resume_without_a_checkpoint_or_eval_without_a_model_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = ple_train(&[
        "eval",
        "--model",
        dir.path().join("model.safetensors").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let (code, err) = ple_train(&["--epoch", "3"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--epoch"), "{err}");
}
