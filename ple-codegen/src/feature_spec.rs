//! The feature spec: how a raw record becomes the model's input, kept as data.
//!
//! The trainer builds it from the training file and stores it in the model file's metadata;
//! codegen turns it into static tables so that a device encodes a raw record by the same rules.
//!
//! The dense input vector is laid out as the numeric columns first (in `numeric` order), then
//! one one-hot block per categorical field (in `categorical` order); a field's block starts at
//! its `offset` and has one column per vocabulary entry, in vocabulary order. A value that is
//! not in the vocabulary encodes as an all-zero block.

use serde::{Deserialize, Serialize};

/// A numeric input column, copied from the raw record as a number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumericColumn {
    /// Name, e.g. `age`.
    pub name: String,
    /// 0-based column of the raw record it is read from.
    pub source_column: usize,
}

/// A categorical field, one-hot encoded over its vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoricalField {
    /// Name, e.g. `class_worker`.
    pub name: String,
    /// 0-based column of the raw record it is read from.
    pub source_column: usize,
    /// Dense column of the first vocabulary entry's one-hot bit.
    pub offset: usize,
    /// The categories, exactly as they appear in the raw file (leading space kept for
    /// Census), sorted as the encoding orders them.
    pub vocabulary: Vec<String>,
}

/// A task's label: which raw column, and which value counts as positive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLabel {
    /// Task name, e.g. `income`.
    pub name: String,
    /// 0-based column of the raw record holding the label.
    pub source_column: usize,
    /// The raw value that makes the label 1; every other value makes it 0.
    pub positive: String,
}

/// The whole encoding of a raw record into the model's input and labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Number of fields in a raw record (42 for Census).
    pub raw_columns: usize,
    /// Numeric columns, dense columns `0..numeric.len()`.
    pub numeric: Vec<NumericColumn>,
    /// Categorical fields, each a one-hot block after the numeric columns.
    pub categorical: Vec<CategoricalField>,
    /// Labels, one per task, in task order.
    pub tasks: Vec<TaskLabel>,
}

impl FeatureSpec {
    /// Width of the dense input vector.
    pub fn dense_width(&self) -> usize {
        self.numeric.len()
            + self
                .categorical
                .iter()
                .map(|f| f.vocabulary.len())
                .sum::<usize>()
    }
}

/// Standardisation of the numeric columns, computed on the training split: the model sees
/// `(x - mean) / std` for numeric column `i`. Codegen folds it into the first layer, so that
/// deployed models take raw values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    /// Mean per numeric column.
    pub mean: Vec<f32>,
    /// Standard deviation per numeric column (1.0 where the column is constant).
    pub std: Vec<f32>,
}
