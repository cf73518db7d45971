//! `ple-codegen`: the bridge from a trained model file to a device.
//!
//! It owns the model file format: the trainer writes through it and codegen reads and
//! validates through it, so the two cannot disagree about a tensor name or a metadata key.
//!
//! - [`model_file`]: `model.safetensors`, its tensor names and metadata keys, defensive
//!   loading ([`ModelFile::load`]) and atomic, deterministic saving ([`ModelFile::save`]).
//! - [`fold`]: folding the numeric standardisation into the first layers, so that deployed
//!   models take raw values.
//! - [`codegen`]: baking a model into Rust (`include!`-able, static arrays for ple-core) or a
//!   C header and source, at f32 or f16.
//! - [`feature_spec`]: how a raw record becomes the model's input.

pub mod codegen;
pub mod feature_spec;
pub mod fold;
pub mod model_file;
pub mod quantise;
#[cfg(test)]
mod reference;

pub use feature_spec::{CategoricalField, FeatureSpec, Normalisation, NumericColumn, TaskLabel};
pub use fold::{fold_normalisation, FoldError};
pub use model_file::{ModelConfig, ModelFile, ModelFileError};
