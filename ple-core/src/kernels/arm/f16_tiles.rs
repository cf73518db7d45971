//! The `f16` tiles: the same sums and products as the `f32` ones, with each pair of halves
//! loaded in one register and widened by `VCVTB` (bottom half) and `VCVTT` (top half).

use half::f16;

use super::Tiles;

/// A half widened by the FPU: for the columns the tiles leave (an odd last one, or all of
/// them when a matrix is not word-aligned).
#[inline]
fn widen(h: f16) -> f32 {
    let bits: u32;
    // SAFETY: register-only: moves the half into `s0`, converts it, moves the result back.
    unsafe {
        core::arch::asm!(
            "vmov s0, {h}",
            "vcvtb.f32.f16 s0, s0",
            "vmov {bits}, s0",
            h = in(reg) u32::from(h.to_bits()),
            bits = lateout(reg) bits,
            out("s0") _,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    f32::from_bits(bits)
}

impl Tiles for f16 {
    unsafe fn sum_rows(rows: &[*const f16], n: usize, out: *mut f32) {
        let (list, count) = (rows.as_ptr(), rows.len());
        let misaligned = rows.iter().fold(0, |bits, &p| bits | p as usize) % 4 != 0;
        let mut j = 0;
        if count > 0 && !misaligned {
            // SAFETY (every tile): columns `j..j + width` with `j + width <= n` are inside
            // each row and inside `out`; `j` is even, so every row's tile starts word-aligned.
            unsafe {
                while j + 16 <= n {
                    sum16(list, count, 2 * j, out.add(j));
                    j += 16;
                }
                if j + 8 <= n {
                    sum8(list, count, 2 * j, out.add(j));
                    j += 8;
                }
                if j + 4 <= n {
                    sum4(list, count, 2 * j, out.add(j));
                    j += 4;
                }
                if j + 2 <= n {
                    sum2(list, count, 2 * j, out.add(j));
                    j += 2;
                }
            }
        }
        // Row after row, so that each column still adds its rows in order.
        for &row in rows {
            for c in j..n {
                // SAFETY: `c < n`: inside the row and inside `out`.
                unsafe { *out.add(c) += widen(*row.add(c)) };
            }
        }
    }

    unsafe fn gemv(x: &[f32], rows: usize, w: *const f16, n: usize, out: *mut f32) {
        let xs = x.as_ptr();
        let mut j = 0;
        // Every row's start is word-aligned when the matrix's is and a row is a whole
        // number of words.
        if rows > 0 && (w as usize) % 4 == 0 && n % 2 == 0 {
            // SAFETY (every tile): `rows` rows of `n` values from `w`, columns
            // `j..j + width` inside them and inside `out`; `rows > 0` values of `x`.
            unsafe {
                while j + 16 <= n {
                    gemv16(xs, rows, w.add(j), n, out.add(j));
                    j += 16;
                }
                if j + 8 <= n {
                    gemv8(xs, rows, w.add(j), n, out.add(j));
                    j += 8;
                }
                if j + 4 <= n {
                    gemv4(xs, rows, w.add(j), n, out.add(j));
                    j += 4;
                }
                if j + 2 <= n {
                    gemv2(xs, rows, w.add(j), n, out.add(j));
                    j += 2;
                }
            }
        }
        for (i, &xi) in x.iter().take(rows).enumerate() {
            for c in j..n {
                // SAFETY: `i < rows` and `c < n`: inside `w` and `out`.
                unsafe { *out.add(c) += xi * widen(*w.add(i * n + c)) };
            }
        }
    }
}

/// `out[..16] += Σ rows[r][..16]` (after `col` bytes), in row order.
///
/// # Safety
/// `count > 0` pointers at `rows`, each readable for `col` bytes plus 16 values
/// (4-byte aligned there), and `out` writable for 16 aligned `f32`s.
#[inline]
pub(super) unsafe fn sum16(rows: *const *const f16, count: usize, col: usize, out: *mut f32) {
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times, reading one
    // row pointer each time; only the declared registers are written.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s8-s23}}",
            "2:",
            "ldr {t}, [{rows}], #4",
            "add {t}, {t}, {col}",
            "vldm {t}!, {{s0-s3}}",
            "vcvtb.f32.f16 s4, s0",
            "vadd.f32 s8, s8, s4",
            "vcvtt.f32.f16 s5, s0",
            "vadd.f32 s9, s9, s5",
            "vcvtb.f32.f16 s6, s1",
            "vadd.f32 s10, s10, s6",
            "vcvtt.f32.f16 s7, s1",
            "vadd.f32 s11, s11, s7",
            "vcvtb.f32.f16 s4, s2",
            "vadd.f32 s12, s12, s4",
            "vcvtt.f32.f16 s5, s2",
            "vadd.f32 s13, s13, s5",
            "vcvtb.f32.f16 s6, s3",
            "vadd.f32 s14, s14, s6",
            "vcvtt.f32.f16 s7, s3",
            "vadd.f32 s15, s15, s7",
            "vldm {t}, {{s0-s3}}",
            "vcvtb.f32.f16 s4, s0",
            "vadd.f32 s16, s16, s4",
            "vcvtt.f32.f16 s5, s0",
            "vadd.f32 s17, s17, s5",
            "vcvtb.f32.f16 s6, s1",
            "vadd.f32 s18, s18, s6",
            "vcvtt.f32.f16 s7, s1",
            "vadd.f32 s19, s19, s7",
            "vcvtb.f32.f16 s4, s2",
            "vadd.f32 s20, s20, s4",
            "vcvtt.f32.f16 s5, s2",
            "vadd.f32 s21, s21, s5",
            "vcvtb.f32.f16 s6, s3",
            "vadd.f32 s22, s22, s6",
            "vcvtt.f32.f16 s7, s3",
            "vadd.f32 s23, s23, s7",
            "subs {count}, {count}, #1",
            "bne 2b",
            "vstm {out}, {{s8-s23}}",
            out = in(reg) out,
            rows = inout(reg) rows => _,
            count = inout(reg) count => _,
            col = in(reg) col,
            t = out(reg) _,
        );
    }
}

