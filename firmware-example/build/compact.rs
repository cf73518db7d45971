//! Writing the int8 test rows in the compact form of `src/compact.rs` (whose decoder the
//! build script shares with the firmware and runs on every row before the fixture is
//! written).

use std::fmt::Write as _;

use super::compact::{
    probability, rough_sigmoid_q15, ColumnCode, Rows, FIELD_BITS, KNOT_STEP_LOG2, LENGTH_BITS,
};
use super::fail;

/// Knots of the probability estimate: the sigmoid at `k / 4` for `k` in `0..=64`.
const KNOTS: usize = 65;

/// Appends values of up to 32 bits, least significant bit first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    fn write(&mut self, value: u32, count: u32) {
        assert!(count <= 32, "at most 32 bits at once");
        for bit in 0..count {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let last = self.bytes.last_mut().expect("a byte was pushed");
            *last |= (((value >> bit) & 1) as u8) << (self.bits % 8);
            self.bits += 1;
        }
    }
}

/// The column's code that stores `values` in the fewest bits: the smallest value as base,
/// the common power-of-two factor of the differences as shift, and a usual value when its
/// one-bit form saves more than the flag bits cost.
fn choose(values: &[i32]) -> ColumnCode {
    let base = values.iter().copied().min().unwrap_or(0);
    let offsets: Vec<u32> = values
        .iter()
        .map(|&v| v.wrapping_sub(base) as u32)
        .collect();
    let common = offsets.iter().fold(0u32, |acc, &o| acc | o);
    let shift = if common == 0 {
        0
    } else {
        common.trailing_zeros()
    };
    let payloads: Vec<u32> = offsets.iter().map(|&o| o >> shift).collect();
    let width = 32 - payloads.iter().copied().max().unwrap_or(0).leading_zeros();
    let mut counts = std::collections::BTreeMap::<u32, usize>::new();
    for &p in &payloads {
        *counts.entry(p).or_default() += 1;
    }
    let (usual, usual_count) = counts
        .iter()
        .max_by_key(|&(&p, &c)| (c, std::cmp::Reverse(p)))
        .map_or((0, 0), |(&p, &c)| (p, c));
    let plain_bits = payloads.len() * width as usize;
    let flagged_bits = payloads.len() + (payloads.len() - usual_count) * width as usize;
    ColumnCode {
        width,
        shift,
        base,
        usual: (flagged_bits + width as usize + 1 < plain_bits).then_some(usual),
    }
}

fn write_code(out: &mut BitWriter, code: &ColumnCode) {
    out.write(code.width, FIELD_BITS);
    out.write(code.shift, FIELD_BITS);
    let zigzag = ((code.base << 1) ^ (code.base >> 31)) as u32;
    let length = 32 - zigzag.leading_zeros();
    out.write(length, LENGTH_BITS);
    out.write(zigzag, length);
    out.write(u32::from(code.usual.is_some()), 1);
    if let Some(usual) = code.usual {
        out.write(usual, code.width);
    }
}

fn write_value(out: &mut BitWriter, code: &ColumnCode, value: i32) {
    let payload = (value.wrapping_sub(code.base) as u32) >> code.shift;
    debug_assert_eq!(code.value(payload), value);
    match code.usual {
        Some(usual) if usual == payload => out.write(0, 1),
        Some(_) => {
            out.write(1, 1);
            out.write(payload, code.width);
        }
        None => out.write(payload, code.width),
    }
}

/// The sigmoid at the knots, in Q15.
fn knots() -> Vec<u16> {
    (0..KNOTS)
        .map(|k| {
            let x = (k << KNOT_STEP_LOG2) as f64 / 65536.0;
            (32768.0 / (1.0 + (-x).exp())).round() as u16
        })
        .collect()
}

