//! Replays the kept corpora of the fuzz targets on stable:
//!
//! - `fuzz/corpus/census_records`: each input through the raw UCI reader (vocabulary
//!   building and encoding through a known spec) and the PaddleRec reader, exactly as the
//!   `census_records` target feeds them (first byte: plain, gzip or cut gzip);
//! - `fuzz/corpus/model_file`: each input through ple-train's own model loading
//!   (`run::load_model`, used by `ple-train eval --model`).
//!
//! Whatever the bytes: rows or an error naming the file, never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};

use ple_codegen::FeatureSpec;
use ple_train::census::{encode_file, encode_training_file, read_paddlerec};
use ple_train::run::load_model;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the kept corpus of {target} is missing");
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The file the `census_records` target writes for `input`.
fn census_file_bytes(input: &[u8]) -> Option<Vec<u8>> {
    let (&mode, text) = input.split_first()?;
    Some(match mode % 4 {
        0 | 1 => text.to_vec(),
        2 => gzip(text),
        _ => {
            let mut gz = gzip(text);
            gz.truncate(gz.len() * usize::from(mode) / 256);
            gz
        }
    })
}

fn known_spec(dir: &Path) -> FeatureSpec {
    let path = dir.join("spec_source.data");
    std::fs::copy(fuzz_dir().join("seeds/spec_source.data"), &path).unwrap();
    encode_training_file(&path).unwrap().0
}

#[test]
fn every_kept_census_input_reads_or_fails_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let spec = known_spec(dir.path());
    let mut rows_read = 0;
    for (name, input) in corpus("census_records") {
        let Some(bytes) = census_file_bytes(&input) else {
            continue;
        };
        let file_name = format!("{name}.data");
        let path = dir.path().join(&file_name);
        std::fs::write(&path, &bytes).unwrap();
        match encode_training_file(&path) {
            Ok((_, data, _)) => rows_read += data.rows(),
            Err(e) => assert!(e.to_string().contains(&file_name), "{name}: {e}"),
        }
        match encode_file(&path, &spec) {
            Ok((data, _)) => assert_eq!(data.hot.len(), data.rows() * data.fields, "{name}"),
            Err(e) => assert!(e.to_string().contains(&file_name), "{name}: {e}"),
        }
        match read_paddlerec(&path, &spec) {
            Ok((data, _)) => assert_eq!(data.hot.len(), data.rows() * data.fields, "{name}"),
            Err(e) => assert!(e.to_string().contains(&file_name), "{name}: {e}"),
        }
    }
    // The valid seeds (plain, CRLF, gzip) must still read.
    assert!(rows_read >= 7, "only {rows_read} rows read from the corpus");
}

#[test]
fn every_kept_model_input_loads_or_fails_naming_the_file_in_the_trainer() {
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = 0;
    for (name, bytes) in corpus("model_file") {
        let path = dir.path().join(format!("{name}.safetensors"));
        std::fs::write(&path, &bytes).unwrap();
        match load_model(&path) {
            Ok(model) => {
                model.validate().unwrap();
                loaded += 1;
            }
            Err(e) => assert!(e.contains(&name), "{name}: {e}"),
        }
    }
    assert!(loaded >= 2, "the valid model seeds must still load");
}
