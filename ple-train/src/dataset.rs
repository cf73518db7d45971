//! The encoded form of a data split, as the trainer consumes it.
//!
//! A Census row is 11 numbers and one category per categorical field; its dense 499-wide
//! vector is 93% zeros. The trainer therefore keeps rows in the *sparse* form: the numeric
//! columns (which come first in the dense vector) as a dense block, and for every categorical
//! field the dense column index of its one-hot bit. The dense vector is produced on demand.

/// Marks a categorical field whose value is unknown (not in the training vocabulary): its
/// one-hot block is all zeros, as in PaddleRec's encoding.
pub const NO_COLUMN: u32 = u32::MAX;

/// One split (train, validation or test) in sparse form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    /// Width of the dense feature vector (499 for Census).
    pub dense_width: usize,
    /// Number of numeric columns; they are dense columns `0..numeric_width`.
    pub numeric_width: usize,
    /// Row-major `[rows, numeric_width]`, raw (unscaled) values.
    pub numeric: Vec<f32>,
    /// Number of one-hot fields per row.
    pub fields: usize,
    /// Row-major `[rows, fields]`: the dense column (in `numeric_width..dense_width`) whose
    /// value is 1.0, or [`NO_COLUMN`].
    pub hot: Vec<u32>,
    /// One label vector (0 or 1 per row) per task, in the order of `task_names`.
    pub labels: Vec<Vec<u8>>,
    /// Task names, e.g. `["income", "marital"]`.
    pub task_names: Vec<String>,
}

impl Dataset {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.labels.first().map_or(0, Vec::len)
    }

    /// The numeric values of row `row`.
    pub fn numeric_row(&self, row: usize) -> &[f32] {
        &self.numeric[row * self.numeric_width..(row + 1) * self.numeric_width]
    }

    /// The one-hot columns of row `row` (entries may be [`NO_COLUMN`]).
    pub fn hot_row(&self, row: usize) -> &[u32] {
        &self.hot[row * self.fields..(row + 1) * self.fields]
    }

    /// Writes row `row` as a dense vector into `out` (length `dense_width`).
    pub fn dense_row_into(&self, row: usize, out: &mut [f32]) {
        out.fill(0.0);
        out[..self.numeric_width].copy_from_slice(self.numeric_row(row));
        for &col in self.hot_row(row) {
            if col != NO_COLUMN {
                out[col as usize] = 1.0;
            }
        }
    }

    /// The whole split as dense row-major `[rows, dense_width]` f32 values.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.rows() * self.dense_width];
        for (row, chunk) in out.chunks_exact_mut(self.dense_width.max(1)).enumerate() {
            self.dense_row_into(row, chunk);
        }
        out
    }
}
