//! `ple-core`: inference for PLE (Progressive Layered Extraction) multi-task models, for
//! microcontrollers, desktops and C programs alike.
//!
//! The crate is `#![no_std]` and never allocates. [`shape`] describes a network; the rest of
//! the crate runs one.
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]

#[cfg(any(feature = "std", test))]
extern crate std;

pub mod shape;

pub mod capi;
pub mod error;
mod forward;
pub mod input;
pub mod int8;
pub mod kernels;
pub mod model;
pub mod packed;
pub mod weight;

pub use error::PleError;
pub use input::{Input, InputLayout, UNKNOWN_CATEGORY};
pub use model::{check_model, ModelF16, ModelF32, PleModel};
pub use packed::{gates_len, pack_f16, pack_f32, packed_len, scratch_len};
pub use shape::{PleShape, ShapeError, PADDLEREC_DEFAULT};
pub use weight::Weight;
