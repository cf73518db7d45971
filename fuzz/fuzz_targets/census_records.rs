//! The Census readers on arbitrary bytes: the raw UCI reader (training file: vocabulary
//! building; evaluation file: encoding through a known spec) and the PaddleRec text reader.
//! The first input byte picks how the rest reaches the file: as it is (gzip if it happens to
//! start with the magic bytes) or gzip-compressed, whole or cut short. Whatever the bytes,
//! each reader must return rows or an error naming the file, never panic.

#![no_main]

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ple_codegen::FeatureSpec;
use ple_train::census::{encode_file, encode_training_file, read_paddlerec};

/// A file name unique to this process, in memory-backed storage when there is some.
fn scratch_file() -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("ple-fuzz-census-{}.data", std::process::id()))
}

/// A spec from a small made-up training file, for the readers that encode through one.
fn known_spec() -> &'static FeatureSpec {
    static SPEC: OnceLock<FeatureSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = scratch_file().with_extension("spec");
        std::fs::write(&path, include_bytes!("../seeds/spec_source.data")).unwrap();
        let (spec, _, _) = encode_training_file(&path).expect("the seed file encodes");
        let _ = std::fs::remove_file(&path);
        spec
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, text)) = input.split_first() else {
        return;
    };
    let bytes = match mode % 4 {
        0 | 1 => text.to_vec(),
        2 => gzip(text),
        _ => {
            let mut gz = gzip(text);
            gz.truncate(gz.len() * usize::from(mode) / 256);
            gz
        }
    };
    let path = scratch_file();
    std::fs::write(&path, &bytes).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    let spec = known_spec();
    if let Err(e) = encode_training_file(&path) {
        assert!(e.to_string().contains(&name), "{e}");
    }
    match encode_file(&path, spec) {
        Ok((data, _)) => assert_eq!(data.hot.len(), data.rows() * data.fields),
        Err(e) => assert!(e.to_string().contains(&name), "{e}"),
    }
    match read_paddlerec(&path, spec) {
        Ok((data, _)) => assert_eq!(data.hot.len(), data.rows() * data.fields),
        Err(e) => assert!(e.to_string().contains(&name), "{e}"),
    }
});
