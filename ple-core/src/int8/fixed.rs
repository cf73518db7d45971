//! Fixed-point arithmetic of the int8 path: requantisation, `exp`, softmax and sigmoid.
//!
//! Every function here uses only integer operations whose results Rust defines exactly
//! (shifts, wrapping or widened multiplies, divisions of non-negative numbers), so a result
//! is the same bit pattern on every target. None of them panics: shift amounts are clamped
//! and divisors are proven non-zero.
//!
//! Formats:
//! - a *logit* is an `i32` in Q16 (value `x / 65536`), clamped to `±LOGIT_LIMIT`;
//! - an `exp` result is a `u32` in Q30 (`1.0 == 1 << 30`);
//! - a probability or gate weight is a `u16` in Q15 (`1.0 == 32768`).

/// Fraction bits of a logit.
pub const LOGIT_FRAC_BITS: u32 = 16;

/// Logits are clamped to `±256.0` (in Q16): beyond it `exp` and the sigmoid are exactly 0
/// or 1 at this precision, and the clamp keeps differences of two logits inside `i32`.
pub const LOGIT_LIMIT: i32 = 256 << LOGIT_FRAC_BITS;

/// 1.0 in the Q15 format of probabilities and gate weights.
pub const Q15_ONE: u16 = 1 << 15;

/// The largest activation value: activations are non-negative `i16` (after ReLU).
pub const ACTIVATION_MAX: i32 = i16::MAX as i32;

/// A real multiplier `m` encoded as `multiplier * 2^-right_shift`, with `multiplier` in
/// `[2^30, 2^31)` (or 0 for `m == 0`) and `right_shift` in `1..=63`.
///
/// Applying it to an `i32` takes one 32x32->64 multiply and one rounding shift: the result is
/// `floor((x * multiplier + 2^(right_shift - 1)) / 2^right_shift)`, that is `x * m` rounded to
/// the nearest integer, halves rounded up (towards +infinity).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(C)]
pub struct Requant {
    /// Mantissa of the multiplier, in `[2^30, 2^31)`, or 0.
    pub multiplier: i32,
    /// Right shift applied after the multiply, in `1..=63`.
    pub right_shift: u8,
}

impl Requant {
    /// A multiplier from its parts.
    pub const fn new(multiplier: i32, right_shift: u8) -> Self {
        Requant {
            multiplier,
            right_shift,
        }
    }

    /// Whether the parts are in range (see the type's documentation).
    pub const fn is_valid(&self) -> bool {
        let shift_ok = self.right_shift >= 1 && self.right_shift <= 63;
        let mantissa_ok = self.multiplier == 0 || self.multiplier >= (1 << 30);
        shift_ok && mantissa_ok
    }

    /// `x` times the multiplier, rounded to nearest (halves up), as `i64`.
    ///
    /// With a right shift of 33 or more (every activation requantisation in practice) the
    /// same value comes from the high word of the product alone: adding `2^(shift - 1)` only
    /// changes the high word, and the low word cannot change the floor. That form costs one
    /// `SMMUL`, an add and a shift on a Cortex-M instead of a 64-bit variable shift.
    #[inline]
    pub const fn apply_wide(&self, x: i32) -> i64 {
        let shift = clamp_shift(self.right_shift);
        let product = x as i64 * self.multiplier as i64;
        if shift >= 33 {
            // |high| < 2^30 and the rounding term is at most 2^30: no overflow.
            let high = (product >> 32) as i32;
            let k = shift - 32;
            ((high + (1i32 << (k - 1))) >> k) as i64
        } else {
            // |x * multiplier| < 2^62, so adding the rounding term cannot overflow.
            (product + (1i64 << (shift - 1))) >> shift
        }
    }

    /// `x` times the multiplier, rounded, saturated to `[lo, hi]`.
    ///
    /// The same value as clamping [`apply_wide`](Self::apply_wide); with a right shift of 33
    /// or more the clamp is done on the 32-bit result (one `USAT`/`SSAT` on Arm).
    #[inline]
    pub const fn apply_clamped(&self, x: i32, lo: i32, hi: i32) -> i32 {
        let shift = self.right_shift;
        if shift >= 33 && shift <= 63 {
            // floor((high + 2^(k-1)) / 2^k) == floor((floor(high / 2^(k-1)) + 1) / 2) for
            // k = shift - 32: no rounding constant to build.
            let high = ((x as i64 * self.multiplier as i64) >> 32) as i32;
            let y = ((high >> (shift - 33)) + 1) >> 1;
            return if y < lo {
                lo
            } else if y > hi {
                hi
            } else {
                y
            };
        }
        let y = self.apply_wide(x);
        if y < lo as i64 {
            lo
        } else if y > hi as i64 {
            hi
        } else {
            y as i32
        }
    }
}

const fn clamp_shift(shift: u8) -> u32 {
    if shift < 1 {
        1
    } else if shift > 63 {
        63
    } else {
        shift as u32
    }
}

