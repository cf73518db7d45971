//! `examples/export_pytorch.py` writes files that `ModelFile::load` accepts, in every dtype.
//!
//! The test needs python3 with `numpy` and `safetensors`. It uses `$PLE_PYTHON` if set, else
//! `python3` if it has both packages, else a virtual environment it creates once under the
//! system temporary directory (`pip install numpy safetensors`). When none of these works
//! (no python3, no network) it says so on stderr and checks nothing; the Rust-side tests in
//! `model_file.rs` cover the same file layout with hand-built files.

use std::path::{Path, PathBuf};
use std::process::Command;

use ple_codegen::model_file::{parameter_ranges, ModelConfig, ModelFile};
use ple_codegen::Normalisation;
use ple_core::shape::PADDLEREC_DEFAULT;
use ple_core::PleShape;

fn has_packages(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import numpy, safetensors"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn find_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PLE_PYTHON") {
        return Some(p.into());
    }
    let system = PathBuf::from("python3");
    if has_packages(&system) {
        return Some(system);
    }
    let venv = std::env::temp_dir().join("ple-codegen-python");
    let python = venv.join("bin").join("python");
    if has_packages(&python) {
        return Some(python);
    }
    let created = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status();
    if !created.is_ok_and(|s| s.success()) {
        return None;
    }
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--timeout", "30", "numpy", "safetensors"])
        .status();
    (installed.is_ok_and(|s| s.success()) && has_packages(&python)).then_some(python)
}

const SHAPE: PleShape<'static> = PleShape {
    input_dim: 6,
    levels: 2,
    expert_units: &[5, 3],
    tower_units: &[4],
    ..PADDLEREC_DEFAULT
};

#[test]
fn python_exporter_writes_files_the_loader_accepts() {
    let Some(python) = find_python() else {
        eprintln!("python_export: no python3 with numpy and safetensors; exporter not exercised");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/export_pytorch.py");
    let dir = tempfile::tempdir().unwrap();
    let config = ModelConfig::new(&SHAPE, vec!["income".into(), "marital".into()]);
    // Multiples of 1/64 in [-1, 1]: exact in f16, bf16, f32 and f64 alike.
    let parameters: Vec<f32> = (0..SHAPE.parameter_count())
        .map(|i| ((i * 29 % 129) as f32 - 64.0) / 64.0)
        .collect();
    let weights: serde_json::Map<String, serde_json::Value> = parameter_ranges(&SHAPE)
        .into_iter()
        .map(|(tensor, range)| {
            let values = &parameters[range];
            let value = match tensor.dims() {
                (_, inputs) if tensor.rank() == 2 => {
                    serde_json::json!(values.chunks(inputs as usize).collect::<Vec<_>>())
                }
                _ => serde_json::json!(values),
            };
            (tensor.to_string(), value)
        })
        .collect();
    let normalisation = Normalisation {
        mean: vec![1.5, 2.0],
        std: vec![0.5, 4.0],
    };
    let write = |name: &str, value: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, value).unwrap();
        path
    };
    let config_path = write("config.json", serde_json::to_string(&config).unwrap());
    let weights_path = write("weights.json", serde_json::to_string(&weights).unwrap());
    let norm_path = write("norm.json", serde_json::to_string(&normalisation).unwrap());

    for dtype in ["f32", "f16", "bf16", "f64"] {
        let out = dir.path().join(format!("model-{dtype}.safetensors"));
        let status = Command::new(&python)
            .arg(&script)
            .arg("--config")
            .arg(&config_path)
            .arg("--weights")
            .arg(&weights_path)
            .arg("--normalisation")
            .arg(&norm_path)
            .args(["--dtype", dtype, "--out"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "exporter failed for {dtype}");
        let model = ModelFile::load(&out).unwrap_or_else(|e| panic!("{dtype}: {e}"));
        assert_eq!(model.config, config);
        assert_eq!(model.normalisation.as_ref(), Some(&normalisation));
        assert_eq!(model.parameters, parameters, "{dtype}");
    }

    // The exporter refuses a state dict that does not fit the configuration.
    let mut missing = weights.clone();
    missing.remove("task1.output.bias");
    let missing_path = write("missing.json", serde_json::to_string(&missing).unwrap());
    let output = Command::new(&python)
        .arg(&script)
        .arg("--config")
        .arg(&config_path)
        .arg("--weights")
        .arg(&missing_path)
        .arg("--out")
        .arg(dir.path().join("bad.safetensors"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("task1.output.bias"));
}
