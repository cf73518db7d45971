//! Chooses the board's memory layout.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = env::var("TARGET").unwrap_or_default();
    let board = board(&target);
    println!("cargo::rustc-check-cfg=cfg(board, values(\"mps2\", \"microbit\", \"nrf52840\", \"riscv_virt\"))");
    println!("cargo::rustc-cfg=board=\"{board}\"");
    let memory = format!("memory/{board}.x");
    println!("cargo::rerun-if-changed={memory}");
    fs::copy(&memory, out.join("memory.x")).expect("copy the memory layout");
    println!("cargo::rustc-link-search={}", out.display());
}

fn board(target: &str) -> &'static str {
    let nrf52840 = env::var_os("CARGO_FEATURE_NRF52840").is_some();
    if target.starts_with("riscv32") {
        "riscv_virt"
    } else if target.starts_with("thumbv6m") {
        "microbit"
    } else if nrf52840 {
        "nrf52840"
    } else {
        "mps2"
    }
}
