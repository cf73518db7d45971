//! The first rows of PaddleRec's Census test split, in the sparse form a device has, encoded
//! with a model's own feature spec.

use ple_codegen::ModelFile;
use ple_core::{InputLayout, UNKNOWN_CATEGORY};
use ple_train::census::{encode_file, locate_raw_files, select_rows, validation_test_positions};
use ple_train::dataset::NO_COLUMN;

use crate::paths;

/// Rows in sparse form.
#[derive(Clone, Debug)]
pub struct SparseRows {
    /// Numeric columns per row.
    pub numeric_width: usize,
    /// Categorical fields per row.
    pub fields: usize,
    /// Row-major raw numeric values.
    pub numeric: Vec<f32>,
    /// Row-major category indices ([`UNKNOWN_CATEGORY`] for a value outside the vocabulary).
    pub categories: Vec<u16>,
    /// Vocabulary size per field.
    pub vocab_sizes: Vec<u16>,
}

impl SparseRows {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.numeric.len() / self.numeric_width.max(1)
    }

    /// The input layout these rows follow.
    pub fn layout(&self) -> InputLayout<'_> {
        InputLayout {
            numeric: self.numeric_width as u32,
            vocab_sizes: &self.vocab_sizes,
        }
    }

    /// Numeric values and categories of row `row`.
    pub fn row(&self, row: usize) -> (&[f32], &[u16]) {
        let (n, f) = (self.numeric_width, self.fields);
        (
            &self.numeric[row * n..(row + 1) * n],
            &self.categories[row * f..(row + 1) * f],
        )
    }
}

/// The first `count` rows of the test split, encoded with `model`'s feature spec.
///
/// # Panics
/// When the model has no feature spec or the data cannot be read.
pub fn first_test_rows(model: &ModelFile, count: usize) -> SparseRows {
    let Some(spec) = model.feature_spec.as_ref() else {
        panic!("the model has no feature spec: it cannot encode Census rows")
    };
    let (_, test_path) = locate_raw_files(&paths::census_dir()).unwrap_or_else(|e| panic!("{e}"));
    let (all, _) = encode_file(&test_path, spec).unwrap_or_else(|e| panic!("{e}"));
    let (_, positions) = validation_test_positions(all.rows());
    let take: Vec<usize> = positions.into_iter().take(count).collect();
    let rows = select_rows(&all, &take);
    let mut categories = Vec::with_capacity(rows.hot.len());
    for row in 0..rows.rows() {
        for (field, &column) in spec.categorical.iter().zip(rows.hot_row(row)) {
            categories.push(if column == NO_COLUMN {
                UNKNOWN_CATEGORY
            } else {
                (column as usize - field.offset) as u16
            });
        }
    }
    SparseRows {
        numeric_width: rows.numeric_width,
        fields: rows.fields,
        numeric: rows.numeric,
        categories,
        vocab_sizes: spec
            .categorical
            .iter()
            .map(|f| f.vocabulary.len() as u16)
            .collect(),
    }
}