/// `out[..8] += Σ rows[r][..8]` (after `col` bytes), in row order.
///
/// # Safety
/// `count > 0` pointers at `rows`, each readable for `col` bytes plus 8 values
/// (4-byte aligned there), and `out` writable for 8 aligned `f32`s.
#[inline]
pub(super) unsafe fn sum8(rows: *const *const f16, count: usize, col: usize, out: *mut f32) {
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times, reading one
    // row pointer each time; only the declared registers are written.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s8-s15}}",
            "2:",
            "ldr {t}, [{rows}], #4",
            "add {t}, {t}, {col}",
            "vldm {t}, {{s0-s3}}",
            "vcvtb.f32.f16 s4, s0",
            "vadd.f32 s8, s8, s4",
            "vcvtt.f32.f16 s5, s0",
            "vadd.f32 s9, s9, s5",
            "vcvtb.f32.f16 s6, s1",
            "vadd.f32 s10, s10, s6",
            "vcvtt.f32.f16 s7, s1",
            "vadd.f32 s11, s11, s7",
            "vcvtb.f32.f16 s4, s2",
            "vadd.f32 s12, s12, s4",
            "vcvtt.f32.f16 s5, s2",
            "vadd.f32 s13, s13, s5",
            "vcvtb.f32.f16 s6, s3",
            "vadd.f32 s14, s14, s6",
            "vcvtt.f32.f16 s7, s3",
            "vadd.f32 s15, s15, s7",
            "subs {count}, {count}, #1",
            "bne 2b",
            "vstm {out}, {{s8-s15}}",
            out = in(reg) out,
            rows = inout(reg) rows => _,
            count = inout(reg) count => _,
            col = in(reg) col,
            t = out(reg) _,
        );
    }
}

/// `out[..4] += Σ rows[r][..4]` (after `col` bytes), in row order.
///
/// # Safety
/// `count > 0` pointers at `rows`, each readable for `col` bytes plus 4 values
/// (4-byte aligned there), and `out` writable for 4 aligned `f32`s.
#[inline]
pub(super) unsafe fn sum4(rows: *const *const f16, count: usize, col: usize, out: *mut f32) {
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times, reading one
    // row pointer each time; only the declared registers are written.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s8-s11}}",
            "2:",
            "ldr {t}, [{rows}], #4",
            "add {t}, {t}, {col}",
            "vldm {t}, {{s0-s1}}",
            "vcvtb.f32.f16 s4, s0",
            "vadd.f32 s8, s8, s4",
            "vcvtt.f32.f16 s5, s0",
            "vadd.f32 s9, s9, s5",
            "vcvtb.f32.f16 s6, s1",
            "vadd.f32 s10, s10, s6",
            "vcvtt.f32.f16 s7, s1",
            "vadd.f32 s11, s11, s7",
            "subs {count}, {count}, #1",
            "bne 2b",
            "vstm {out}, {{s8-s11}}",
            out = in(reg) out,
            rows = inout(reg) rows => _,
            count = inout(reg) count => _,
            col = in(reg) col,
            t = out(reg) _,
        );
    }
}

