//! `out += x · W` for a `[rows, n]` matrix, NEON.
//!
//! Column tiles of 32, 16, 8 and 4 lanes keep their accumulators in registers for the whole
//! pass over the rows; the last columns (fewer than 4) go through a 4-lane buffer, so every
//! value is computed by the same fused multiply-add whatever its column.

use core::arch::aarch64::{vdupq_n_f32, vfmaq_f32, vld1q_f32, vst1q_f32};

use super::Lanes;

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn gemv<W: Lanes>(x: &[f32], w: &[W], out: &mut [f32]) {
    let n = out.len();
    if n == 0 {
        return;
    }
    let rows = x.len().min(w.len() / n);
    if rows == 0 {
        return;
    }
    let x = x.get(..rows).unwrap_or(&[]);
    let mut j = 0;
    // SAFETY (all four tiles): columns `j..j + 4A` are inside both `out` (j + 4A <= n) and
    // every one of the `rows` rows of `w` (row i spans i*n..i*n + n, and rows*n <= w.len()).
    while j + 32 <= n {
        unsafe { tile::<W, 8>(x, w.as_ptr().add(j), n, out.as_mut_ptr().add(j)) };
        j += 32;
    }
    if j + 16 <= n {
        unsafe { tile::<W, 4>(x, w.as_ptr().add(j), n, out.as_mut_ptr().add(j)) };
        j += 16;
    }
    if j + 8 <= n {
        unsafe { tile::<W, 2>(x, w.as_ptr().add(j), n, out.as_mut_ptr().add(j)) };
        j += 8;
    }
    if j + 4 <= n {
        unsafe { tile::<W, 1>(x, w.as_ptr().add(j), n, out.as_mut_ptr().add(j)) };
        j += 4;
    }
    if let Some(rest) = out.get_mut(j..) {
        if !rest.is_empty() {
            // SAFETY: as above, for the columns `j..n`, which `tail` reads one by one.
            unsafe { tail(x, w.as_ptr().wrapping_add(j), n, rest) };
        }
    }
}

/// `A` accumulators of 4 lanes over `x.len()` rows.
///
/// # Safety
/// `w + i*stride .. + 4A` readable for every `i < x.len()`, `out .. out + 4A` writable, and
/// the CPU has NEON.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn tile<W: Lanes, const A: usize>(x: &[f32], w: *const W, stride: usize, out: *mut f32) {
    // SAFETY: every pointer below stays inside the ranges the caller guarantees; the row
    // pointer is advanced with `wrapping_add` because after the last row it may point past
    // the end, where it is never read.
    unsafe {
        let mut acc = [vdupq_n_f32(0.0); A];
        for (k, a) in acc.iter_mut().enumerate() {
            *a = vld1q_f32(out.add(4 * k));
        }
        let mut row = w;
        for &xi in x {
            let xv = vdupq_n_f32(xi);
            for (k, a) in acc.iter_mut().enumerate() {
                *a = vfmaq_f32(*a, xv, W::load4(row.add(4 * k)));
            }
            row = row.wrapping_add(stride);
        }
        for (k, a) in acc.iter().enumerate() {
            vst1q_f32(out.add(4 * k), *a);
        }
    }
}

/// The last `out.len() < 4` columns, through zero-padded 4-lane buffers.
///
/// # Safety
/// `w + i*stride .. + out.len()` readable for every `i < x.len()`, and the CPU has NEON.
#[target_feature(enable = "neon")]
unsafe fn tail<W: Lanes>(x: &[f32], w: *const W, stride: usize, out: &mut [f32]) {
    let r = out.len().min(4);
    let mut acc_buf = [0.0f32; 4];
    let mut w_buf = [W::ZERO; 4];
    for (a, &o) in acc_buf.iter_mut().zip(out.iter()) {
        *a = o;
    }
    // SAFETY: the buffers hold four values each; row `i` has `r` readable values at
    // `w + i*stride` (the caller's guarantee), copied into a buffer that cannot overlap it.
    unsafe {
        let mut acc = vld1q_f32(acc_buf.as_ptr());
        for (i, &xi) in x.iter().enumerate() {
            core::ptr::copy_nonoverlapping(w.wrapping_add(i * stride), w_buf.as_mut_ptr(), r);
            acc = vfmaq_f32(acc, vdupq_n_f32(xi), W::load4(w_buf.as_ptr()));
        }
        vst1q_f32(acc_buf.as_mut_ptr(), acc);
    }
    for (o, &a) in out.iter_mut().zip(acc_buf.iter()) {
        *o = a;
    }
}
