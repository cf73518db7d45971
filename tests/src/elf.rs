//! Reading a linked firmware ELF: section sizes and symbols, with the Rust toolchain's LLVM
//! tools.

use std::path::Path;
use std::process::Command;

use crate::tools;

/// Sizes of a firmware image, in bytes, from its allocated sections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Code (`.vector_table`, `.text`, `.init`, `.trap`).
    pub text: u64,
    /// Constants (`.rodata`, `.srodata`).
    pub rodata: u64,
    /// Initialised statics (`.data`, `.sdata`): in flash and in RAM.
    pub data: u64,
    /// Zeroed and uninitialised statics (`.bss`, `.sbss`, `.uninit`).
    pub bss: u64,
}

impl Sizes {
    /// Bytes of flash: code, constants and the initial values of `.data`.
    pub fn flash(&self) -> u64 {
        self.text + self.rodata + self.data
    }

    /// Bytes of static RAM (the stack comes on top).
    pub fn static_ram(&self) -> u64 {
        self.data + self.bss
    }
}

/// Section sizes of `elf`, from `llvm-size -A`.
pub fn sizes(elf: &Path) -> Sizes {
    let output = tools::run(
        Command::new(tools::llvm_tool("llvm-size"))
            .arg("-A")
            .arg(elf),
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let mut sizes = Sizes::default();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(name), Some(size)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(size) = size.parse::<u64>() else {
            continue;
        };
        let slot = match name {
            ".vector_table" | ".text" | ".init" | ".trap" => &mut sizes.text,
            ".rodata" | ".srodata" => &mut sizes.rodata,
            ".data" | ".sdata" => &mut sizes.data,
            ".bss" | ".sbss" | ".uninit" => &mut sizes.bss,
            _ => continue,
        };
        *slot += size;
    }
    sizes
}

/// One defined symbol: its (demangled) name and size in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// Demangled name.
    pub name: String,
    /// Size in bytes (0 when the ELF does not record one).
    pub size: u64,
}

/// Every symbol of `elf`, demangled, from `llvm-nm -C -S`.
pub fn symbols(elf: &Path) -> Vec<Symbol> {
    let output = tools::run(
        Command::new(tools::llvm_tool("llvm-nm"))
            .args(["-C", "-S"])
            .arg(elf),
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            // "address size type name" or, without a size, "address type name".
            let fields: Vec<&str> = line.splitn(4, ' ').collect();
            match fields.as_slice() {
                [_, size, kind, name] if kind.len() == 1 => Some(Symbol {
                    name: (*name).to_owned(),
                    size: u64::from_str_radix(size, 16).unwrap_or(0),
                }),
                [_, _, name] => Some(Symbol {
                    name: (*name).to_owned(),
                    size: 0,
                }),
                _ => None,
            }
        })
        .collect()
}

/// Symbols whose names show a panic path: the core panic machinery, bounds-check and
/// unwrap failures, and the panic handler itself.
pub fn panic_symbols(symbols: &[Symbol]) -> Vec<String> {
    const MARKERS: [&str; 6] = [
        "panic",
        "rust_begin_unwind",
        "slice_index_fail",
        "slice_end_index_len_fail",
        "unwrap_failed",
        "expect_failed",
    ];
    symbols
        .iter()
        .filter(|s| MARKERS.iter().any(|m| s.name.contains(m)))
        .map(|s| s.name.clone())
        .collect()
}
