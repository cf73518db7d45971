//! Folding the numeric standardisation into the network, so that a deployed model takes raw
//! values and a device never needs the means and standard deviations: the option
//! [`BakeOptions::fold_normalisation`](crate::codegen::BakeOptions) (`--fold-normalisation`)
//! for f32 and f16, always for int8 ([`crate::quantise`]). By default f32 and f16 models keep
//! the weights as trained and standardise on the device, for the reason below.
//!
//! The trainer feeds numeric column `j` as `(x_j - mean_j) / std_j`. Only the layers that read
//! the model input see it: at level 0, the first layer of every expert (task-specific and
//! shared), every task gate and the shared gate. For each such layer with weights `W` and
//! bias `b`,
//!
//! ```text
//! W x' + b = sum_j W_j (x_j - mean_j) / std_j + ...
//!          = sum_j (W_j / std_j) x_j + (b - sum_j W_j mean_j / std_j) + ...
//! ```
//!
//! so `W'_j = W_j / std_j` on the numeric columns and `b' = b - sum_j W_j mean_j / std_j`
//! compute exactly the same function of the raw input. The sums are taken in f64 and rounded
//! once, so folding adds at most about one f32 rounding per parameter. Numeric columns are the
//! first `mean.len()` dense columns (see [`FeatureSpec`](crate::FeatureSpec)).
//!
//! # What folding costs
//!
//! The same function is not the same arithmetic. A column whose mean is large against its
//! std turns into two large terms that cancel: Census's `year` (94 or 95, mean 94.5, std
//! 0.5) adds about `-189 · W` to the folded bias and `x · 2W ≈ 189 · W` to each sum, so the
//! rounding errors of the first layer are those of values some 190 times larger than the
//! result. Measured on the whole test split (49,881 rows) against the trainer: f32 folded
//! 3.3e-6 (a 1-epoch model) and 1.1e-6 (fully trained) at most per probability, against
//! 4.5e-7 and 3.0e-7 with the same weights unfolded and the inputs standardised on the
//! device ([`ple_core::normalise`]); f16 folded 3.8e-3 and 5.5e-3 from f32, unfolded 4.1e-4
//! and 4.8e-4. Rounding only the folded first-layer biases to f16 already moves
//! probabilities by 1.8e-3, and only the numeric weights by 5.0e-3: the error is the
//! cancellation, not f16 as such. That is why baked f32 and f16 models keep the weights
//! unfolded and standardise on the device; folding saves only the two tables (8 bytes per
//! numeric column) and one subtraction and one division per column and prediction.

use std::fmt;

use ple_core::shape::{Block, Param};
use ple_core::PleShape;

use crate::feature_spec::Normalisation;
use crate::model_file::{parameter_ranges, ModelFile};

/// Why a normalisation could not be folded.
#[derive(Clone, Debug, PartialEq)]
pub enum FoldError {
    /// The parameter vector does not have the shape's parameter count.
    ParameterCount { expected: usize, found: usize },
    /// `mean` and `std` differ in length, or cover more columns than the input has.
    Length {
        mean: usize,
        std: usize,
        input_dim: u32,
    },
    /// A mean is not finite, or a std is not finite and positive.
    Value { column: usize, mean: f32, std: f32 },
    /// A folded parameter of the named tensor would not be finite (a std too close to 0).
    NonFinite { tensor: String },
}

impl fmt::Display for FoldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FoldError::ParameterCount { expected, found } => {
                write!(
                    f,
                    "cannot fold: the shape has {expected} parameters, the model {found}"
                )
            }
            FoldError::Length {
                mean,
                std,
                input_dim,
            } => write!(
                f,
                "cannot fold: {mean} means and {std} stds for an input of width {input_dim}"
            ),
            FoldError::Value { column, mean, std } => write!(
                f,
                "cannot fold: numeric column {column} has mean {mean} and std {std}"
            ),
            FoldError::NonFinite { tensor } => write!(
                f,
                "cannot fold: tensor `{tensor}` would hold a non-finite value"
            ),
        }
    }
}

impl std::error::Error for FoldError {}

/// Whether `block` reads the model input (and so sees the standardised numeric columns).
fn reads_model_input(block: Block) -> bool {
    matches!(
        block,
        Block::TaskExpert {
            level: 0,
            layer: 0,
            ..
        } | Block::SharedExpert {
            level: 0,
            layer: 0,
            ..
        } | Block::TaskGate { level: 0, .. }
            | Block::SharedGate { level: 0 }
    )
}

