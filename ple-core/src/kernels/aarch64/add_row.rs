//! `out += row` and `out += Σ rows`, NEON: the contribution of one one-hot input column.

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
    let rest = out
        .get_mut(j..n)
        .unwrap_or(&mut [])
        .iter_mut()
        .zip(row.get(j..n).unwrap_or(&[]));
    for (o, &v) in rest {
        *o += v.to_f32();
    }
}

/// # Safety
/// The CPU must have NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn add_rows<W: Lanes, I: Iterator<Item = usize> + Clone>(
    w: &[W],
    rows: I,
    out: &mut [f32],
) {
    let n = out.len();
    if n == 0 {
        return;
    }
    let limit = w.len() / n;
    let rows = rows.filter(move |&r| r < limit);
    if rows.clone().next().is_none() {
        return;
    }
    let mut j = 0;
    // SAFETY (all tiles): at least one row exists, so `w` holds at least `n` values and
    // columns `j..j + 4A` (j + 4A <= n) are inside `out` and inside every row `r < limit`.
    while j + 32 <= n {
        unsafe { tile::<W, _, 8>(w.as_ptr().add(j), n, rows.clone(), out.as_mut_ptr().add(j)) };
        j += 32;
    }
    if j + 16 <= n {
        unsafe { tile::<W, _, 4>(w.as_ptr().add(j), n, rows.clone(), out.as_mut_ptr().add(j)) };
        j += 16;
    }
    if j + 8 <= n {
        unsafe { tile::<W, _, 2>(w.as_ptr().add(j), n, rows.clone(), out.as_mut_ptr().add(j)) };
        j += 8;
    }
    if j + 4 <= n {
        unsafe { tile::<W, _, 1>(w.as_ptr().add(j), n, rows.clone(), out.as_mut_ptr().add(j)) };
        j += 4;
    }
    let (tail, w_len) = (out.get_mut(j..).unwrap_or(&mut []), w.len());
    for r in rows {
        let start = r * n + j;
        let row = w.get(start..(start + tail.len()).min(w_len)).unwrap_or(&[]);
        for (o, &v) in tail.iter_mut().zip(row) {
            *o += v.to_f32();
        }
    }
}

/// `A` accumulators of 4 lanes summing the rows `rows` of a matrix with `stride` columns.
///
/// # Safety
/// `w + r*stride .. + 4A` readable for every `r` of `rows`, `out .. out + 4A` writable,
/// and the CPU has NEON.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn tile<W: Lanes, I: Iterator<Item = usize>, const A: usize>(
    w: *const W,
    stride: usize,
    rows: I,
    out: *mut f32,
) {
    // SAFETY: every access stays inside the ranges the caller guarantees.
    unsafe {
        let mut acc = [vld1q_f32(out); A];
        for (k, a) in acc.iter_mut().enumerate() {
            *a = vld1q_f32(out.add(4 * k));
        }
        for r in rows {
            let row = w.add(r * stride);
            for (k, a) in acc.iter_mut().enumerate() {
                *a = vaddq_f32(*a, W::load4(row.add(4 * k)));
            }
        }
        for (k, a) in acc.iter().enumerate() {
            vst1q_f32(out.add(4 * k), *a);
        }
    }
}
