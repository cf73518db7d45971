//! A tiny line writer over semihosting: strings and integers, nothing else.
//!
//! `core::fmt` would pull in formatting machinery with panic paths of its own; the report
//! only needs decimal and hexadecimal integers, so it is written here without any, which
//! keeps the release ELF free of panic symbols (a test checks that). Each call composes one
//! short line in a buffer on the stack and hands it to the host in a single semihosting call,
//! and every number is a `u32`, so that no 64-bit division and no UTF-8 validation is linked:
//! all of it fits in a few hundred bytes of flash.

use crate::semihosting;

/// Bytes of one line, the terminating NUL included (longer text is cut).
const LINE: usize = 64;

/// A line being composed: ASCII bytes and room for the NUL that `SYS_WRITE0` needs.
struct Line {
    bytes: [u8; LINE],
    len: usize,
}

impl Line {
    fn new() -> Self {
        Line {
            bytes: [0; LINE],
            len: 0,
        }
    }

    #[inline(never)]
    fn push(&mut self, text: &[u8]) -> &mut Self {
        for &b in text {
            // The last byte stays NUL; a NUL inside the text would end the host's string
            // early, so it is shown as '?'.
            if let Some(slot) = self.bytes.get_mut(self.len).filter(|_| self.len + 1 < LINE) {
                *slot = if b == 0 { b'?' } else { b };
                self.len += 1;
            }
        }
        self
    }

    #[inline(never)]
    fn decimal(&mut self, value: u32) -> &mut Self {
        let mut digits = [0u8; 10];
        let mut start = digits.len();
        let mut rest = value;
        while let Some(slot) = start.checked_sub(1).and_then(|i| digits.get_mut(i)) {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
            start -= 1;
            if rest == 0 {
                break;
            }
        }
        self.push(digits.get(start..).unwrap_or(&[]))
    }

    #[inline(never)]
    fn hex(&mut self, value: u32) -> &mut Self {
        let mut text = *b"0x00000000";
        for (i, slot) in text.iter_mut().skip(2).enumerate() {
            let nibble = ((value >> (28 - 4 * i)) & 0xF) as u8;
            *slot = if nibble < 10 {
                b'0' + nibble
            } else {
                b'a' + nibble - 10
            };
        }
        self.push(&text)
    }

    #[inline(never)]
    fn send(&self) {
        semihosting::write0(&self.bytes);
    }
}

/// Prints `text` (up to 63 bytes).
pub fn str(text: &str) {
    Line::new().push(text.as_bytes()).send();
}

/// Prints `value` as `0x` and eight hexadecimal digits.
pub fn hex32(value: u32) {
    Line::new().hex(value).send();
}

/// Prints one `key=value` line with a decimal value.
pub fn field(key: &str, value: u32) {
    Line::new()
        .push(key.as_bytes())
        .push(b"=")
        .decimal(value)
        .push(b"\n")
        .send();
}

/// Prints one `key=text` line.
pub fn text_field(key: &str, text: &str) {
    Line::new()
        .push(key.as_bytes())
        .push(b"=")
        .push(text.as_bytes())
        .push(b"\n")
        .send();
}
