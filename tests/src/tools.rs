//! The external programs the end-to-end tests run, and what to install when one is missing.
//!
//! A missing tool fails the test with the install command, never skips it: a skipped QEMU
//! test would look green without having checked anything.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A program on `PATH`, and how to get it on Debian/Ubuntu.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tool {
    /// Executable name.
    pub program: &'static str,
    /// The command that installs it.
    pub install: &'static str,
}

/// QEMU for the Arm boards (MPS2 AN386/AN500, micro:bit).
pub const QEMU_ARM: Tool = Tool {
    program: "qemu-system-arm",
    install: "apt-get install qemu-system-arm",
};
/// QEMU for RISC-V (`virt`).
pub const QEMU_RISCV32: Tool = Tool {
    program: "qemu-system-riscv32",
    install: "apt-get install qemu-system-misc",
};
/// The Arm bare-metal C compiler with newlib (for the C firmware).
pub const ARM_GCC: Tool = Tool {
    program: "arm-none-eabi-gcc",
    install: "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi",
};
/// The host C compiler.
pub const GCC: Tool = Tool {
    program: "gcc",
    install: "apt-get install gcc",
};
/// `timeout`, which bounds every emulator run.
pub const TIMEOUT: Tool = Tool {
    program: "timeout",
    install: "apt-get install coreutils",
};

/// Where `tool` is.
///
/// # Panics
/// When it is not on `PATH`, saying what to install.
pub fn require(tool: Tool) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(tool.program))
            .find(|p| p.is_file())
    });
    match found {
        Some(path) => path,
        None => panic!(
            "`{}` is needed by this test and is not on PATH; install it with `{}` \
             (.ci/run does this)",
            tool.program, tool.install
        ),
    }
}

/// A Rust target's standard library must be installed to build the firmware for it.
///
/// # Panics
/// When `rustup` lists the target as not installed, saying how to add it.
pub fn require_rust_target(triple: &str) {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if let Ok(output) = output {
        let listed = String::from_utf8_lossy(&output.stdout);
        assert!(
            listed.lines().any(|l| l.trim() == triple),
            "the Rust target {triple} is not installed; run `rustup target add {triple}` \
             (.ci/run does this)"
        );
    }
}

/// An LLVM tool shipped with the Rust toolchain (`llvm-size`, `llvm-nm`).
///
/// # Panics
/// When the `llvm-tools` component is missing, saying how to add it.
pub fn llvm_tool(name: &str) -> PathBuf {
    let sysroot = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let bin = PathBuf::from(sysroot)
        .join("lib/rustlib")
        .join(host_triple())
        .join("bin");
    let path = bin.join(name);
    assert!(
        path.is_file(),
        "{name} is missing from {}; run `rustup component add llvm-tools` (.ci/run does this)",
        bin.display()
    );
    path
}

fn host_triple() -> String {
    let output = Command::new("rustc").arg("-vV").output();
    let text = output
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or("x86_64-unknown-linux-gnu")
        .to_owned()
}

/// Runs `command` and returns its output.
///
/// # Panics
/// When it cannot be started, or exits unsuccessfully: the message shows the command line and
/// everything it printed.
pub fn run(command: &mut Command) -> Output {
    let output = run_unchecked(command);
    assert!(
        output.status.success(),
        "{:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        command,
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `command` and returns its output, whatever its exit status.
///
/// # Panics
/// When it cannot be started.
pub fn run_unchecked(command: &mut Command) -> Output {
    match command.output() {
        Ok(output) => output,
        Err(e) => panic!("cannot run {command:?}: {e}"),
    }
}
