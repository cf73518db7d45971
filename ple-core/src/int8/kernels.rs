//! Integer kernels of the int8 path, each in a scalar form and a lane-packed form.
//!
//! The packed forms follow the Arm DSP extension (Cortex-M4/M7/M33): two 16-bit lanes per
//! 32-bit register, `SXTAB16` to sign-extend two bytes of a weight word and add them to two
//! 16-bit accumulators in one instruction, and `SMLAD` for two 16x16 multiply-accumulates.
//! They are written once against the [`Dsp`] trait: [`PortableDsp`] implements its primitives
//! in plain Rust with the exact semantics of the instructions (every target, and the host's
//! property tests), and `ArmDsp` (with the `arm-dsp` feature on `target_arch = "arm"`) issues
//! the instructions themselves through inline assembly. Scalar and packed forms return the
//! same bits for every input: the packed sums wrap exactly like the scalar ones
//! (wrapping `i32`), and the 16-bit category sums are widened every [`ROWS_PER_I16_CHUNK`]
//! rows, before they could leave `i16`.

/// Rows of `i8` weights that can be summed in an `i16` lane without overflow:
/// `256 * -128 == i16::MIN` and `256 * 127 < i16::MAX`.
pub const ROWS_PER_I16_CHUNK: usize = 256;

/// The two Arm DSP primitives the packed kernels are made of.
pub trait Dsp {
    /// `SXTAB16 acc, acc, w`: adds the sign-extended bytes 0 and 2 of `w` to the low and high
    /// 16-bit lanes of `acc` (each lane wrapping).
    fn sxtab16(acc: u32, w: u32) -> u32;
    /// `SXTAB16 acc, acc, w, ROR #8`: the same with bytes 1 and 3.
    fn sxtab16_ror8(acc: u32, w: u32) -> u32;
    /// `SMLAD`: `acc + lo(a) * lo(b) + hi(a) * hi(b)` on signed 16-bit lanes, wrapping.
    fn smlad(a: u32, b: u32, acc: i32) -> i32;
}

/// The DSP primitives in plain Rust, bit-exact with the instructions.
#[derive(Clone, Copy, Debug, Default)]
pub struct PortableDsp;

impl Dsp for PortableDsp {
    #[inline(always)]
    fn sxtab16(acc: u32, w: u32) -> u32 {
        let lo = (acc as u16).wrapping_add(w as u8 as i8 as i16 as u16);
        let hi = ((acc >> 16) as u16).wrapping_add((w >> 16) as u8 as i8 as i16 as u16);
        u32::from(lo) | (u32::from(hi) << 16)
    }

    #[inline(always)]
    fn sxtab16_ror8(acc: u32, w: u32) -> u32 {
        Self::sxtab16(acc, w.rotate_right(8))
    }

    #[inline(always)]
    fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let lo = i32::from(a as u16 as i16) * i32::from(b as u16 as i16);
        let hi = i32::from((a >> 16) as u16 as i16) * i32::from((b >> 16) as u16 as i16);
        acc.wrapping_add(lo).wrapping_add(hi)
    }
}

/// The DSP primitives as Arm instructions (Cortex-M4, M7, M33 with the DSP extension).
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct ArmDsp;

#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
impl Dsp for ArmDsp {
    #[inline(always)]
    fn sxtab16(acc: u32, w: u32) -> u32 {
        let out: u32;
        // SAFETY: register-only arithmetic: no memory access, no stack, flags untouched; the
        // `arm-dsp` feature is only enabled for cores that implement SXTAB16.
        unsafe {
            core::arch::asm!("sxtab16 {o}, {a}, {w}", o = lateout(reg) out, a = in(reg) acc,
                w = in(reg) w, options(pure, nomem, nostack, preserves_flags));
        }
        out
    }

