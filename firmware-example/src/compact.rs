//! The compact form of the embedded int8 test rows, and its decoder.
//!
//! The rows cost flash like the model does, so the build script stores them as one bit
//! stream instead of arrays of `i32` and `u16` (114 bytes a row before, about 21 now). The
//! stream starts with one code per column, then holds the rows back to back:
//!
//! - a column code is: the payload width (5 bits), a left shift (5 bits), a base value
//!   (6 bits of length, then that many bits of the zigzag-encoded base), whether the column
//!   has a usual value (1 bit) and if so that value's payload (width bits);
//! - a value is `base + (payload << shift)`; in a column with a usual value, a 0 bit stands
//!   for the usual value and a 1 bit is followed by the payload.
//!
//! Most Census columns hold one value in most rows ("not in universe", zero capital gains),
//! the int8 model's numeric inputs are multiples of `2^12` for integer columns (hence the
//! shift), and category indices need a few bits each. The columns are, in order: the numeric
//! inputs (fixed point), the category indices, the host's Q16 logits and the host's Q15
//! probabilities. A probability is stored as its difference from [`rough_sigmoid_q15`] of the
//! host's logit, a few bits where the probability itself takes fifteen; adding that
//! difference back gives the host's probability exactly, whatever the estimate, so the check
//! stays bit for bit. The estimate deliberately is not ple-core's sigmoid: with it, the
//! stored difference would be zero and the device would compare its sigmoid with itself.
//!
//! The build script encodes with its own writer and decodes everything again with this very
//! module before it writes the fixture; the device decodes each row outside the counted
//! inference. A stream that ends early reads as zeros and is reported, never a panic.

/// Bits of a column code's payload width and shift.
pub const FIELD_BITS: u32 = 5;
/// Bits of the length of a column code's zigzag base.
pub const LENGTH_BITS: u32 = 6;
/// Logit step between two knots of the probability estimate: `2^14` in Q16, a quarter.
pub const KNOT_STEP_LOG2: u32 = 14;

/// Reads values of up to 32 bits, least significant bit first, from a byte slice.
pub struct BitReader<'a> {
    bytes: &'a [u8],
    position: usize,
    /// Whether a read went past the end (it then returned zero bits).
    pub overran: bool,
}

impl<'a> BitReader<'a> {
    /// A reader at bit `position` of `bytes`.
    pub fn new(bytes: &'a [u8], position: usize) -> Self {
        BitReader {
            bytes,
            position,
            overran: false,
        }
    }

    /// The next bit position.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The next `count` bits (at most 32; more are not read) as an unsigned value.
    pub fn read(&mut self, count: u32) -> u32 {
        let mut value = 0u32;
        for bit in 0..count.min(32) {
            let byte = match self.bytes.get(self.position >> 3) {
                Some(&byte) => byte,
                None => {
                    self.overran = true;
                    0
                }
            };
            value |= u32::from((byte >> (self.position & 7)) & 1) << bit;
            self.position += 1;
        }
        value
    }
}

/// How one column's values are stored (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnCode {
    /// Bits of a value's payload.
    pub width: u32,
    /// Left shift of the payload.
    pub shift: u32,
    /// The smallest value of the column.
    pub base: i32,
    /// The payload of the column's usual value, which then takes a single bit.
    pub usual: Option<u32>,
}

impl ColumnCode {
    /// Reads a column code from the stream's header.
    pub fn read(header: &mut BitReader<'_>) -> Self {
        let width = header.read(FIELD_BITS);
        let shift = header.read(FIELD_BITS);
        let length = header.read(LENGTH_BITS);
        let base = unzigzag(header.read(length));
        let usual = if header.read(1) == 1 {
            Some(header.read(width))
        } else {
            None
        };
        ColumnCode {
            width,
            shift,
            base,
            usual,
        }
    }

    /// The value whose payload is `payload`.
    pub fn value(&self, payload: u32) -> i32 {
        self.base
            .wrapping_add(payload.wrapping_shl(self.shift) as i32)
    }

    /// Reads one value of this column from a row.
    pub fn decode(&self, row: &mut BitReader<'_>) -> i32 {
        let payload = match self.usual {
            Some(usual) if row.read(1) == 0 => usual,
            _ => row.read(self.width),
        };
        self.value(payload)
    }
}

/// Zigzag decoding: 0, 1, 2, 3, ... stand for 0, -1, 1, -2, ...
pub fn unzigzag(z: u32) -> i32 {
    ((z >> 1) as i32) ^ -((z & 1) as i32)
}

/// A rough Q15 logistic sigmoid of a Q16 logit: linear interpolation between `knots` (the
/// sigmoid at `0, 1/4, 2/4, ...` in Q15, computed by the build script), symmetric around 0.
/// Only an estimate for storing probabilities compactly; see the module docs.
pub fn rough_sigmoid_q15(knots: &[u16], logit: i32) -> i32 {
    let magnitude = logit.unsigned_abs();
    let index = (magnitude >> KNOT_STEP_LOG2) as usize;
    let fraction = (magnitude & ((1 << KNOT_STEP_LOG2) - 1)) as i32;
    let estimate = match (knots.get(index), knots.get(index + 1)) {
        (Some(&low), Some(&high)) => {
            let (low, high) = (i32::from(low), i32::from(high));
            low + (((high - low) * fraction + (1 << (KNOT_STEP_LOG2 - 1))) >> KNOT_STEP_LOG2)
        }
        _ => knots.last().map_or(1 << 14, |&last| i32::from(last)),
    };
    if logit >= 0 {
        estimate
    } else {
        (1 << 15) - estimate
    }
}

/// The host's Q15 probability from its logit and the stored difference; `None` when the
/// sum is no Q15 probability (a corrupt stream).
pub fn probability(knots: &[u16], logit: i32, difference: i32) -> Option<u16> {
    u16::try_from(rough_sigmoid_q15(knots, logit).wrapping_add(difference))
        .ok()
        .filter(|&p| p <= 1 << 15)
}

/// The rows of a stream, one after the other.
pub struct Rows<'a> {
    bytes: &'a [u8],
    /// Bit position of the next row (the header's end, at first).
    next: usize,
}

impl<'a> Rows<'a> {
    /// The rows of `bytes`, whose header holds `columns` column codes.
    pub fn new(bytes: &'a [u8], columns: usize) -> Self {
        let mut header = BitReader::new(bytes, 0);
        for _ in 0..columns {
            ColumnCode::read(&mut header);
        }
        Rows {
            bytes,
            next: header.position(),
        }
    }

    /// Decodes the next row, one value per column in the stream's order (numeric inputs,
    /// category indices, logits, probability differences), into `values`, which has one
    /// slot per column code; `false` when the stream ended early.
    #[inline(never)]
    pub fn next_into(&mut self, values: &mut [i32]) -> bool {
        let mut header = BitReader::new(self.bytes, 0);
        let mut row = BitReader::new(self.bytes, self.next);
        for value in values.iter_mut() {
            *value = ColumnCode::read(&mut header).decode(&mut row);
        }
        self.next = row.position();
        !(header.overran || row.overran)
    }
}
