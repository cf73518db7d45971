//! `prepare` writes the encoded splits as flat files whose manifest describes them exactly.

mod census_common;

use sha2::{Digest, Sha256};

use census_common::data_dir;
use ple_train::census::{load_census, prepare, Manifest, PreparedFile};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn prepared_files_hold_the_encoded_splits_and_match_the_manifest() {
    let data = data_dir(12, 9);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("prepared");
    let manifest = prepare(data.path(), &target).unwrap();
    let loaded = load_census(data.path()).unwrap();

    let read = |file: &PreparedFile| -> Vec<u8> {
        let bytes = std::fs::read(target.join(&file.file)).unwrap();
        assert_eq!(bytes.len() as u64, file.bytes, "{}", file.file);
        assert_eq!(sha256_hex(&bytes), file.sha256, "{}", file.file);
        bytes
    };
    let splits = [
        (&manifest.splits.train, &loaded.train, "train"),
        (
            &manifest.splits.validation,
            &loaded.validation,
            "validation",
        ),
        (&manifest.splits.test, &loaded.test, "test"),
    ];
    for (entry, dataset, name) in splits {
        assert_eq!(entry.rows, dataset.rows());
        assert_eq!(entry.features.file, format!("{name}.features.f32"));
        let features: Vec<f32> = read(&entry.features)
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(features, dataset.to_dense(), "{name}");
        assert_eq!(read(&entry.income), dataset.labels[0], "{name}");
        assert_eq!(read(&entry.marital), dataset.labels[1], "{name}");
    }
    assert_eq!(
        manifest.splits.validation.rows + manifest.splits.test.rows,
        9
    );
    assert_eq!(manifest.dense_width, loaded.spec.dense_width());

    let spec: ple_codegen::FeatureSpec =
        serde_json::from_slice(&read(&manifest.feature_spec)).unwrap();
    assert_eq!(spec, loaded.spec);
    let on_disk: Manifest =
        serde_json::from_slice(&std::fs::read(target.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(on_disk, manifest);

    // Nothing but the finished files is left behind.
    let mut names: Vec<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 11, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

#[test]
fn prepare_without_data_reports_the_missing_files() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let message = prepare(empty.path(), out.path()).unwrap_err().to_string();
    assert!(message.contains("census-income.data"), "{message}");
    assert!(std::fs::read_dir(out.path()).unwrap().next().is_none());
}
