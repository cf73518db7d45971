//! `ple-core`: inference for PLE (Progressive Layered Extraction) multi-task models, for
//! microcontrollers, desktops and C programs alike.
//!
//! The crate is `#![no_std]` and never allocates. [`shape`] describes a network; the rest of
//! the crate runs one.
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod shape;

pub use shape::{PleShape, ShapeError};
