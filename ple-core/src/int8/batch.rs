//! Many records in one call: [`Int8Model::predict_batch`].
//!
//! The rows lie back to back in two arrays (numeric values, categories), and the outputs in
//! two more, so a caller hands over a whole block of records without building an
//! [`Int8Input`] per row. The arrays' shapes are checked once for the batch; each row then
//! runs the single-row pass, with the same results bit for bit (the int8 arithmetic does not
//! depend on which rows share a call).

use core::fmt;

use super::{Int8Error, Int8Input, Int8Model};

/// Records for [`Int8Model::predict_batch`], row after row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Int8Rows<'a> {
    /// `rows * numeric_inputs()` values: each row's numeric columns as [`Int8Input::numeric`].
    pub numeric: &'a [i32],
    /// `rows * fields()` values: each row's categories as [`Int8Input::categories`].
    pub categories: &'a [u16],
}

/// Why [`Int8Model::predict_batch`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8BatchError {
    /// An array does not hold the batch's rows (nothing was predicted): `Output` for the
    /// output arrays, `NumericInputs` / `CategoricalInputs` (with the batch's totals) for the
    /// input arrays, `Scratch` for the scratch.
    Shape(Int8Error),
    /// Row `row` is invalid (e.g. a category outside its vocabulary); the rows before it
    /// were predicted, the ones from it on were not.
    Row { row: usize, error: Int8Error },
}

impl fmt::Display for Int8BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Int8BatchError::Shape(e) => write!(f, "batch: {e}"),
            Int8BatchError::Row { row, error } => write!(f, "row {row}: {error}"),
        }
    }
}

impl<'a> Int8Model<'a> {
    /// Predicts every row of `rows`: row `r`'s probabilities (Q15) go to
    /// `probabilities[r * tasks..(r + 1) * tasks]` and its logits (Q16) to the same range of
    /// `logits`, exactly as [`predict`](Self::predict) gives them. The number of rows is
    /// `logits.len() / tasks`; `scratch` holds at least
    /// [`scratch_words`](Self::scratch_words) words, as for one row.
    pub fn predict_batch(
        &self,
        rows: Int8Rows<'_>,
        scratch: &mut [i32],
        logits: &mut [i32],
        probabilities: &mut [u16],
    ) -> Result<(), Int8BatchError> {
        let tasks = (self.shape.tasks as usize).max(1);
        let count = logits.len() / tasks;
        let shape_error = |e| Err(Int8BatchError::Shape(e));
        for found in [logits.len(), probabilities.len()] {
            if found != count * tasks {
                return shape_error(Int8Error::Output {
                    expected: count * tasks,
                    found,
                });
            }
        }
        let (numeric, fields) = (self.numeric_inputs(), self.fields());
        if rows.numeric.len() != count * numeric {
            return shape_error(Int8Error::NumericInputs {
                expected: count * numeric,
                found: rows.numeric.len(),
            });
        }
        if rows.categories.len() != count * fields {
            return shape_error(Int8Error::CategoricalInputs {
                expected: count * fields,
                found: rows.categories.len(),
            });
        }
        if scratch.len() < self.scratch_words() {
            return shape_error(Int8Error::Scratch {
                needed: self.scratch_words(),
                found: scratch.len(),
            });
        }
        let outputs = logits
            .chunks_exact_mut(tasks)
            .zip(probabilities.chunks_exact_mut(tasks));
        for (row, (logits, probabilities)) in outputs.enumerate() {
            let numeric = rows
                .numeric
                .get(row * numeric..(row + 1) * numeric)
                .unwrap_or(&[]);
            let categories = rows
                .categories
                .get(row * fields..(row + 1) * fields)
                .unwrap_or(&[]);
            let input = Int8Input {
                numeric,
                categories,
            };
            self.predict(&input, scratch, logits, probabilities)
                .map_err(|error| Int8BatchError::Row { row, error })?;
        }
        Ok(())
    }
}
