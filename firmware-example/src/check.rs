//! Predicting every embedded row and comparing with the host's outputs.
//!
//! f32 and f16 models are compared on probabilities with a small tolerance (and the rows that
//! agree to the bit are counted); int8 models must match the host bit for bit, on both the Q16
//! logits and the Q15 probabilities, since the int8 path is integer-only. The int8 rows come
//! in the compact form of [`crate::compact`], decoded one at a time outside the counted
//! inference.

use crate::counter::Counter;
use crate::{fixture, model};

/// The board this image was built for.
#[cfg(board = "mps2")]
pub const BOARD: &str = "mps2";
/// The board this image was built for.
#[cfg(board = "microbit")]
pub const BOARD: &str = "microbit";
/// The board this image was built for.
#[cfg(board = "nrf52840")]
pub const BOARD: &str = "nrf52840";
/// The board this image was built for.
#[cfg(board = "riscv_virt")]
pub const BOARD: &str = "riscv-virt";

/// The precision of the baked model.
#[cfg(precision = "f32")]
pub const PRECISION: &str = "f32";
/// The precision of the baked model.
#[cfg(precision = "f16")]
pub const PRECISION: &str = "f16";
/// The precision of the baked model.
#[cfg(precision = "int8")]
pub const PRECISION: &str = "int8";

/// What checking the rows found.
pub struct Summary {
    pub rows: usize,
    /// Rows whose outputs differ from the host's beyond the tolerance (any bit, for int8).
    pub mismatches: usize,
    /// Rows the engine refused (an error from `predict`), or every row when the model view
    /// could not be made.
    pub errors: usize,
    /// Rows whose outputs equal the host's bit for bit.
    pub bit_exact: usize,
    /// Largest absolute difference of a probability, in units of 1e-9.
    pub max_abs_diff_e9: u32,
    /// Fewest and most units (instructions or cycles) of one inference, and their sum.
    pub min: u32,
    pub max: u32,
    pub total: u64,
}

impl Summary {
    fn new() -> Self {
        Summary {
            rows: 0,
            mismatches: 0,
            errors: 0,
            bit_exact: 0,
            max_abs_diff_e9: 0,
            min: u32::MAX,
            max: 0,
            total: 0,
        }
    }

    pub fn passed(&self) -> bool {
        self.rows > 0 && self.mismatches == 0 && self.errors == 0
    }

    fn timed(&mut self, spent: u32) {
        self.rows += 1;
        self.min = self.min.min(spent);
        self.max = self.max.max(spent);
        self.total += u64::from(spent);
    }

    fn finish(mut self) -> Self {
        if self.rows == 0 {
            self.min = 0;
        }
        self
    }
}

#[cfg(any(precision = "f32", precision = "f16"))]
mod float {
    use super::*;

    /// Largest difference from the host's probability that still counts as a match. The
    /// host runs the portable kernels and an Arm FPU core ple-core's FPU kernels, which add
    /// in the same order without fusing multiply-adds, so the results normally agree to the
    /// bit; the tolerance only absorbs a different but correct rounding of `exp` or a fused
    /// multiply-add on other cores.
    const TOLERANCE: f32 = 1e-5;

    /// Bytes of the scratch memory one prediction uses, reserved statically.
    pub const SCRATCH_BYTES: usize = model::SCRATCH_LEN * core::mem::size_of::<f32>();

    /// Scratch for the forward pass: a static, so its size shows in `.bss`, not on the stack.
    static mut SCRATCH: [f32; model::SCRATCH_LEN] = [0.0; model::SCRATCH_LEN];

    /// Predicts every fixture row, timing each prediction with `counter`.
    pub fn all_rows(counter: &Counter) -> Summary {
        // SAFETY: `all_rows` is called once, from `main`, and nothing else names SCRATCH; no
        // interrupt handler touches it.
        let scratch = unsafe { &mut *core::ptr::addr_of_mut!(SCRATCH) };
        let mut summary = Summary::new();
        let rows = fixture::FIXTURE_NUMERIC
            .iter()
            .zip(&fixture::FIXTURE_CATEGORIES);
        for ((numeric, categories), expected) in rows.zip(&fixture::FIXTURE_EXPECTED) {
            let begin = counter.now();
            let result = model::predict(numeric, categories, scratch);
            summary.timed(counter.elapsed(begin));
            let Ok(probabilities) = result else {
                summary.errors += 1;
                continue;
            };
            let mut matched = true;
            let mut exact = true;
            for (&got, &want) in probabilities.iter().zip(expected) {
                let diff = libm::fabsf(got - want);
                // NaN compares false: a NaN output is a mismatch.
                matched &= diff <= TOLERANCE;
                exact &= got.to_bits() == want.to_bits();
                let diff_e9 = if diff.is_finite() {
                    (diff * 1e9) as u32
                } else {
                    u32::MAX
                };
                summary.max_abs_diff_e9 = summary.max_abs_diff_e9.max(diff_e9);
            }
            summary.mismatches += usize::from(!matched);
            summary.bit_exact += usize::from(exact);
        }
        summary.finish()
    }
}
#[cfg(any(precision = "f32", precision = "f16"))]
pub use float::{all_rows, SCRATCH_BYTES};

