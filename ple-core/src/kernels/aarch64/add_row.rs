//! `out += row`, NEON: the contribution of one one-hot input column.

use core::arch::aarch64::{vaddq_f32, vld1q_f32, vst1q_f32};

use super::Lanes;

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn add_row<W: Lanes>(row: &[W], out: &mut [f32]) {
    let n = row.len().min(out.len());
    let mut j = 0;
    while j + 4 <= n {
        // SAFETY: `j + 4 <= n` keeps both four-value accesses inside `row` and `out`.
        unsafe {
            let o = out.as_mut_ptr().add(j);
            vst1q_f32(o, vaddq_f32(vld1q_f32(o), W::load4(row.as_ptr().add(j))));
        }
        j += 4;
    }
    // A scalar add rounds exactly like one lane of the vector add.
    let rest = out.iter_mut().zip(row).skip(j);
    for (o, &v) in rest {
        *o += v.to_f32();
    }
}
