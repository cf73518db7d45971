//! Where the workspace, the data and the test artefacts are.

use std::path::{Path, PathBuf};

/// The workspace root (the directory holding the root `Cargo.toml`).
pub fn workspace() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map_or_else(|| here.to_path_buf(), Path::to_path_buf)
}

/// The Census data directory: `$PLE_CENSUS_DIR`, else `../shared/census` beside the checkout.
///
/// # Panics
/// When neither exists, with a message saying where to put the data.
pub fn census_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLE_CENSUS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let beside = workspace().join("../shared/census");
    assert!(
        beside.is_dir(),
        "the Census-Income data is missing: set PLE_CENSUS_DIR to the directory holding \
         census-income.data(.gz) and census-income.test(.gz), or put them in {}",
        beside.display()
    );
    beside
}

/// The directory for this crate's cached artefacts: `target/ple-tests/`.
pub fn artefacts() -> PathBuf {
    let dir = workspace().join("target/ple-tests");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    dir
}
