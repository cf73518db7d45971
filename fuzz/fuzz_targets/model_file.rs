//! The model file loader on arbitrary bytes: `ModelFile::from_bytes` (what `ModelFile::load`,
//! ple-codegen's commands and ple-train's `eval --model` all go through) must return a model
//! or an error, never panic, abort or allocate beyond its limits; a model it accepts must
//! validate, and must save to bytes that load back to the same model.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ple_codegen::ModelFile;

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    let Ok(model) = ModelFile::from_bytes(path, bytes) else {
        return;
    };
    model.validate().expect("a loaded model validates");
    let saved = model.to_bytes().expect("a loaded model saves");
    let reloaded = ModelFile::from_bytes(path, &saved).expect("a saved model loads");
    assert_eq!(reloaded, model, "save and load round trip");
});
