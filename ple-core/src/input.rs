//! The model input, in its dense and its sparse form.
//!
//! The dense input is the vector the network was trained on: `numeric` numeric columns
//! followed by one one-hot block per categorical field. A device rarely holds that vector; it
//! holds the numeric values and one category index per field. [`InputLayout`] is what maps a
//! (field, category) pair to its dense column, so that the first layer can add the one weight
//! row the one-hot bit selects instead of multiplying hundreds of zeros.

use crate::error::PleError;
use crate::shape::PleShape;

/// The category index meaning "not in the vocabulary": the field's one-hot block is all zero,
/// exactly as the encoder treats an unseen value.
pub const UNKNOWN_CATEGORY: u16 = u16::MAX;

/// How the dense input is made of numeric columns and one-hot blocks.
///
/// Dense columns `0..numeric` are the numeric values; field `f`'s block follows the blocks of
/// fields `0..f` and has `vocab_sizes[f]` columns. A model with a purely dense input (no
/// one-hot fields) has `numeric == input_dim` and no vocabularies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputLayout<'a> {
    /// Number of numeric columns at the start of the dense input.
    pub numeric: u32,
    /// Vocabulary size of each categorical field, in dense-column order. Each is at least 1
    /// and below [`UNKNOWN_CATEGORY`].
    pub vocab_sizes: &'a [u16],
}

impl<'a> InputLayout<'a> {
    /// A layout with no categorical field: every column is numeric.
    pub const fn dense(input_dim: u32) -> Self {
        InputLayout {
            numeric: input_dim,
            vocab_sizes: &[],
        }
    }

    /// Width of the dense input the layout describes (saturating, so that a huge bogus
    /// layout cannot wrap around to a plausible width).
    pub const fn dense_width(&self) -> u64 {
        let mut width = self.numeric as u64;
        let mut f = 0;
        while f < self.vocab_sizes.len() {
            width += self.vocab_sizes[f] as u64;
            f += 1;
        }
        width
    }

    /// Number of categorical fields.
    pub const fn fields(&self) -> usize {
        self.vocab_sizes.len()
    }

    /// Checks that the layout describes `shape`'s input.
    pub const fn validate_for(&self, shape: &PleShape<'_>) -> Result<(), PleError> {
        let mut f = 0;
        while f < self.vocab_sizes.len() {
            let v = self.vocab_sizes[f];
            if v == 0 || v == UNKNOWN_CATEGORY {
                return Err(PleError::InputLayout);
            }
            f += 1;
        }
        if self.dense_width() != shape.input_dim as u64 {
            return Err(PleError::InputLayout);
        }
        Ok(())
    }
}

/// One input row, in either form. Both give the same outputs for the same row.
#[derive(Clone, Copy, Debug)]
pub enum Input<'i> {
    /// The dense vector, `input_dim` values.
    Dense(&'i [f32]),
    /// The numeric values (one per numeric column) and one category index per categorical
    /// field ([`UNKNOWN_CATEGORY`] for an unseen value).
    Sparse {
        /// Numeric values, `layout.numeric` of them.
        numeric: &'i [f32],
        /// Category index per field, `layout.fields()` of them.
        categories: &'i [u16],
    },
}
