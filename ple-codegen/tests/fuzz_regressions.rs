//! Replays the kept corpus of the `model_file` fuzz target (`fuzz/corpus/model_file`: the
//! synthetic seeds and every input the fuzzer found worth keeping) through the same checks
//! as the target, on stable: loading never panics, a model it accepts validates and survives
//! a save and a reload unchanged, and every rejection names the file.

use std::path::{Path, PathBuf};

use ple_codegen::ModelFile;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/model_file");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// What the fuzz target checks, with the outcome: loaded or the error's text.
fn replay(name: &str, bytes: &[u8]) -> Result<ModelFile, String> {
    let path = Path::new(name);
    match ModelFile::from_bytes(path, bytes) {
        Ok(model) => {
            model.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            let saved = model.to_bytes().unwrap_or_else(|e| panic!("{name}: {e}"));
            let reloaded = ModelFile::from_bytes(path, &saved)
                .unwrap_or_else(|e| panic!("{name}: saved model does not load: {e}"));
            assert_eq!(reloaded, model, "{name}: save and load round trip");
            Ok(model)
        }
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains(name),
                "{name}: error does not name the file: {text}"
            );
            Err(text)
        }
    }
}

#[test]
fn every_kept_model_input_loads_or_is_rejected_naming_the_file() {
    let corpus = corpus();
    assert!(corpus.len() >= 5, "the kept corpus is missing");
    let loaded = corpus
        .iter()
        .filter(|(name, bytes)| replay(name, bytes).is_ok())
        .count();
    println!("{} inputs, {loaded} valid models", corpus.len());
    assert!(loaded >= 2, "the valid seeds must still load");
}

#[test]
fn seeds_have_the_outcomes_they_were_written_for() {
    let corpus = corpus();
    let outcome = |wanted: &str| {
        let (name, bytes) = corpus
            .iter()
            .find(|(name, _)| name == wanted)
            .unwrap_or_else(|| panic!("{wanted} is not in the corpus"));
        replay(name, bytes)
    };
    assert!(outcome("seed-full").unwrap().feature_spec.is_some());
    assert!(outcome("seed-bare").unwrap().feature_spec.is_none());
    for broken in [
        "seed-truncated",
        "seed-huge-header-length",
        "seed-empty-header",
    ] {
        let err = outcome(broken).unwrap_err();
        println!("{broken}: {err}");
    }
}
