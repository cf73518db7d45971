//! The model view: a network's shape, its input layout and its packed weights, borrowed.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use half::f16;

use crate::aligned::AlignedLayer;
use crate::error::PleError;
use crate::forward;
use crate::input::{Input, InputLayout};
use crate::kernels::{Detected, Kernels};
use crate::normalise::Standardisation;
use crate::packed::{gates_len, packed_len, scratch_len};
use crate::shape::PleShape;
use crate::weight::Weight;

/// A PLE network ready to run: shape, input layout, packed weights (see
/// [`crate::packed`]) and, optionally, the standardisation of the numeric inputs, all
/// borrowed, so that generated `static` arrays back it without a copy. `W` is `f32` or
/// [`half::f16`]; arithmetic is always `f32`.
///
/// A model [with a standardisation](Self::with_standardisation) takes raw numeric values
/// and feeds the network `(x - mean) / std`, computed as the trainer does
/// ([`crate::normalise`]); one without takes the values as the network reads them
/// (standardised by the caller, or raw for weights with the standardisation folded in).
#[derive(Clone, Copy, Debug)]
pub struct PleModel<'a, W: Weight> {
    shape: PleShape<'a>,
    layout: InputLayout<'a>,
    weights: &'a [W],
    standardisation: Option<Standardisation<'a>>,
    aligned: Option<AlignedLayer<'a>>,
}

/// A model with `f32` weights: the reference precision.
pub type ModelF32<'a> = PleModel<'a, f32>;

/// A model with `f16` weights (half the flash), computed in `f32`.
pub type ModelF16<'a> = PleModel<'a, f16>;

/// Checks that a shape, an input layout and a weight count make a valid model.
///
/// A `const fn`, so that generated code whose model is known at compile time fails to compile
/// rather than fail at run time:
///
/// ```
/// use ple_core::{check_model, packed_len, InputLayout, PleShape, PADDLEREC_DEFAULT};
/// const SHAPE: PleShape<'static> = PADDLEREC_DEFAULT;
/// const LAYOUT: InputLayout<'static> = InputLayout::dense(499);
/// static WEIGHTS: [f32; packed_len(&SHAPE)] = [0.0; packed_len(&SHAPE)];
/// const _: () = assert!(check_model(&SHAPE, &LAYOUT, WEIGHTS.len()).is_ok());
/// ```
pub const fn check_model(
    shape: &PleShape<'_>,
    layout: &InputLayout<'_>,
    weights_len: usize,
) -> Result<(), PleError> {
    if let Err(e) = shape.validate() {
        return Err(PleError::Shape(e));
    }
    if let Err(e) = layout.validate_for(shape) {
        return Err(e);
    }
    if weights_len != packed_len(shape) {
        return Err(PleError::WeightsLength);
    }
    Ok(())
}

impl<'a, W: Weight> PleModel<'a, W> {
    /// Makes a model view after [checking](check_model) that the parts fit together. A
    /// `const fn`: a generated `static MODEL` can be built with
    /// `match PleModel::new(..) { Ok(m) => m, Err(_) => panic!(..) }`, which fails at compile
    /// time, not at run time.
    pub const fn new(
        shape: PleShape<'a>,
        layout: InputLayout<'a>,
        weights: &'a [W],
    ) -> Result<Self, PleError> {
        match check_model(&shape, &layout, weights.len()) {
            Ok(()) => Ok(PleModel {
                shape,
                layout,
                weights,
                standardisation: None,
                aligned: None,
            }),
            Err(e) => Err(e),
        }
    }

    /// The same model, standardising its numeric inputs on every prediction (dense and
    /// sparse, single rows and batches): numeric column `j` enters the network as
    /// `(x_j - mean_j) / std_j`. [`PleError::Standardisation`] unless the standardisation
    /// has one value per numeric column of the layout. A `const fn`, like [`new`](Self::new),
    /// so that a generated `static MODEL` carries it and is checked at compile time.
    ///
    /// It costs no scratch memory: the standardised values live in the part of the scratch
    /// that the first layer does not write.
    pub const fn with_standardisation(
        self,
        standardisation: Standardisation<'a>,
    ) -> Result<Self, PleError> {
        if standardisation.len() != self.layout.numeric as usize {
            return Err(PleError::Standardisation);
        }
        Ok(PleModel {
            standardisation: Some(standardisation),
            ..self
        })
    }

