//! `ple-codegen`: the bridge from a trained model file to a device.
//!
//! It owns the model file format ([`model_file`]): the trainer writes through it and codegen
//! reads and validates through it, so the two cannot disagree about a tensor name or a
//! metadata key.