/// `round(2^30 * 2^(-i/64))` for `i` in `0..=64`: the table `exp2_neg` interpolates.
pub const EXP2_TABLE: [u32; 65] = [
    1073741824, 1062175491, 1050733751, 1039415261, 1028218693, 1017142735, 1006186087, 995347464,
    984625594, 974019220, 963527098, 953147997, 942880699, 932724001, 922676710, 912737649,
    902905651, 893179563, 883558244, 874040567, 864625413, 855311680, 846098274, 836984114,
    827968132, 819049271, 810226483, 801498734, 792865000, 784324269, 775875538, 767517817,
    759250125, 751071493, 742980960, 734977579, 727060411, 719228525, 711481005, 703816941,
    696235434, 688735596, 681316545, 673977412, 666717336, 659535466, 652430958, 645402981,
    638450708, 631573326, 624770026, 618040012, 611382493, 604796689, 598281827, 591837143,
    585461881, 579155293, 572916640, 566745190, 560640218, 554601009, 548626854, 542717053,
    536870912,
];

/// `log2(e)` in Q30.
pub const LOG2_E_Q30: i64 = 1_549_082_005;

/// `2^(-z)` in Q30 for `z >= 0` given in Q16.
///
/// The fractional part indexes [`EXP2_TABLE`] (64 steps per octave) with linear interpolation
/// between entries (relative error below 2e-5); the integer part is a rounding right shift.
#[inline]
pub fn exp2_neg_q16(z: u32) -> u32 {
    let whole = z >> 16;
    if whole >= 31 {
        return 0;
    }
    let frac = z & 0xFFFF;
    let index = (frac >> 10) as usize;
    let rem = frac & 0x3FF;
    let (hi, lo) = match (EXP2_TABLE.get(index), EXP2_TABLE.get(index + 1)) {
        (Some(&hi), Some(&lo)) => (hi, lo),
        _ => return 0,
    };
    // hi - lo < 2^24 and rem < 2^10: the product fits in u64 with room to spare.
    let step = ((u64::from(hi - lo) * u64::from(rem) + (1 << 9)) >> 10) as u32;
    let value = hi - step;
    if whole == 0 {
        value
    } else {
        (value + (1 << (whole - 1))) >> whole
    }
}

/// `exp(d)` in Q30 for a non-positive logit difference `d` in Q16 (positive `d` is taken as 0).
#[inline]
pub fn exp_neg_q16(d: i32) -> u32 {
    let d = if d > 0 { 0 } else { d };
    // -d <= 2^31, times log2(e) in Q30 (< 2^31): fits i64; back to Q16 with rounding.
    let z = ((-(d as i64)) * LOG2_E_Q30 + (1 << 29)) >> 30;
    let z = if z > u32::MAX as i64 {
        u32::MAX
    } else {
        z as u32
    };
    exp2_neg_q16(z)
}

/// Clamps a wide logit to `±LOGIT_LIMIT`.
#[inline]
pub const fn clamp_logit(x: i64) -> i32 {
    if x > LOGIT_LIMIT as i64 {
        LOGIT_LIMIT
    } else if x < -(LOGIT_LIMIT as i64) {
        -LOGIT_LIMIT
    } else {
        x as i32
    }
}

/// The logistic sigmoid of a Q16 logit, as a Q15 probability (`0..=32768`).
///
/// For `x >= 0`, `p = 2^31 / (2^16 + exp(-x))` rounded to nearest, with `exp(-x)` in Q16; for
/// `x < 0` it is `32768 - p(-x)`, so the function is exactly symmetric. Every quantity fits
/// 32 bits: one hardware division on cores that have one, no 64-bit division anywhere.
#[inline]
pub fn sigmoid_q15(x: i32) -> u16 {
    let x = clamp_logit(x as i64);
    let e = (exp_neg_q16(-x.abs()) + (1 << 13)) >> 14; // Q16, at most 2^16
    let denominator = (1u32 << 16) + e; // in [2^16, 2^17]: never zero
    let p = ((1u32 << 31) + denominator / 2) / denominator; // in [16384, 32768]
    let p = p as u16;
    if x >= 0 {
        p
    } else {
        Q15_ONE - p
    }
}

/// Softmax of Q16 logits into Q15 weights, in place of `weights` (same length as `logits`).
///
/// The largest logit is subtracted first, so its `exp` is exactly 1 and the sum at least 1;
/// each `exp` is kept in Q15 (in `weights`, at most 32768), and each weight is
/// `exp * 2^15 / sum` rounded to nearest with one 32-bit division. Weights sum to 32768 up to
/// rounding (one unit per weight at most).
pub fn softmax_q15(logits: &[i32], weights: &mut [u16]) {
    let max = logits
        .iter()
        .copied()
        .map(|l| clamp_logit(l as i64))
        .max()
        .unwrap_or(0);
    let mut sum: u32 = 0;
    for (w, &l) in weights.iter_mut().zip(logits) {
        let e = (exp_neg_q16(clamp_logit(l as i64) - max) + (1 << 14)) >> 15;
        *w = e as u16;
        sum = sum.saturating_add(e);
    }
    let sum = sum.max(1);
    for w in weights.iter_mut() {
        // e <= 2^15, so e * 2^15 + sum / 2 stays below 2^32 for fewer than 2^16 weights.
        let q = (u32::from(*w) << 15).saturating_add(sum / 2) / sum;
        *w = q.min(u32::from(Q15_ONE)) as u16;
    }
}