/// What the fixture holds for an int8 model: row-major inputs and the host's outputs.
pub struct Int8Rows<'a> {
    pub numeric_width: usize,
    pub fields: usize,
    pub tasks: usize,
    pub numeric: &'a [i32],
    pub categories: &'a [u16],
    pub logits: &'a [i32],
    pub probabilities: &'a [u16],
}

/// Encodes the rows and returns the fixture's Rust source (the `FIXTURE_ROWS` stream and the
/// `FIXTURE_KNOTS` of the probability estimate). Every row is decoded again with the
/// firmware's decoder and compared before anything is written.
pub fn fixture(rows: &Int8Rows<'_>) -> String {
    let (n, f, t) = (rows.numeric_width, rows.fields, rows.tasks);
    let count = rows.logits.len() / t;
    let knots = knots();
    let residuals: Vec<i32> = rows
        .logits
        .iter()
        .zip(rows.probabilities)
        .map(|(&l, &p)| i32::from(p) - rough_sigmoid_q15(&knots, l))
        .collect();
    // Column-major views, in the stream's column order.
    let mut columns: Vec<Vec<i32>> = Vec::new();
    columns.extend((0..n).map(|c| (0..count).map(|r| rows.numeric[r * n + c]).collect()));
    columns.extend((0..f).map(|c| {
        (0..count)
            .map(|r| i32::from(rows.categories[r * f + c]))
            .collect()
    }));
    columns.extend((0..t).map(|c| (0..count).map(|r| rows.logits[r * t + c]).collect()));
    columns.extend((0..t).map(|c| (0..count).map(|r| residuals[r * t + c]).collect()));
    let codes: Vec<ColumnCode> = columns.iter().map(|c| choose(c)).collect();

    let mut out = BitWriter::default();
    for code in &codes {
        write_code(&mut out, code);
    }
    let header_bits = out.bits;
    for row in 0..count {
        for (code, column) in codes.iter().zip(&columns) {
            write_value(&mut out, code, column[row]);
        }
    }

    verify(&out.bytes, &knots, codes.len(), rows);
    let mut f = String::new();
    writeln!(
        f,
        "// {count} rows in {} bytes ({header_bits} bits of column codes).",
        out.bytes.len()
    )
    .unwrap();
    writeln!(f, "pub const COLUMNS: usize = {};", codes.len()).unwrap();
    writeln!(
        f,
        "#[no_mangle]\npub static FIXTURE_ROWS: [u8; {}] = {:?};",
        out.bytes.len(),
        out.bytes
    )
    .unwrap();
    writeln!(
        f,
        "#[no_mangle]\npub static FIXTURE_KNOTS: [u16; {KNOTS}] = {knots:?};"
    )
    .unwrap();
    f
}

/// Decodes every row with the firmware's decoder and stops the build on any difference.
fn verify(bytes: &[u8], knots: &[u16], columns: usize, rows: &Int8Rows<'_>) {
    let (n, f, t) = (rows.numeric_width, rows.fields, rows.tasks);
    let mut decoded = Rows::new(bytes, columns);
    let mut values = vec![0i32; columns];
    for r in 0..rows.logits.len() / t {
        let ok = decoded.next_into(&mut values);
        let categories: Vec<i32> = rows.categories[r * f..(r + 1) * f]
            .iter()
            .map(|&c| i32::from(c))
            .collect();
        let logits = &values[n + f..n + f + t];
        let probabilities: Vec<Option<u16>> = logits
            .iter()
            .zip(&values[n + f + t..])
            .map(|(&l, &d)| probability(knots, l, d))
            .collect();
        let want: Vec<Option<u16>> = rows.probabilities[r * t..(r + 1) * t]
            .iter()
            .map(|&p| Some(p))
            .collect();
        if !ok
            || values[..n] != rows.numeric[r * n..(r + 1) * n]
            || values[n..n + f] != categories[..]
            || logits != &rows.logits[r * t..(r + 1) * t]
            || probabilities != want
        {
            fail(&format!(
                "the compact test rows do not decode back: row {r}"
            ));
        }
    }
}