/// `out[..2] += Σ rows[r][..2]` (after `col` bytes), in row order.
///
/// # Safety
/// `count > 0` pointers at `rows`, each readable for `col` bytes plus 2 values
/// (4-byte aligned there), and `out` writable for 2 aligned `f32`s.
#[inline]
pub(super) unsafe fn sum2(rows: *const *const f16, count: usize, col: usize, out: *mut f32) {
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times, reading one
    // row pointer each time; only the declared registers are written.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s8-s9}}",
            "2:",
            "ldr {t}, [{rows}], #4",
            "add {t}, {t}, {col}",
            "vldm {t}, {{s0}}",
            "vcvtb.f32.f16 s4, s0",
            "vadd.f32 s8, s8, s4",
            "vcvtt.f32.f16 s5, s0",
            "vadd.f32 s9, s9, s5",
            "subs {count}, {count}, #1",
            "bne 2b",
            "vstm {out}, {{s8-s9}}",
            out = in(reg) out,
            rows = inout(reg) rows => _,
            count = inout(reg) count => _,
            col = in(reg) col,
            t = out(reg) _,
        );
    }
}

/// `out[..16] += Σ_i x[i] · w[i·stride..][..16]` over `count` rows, in row order.
///
/// # Safety
/// `count > 0`; `x` readable for `count` `f32`s; `w + i·stride` readable for 16
/// values (4-byte aligned) for every `i < count`; `out` writable for 16 `f32`s.
#[inline]
pub(super) unsafe fn gemv16(
    x: *const f32,
    count: usize,
    w: *const f16,
    stride: usize,
    out: *mut f32,
) {
    // The loads of a row advance `w` by 16 bytes; the rest of the stride follows.
    let step = stride * 2 - 16;
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s16-s31}}",
            "2:",
            "vldmia {x}!, {{s0}}",
            "vldm {w}!, {{s2-s5}}",
            "vcvtb.f32.f16 s6, s2",
            "vmla.f32 s16, s0, s6",
            "vcvtt.f32.f16 s7, s2",
            "vmla.f32 s17, s0, s7",
            "vcvtb.f32.f16 s6, s3",
            "vmla.f32 s18, s0, s6",
            "vcvtt.f32.f16 s7, s3",
            "vmla.f32 s19, s0, s7",
            "vcvtb.f32.f16 s6, s4",
            "vmla.f32 s20, s0, s6",
            "vcvtt.f32.f16 s7, s4",
            "vmla.f32 s21, s0, s7",
            "vcvtb.f32.f16 s6, s5",
            "vmla.f32 s22, s0, s6",
            "vcvtt.f32.f16 s7, s5",
            "vmla.f32 s23, s0, s7",
            "vldm {w}, {{s2-s5}}",
            "vcvtb.f32.f16 s6, s2",
            "vmla.f32 s24, s0, s6",
            "vcvtt.f32.f16 s7, s2",
            "vmla.f32 s25, s0, s7",
            "vcvtb.f32.f16 s6, s3",
            "vmla.f32 s26, s0, s6",
            "vcvtt.f32.f16 s7, s3",
            "vmla.f32 s27, s0, s7",
            "vcvtb.f32.f16 s6, s4",
            "vmla.f32 s28, s0, s6",
            "vcvtt.f32.f16 s7, s4",
            "vmla.f32 s29, s0, s7",
            "vcvtb.f32.f16 s6, s5",
            "vmla.f32 s30, s0, s6",
            "vcvtt.f32.f16 s7, s5",
            "vmla.f32 s31, s0, s7",
            "add {w}, {w}, {step}",
            "subs {count}, {count}, #1",
            "bne 2b",
            "vstm {out}, {{s16-s31}}",
            out = in(reg) out,
            x = inout(reg) x => _,
            w = inout(reg) w => _,
            step = in(reg) step,
            count = inout(reg) count => _,
        );
    }
}

