//! The gate mixing, AVX2: `out += Σ_g weights[g] · expert_g`, eight columns per vector.
//!
//! Each product is rounded before it is added (a multiplication and an addition, never a
//! fused multiply-add), in gate order, so every column goes through the scalar twin's
//! operations and the result is the same bit for bit. A column tile of up to two vectors
//! stays in registers across all the experts.

use core::arch::x86_64::{
    _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_storeu_ps,
};

/// See `Kernels::mix`.
///
/// # Safety
/// The CPU must have AVX2 (and FMA and F16C, like every kernel of this module).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn mix(weights: &[f32], experts: &[f32], out: &mut [f32]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    let gates = weights.len().min(experts.len() / n);
    let weights = weights.get(..gates).unwrap_or(&[]);
    let mut j = 0;
    while j + 16 <= n {
        // SAFETY: columns j..j + 16 are inside `out` and inside each of the `gates` experts
        // of `experts` (gates * n values).
        unsafe {
            let o = out.as_mut_ptr().add(j);
            let (mut a, mut b) = (_mm256_loadu_ps(o), _mm256_loadu_ps(o.add(8)));
            let mut e = experts.as_ptr().add(j);
            for &weight in weights {
                let wv = _mm256_set1_ps(weight);
                a = _mm256_add_ps(a, _mm256_mul_ps(wv, _mm256_loadu_ps(e)));
                b = _mm256_add_ps(b, _mm256_mul_ps(wv, _mm256_loadu_ps(e.add(8))));
                e = e.wrapping_add(n);
            }
            _mm256_storeu_ps(o, a);
            _mm256_storeu_ps(o.add(8), b);
        }
        j += 16;
    }
    if j + 8 <= n {
        // SAFETY: as above, for columns j..j + 8.
        unsafe {
            let o = out.as_mut_ptr().add(j);
            let mut a = _mm256_loadu_ps(o);
            let mut e = experts.as_ptr().add(j);
            for &weight in weights {
                a = _mm256_add_ps(a, _mm256_mul_ps(_mm256_set1_ps(weight), _mm256_loadu_ps(e)));
                e = e.wrapping_add(n);
            }
            _mm256_storeu_ps(o, a);
        }
        j += 8;
    }
    if j < n {
        // A scalar multiply and add round exactly like one lane of the vector ones.
        for (g, &weight) in weights.iter().enumerate() {
            let expert = experts.get(g * n + j..(g + 1) * n).unwrap_or(&[]);
            for (o, &e) in out.get_mut(j..).unwrap_or(&mut []).iter_mut().zip(expert) {
                *o += weight * e;
            }
        }
    }
}