#[cfg(precision = "int8")]
mod int8 {
    use super::*;
    use crate::compact::{probability, Rows};
    use ple_core::int8::Int8Input;

    /// Bytes of the scratch memory one prediction uses, reserved statically.
    pub const SCRATCH_BYTES: usize = model::SCRATCH_WORDS * core::mem::size_of::<i32>();

    /// Scratch for the forward pass: a static, so its size shows in `.bss`, not on the stack.
    static mut SCRATCH: [i32; model::SCRATCH_WORDS] = [0; model::SCRATCH_WORDS];

    /// Predicts every fixture row, timing each prediction with `counter`.
    pub fn all_rows(counter: &Counter) -> Summary {
        let mut summary = Summary::new();
        let Ok(model) = model::model() else {
            summary.rows = fixture::ROWS;
            summary.errors = fixture::ROWS;
            return summary.finish();
        };
        // SAFETY: `all_rows` is called once, from `main`, and nothing else names SCRATCH; no
        // interrupt handler touches it.
        let scratch = unsafe { &mut *core::ptr::addr_of_mut!(SCRATCH) };
        let mut rows = Rows::new(&fixture::FIXTURE_ROWS, fixture::COLUMNS);
        // One value per column: numeric inputs, category indices, the host's logits and the
        // differences that give its probabilities (see `compact`).
        let mut values = [0i32; fixture::COLUMNS];
        let mut categories = [0u16; fixture::FIELDS];
        let mut want_probabilities = [0u16; model::TASKS];
        for _ in 0..fixture::ROWS {
            // Decoding is not part of the inference: it happens before the counter starts.
            let mut decoded = rows.next_into(&mut values);
            let numeric = values.get(..fixture::NUMERIC).unwrap_or(&[]);
            let indices = values
                .get(fixture::NUMERIC..fixture::NUMERIC + fixture::FIELDS)
                .unwrap_or(&[]);
            for (slot, &index) in categories.iter_mut().zip(indices) {
                decoded &= u16::try_from(index).is_ok();
                *slot = index as u16;
            }
            let outputs = values
                .get(fixture::NUMERIC + fixture::FIELDS..)
                .unwrap_or(&[]);
            let (want_logits, differences) = outputs.split_at(model::TASKS.min(outputs.len()));
            for ((slot, &logit), &difference) in want_probabilities
                .iter_mut()
                .zip(want_logits)
                .zip(differences)
            {
                match probability(&fixture::FIXTURE_KNOTS, logit, difference) {
                    Some(p) => *slot = p,
                    None => decoded = false,
                }
            }
            let input = Int8Input {
                numeric,
                categories: &categories,
            };
            let mut logits = [0i32; model::TASKS];
            let mut probabilities = [0u16; model::TASKS];
            let begin = counter.now();
            let result = model.predict_fixed::<{ model::NUMERIC_PAIRS }>(
                &input,
                scratch,
                &mut logits,
                &mut probabilities,
            );
            summary.timed(counter.elapsed(begin));
            if !decoded || result.is_err() || want_logits.len() != model::TASKS {
                summary.errors += 1;
                continue;
            }
            let exact = logits
                .iter()
                .zip(want_logits)
                .all(|(got, want)| got == want)
                && probabilities == want_probabilities;
            summary.mismatches += usize::from(!exact);
            summary.bit_exact += usize::from(exact);
            for (&got, &want) in probabilities.iter().zip(&want_probabilities) {
                // Q15: 32768 is 1.0; the difference in units of 1e-9.
                let diff_e9 = u64::from(got.abs_diff(want)) * 1_000_000_000 / 32_768;
                summary.max_abs_diff_e9 = summary.max_abs_diff_e9.max(diff_e9 as u32);
            }
        }
        summary.finish()
    }
}
#[cfg(precision = "int8")]
pub use int8::{all_rows, SCRATCH_BYTES};
