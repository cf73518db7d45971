//! `ple-codegen`: the bridge from a trained model file to a device.
//!
//! It owns the model file format: the trainer writes through it and codegen reads and
//! validates through it, so the two cannot disagree about a tensor name or a metadata key.

pub mod feature_spec;

pub use feature_spec::{CategoricalField, FeatureSpec, Normalisation, NumericColumn, TaskLabel};