/// Folds `normalisation` into `parameters` (flat, canonical order of `shape`), so that the
/// network computes on raw numeric values what it computed on standardised ones.
///
/// On error `parameters` is left unchanged.
pub fn fold_normalisation(
    shape: &PleShape<'_>,
    parameters: &mut [f32],
    normalisation: &Normalisation,
) -> Result<(), FoldError> {
    let expected = shape.parameter_count();
    if parameters.len() != expected {
        return Err(FoldError::ParameterCount {
            expected,
            found: parameters.len(),
        });
    }
    let (mean, std) = (&normalisation.mean, &normalisation.std);
    if mean.len() != std.len() || mean.len() > shape.input_dim as usize {
        return Err(FoldError::Length {
            mean: mean.len(),
            std: std.len(),
            input_dim: shape.input_dim,
        });
    }
    for (column, (&m, &s)) in mean.iter().zip(std).enumerate() {
        if !m.is_finite() || !s.is_finite() || s <= 0.0 {
            return Err(FoldError::Value {
                column,
                mean: m,
                std: s,
            });
        }
    }

    // Compute every folded tensor first, write them only when all are finite.
    let mut folded = Vec::new();
    let ranges = parameter_ranges(shape);
    for pair in ranges.chunks_exact(2) {
        let [(weight, w_range), (bias, b_range)] = pair else {
            continue;
        };
        debug_assert!(weight.param == Param::Weight && bias.param == Param::Bias);
        if !reads_model_input(weight.layer.block) {
            continue;
        }
        let inputs = weight.layer.inputs as usize;
        let mut w = parameters[w_range.clone()].to_vec();
        let mut b = parameters[b_range.clone()].to_vec();
        for (row, bias_value) in w.chunks_exact_mut(inputs).zip(b.iter_mut()) {
            let mut shift = 0f64;
            for (j, value) in row.iter_mut().take(mean.len()).enumerate() {
                let scaled = f64::from(*value) / f64::from(std[j]);
                shift += scaled * f64::from(mean[j]);
                *value = scaled as f32;
            }
            *bias_value = (f64::from(*bias_value) - shift) as f32;
        }
        if w.iter().chain(&b).any(|v| !v.is_finite()) {
            return Err(FoldError::NonFinite {
                tensor: weight.layer.block.to_string(),
            });
        }
        folded.push((w_range.clone(), w));
        folded.push((b_range.clone(), b));
    }
    for (range, values) in folded {
        parameters[range].copy_from_slice(&values);
    }
    Ok(())
}

impl ModelFile {
    /// Folds the model's normalisation (if any) into its parameters and drops it, so the model
    /// takes raw numeric values. A model without normalisation is left as it is.
    pub fn fold_normalisation(&mut self) -> Result<(), FoldError> {
        if let Some(normalisation) = &self.normalisation {
            fold_normalisation(&self.config.shape(), &mut self.parameters, normalisation)?;
            self.normalisation = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use ple_core::shape::PADDLEREC_DEFAULT;
    use proptest::prelude::*;

    fn shapes() -> [PleShape<'static>; 3] {
        [
            PleShape {
                input_dim: 12,
                expert_units: &[6],
                tower_units: &[4],
                ..PADDLEREC_DEFAULT
            },
            PleShape {
                input_dim: 9,
                levels: 3,
                expert_units: &[5, 4],
                tower_units: &[],
                ..PADDLEREC_DEFAULT
            },
            PleShape {
                input_dim: 7,
                tasks: 1,
                experts_per_task: 0,
                shared_experts: 3,
                ..PADDLEREC_DEFAULT
            },
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn folded_model_on_raw_input_matches_unfolded_model_on_standardised_input(
            which in 0usize..3,
            seed in any::<u64>(),
            numeric in 0usize..6,
        ) {
            let shape = shapes()[which];
            let mut params = reference::random_parameters(&shape, seed);
            let mut rng = reference::SplitMix(seed ^ 0x5eed);
            let mean: Vec<f32> = (0..numeric).map(|_| rng.uniform() * 50.0).collect();
            let std: Vec<f32> = (0..numeric).map(|_| 0.1 + rng.uniform().abs() * 20.0).collect();
            let norm = Normalisation { mean, std };
            let raw: Vec<f32> = (0..shape.input_dim as usize)
                .map(|j| if j < numeric { norm.mean[j] + rng.uniform() * 3.0 * norm.std[j] } else { f32::from(rng.uniform() > 0.0) })
                .collect();
            let standardised: Vec<f32> = raw
                .iter()
                .enumerate()
                .map(|(j, &x)| if j < numeric { (x - norm.mean[j]) / norm.std[j] } else { x })
                .collect();
            let expected = reference::forward(&shape, &params, &standardised);
            fold_normalisation(&shape, &mut params, &norm).unwrap();
            let actual = reference::forward(&shape, &params, &raw);
            for (a, e) in actual.iter().zip(&expected) {
                prop_assert!((a - e).abs() <= 1e-4, "folded {a} vs unfolded {e}");
            }
        }
    }

    #[test]
    fn folding_touches_only_layers_that_read_the_model_input() {
        let shape = shapes()[1];
        let original = reference::random_parameters(&shape, 7);
        let mut params = original.clone();
        let norm = Normalisation {
            mean: vec![3.0, -2.0],
            std: vec![4.0, 0.5],
        };
        fold_normalisation(&shape, &mut params, &norm).unwrap();
        for (tensor, range) in parameter_ranges(&shape) {
            let changed = params[range.clone()] != original[range];
            assert_eq!(changed, reads_model_input(tensor.layer.block), "{tensor}");
        }
    }

    #[test]
    fn bad_normalisations_are_refused_and_leave_parameters_unchanged() {
        let shape = shapes()[0];
        let original = reference::random_parameters(&shape, 1);
        let mut params = original.clone();
        let zero_std = Normalisation {
            mean: vec![1.0],
            std: vec![0.0],
        };
        assert!(matches!(
            fold_normalisation(&shape, &mut params, &zero_std),
            Err(FoldError::Value { column: 0, .. })
        ));
        let ragged = Normalisation {
            mean: vec![1.0, 2.0],
            std: vec![1.0],
        };
        assert!(matches!(
            fold_normalisation(&shape, &mut params, &ragged),
            Err(FoldError::Length { .. })
        ));
        let tiny = Normalisation {
            mean: vec![0.0],
            std: vec![1e-45],
        };
        assert!(matches!(
            fold_normalisation(&shape, &mut params, &tiny),
            Err(FoldError::NonFinite { .. })
        ));
        assert_eq!(params, original);
        let mut short = vec![0.0; 3];
        let ok = Normalisation {
            mean: vec![0.0],
            std: vec![1.0],
        };
        assert!(matches!(
            fold_normalisation(&shape, &mut short, &ok),
            Err(FoldError::ParameterCount { .. })
        ));
    }
}
