//! A tiny line writer over semihosting: strings and integers, nothing else.
//!
//! `core::fmt` would pull in formatting machinery with panic paths of its own; the report
//! only needs decimal and hexadecimal integers, so it is written here without any, which
//! keeps the release ELF free of panic symbols (a test checks that).

use crate::semihosting;

/// Prints `text`.
pub fn str(text: &str) {
    semihosting::write_str(text);
}

/// Prints `value` in decimal.
pub fn u64(value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
        start -= 1;
        if rest == 0 {
            break;
        }
    }
    bytes(digits.get(start..).unwrap_or(&[]));
}

/// Prints `value` as `0x` and eight hexadecimal digits.
pub fn hex32(value: u32) {
    let mut text = *b"0x00000000";
    for (i, slot) in text.iter_mut().skip(2).enumerate() {
        let nibble = (value >> (28 - 4 * i as u32)) & 0xF;
        *slot = b"0123456789abcdef"
            .get(nibble as usize)
            .copied()
            .unwrap_or(b'?');
    }
    bytes(&text);
}

/// Prints one `key=value` line with a decimal value.
pub fn field(key: &str, value: u64) {
    str(key);
    str("=");
    u64(value);
    str("\n");
}

fn bytes(text: &[u8]) {
    // Every byte written here is ASCII, so this never fails; an empty string if it did.
    str(core::str::from_utf8(text).unwrap_or(""));
}
