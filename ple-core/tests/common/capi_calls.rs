//! Well-formed calls of the C ABI's sparse predict functions, from Rust slices.

use std::ptr::null_mut;

/// The signature of `ple_predict_sparse_f32` and `ple_predict_sparse_f16`.
pub type SparsePredict<M> = unsafe extern "C" fn(
    *const M,
    *const f32,
    usize,
    *const u16,
    usize,
    *mut f32,
    usize,
    *mut f32,
    usize,
    *mut f32,
    usize,
) -> i32;

/// Calls a sparse entry point with Rust slices: every length is its slice's own, no gates.
pub fn sparse<M>(
    predict: SparsePredict<M>,
    model: &M,
    numeric: &[f32],
    cats: &[u16],
    scratch: &mut [f32],
    probs: &mut [f32],
) -> i32 {
    // SAFETY: every pointer addresses as many values as the length passed with it; what
    // the model struct points to is the C ABI's to check.
    unsafe {
        predict(
            model,
            numeric.as_ptr(),
            numeric.len(),
            cats.as_ptr(),
            cats.len(),
            scratch.as_mut_ptr(),
            scratch.len(),
            probs.as_mut_ptr(),
            probs.len(),
            null_mut(),
            0,
        )
    }
}