    /// The same model reading its first layer from `aligned` in batches.
    pub(crate) const fn with_aligned(self, aligned: AlignedLayer<'a>) -> Self {
        PleModel {
            aligned: Some(aligned),
            ..self
        }
    }

    /// The first layer on whole cache lines, if the model has one
    /// ([`with_aligned_first_layer`](Self::with_aligned_first_layer)).
    pub(crate) const fn aligned_first_layer(&self) -> Option<&AlignedLayer<'a>> {
        self.aligned.as_ref()
    }

    /// The standardisation the model applies to its numeric inputs, if any.
    pub const fn standardisation(&self) -> Option<&Standardisation<'a>> {
        self.standardisation.as_ref()
    }

    /// Writes the values the network sees for the raw numeric values `raw` into `out`:
    /// standardised when the model has a standardisation, copied otherwise. Both slices
    /// hold one value per numeric column ([`PleError::InputLength`]); a non-finite raw
    /// value is [`PleError::NonFiniteInput`]. For callers that run the first layer
    /// themselves; [`predict`](Self::predict) does this on its own.
    pub fn standardise_numeric(&self, raw: &[f32], out: &mut [f32]) -> Result<(), PleError> {
        match &self.standardisation {
            Some(s) => s.apply(raw, out),
            None => {
                let numeric = self.layout.numeric as usize;
                if raw.len() != numeric || out.len() != numeric {
                    return Err(PleError::InputLength);
                }
                if let Some(index) = raw.iter().position(|v| !v.is_finite()) {
                    return Err(PleError::NonFiniteInput {
                        index: index as u32,
                    });
                }
                forward::copy(raw, out);
                Ok(())
            }
        }
    }

    /// The network's shape.
    pub const fn shape(&self) -> &PleShape<'a> {
        &self.shape
    }

    /// The input layout.
    pub const fn layout(&self) -> &InputLayout<'a> {
        &self.layout
    }

    /// The packed weights.
    pub const fn weights(&self) -> &'a [W] {
        self.weights
    }

    /// Number of tasks: the length of the probability slice.
    pub const fn tasks(&self) -> usize {
        self.shape.tasks as usize
    }

    /// Exact scratch length a prediction needs, [`scratch_len`] of the shape (with or
    /// without a standardisation).
    pub const fn scratch_len(&self) -> usize {
        scratch_len(&self.shape)
    }

    /// Length of the gate slice of [`predict_with_gates`](Self::predict_with_gates),
    /// [`gates_len`] of the shape.
    pub const fn gates_len(&self) -> usize {
        gates_len(&self.shape)
    }

    /// Predicts one row: writes one probability per task into `probabilities`, using the
    /// best kernels of this CPU ([`Detected`]).
    pub fn predict(
        &self,
        input: Input<'_>,
        scratch: &mut [f32],
        probabilities: &mut [f32],
    ) -> Result<(), PleError>
    where
        Detected: Kernels<W>,
    {
        forward::run(&Detected::new(), self, input, scratch, probabilities, None)
    }

    /// Like [`predict`](Self::predict), and also writes the gate weights: for each level,
    /// each task's gate (softmax over the task's own experts, then the shared ones), then,
    /// on every level but the last, the shared gate (over every expert of the level).
    pub fn predict_with_gates(
        &self,
        input: Input<'_>,
        scratch: &mut [f32],
        probabilities: &mut [f32],
        gates: &mut [f32],
    ) -> Result<(), PleError>
    where
        Detected: Kernels<W>,
    {
        forward::run(
            &Detected::new(),
            self,
            input,
            scratch,
            probabilities,
            Some(gates),
        )
    }

    /// Predicts one row with the given kernels (e.g. [`Scalar`](crate::kernels::scalar::Scalar)
    /// to compare backends, or a [`Detected`] chosen once and kept).
    pub fn predict_using<K: Kernels<W>>(
        &self,
        kernels: &K,
        input: Input<'_>,
        scratch: &mut [f32],
        probabilities: &mut [f32],
        gates: Option<&mut [f32]>,
    ) -> Result<(), PleError> {
        forward::run(kernels, self, input, scratch, probabilities, gates)
    }
}
