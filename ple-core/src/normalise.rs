//! Standardising the numeric inputs on the device, as the trainer does, instead of folding
//! the standardisation into the first layer.
//!
//! The trainer feeds numeric column `j` as `(x_j - mean_j) / std_j`. Folding that into the
//! first layer (`W' = W / std`, `b' = b - Σ W mean / std`) gives a model of raw values, but
//! a column whose mean is large against its spread makes the folded bias and the products
//! `x · W'` large terms that cancel: Census's `year` (94 or 95, mean 94.5, std 0.5) puts
//! about `189 · W` into the bias, so each first-layer sum carries the rounding error of a
//! value some 190 times larger than the one it computes. In f32 that is the few 1e-6 by
//! which folded models differ from the trainer; in f16 (a quantum of 1/32 for values from
//! 32 to 64) it is the largest error of the whole model.
//!
//! [`Standardisation::apply`] computes the trainer's `(x - mean) / std` in the same f32
//! operations, so a model of unfolded weights sees bit for bit the trainer's input, and no
//! cancellation happens anywhere. A [`PleModel`](crate::PleModel) given a standardisation
//! ([`PleModel::with_standardisation`](crate::PleModel::with_standardisation)) does this
//! itself on every prediction: the caller passes raw values.
//!
//! The price is one subtraction and one division per numeric column and prediction (11 of
//! each for Census) and the two tables (88 bytes for Census); it buys f32 outputs within
//! 1e-6 of the trainer instead of a few 1e-6, and f16 outputs within 5e-4 of f32 instead
//! of 4e-3.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use crate::error::PleError;

/// `out[j] = (raw[j] - mean[j]) / std[j]` over the shortest of the slices: a subtraction and
/// a division, each rounded once, the trainer's arithmetic. The one place the formula is
/// written: single rows ([`Standardisation::apply`]) and the batch's portable kernel
/// (`kernels::scalar::standardise`) both come here, and the SIMD twins are tested against it.
pub(crate) fn standardise_values(raw: &[f32], mean: &[f32], std: &[f32], out: &mut [f32]) {
    for (((o, &x), &m), &s) in out.iter_mut().zip(raw).zip(mean).zip(std) {
        *o = (x - m) / s;
    }
}

/// Per-column mean and standard deviation of the numeric inputs, borrowed (generated code
/// keeps them in `static`s next to the weights).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standardisation<'a> {
    mean: &'a [f32],
    std: &'a [f32],
}

impl<'a> Standardisation<'a> {
    /// Checks that `mean` and `std` have the same length, every mean is finite and every
    /// std finite and positive; [`PleError::Standardisation`] otherwise. A `const fn`, so a
    /// generated `static` fails to compile rather than fail at run time.
    pub const fn new(mean: &'a [f32], std: &'a [f32]) -> Result<Self, PleError> {
        if mean.len() != std.len() {
            return Err(PleError::Standardisation);
        }
        let (mut means, mut stds) = (mean, std);
        while let ([m, means_rest @ ..], [s, stds_rest @ ..]) = (means, stds) {
            if !m.is_finite() || !s.is_finite() || *s <= 0.0 {
                return Err(PleError::Standardisation);
            }
            (means, stds) = (means_rest, stds_rest);
        }
        Ok(Standardisation { mean, std })
    }

    /// Number of numeric columns.
    pub const fn len(&self) -> usize {
        self.mean.len()
    }

    /// Whether there are no numeric columns.
    pub const fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// The mean of each numeric column.
    pub const fn mean(&self) -> &'a [f32] {
        self.mean
    }

    /// The standard deviation of each numeric column.
    pub const fn std(&self) -> &'a [f32] {
        self.std
    }

    /// Standardises the raw values of columns `first..first + raw.len()` into `out`
    /// (zipped: values past the shorter of `raw`, `out` and the tables are left alone).
    /// The inference path's form of [`apply`](Self::apply), for values already checked.
    pub(crate) fn apply_columns(&self, first: usize, raw: &[f32], out: &mut [f32]) {
        let mean = self.mean.get(first..).unwrap_or(&[]);
        let std = self.std.get(first..).unwrap_or(&[]);
        standardise_values(raw, mean, std, out);
    }

    /// Writes `(raw[j] - mean[j]) / std[j]` into `out[j]`: a subtraction and a division,
    /// each rounded once, exactly the trainer's arithmetic. Both slices must have
    /// [`len`](Self::len) values ([`PleError::InputLength`]); a non-finite raw value is
    /// [`PleError::NonFiniteInput`], and nothing is written then.
    pub fn apply(&self, raw: &[f32], out: &mut [f32]) -> Result<(), PleError> {
        if raw.len() != self.mean.len() || out.len() != self.mean.len() {
            return Err(PleError::InputLength);
        }
        if let Some(index) = raw.iter().position(|v| !v.is_finite()) {
            return Err(PleError::NonFiniteInput {
                index: index as u32,
            });
        }
        self.apply_columns(0, raw, out);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn apply_is_the_trainers_subtract_then_divide() {
        let (mean, std) = ([94.5f32, 1740.8, 0.0], [0.5f32, 993.6, 3.0]);
        let s = Standardisation::new(&mean, &std).unwrap();
        let raw = [95.0f32, 18_656.0, -7.5];
        let mut out = [0.0; 3];
        s.apply(&raw, &mut out).unwrap();
        for j in 0..3 {
            assert_eq!(out[j].to_bits(), ((raw[j] - mean[j]) / std[j]).to_bits());
        }
    }

    #[test]
    fn bad_tables_and_inputs_are_errors_not_panics() {
        let ok = [1.0f32, 2.0];
        assert_eq!(
            Standardisation::new(&ok, &[1.0]),
            Err(PleError::Standardisation)
        );
        assert_eq!(
            Standardisation::new(&ok, &[1.0, 0.0]),
            Err(PleError::Standardisation)
        );
        assert_eq!(
            Standardisation::new(&[f32::NAN, 0.0], &ok),
            Err(PleError::Standardisation)
        );
        assert_eq!(
            Standardisation::new(&ok, &[1.0, f32::INFINITY]),
            Err(PleError::Standardisation)
        );
        let s = Standardisation::new(&ok, &ok).unwrap();
        let mut out = [7.0; 2];
        assert_eq!(s.apply(&[1.0], &mut out), Err(PleError::InputLength));
        assert_eq!(
            s.apply(&[1.0, f32::NAN], &mut out),
            Err(PleError::NonFiniteInput { index: 1 })
        );
        assert_eq!(out, [7.0; 2]);
    }
}
