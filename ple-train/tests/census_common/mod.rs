//! Synthetic Census files for the data tests: rows made up here, never cut from the real data.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use ple_train::census::layout::{column_index, CATEGORICAL_COLUMNS, COLUMN_NAMES};

/// The 42 fields of a made-up record; `seed` varies the values.
pub fn record(seed: usize) -> Vec<String> {
    let mut fields: Vec<String> = COLUMN_NAMES
        .iter()
        .map(|name| {
            if CATEGORICAL_COLUMNS.contains(name) {
                format!(" {name}-{}", seed % 3)
            } else {
                format!(" {}", seed % 7)
            }
        })
        .collect();
    fields[0] = format!("{}", 20 + seed % 50);
    fields[column_index("instance_weight")] = format!(" {}.{}", 1000 + seed, seed % 100);
    // Integer-valued categories, so that the vocabulary sorts numerically.
    fields[column_index("det_ind_code")] = format!(" {}", (seed * 7) % 12);
    fields[column_index("marital_stat")] = if seed.is_multiple_of(2) {
        " Never married".into()
    } else {
        " Divorced".into()
    };
    fields[column_index("income_50k")] = if seed.is_multiple_of(5) {
        " 50000+.".into()
    } else {
        " - 50000.".into()
    };
    fields
}

/// A record as a line (no line ending).
pub fn line(fields: &[String]) -> String {
    fields.join(",")
}

/// `rows` made-up records as file content, LF terminated.
pub fn content(rows: std::ops::Range<usize>) -> String {
    rows.map(|i| line(&record(i)) + "\n").collect()
}

/// Writes `bytes` to `dir/name`.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// gzip of `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A data directory with a training file of `train` records and a test file of `test`
/// records (both plain).
pub fn data_dir(train: usize, test: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "census-income.data",
        content(0..train).as_bytes(),
    );
    write(
        dir.path(),
        "census-income.test",
        content(1000..1000 + test).as_bytes(),
    );
    dir
}