    #[inline(always)]
    fn sxtab16_ror8(acc: u32, w: u32) -> u32 {
        let out: u32;
        // SAFETY: as in `sxtab16`.
        unsafe {
            core::arch::asm!("sxtab16 {o}, {a}, {w}, ror #8", o = lateout(reg) out,
                a = in(reg) acc, w = in(reg) w, options(pure, nomem, nostack, preserves_flags));
        }
        out
    }

    #[inline(always)]
    fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let out: i32;
        // SAFETY: register-only arithmetic; SMLAD may set the sticky Q flag, which nothing
        // reads, so flags are not declared preserved.
        unsafe {
            core::arch::asm!("smlad {o}, {a}, {b}, {c}", o = lateout(reg) out, a = in(reg) a,
                b = in(reg) b, c = in(reg) acc, options(pure, nomem, nostack));
        }
        out
    }
}

/// Sums selected rows of an `i8` table: `out[o] = sum over r of table[row_starts[r] + o]`.
///
/// Rows are `out.len()` rounded up to a multiple of 4 long (the padding the packed form
/// reads); a row that would run past the end of `table` is skipped, in both forms (the model
/// view's constructor proves that none does).
pub fn gather_rows_scalar(table: &[i8], row_starts: &[u32], out: &mut [i32]) {
    out.fill(0);
    let padded = out.len().div_ceil(4) * 4;
    for &start in row_starts {
        let Some(row) = padded_row(table, start, padded) else {
            continue;
        };
        for (acc, &w) in out.iter_mut().zip(row) {
            *acc = acc.wrapping_add(i32::from(w));
        }
    }
}

#[inline(always)]
fn padded_row(table: &[i8], start: u32, padded: usize) -> Option<&[i8]> {
    let start = start as usize;
    table.get(start..start.checked_add(padded)?)
}

/// [`gather_rows_scalar`] with two 16-bit lanes per word, 16 outputs per pass over the rows.
///
/// Every row is checked once, up front; if one runs past the table the scalar twin computes
/// the (identical) result instead. After that check the inner loop reads weight words without
/// bounds checks: it is the hot loop of an int8 inference on a Cortex-M4 (29 rows of 138
/// weights for the default model), where a check per row and block would cost as much as
/// the additions themselves.
pub fn gather_rows_packed<D: Dsp>(table: &[i8], row_starts: &[u32], out: &mut [i32]) {
    let padded = out.len().div_ceil(4) * 4;
    let fits = |s: u32| {
        (s as usize)
            .checked_add(padded)
            .is_some_and(|end| end <= table.len())
    };
    if !row_starts.iter().all(|&s| fits(s)) {
        gather_rows_scalar(table, row_starts, out);
        return;
    }
    out.fill(0);
    let base = table.as_ptr();
    // The weight word `k` (4 bytes) of a row starting at byte `start`.
    let word = |start: u32, k: usize| -> u32 {
        // SAFETY: every `start` passed here is in `row_starts`, so `start + padded` is within
        // `table` (checked above), and callers keep `k * 4 + 4 <= padded`; unaligned reads are
        // done with `read_unaligned`.
        let bytes = unsafe {
            base.add(start as usize + 4 * k)
                .cast::<u32>()
                .read_unaligned()
        };
        u32::from_le(bytes)
    };
    let words = padded / 4;
    for chunk in row_starts.chunks(ROWS_PER_I16_CHUNK) {
        let mut k = 0;
        while k + 4 <= words {
            let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = [0u32; 8];
            for &start in chunk {
                let w = word(start, k);
                a = D::sxtab16(a, w);
                b = D::sxtab16_ror8(b, w);
                let w = word(start, k + 1);
                c = D::sxtab16(c, w);
                d = D::sxtab16_ror8(d, w);
                let w = word(start, k + 2);
                e = D::sxtab16(e, w);
                f = D::sxtab16_ror8(f, w);
                let w = word(start, k + 3);
                g = D::sxtab16(g, w);
                h = D::sxtab16_ror8(h, w);
            }
            add_lanes(out, 4 * k, a, b);
            add_lanes(out, 4 * k + 4, c, d);
            add_lanes(out, 4 * k + 8, e, f);
            add_lanes(out, 4 * k + 12, g, h);
            k += 4;
        }
        while k < words {
            let [mut a, mut b] = [0u32; 2];
            for &start in chunk {
                let w = word(start, k);
                a = D::sxtab16(a, w);
                b = D::sxtab16_ror8(b, w);
            }
            add_lanes(out, 4 * k, a, b);
            k += 1;
        }
    }
}

