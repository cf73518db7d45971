//! `ple-core`: inference for PLE (Progressive Layered Extraction) multi-task models, for
//! microcontrollers, desktops and C programs alike.
//!
//! The crate is `#![no_std]`, never allocates and does not panic on its inference paths.
//! [`shape`] describes a network; the rest of the crate runs one.
//!
//! # A model is borrowed data
//!
//! A [`PleModel`] is three borrowed parts: the [`PleShape`], the [`InputLayout`] (how many
//! numeric columns, and the vocabulary size of each categorical field) and the weights, as
//! `&[f32]` ([`ModelF32`]) or `&[half::f16]` ([`ModelF16`]). Generated code keeps all three
//! in `static`s, so a firmware holds its model in flash without a copy. The constructor is a
//! `const fn` that validates the parts; [`check_model`] does the same check inside a
//! `const _: () = assert!(..)` so that a generated model that does not fit its shape fails to
//! compile. The int8 engine ([`int8`]) follows the same pattern with integer weights.
//!
//! # The packed layout
//!
//! The trainer stores each layer `[outputs, inputs]`, one tensor at a time. The engine runs
//! on a *packed* permutation of the same values, built once on the host with [`pack_f32`] or
//! [`pack_f16`] and described in [`packed`]: each layer transposed to `[inputs, outputs]`,
//! and all layers that read the same input side by side. At level 0 that puts the first
//! layer of every expert and every gate into one matrix whose row `i` is everything input
//! column `i` contributes to. The forward pass reads the packed slice strictly front to back.
//!
//! # Raw numeric values, standardised on the device
//!
//! The trainer feeds numeric column `j` as `(x_j - mean_j) / std_j`. A model given those
//! tables ([`PleModel::with_standardisation`], a `const fn`; `numeric_mean` / `numeric_std`
//! in the C structs) takes raw values and standardises them itself, in the trainer's f32
//! operations ([`normalise`]), before the first layer: its outputs then match the trainer's
//! to within 1e-6 (f32). This is how ple-codegen bakes f32 and f16 models by default.
//! Folding the standardisation into the first layer instead (ple-codegen's
//! `--fold-normalisation`) saves the tables and one division per column but turns a column
//! whose mean is large against its std into large terms that cancel, a few 1e-6 of error in
//! f32 and up to 4e-3 in f16. The standardised values live in the part of the scratch the
//! first layer does not write, so [`scratch_len`] is the same with or without tables.
//!
//! # Why the sparse input
//!
//! A Census-Income record is 11 numbers and 29 categories, a 499-wide dense vector of which
//! 93% are zeros. [`Input::Sparse`] takes the numbers and one category index per field;
//! the first group then costs 11 multiply-add rows plus one row *addition* per known
//! category, instead of 499 multiply-add rows. For the default model (a first group 138
//! wide) that is 1,518 multiply-adds and 4,002 additions, plus 432 multiply-adds for the
//! gate mixes and towers: about 6,000 operations per prediction instead of the dense
//! 69,294 multiply-adds. [`Input::Dense`] stays available, and
//! both forms give the same result: the one-hot rows are added in the same order the dense
//! product would add them, and adding a row is exactly what multiplying it by 1 does.
//!
//! # Memory
//!
//! The caller provides a scratch slice of exactly [`scratch_len`] `f32`s (a `const fn`, so a
//! firmware reserves it statically) and an output slice of one probability per task; gate
//! weights are written into a caller slice of [`gates_len`] on request. Nothing grows on the
//! stack with the model.
//!
//! # Batches
//!
//! [`PleModel::predict_batch`] runs many rows a call, in tiles of [`BATCH_TILE`] rows side
//! by side in vector lanes ([`batch`]), bit for bit what [`PleModel::predict`] gives each
//! row. Its scratch, [`batch_scratch_len`], stops growing at one tile. A service that runs
//! batches gives the model a copy of its first layer on whole cache lines once, at
//! start-up ([`PleModel::with_aligned_first_layer`], [`aligned_first_layer_len`] values of
//! caller memory, see [`aligned`]): the first layer, most of a batch row's work, then never
//! loads a vector that straddles two lines.
//!
//! # Backends
//!
//! The forward pass is written once, generic over the weight type and over a small
//! [`kernels::Kernels`] trait: a dense-layer product, a row addition and a many-row
//! addition. [`kernels::scalar`] is portable Rust; `kernels::x86_64` (AVX2 + FMA + F16C) and
//! `kernels::aarch64` (NEON) are SIMD twins whose safe constructors return `None` on a CPU
//! without the features. [`kernels::Detected`] picks the best at run time with the `std`
//! feature and from compile-time `target_feature`s without it. Every SIMD kernel is
//! property-tested against its scalar twin; `unsafe` exists only in those kernels and in the
//! C ABI.
//!
//! The aarch64 kernels are tested under emulation: with `gcc-aarch64-linux-gnu` and
//! `qemu-user` installed, `cargo test -p ple-core --target aarch64-unknown-linux-gnu` runs
//! the whole suite through `qemu-aarch64` (the workspace's `.cargo/config.toml` sets the
//! linker and runner).
//!
//! # C
//!
//! [`capi`] exposes the same engine through `extern "C"` functions and `#[repr(C)]` structs,
//! declared in `ple-core/capi/include/ple_core.h` and built into `libple_core.a` by the
//! `ple-core/capi` crate. Every argument is checked before use.
//!
//! # Example
//!
//! ```
//! use ple_core::{pack_f32, packed_len, scratch_len, Input, InputLayout, PleModel, PADDLEREC_DEFAULT};
//!
//! let shape = PADDLEREC_DEFAULT;
//! let layout = InputLayout { numeric: 11, vocab_sizes: &[300, 188] };
//! let canonical = vec![0.01f32; shape.parameter_count()]; // as the trainer saves them
//! let mut packed = vec![0.0f32; packed_len(&shape)];
//! pack_f32(&shape, &canonical, &mut packed)?;
//! let model = PleModel::new(shape, layout, &packed)?;
//!
//! let mut scratch = vec![0.0f32; scratch_len(&shape)];
//! let mut probabilities = [0.0f32; 2];
//! let input = Input::Sparse { numeric: &[0.5; 11], categories: &[17, ple_core::UNKNOWN_CATEGORY] };
//! model.predict(input, &mut scratch, &mut probabilities)?;
//! assert!(probabilities.iter().all(|p| (0.0..=1.0).contains(p)));
//! # Ok::<(), ple_core::PleError>(())
//! ```
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]

#[cfg(any(feature = "std", test))]
extern crate std;

pub mod shape;

pub mod aligned;
pub mod batch;
pub mod capi;
pub mod error;
mod forward;
pub mod input;
pub mod int8;
pub mod kernels;
pub mod model;
pub mod normalise;
pub mod packed;
pub mod weight;

/// The `half` crate, so that generated f16 models need no dependency besides this crate.
pub use half;

pub use aligned::aligned_first_layer_len;
pub use batch::{batch_scratch_len, BatchError, BatchInput, BATCH_TILE};
pub use error::PleError;
pub use input::{Input, InputLayout, UNKNOWN_CATEGORY};
pub use model::{check_model, ModelF16, ModelF32, PleModel};
pub use packed::{gates_len, pack_f16, pack_f32, packed_len, scratch_len};
pub use shape::{PleShape, ShapeError, PADDLEREC_DEFAULT};
pub use weight::{Aligned, Weight};
