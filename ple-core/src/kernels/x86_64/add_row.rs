//! `out += row`, AVX2: the contribution of one one-hot input column.

use core::arch::x86_64::{_mm256_add_ps, _mm256_loadu_ps, _mm256_storeu_ps};

use super::Lanes;

/// # Safety
/// The CPU must have AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn add_row<W: Lanes>(row: &[W], out: &mut [f32]) {
    let n = row.len().min(out.len());
    let mut j = 0;
    while j + 8 <= n {
        // SAFETY: `j + 8 <= n` keeps both eight-value accesses inside `row` and `out`.
        unsafe {
            let o = out.as_mut_ptr().add(j);
            _mm256_storeu_ps(
                o,
                _mm256_add_ps(_mm256_loadu_ps(o), W::load8(row.as_ptr().add(j))),
            );
        }
        j += 8;
    }
    // A scalar add rounds exactly like one lane of the vector add.
    let rest = out.iter_mut().zip(row).skip(j);
    for (o, &v) in rest {
        *o += v.to_f32();
    }
}
