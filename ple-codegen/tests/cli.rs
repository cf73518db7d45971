//! The `ple-codegen` command: every precision in every language writes what the library
//! emits for the same model, with the footprint line; `--fold-normalisation` bakes the folded
//! model; bad input is refused with an exact message naming the file, line and field.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::tiny_model;
use ple_codegen::codegen::calibration::read_calibration;
use ple_codegen::codegen::{
    bake_int8, bake_with, emit_c, emit_rust, sha256_hex, BakeOptions, Baked, GeneratedFile,
    Precision,
};
use ple_codegen::model_file::ModelFile;
use ple_codegen::quantise::SparseRows;

fn run(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ple-codegen"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The small model saved in `dir`, with 50 raw calibration records in its six columns (age,
/// sex, education, wage, marital, income).
fn model_and_records(dir: &Path) -> (PathBuf, PathBuf) {
    let model = dir.join("tiny.safetensors");
    tiny_model().save(&model).unwrap();
    let records: String = (0..50)
        .map(|i| {
            format!(
                "{}, {}, {}, {}, x, y\n",
                20 + i,
                ["Female", "Male"][i % 2],
                ["Masters", "?"][i % 2],
                i * 10
            )
        })
        .collect();
    let calibration = dir.join("rows.data");
    std::fs::write(&calibration, records).unwrap();
    (model, calibration)
}

/// What the library bakes for `precision`, int8 calibrated on the records as the command
/// reads them.
fn library_bake(model: &Path, calibration: &Path, precision: Precision, fold: bool) -> Baked {
    let bytes = std::fs::read(model).unwrap();
    let file = ModelFile::from_bytes(model, &bytes).unwrap();
    let sha = sha256_hex(&bytes);
    if precision != Precision::Int8 {
        let options = BakeOptions {
            fold_normalisation: fold,
        };
        return bake_with(model, file, sha, precision, options).unwrap();
    }
    let spec = file.feature_spec.clone().unwrap();
    let (numeric, categories) = read_calibration(calibration, &spec, 20_000).unwrap();
    let rows = SparseRows {
        numeric: &numeric,
        categories: &categories,
    };
    bake_int8(model, file, sha, rows).unwrap()
}

fn footprint_line(precision: &str, baked: &Baked) -> String {
    let f = baked.footprint();
    format!(
        "footprint ({precision}): {} bytes of weights (flash), {} bytes of standardisation \
         tables (flash), {} bytes of scratch (RAM)",
        f.weight_bytes, f.table_bytes, f.scratch_bytes
    )
}

/// Runs the command for one precision and language into `out`; returns its stdout.
fn bake_command(model: &Path, calibration: &Path, flags: &[&str], out: &Path) -> String {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--model".as_ref(),
        model.as_os_str(),
        "--calibration".as_ref(),
        calibration.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    args.extend(flags.iter().map(std::ffi::OsStr::new));
    let output = run(&args);
    assert!(output.status.success(), "{flags:?}: {}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

fn assert_written(out: &Path, stdout: &str, expected: &[GeneratedFile]) {
    for file in expected {
        let path = out.join(&file.name);
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(
            written == file.contents,
            "{} differs from the library's emission",
            path.display()
        );
        assert!(
            stdout.contains(&format!("wrote {}", path.display())),
            "{stdout}"
        );
    }
}

#[test]
fn command_bakes_every_precision_in_every_language_as_the_library_does() {
    let dir = tempfile::tempdir().unwrap();
    let (model, calibration) = model_and_records(dir.path());
    for (name, precision) in [
        ("f32", Precision::F32),
        ("f16", Precision::F16),
        ("int8", Precision::Int8),
    ] {
        let baked = library_bake(&model, &calibration, precision, false);
        let rust_out = dir.path().join(format!("{name}-rust"));
        let stdout = bake_command(
            &model,
            &calibration,
            &["--precision", name, "--lang", "rust"],
            &rust_out,
        );
        assert_written(&rust_out, &stdout, &[emit_rust(&baked).unwrap()]);
        assert!(stdout.contains(&footprint_line(name, &baked)), "{stdout}");

        let c_out = dir.path().join(format!("{name}-c"));
        let stdout = bake_command(
            &model,
            &calibration,
            &["--precision", name, "--lang", "c", "--name", "tiny"],
            &c_out,
        );
        let c_files = emit_c(&baked, "tiny").unwrap();
        let names: Vec<&str> = c_files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["tiny.h", "tiny.c"]);
        assert_written(&c_out, &stdout, &c_files);
        assert!(stdout.contains(&footprint_line(name, &baked)), "{stdout}");
        let calibrated = format!(
            "int8 activation scales calibrated on the first 50 records of {}",
            calibration.display()
        );
        assert_eq!(stdout.contains(&calibrated), name == "int8", "{stdout}");
        let header = std::fs::read_to_string(c_out.join("tiny.h")).unwrap();
        assert!(header.contains("@generated by ple-codegen"), "{header}");
        assert!(header.contains(&format!("precision: {name}")), "{header}");
    }
}

#[test]
fn fold_normalisation_bakes_the_folded_model_without_tables() {
    let dir = tempfile::tempdir().unwrap();
    let (model, calibration) = model_and_records(dir.path());
    for (name, precision) in [("f32", Precision::F32), ("f16", Precision::F16)] {
        let folded = library_bake(&model, &calibration, precision, true);
        let kept = library_bake(&model, &calibration, precision, false);
        assert_eq!(folded.footprint().table_bytes, 0);
        assert_eq!(
            kept.footprint().table_bytes,
            2 * 2 * 4,
            "two numeric columns"
        );
        for lang in ["rust", "c"] {
            let out = dir.path().join(format!("{name}-{lang}-folded"));
            let flags = ["--precision", name, "--lang", lang, "--fold-normalisation"];
            let stdout = bake_command(&model, &calibration, &flags, &out);
            let expected = match lang {
                "rust" => vec![emit_rust(&folded).unwrap()],
                _ => emit_c(&folded, "model").unwrap(),
            };
            assert_written(&out, &stdout, &expected);
            assert!(stdout.contains(&footprint_line(name, &folded)), "{stdout}");
            let unfolded = match lang {
                "rust" => vec![emit_rust(&kept).unwrap()],
                _ => emit_c(&kept, "model").unwrap(),
            };
            assert_ne!(expected, unfolded, "{name} {lang}: folding changed nothing");
        }
    }
}

fn os(args: &[std::ffi::OsString]) -> Vec<&std::ffi::OsStr> {
    args.iter().map(|a| a.as_os_str()).collect()
}

/// Runs the command with `args`; asserts that it fails with exit code `code` and returns
/// its stderr.
fn refused(args: &[&std::ffi::OsStr], code: i32) -> String {
    let output = run(args);
    assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    assert!(output.stdout.is_empty(), "nothing is written on failure");
    stderr(&output)
}

#[test]
fn command_errors_name_the_problem_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (model, calibration) = model_and_records(dir.path());
    let out = dir.path().join("out");
    let int8 = |model: &Path, calibration: Option<&Path>, lang: &str| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--model".into(),
            model.into(),
            "--precision".into(),
            "int8".into(),
            "--lang".into(),
            lang.into(),
            "--out".into(),
            out.clone().into(),
        ];
        if let Some(rows) = calibration {
            args.extend(["--calibration".into(), rows.into()]);
        }
        args
    };

    let missing = dir.path().join("none.safetensors");
    let err = refused(&os(&int8(&missing, Some(&calibration), "rust")), 1);
    assert_eq!(
        err,
        format!(
            "ple-codegen: {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );

    for lang in ["rust", "c"] {
        let err = refused(&os(&int8(&model, None, lang)), 1);
        assert_eq!(
            err,
            "ple-codegen: not supported: --precision int8 without --calibration FILE (raw \
             training records, e.g. census-income.data, whose first 20,000 calibrate the \
             activation scales)\n"
        );
    }

    let no_spec = dir.path().join("no-spec.safetensors");
    let mut bare = tiny_model();
    bare.feature_spec = None;
    bare.save(&no_spec).unwrap();
    let err = refused(&os(&int8(&no_spec, Some(&calibration), "c")), 1);
    assert_eq!(
        err,
        "ple-codegen: not supported: --precision int8 for a model file without a feature \
         spec (the calibration records cannot be encoded)\n"
    );

    let bad = dir.path().join("bad.data");
    std::fs::write(&bad, "30, Male, ?, 10, x, y\n31, Male, ?, lots, x, y\n").unwrap();
    for lang in ["rust", "c"] {
        let err = refused(&os(&int8(&model, Some(&bad), lang)), 1);
        assert_eq!(
            err,
            format!(
                "ple-codegen: {}:2: calibration record: field `wage per hour` is \"lots\", \
                 not a number\n",
                bad.display()
            )
        );
    }
    let short = dir.path().join("short.data");
    std::fs::write(&short, "\n30, Male, ?\n").unwrap();
    let err = refused(&os(&int8(&model, Some(&short), "c")), 1);
    assert_eq!(
        err,
        format!(
            "ple-codegen: {}:2: calibration record: 3 fields, expected 6\n",
            short.display()
        )
    );
    assert!(!out.exists(), "a refused command wrote {}", out.display());

    let mut args = int8(&model, Some(&calibration), "c");
    args.extend(["--name".into(), "9lives".into()]);
    let err = refused(&os(&args), 2);
    assert!(err.contains("`9lives` is not a C identifier"), "{err}");
}