/// `out[..8] += Σ_i x[i] · w[i·stride..][..8]` over `count` rows, in row order.
///
/// # Safety
/// `count > 0`; `x` readable for `count` `f32`s; `w + i·stride` readable for 8
/// values (4-byte aligned) for every `i < count`; `out` writable for 8 `f32`s.
#[inline]
pub(super) unsafe fn gemv8(
    x: *const f32,
    count: usize,
    w: *const f16,
    stride: usize,
    out: *mut f32,
) {
    // The loads of a row leave `w` where it was; the whole stride follows.
    let step = stride * 2;
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s16-s23}}",
            "2:",
            "vldmia {x}!, {{s0}}",
            "vldm {w}, {{s2-s5}}",
            "vcvtb.f32.f16 s6, s2",
            "vmla.f32 s16, s0, s6",
            "vcvtt.f32.f16 s7, s2",
            "vmla.f32 s17, s0, s7",
            "vcvtb.f32.f16 s6, s3",
            "vmla.f32 s18, s0, s6",
            "vcvtt.f32.f16 s7, s3",
            "vmla.f32 s19, s0, s7",
            "vcvtb.f32.f16 s6, s4",
            "vmla.f32 s20, s0, s6",
            "vcvtt.f32.f16 s7, s4",
            "vmla.f32 s21, s0, s7",
            "vcvtb.f32.f16 s6, s5",
            "vmla.f32 s22, s0, s6",
            "vcvtt.f32.f16 s7, s5",
            "vmla.f32 s23, s0, s7",
            "add {w}, {w}, {step}",
            "subs {count}, {count}, #1",
            "bne 2b",
            "vstm {out}, {{s16-s23}}",
            out = in(reg) out,
            x = inout(reg) x => _,
            w = inout(reg) w => _,
            step = in(reg) step,
            count = inout(reg) count => _,
        );
    }
}

/// `out[..4] += Σ_i x[i] · w[i·stride..][..4]` over `count` rows, in row order.
///
/// # Safety
/// `count > 0`; `x` readable for `count` `f32`s; `w + i·stride` readable for 4
/// values (4-byte aligned) for every `i < count`; `out` writable for 4 `f32`s.
#[inline]
pub(super) unsafe fn gemv4(
    x: *const f32,
    count: usize,
    w: *const f16,
    stride: usize,
    out: *mut f32,
) {
    // The loads of a row leave `w` where it was; the whole stride follows.
    let step = stride * 2;
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s16-s19}}",
            "2:",
            "vldmia {x}!, {{s0}}",
            "vldm {w}, {{s2-s3}}",
            "vcvtb.f32.f16 s6, s2",
            "vmla.f32 s16, s0, s6",
            "vcvtt.f32.f16 s7, s2",
            "vmla.f32 s17, s0, s7",
            "vcvtb.f32.f16 s6, s3",
            "vmla.f32 s18, s0, s6",
            "vcvtt.f32.f16 s7, s3",
            "vmla.f32 s19, s0, s7",
            "add {w}, {w}, {step}",
            "subs {count}, {count}, #1",
            "bne 2b",
            "vstm {out}, {{s16-s19}}",
            out = in(reg) out,
            x = inout(reg) x => _,
            w = inout(reg) w => _,
            step = in(reg) step,
            count = inout(reg) count => _,
        );
    }
}

/// `out[..2] += Σ_i x[i] · w[i·stride..][..2]` over `count` rows, in row order.
///
/// # Safety
/// `count > 0`; `x` readable for `count` `f32`s; `w + i·stride` readable for 2
/// values (4-byte aligned) for every `i < count`; `out` writable for 2 `f32`s.
#[inline]
pub(super) unsafe fn gemv2(
    x: *const f32,
    count: usize,
    w: *const f16,
    stride: usize,
    out: *mut f32,
) {
    // The loads of a row leave `w` where it was; the whole stride follows.
    let step = stride * 2;
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s16-s17}}",
            "2:",
            "vldmia {x}!, {{s0}}",
            "vldm {w}, {{s2}}",
            "vcvtb.f32.f16 s6, s2",
            "vmla.f32 s16, s0, s6",
            "vcvtt.f32.f16 s7, s2",
            "vmla.f32 s17, s0, s7",
            "add {w}, {w}, {step}",
            "subs {count}, {count}, #1",
            "bne 2b",
            "vstm {out}, {{s16-s17}}",
            out = in(reg) out,
            x = inout(reg) x => _,
            w = inout(reg) w => _,
            step = in(reg) step,
            count = inout(reg) count => _,
        );
    }
}
