//! The UCI Census-Income (KDD) data: finding, reading, encoding and splitting it exactly as
//! PaddleRec's `datasets/census/data_preparation.py` does, without Python.
//!
//! The pipeline, and where each step lives:
//!
//! 1. [`resolve_data_dir`] and [`locate_raw_files`] find `census-income.data` and
//!    `census-income.test` (each plain or gzipped); if they are missing, the error says where
//!    to put them and where they come from (the UCI archive; [`crate::download`] fetches and
//!    verifies them).
//! 2. [`encode_training_file`] reads the training file once, building the
//!    [`FeatureSpec`] (11 numeric columns, then one one-hot block per each of 29 categorical
//!    fields, vocabularies sorted as pandas sorts them) and the encoded training rows.
//! 3. [`encode_file`] encodes the test file with that spec; unknown categories become
//!    all-zero blocks and are counted ([`unknown_category_counts`]).
//! 4. [`validation_test_positions`] splits the test file into PaddleRec's validation and test
//!    halves, with a bit-exact re-implementation of numpy's legacy `RandomState(1)`.
//!
//! [`load_census`] runs all four. [`read_paddlerec`] reads PaddleRec's already preprocessed
//! text format instead, and [`prepare`] writes the encoded splits as flat binary files.
//!
//! Rows are kept in the sparse form of [`Dataset`]; the test
//! `census_checksums` reproduces the sha256 of the dense float32 encoding of all three
//! splits published with the data, bit for bit.
//!
//! Input rules (malformed input never panics and is never silently dropped): see
//! [`DataError`] for the errors, each naming file, line and field. Recoveries, all counted in
//! [`FileSummary`]: empty lines are skipped, and CR LF line endings are accepted.

mod encode;
mod error;
pub mod layout;
mod paddlerec;
mod prepare;
mod reader;
mod split;

use std::path::{Path, PathBuf};

use ple_codegen::FeatureSpec;

use crate::dataset::Dataset;

pub use encode::{
    census_spec_without_vocabularies, encode_file, encode_training_file, select_rows,
    unknown_category_counts, FileSummary,
};
pub use error::{DataError, Location};
pub use paddlerec::read_paddlerec;
pub use prepare::{prepare, write_prepared, Manifest, PreparedFile, PreparedSplit, PreparedSplits};
pub(crate) use reader::open_decoded;
pub use reader::MAX_LINE_BYTES;
pub use split::{half_rounded_to_even, numpy_permutation, validation_test_positions, Mt19937};

/// The environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "PLE_CENSUS_DIR";
/// The data directory used when neither the flag nor the environment names one.
pub const DEFAULT_DATA_DIR: &str = "data/census";

/// The data directory: the `--data-dir` flag's value, else `$PLE_CENSUS_DIR` (when set and
/// not empty), else `data/census`.
pub fn resolve_data_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_owned();
    }
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_DATA_DIR),
    }
}

/// Finds the raw training and test files in `dir`, preferring the plain file over its `.gz`.
pub fn locate_raw_files(dir: &Path) -> Result<(PathBuf, PathBuf), DataError> {
    let find = |name: &str| {
        [dir.join(name), dir.join(format!("{name}.gz"))]
            .into_iter()
            .find(|p| p.is_file())
    };
    match (find(layout::TRAIN_FILE), find(layout::TEST_FILE)) {
        (Some(train), Some(test)) => Ok((train, test)),
        (train, test) => {
            let missing: Vec<String> = [(train, layout::TRAIN_FILE), (test, layout::TEST_FILE)]
                .into_iter()
                .filter(|(found, _)| found.is_none())
                .map(|(_, name)| format!("{name}[.gz]"))
                .collect();
            Err(DataError::MissingFiles {
                dir: dir.to_owned(),
                missing: missing.join(" and "),
            })
        }
    }
}

/// The three encoded splits and how they were made.
#[derive(Clone, Debug)]
pub struct CensusData {
    /// The encoding, built from the training file.
    pub spec: FeatureSpec,
    /// Every row of the training file, in file order.
    pub train: Dataset,
    /// PaddleRec's validation half of the test file, in sample order.
    pub validation: Dataset,
    /// The other half, in file order.
    pub test: Dataset,
    /// What reading the training file found.
    pub train_file: FileSummary,
    /// What reading the test file found.
    pub test_file: FileSummary,
}

impl CensusData {
    /// Per categorical field, the rows of `validation` with a category unknown to the
    /// vocabulary (encoded as an all-zero block).
    pub fn validation_unknown_categories(&self) -> Vec<(String, u64)> {
        unknown_category_counts(&self.spec, &self.validation)
    }

    /// Per categorical field, the rows of `test` with a category unknown to the vocabulary.
    pub fn test_unknown_categories(&self) -> Vec<(String, u64)> {
        unknown_category_counts(&self.spec, &self.test)
    }

    /// A few human-readable lines about the load: rows per split, recoveries, unknown
    /// categories (only fields that had some).
    pub fn describe(&self) -> String {
        let mut out = format!(
            "data: train {} rows ({}), validation {} rows, test {} rows ({}), {} features",
            self.train.rows(),
            self.train_file.path.display(),
            self.validation.rows(),
            self.test.rows(),
            self.test_file.path.display(),
            self.spec.dense_width()
        );
        for file in [&self.train_file, &self.test_file] {
            if file.blank_lines_skipped > 0 || file.crlf_lines > 0 {
                out.push_str(&format!(
                    "\n{}: skipped {} empty lines, stripped CR from {} CR LF lines",
                    file.path.display(),
                    file.blank_lines_skipped,
                    file.crlf_lines
                ));
            }
        }
        for (split, counts) in [
            ("validation", self.validation_unknown_categories()),
            ("test", self.test_unknown_categories()),
        ] {
            let nonzero: Vec<String> = counts
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(field, n)| format!("{field}: {n}"))
                .collect();
            if !nonzero.is_empty() {
                out.push_str(&format!(
                    "\n{split}: rows with a category unseen in training (encoded all-zero): {}",
                    nonzero.join(", ")
                ));
            }
        }
        out
    }
}

/// Loads, encodes and splits the Census data found in `dir`, as PaddleRec does.
pub fn load_census(dir: &Path) -> Result<CensusData, DataError> {
    let (train_path, test_path) = locate_raw_files(dir)?;
    let (spec, train, train_file) = encode_training_file(&train_path)?;
    let (all_test, test_file) = encode_file(&test_path, &spec)?;
    let (validation_rows, test_rows) = validation_test_positions(all_test.rows());
    Ok(CensusData {
        validation: select_rows(&all_test, &validation_rows),
        test: select_rows(&all_test, &test_rows),
        spec,
        train,
        train_file,
        test_file,
    })
}
