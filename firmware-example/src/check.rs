//! Predicting every embedded row and comparing with the host's probabilities.

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

/// Largest difference from the host's probability that still counts as a match. The host
/// runs the same portable kernels, so the results normally agree to the bit; the tolerance
/// only absorbs a different but correct rounding of `exp` or a fused multiply-add.
const TOLERANCE: f32 = 1e-5;

/// Bytes of the scratch memory one prediction uses, reserved statically.
pub const SCRATCH_BYTES: usize = model::SCRATCH_LEN * core::mem::size_of::<f32>();

/// What checking the rows found.
pub struct Summary {
    pub rows: usize,
    /// Rows whose probabilities differ from the host's by more than the tolerance.
    pub mismatches: usize,
    /// Rows the engine refused (an error from `predict`).
    pub errors: usize,
    /// Rows whose probabilities equal the host's bit for bit.
    pub bit_exact: usize,
    /// Largest absolute difference seen, in units of 1e-9.
    pub max_abs_diff_e9: u32,
    /// Fewest and most units (instructions or cycles) of one inference, and their sum.
    pub min: u32,
    pub max: u32,
    pub total: u64,
}

impl Summary {
    pub fn passed(&self) -> bool {
        self.rows > 0 && self.mismatches == 0 && self.errors == 0
    }
}

/// Scratch for the forward pass: a static, so its size shows in `.bss`, not on the stack.
static mut SCRATCH: [f32; model::SCRATCH_LEN] = [0.0; model::SCRATCH_LEN];

/// Predicts every fixture row, timing each prediction with `counter`.
pub fn all_rows(counter: &Counter) -> Summary {
    // SAFETY: `all_rows` is called once, from `main`, and nothing else names SCRATCH; no
    // interrupt handler touches it.
    let scratch = unsafe { &mut *core::ptr::addr_of_mut!(SCRATCH) };
    let mut summary = Summary {
        rows: 0,
        mismatches: 0,
        errors: 0,
        bit_exact: 0,
        max_abs_diff_e9: 0,
        min: u32::MAX,
        max: 0,
        total: 0,
    };
    let rows = fixture::FIXTURE_NUMERIC
        .iter()
        .zip(&fixture::FIXTURE_CATEGORIES);
    for ((numeric, categories), expected) in rows.zip(&fixture::FIXTURE_EXPECTED) {
        let mut probabilities = [0f32; model::TASKS];
        let input = ple_core::Input::Sparse {
            numeric,
            categories,
        };
        let begin = counter.now();
        let result = model::MODEL.predict(input, scratch, &mut probabilities);
        let spent = counter.elapsed(begin);
        summary.rows += 1;
        summary.min = summary.min.min(spent);
        summary.max = summary.max.max(spent);
        summary.total += u64::from(spent);
        if result.is_err() {
            summary.errors += 1;
            continue;
        }
        let mut matched = true;
        let mut exact = true;
        for (&got, &want) in probabilities.iter().zip(expected) {
            let diff = libm::fabsf(got - want);
            // NaN compares false: a NaN output is a mismatch.
            if !(diff <= TOLERANCE) {
                matched = false;
            }
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
    if summary.rows == 0 {
        summary.min = 0;
    }
    summary
}