/// Widens the lanes of one weight word's accumulators into `out[at..at + 4]`: `even` holds
/// outputs `at` and `at + 2`, `odd` outputs `at + 1` and `at + 3`.
#[inline(always)]
fn add_lanes(out: &mut [i32], at: usize, even: u32, odd: u32) {
    let values = [
        even as u16,
        odd as u16,
        (even >> 16) as u16,
        (odd >> 16) as u16,
    ];
    let tail = out.get_mut(at..).unwrap_or(&mut []);
    for (acc, v) in tail.iter_mut().zip(values) {
        *acc = acc.wrapping_add(i32::from(v as i16));
    }
}

/// Packs `i16` values two per word, low lane first (`values.len()` odd: the last high lane
/// is 0).
pub fn pack_pairs(values: impl Iterator<Item = i16>, words: &mut [u32]) {
    words.fill(0);
    for (i, v) in values.enumerate() {
        if let Some(word) = words.get_mut(i / 2) {
            *word |= u32::from(v as u16) << (16 * (i % 2));
        }
    }
}

/// `sum of a[i] * b[i]` over `i16` vectors, wrapping in `i32` (the scalar twin of
/// [`dot_pairs_packed`]).
pub fn dot_i16_scalar(a: &[i16], b: &[i16]) -> i32 {
    a.iter().zip(b).fold(0i32, |acc, (&x, &y)| {
        acc.wrapping_add(i32::from(x) * i32::from(y))
    })
}

/// The dot product of two vectors given as packed pairs ([`pack_pairs`]), with `SMLAD`.
pub fn dot_pairs_packed<D: Dsp>(a: &[u32], b: &[u32]) -> i32 {
    a.iter()
        .zip(b)
        .fold(0i32, |acc, (&x, &y)| D::smlad(x, y, acc))
}

/// The dot product of packed `i16` pairs `a` with an `i16` row `b` read two at a time (an
/// odd last value pairs with 0).
#[inline]
pub fn dot_pairs_row<D: Dsp>(a: &[u32], b: &[i16]) -> i32 {
    let pairs = b.chunks_exact(2);
    let last = pairs
        .remainder()
        .first()
        .map_or(0, |&v| u32::from(v as u16));
    let full = pairs.len();
    let mut acc = 0i32;
    for (&x, pair) in a.iter().zip(pairs) {
        let w = match pair {
            [lo, hi] => u32::from(*lo as u16) | (u32::from(*hi as u16) << 16),
            _ => 0,
        };
        acc = D::smlad(x, w, acc);
    }
    match a.get(full) {
        Some(&x) if last != 0 => D::smlad(x, last, acc),
        _ => acc,
    }
}

/// `out[o] = sum over i of input[i] * weights[o * inputs + i]` for `i16` activations (held in
/// `i32` slots) and `i8` weights, wrapping in `i32`.
pub fn dense_scalar(weights: &[i8], input: &[i32], out: &mut [i32]) {
    let inputs = input.len();
    for (o, acc) in out.iter_mut().enumerate() {
        let row = weights.get(o * inputs..(o + 1) * inputs).unwrap_or(&[]);
        *acc = row.iter().zip(input).fold(0i32, |a, (&w, &x)| {
            a.wrapping_add(x.wrapping_mul(i32::from(w)))
        });
    }
}
