//! Building `firmware-example` for a board and precision, running it under QEMU, and reading
//! its semihosting report.
//!
//! Builds share one target directory, `target/ple-tests/firmware`, so a second run only
//! relinks what changed. The firmware crate picks the model, precision and row count from
//! environment variables its build script reads; builds are serialised (one lock per process)
//! and each ELF is copied out under a name of its own before the next build can replace it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::{paths, tools};

/// Numeric precision of the baked model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// `f32` weights.
    F32,
    /// `f16` weights, `f32` arithmetic.
    F16,
    /// `int8` weights, integer arithmetic.
    Int8,
}

impl Precision {
    /// The name `PLE_PRECISION` takes.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        }
    }
}

/// A board QEMU emulates, with the Rust target the firmware is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// Short name used in reports and file names.
    pub name: &'static str,
    /// Rust target triple.
    pub target: &'static str,
    /// The QEMU program.
    pub qemu: tools::Tool,
    /// QEMU arguments before `-kernel ELF`.
    pub qemu_args: &'static [&'static str],
}

/// Cortex-M4F on the MPS2 AN386 image: the default board of `cargo run --release`.
pub const CORTEX_M4F: Board = Board {
    name: "cortex-m4f",
    target: "thumbv7em-none-eabihf",
    qemu: tools::QEMU_ARM,
    qemu_args: &[
        "-cpu",
        "cortex-m4",
        "-machine",
        "mps2-an386",
        "-icount",
        "shift=10",
    ],
};
/// Cortex-M7 on the MPS2 AN500 image (the same ELF as the Cortex-M4F).
pub const CORTEX_M7: Board = Board {
    name: "cortex-m7",
    target: "thumbv7em-none-eabihf",
    qemu: tools::QEMU_ARM,
    qemu_args: &[
        "-cpu",
        "cortex-m7",
        "-machine",
        "mps2-an500",
        "-icount",
        "shift=10",
    ],
};
/// Cortex-M0 on the BBC micro:bit (nRF51): no FPU, so int8 only.
pub const CORTEX_M0: Board = Board {
    name: "cortex-m0",
    target: "thumbv6m-none-eabi",
    qemu: tools::QEMU_ARM,
    qemu_args: &[
        "-cpu",
        "cortex-m0",
        "-machine",
        "microbit",
        "-icount",
        "shift=10",
    ],
};
/// RV32IMAC on QEMU's `virt` machine.
pub const RISCV32: Board = Board {
    name: "riscv32imac",
    target: "riscv32imac-unknown-none-elf",
    qemu: tools::QEMU_RISCV32,
    qemu_args: &["-machine", "virt", "-bios", "none", "-icount", "shift=0"],
};

/// What to bake into a firmware build.
#[derive(Clone, Debug)]
pub struct BuildRequest<'a> {
    /// Board (for its Rust target).
    pub board: Board,
    /// Precision of the baked model.
    pub precision: Precision,
    /// The trained model file.
    pub model: &'a Path,
    /// Test rows the firmware checks.
    pub rows: usize,
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// The firmware crate's directory.
pub fn crate_dir() -> PathBuf {
    paths::workspace().join("firmware-example")
}

/// Builds the firmware (release profile) and returns the path of a copy of its ELF that no
/// later build overwrites.
///
/// # Panics
/// When the Rust target is missing or the build fails (the message shows cargo's output).
pub fn build(request: &BuildRequest<'_>) -> PathBuf {
    tools::require_rust_target(request.board.target);
    let target_dir = paths::artefacts().join("firmware");
    let _guard = BUILD_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tools::run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(crate_dir())
            .args(["build", "--release", "--target", request.board.target])
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("PLE_MODEL", request.model)
            .env("PLE_PRECISION", request.precision.name())
            .env("PLE_CENSUS_DIR", paths::census_dir())
            .env("PLE_TEST_ROWS", request.rows.to_string())
            // The outer test run's flags are meant for the host, not the firmware.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
    );
    let built = target_dir
        .join(request.board.target)
        .join("release/firmware-example");
    let copy = target_dir.join(format!(
        "firmware-{}-{}-{}.elf",
        request.board.target,
        request.precision.name(),
        request.rows
    ));
    if let Err(e) = std::fs::copy(&built, &copy) {
        panic!("cannot copy {} to {}: {e}", built.display(), copy.display());
    }
    copy
}

/// What the firmware printed and how it ended.
#[derive(Clone, Debug)]
pub struct Report {
    /// Every `key=value` line after the `PLE-FIRMWARE` banner.
    pub fields: BTreeMap<String, String>,
    /// QEMU's exit status (the firmware's semihosting exit code), `None` if killed.
    pub exit_code: Option<i32>,
    /// Everything printed, for failure messages.
    pub console: String,
}

impl Report {
    /// The value of `key`.
    ///
    /// # Panics
    /// When the report has no such field, showing the whole console output.
    pub fn text(&self, key: &str) -> &str {
        match self.fields.get(key) {
            Some(value) => value,
            None => panic!("the firmware report has no `{key}`:\n{}", self.console),
        }
    }

    /// The value of `key` as an integer.
    ///
    /// # Panics
    /// When the field is missing or not an integer.
    pub fn number(&self, key: &str) -> u64 {
        let text = self.text(key);
        match text.parse() {
            Ok(n) => n,
            Err(_) => panic!("`{key}={text}` is not an integer:\n{}", self.console),
        }
    }
}

/// Parses the console output of a firmware run.
pub fn parse_report(console: &str, exit_code: Option<i32>) -> Report {
    let fields = console
        .lines()
        .skip_while(|line| line.trim() != "PLE-FIRMWARE")
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Report {
        fields,
        exit_code,
        console: console.to_owned(),
    }
}

/// Runs `elf` on `board` under QEMU (with semihosting, under `timeout`) and parses the report.
///
/// # Panics
/// When QEMU or `timeout` is missing.
pub fn run(board: Board, elf: &Path, timeout_seconds: u32) -> Report {
    let qemu = tools::require(board.qemu);
    let output = tools::run_unchecked(
        Command::new(tools::require(tools::TIMEOUT))
            .arg(timeout_seconds.to_string())
            .arg(qemu)
            .args(board.qemu_args)
            .args(["-nographic", "-monitor", "none", "-serial", "none"])
            .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
            .arg(elf),
    );
    let mut console = String::from_utf8_lossy(&output.stdout).into_owned();
    console.push_str(&String::from_utf8_lossy(&output.stderr));
    parse_report(&console, output.status.code())
}
