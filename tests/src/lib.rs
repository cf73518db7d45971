//! End-to-end tests across the crates: train a model, bake it with ple-codegen, run it on the
//! host, in C through the static library, and in the firmware under QEMU.
//!
//! This library holds what the tests in `tests/tests/` share: where things are ([`paths`]),
//! the external programs they need and what to install when one is missing ([`tools`]), the
//! trained model they all use ([`model`]), building and running the firmware ([`firmware`])
//! and reading a linked ELF ([`elf`]).
//!
//! Expensive artefacts (the trained model, firmware builds) are cached under
//! `target/ple-tests/`, so a second `cargo test` reuses them; the cache keys on the inputs
//! that matter (see each module).

pub mod c_program;
pub mod census_rows;
pub mod elf;
pub mod firmware;
pub mod model;
pub mod paths;
pub mod tools;
