//! The `f32` tiles: sums of rows and dense-layer products over 16, 8, 4, 2 or 1 columns.

use super::Tiles;

impl Tiles for f32 {
    unsafe fn sum_rows(rows: &[*const f32], n: usize, out: *mut f32) {
        let (list, count) = (rows.as_ptr(), rows.len());
        if count == 0 {
            return;
        }
        let mut j = 0;
        // SAFETY (every tile): columns `j..j + width` with `j + width <= n` are inside each
        // row and inside `out` (the caller's guarantee); `count > 0`.
        unsafe {
            while j + 16 <= n {
                sum16(list, count, 4 * j, out.add(j));
                j += 16;
            }
            if j + 8 <= n {
                sum8(list, count, 4 * j, out.add(j));
                j += 8;
            }
            if j + 4 <= n {
                sum4(list, count, 4 * j, out.add(j));
                j += 4;
            }
            if j + 2 <= n {
                sum2(list, count, 4 * j, out.add(j));
                j += 2;
            }
            if j < n {
                sum1(list, count, 4 * j, out.add(j));
            }
        }
    }

    unsafe fn gemv(x: &[f32], rows: usize, w: *const f32, n: usize, out: *mut f32) {
        if rows == 0 {
            return;
        }
        let x = x.as_ptr();
        let mut j = 0;
        // SAFETY (every tile): `rows` rows of `n` values from `w`, columns `j..j + width`
        // inside them and inside `out`; `rows > 0` values of `x`.
        unsafe {
            while j + 16 <= n {
                gemv16(x, rows, w.add(j), n, out.add(j));
                j += 16;
            }
            if j + 8 <= n {
                gemv8(x, rows, w.add(j), n, out.add(j));
                j += 8;
            }
            if j + 4 <= n {
                gemv4(x, rows, w.add(j), n, out.add(j));
                j += 4;
            }
            if j + 2 <= n {
                gemv2(x, rows, w.add(j), n, out.add(j));
                j += 2;
            }
            if j < n {
                gemv1(x, rows, w.add(j), n, out.add(j));
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
pub(super) unsafe fn sum16(rows: *const *const f32, count: usize, col: usize, out: *mut f32) {
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times, reading one
    // row pointer each time; only the declared registers are written.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s8-s23}}",
            "2:",
            "ldr {t}, [{rows}], #4",
            "add {t}, {t}, {col}",
            "vldm {t}!, {{s0-s7}}",
            "vadd.f32 s8, s8, s0",
            "vadd.f32 s9, s9, s1",
            "vadd.f32 s10, s10, s2",
            "vadd.f32 s11, s11, s3",
            "vadd.f32 s12, s12, s4",
            "vadd.f32 s13, s13, s5",
            "vadd.f32 s14, s14, s6",
            "vadd.f32 s15, s15, s7",
            "vldm {t}, {{s0-s7}}",
            "vadd.f32 s16, s16, s0",
            "vadd.f32 s17, s17, s1",
            "vadd.f32 s18, s18, s2",
            "vadd.f32 s19, s19, s3",
            "vadd.f32 s20, s20, s4",
            "vadd.f32 s21, s21, s5",
            "vadd.f32 s22, s22, s6",
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
pub(super) unsafe fn sum8(rows: *const *const f32, count: usize, col: usize, out: *mut f32) {
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times, reading one
    // row pointer each time; only the declared registers are written.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s8-s15}}",
            "2:",
            "ldr {t}, [{rows}], #4",
            "add {t}, {t}, {col}",
            "vldm {t}, {{s0-s7}}",
            "vadd.f32 s8, s8, s0",
            "vadd.f32 s9, s9, s1",
            "vadd.f32 s10, s10, s2",
            "vadd.f32 s11, s11, s3",
            "vadd.f32 s12, s12, s4",
            "vadd.f32 s13, s13, s5",
            "vadd.f32 s14, s14, s6",
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
pub(super) unsafe fn sum4(rows: *const *const f32, count: usize, col: usize, out: *mut f32) {
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times, reading one
    // row pointer each time; only the declared registers are written.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s8-s11}}",
            "2:",
            "ldr {t}, [{rows}], #4",
            "add {t}, {t}, {col}",
            "vldm {t}, {{s0-s3}}",
            "vadd.f32 s8, s8, s0",
            "vadd.f32 s9, s9, s1",
            "vadd.f32 s10, s10, s2",
            "vadd.f32 s11, s11, s3",
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
pub(super) unsafe fn sum2(rows: *const *const f32, count: usize, col: usize, out: *mut f32) {
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times, reading one
    // row pointer each time; only the declared registers are written.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s8-s9}}",
            "2:",
            "ldr {t}, [{rows}], #4",
            "add {t}, {t}, {col}",
            "vldm {t}, {{s0-s1}}",
            "vadd.f32 s8, s8, s0",
            "vadd.f32 s9, s9, s1",
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

/// `out[..1] += Σ rows[r][..1]` (after `col` bytes), in row order.
///
/// # Safety
/// `count > 0` pointers at `rows`, each readable for `col` bytes plus 1 values
/// (4-byte aligned there), and `out` writable for 1 aligned `f32`s.
#[inline]
pub(super) unsafe fn sum1(rows: *const *const f32, count: usize, col: usize, out: *mut f32) {
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times, reading one
    // row pointer each time; only the declared registers are written.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s8}}",
            "2:",
            "ldr {t}, [{rows}], #4",
            "add {t}, {t}, {col}",
            "vldm {t}, {{s0}}",
            "vadd.f32 s8, s8, s0",
            "subs {count}, {count}, #1",
            "bne 2b",
            "vstm {out}, {{s8}}",
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
    w: *const f32,
    stride: usize,
    out: *mut f32,
) {
    // The loads of a row advance `w` by 32 bytes; the rest of the stride follows.
    let step = stride * 4 - 32;
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s16-s31}}",
            "2:",
            "vldmia {x}!, {{s0}}",
            "vldm {w}!, {{s8-s15}}",
            "vmla.f32 s16, s0, s8",
            "vmla.f32 s17, s0, s9",
            "vmla.f32 s18, s0, s10",
            "vmla.f32 s19, s0, s11",
            "vmla.f32 s20, s0, s12",
            "vmla.f32 s21, s0, s13",
            "vmla.f32 s22, s0, s14",
            "vmla.f32 s23, s0, s15",
            "vldm {w}, {{s8-s15}}",
            "vmla.f32 s24, s0, s8",
            "vmla.f32 s25, s0, s9",
            "vmla.f32 s26, s0, s10",
            "vmla.f32 s27, s0, s11",
            "vmla.f32 s28, s0, s12",
            "vmla.f32 s29, s0, s13",
            "vmla.f32 s30, s0, s14",
            "vmla.f32 s31, s0, s15",
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
    w: *const f32,
    stride: usize,
    out: *mut f32,
) {
    // The loads of a row leave `w` where it was; the whole stride follows.
    let step = stride * 4;
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s16-s23}}",
            "2:",
            "vldmia {x}!, {{s0}}",
            "vldm {w}, {{s8-s15}}",
            "vmla.f32 s16, s0, s8",
            "vmla.f32 s17, s0, s9",
            "vmla.f32 s18, s0, s10",
            "vmla.f32 s19, s0, s11",
            "vmla.f32 s20, s0, s12",
            "vmla.f32 s21, s0, s13",
            "vmla.f32 s22, s0, s14",
            "vmla.f32 s23, s0, s15",
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
    w: *const f32,
    stride: usize,
    out: *mut f32,
) {
    // The loads of a row leave `w` where it was; the whole stride follows.
    let step = stride * 4;
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s16-s19}}",
            "2:",
            "vldmia {x}!, {{s0}}",
            "vldm {w}, {{s8-s11}}",
            "vmla.f32 s16, s0, s8",
            "vmla.f32 s17, s0, s9",
            "vmla.f32 s18, s0, s10",
            "vmla.f32 s19, s0, s11",
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
    w: *const f32,
    stride: usize,
    out: *mut f32,
) {
    // The loads of a row leave `w` where it was; the whole stride follows.
    let step = stride * 4;
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s16-s17}}",
            "2:",
            "vldmia {x}!, {{s0}}",
            "vldm {w}, {{s8-s9}}",
            "vmla.f32 s16, s0, s8",
            "vmla.f32 s17, s0, s9",
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

/// `out[..1] += Σ_i x[i] · w[i·stride..][..1]` over `count` rows, in row order.
///
/// # Safety
/// `count > 0`; `x` readable for `count` `f32`s; `w + i·stride` readable for 1
/// values (4-byte aligned) for every `i < count`; `out` writable for 1 `f32`s.
#[inline]
pub(super) unsafe fn gemv1(
    x: *const f32,
    count: usize,
    w: *const f32,
    stride: usize,
    out: *mut f32,
) {
    // The loads of a row leave `w` where it was; the whole stride follows.
    let step = stride * 4;
    // SAFETY: the caller guarantees the ranges; the loop runs `count` times.
    unsafe {
        fpu_asm!(
            "vldm {out}, {{s16}}",
            "2:",
            "vldmia {x}!, {{s0}}",
            "vldm {w}, {{s8}}",
            "vmla.f32 s16, s0, s8",
            "add {w}, {w}, {step}",
            "subs {count}, {count}, #1",
            "bne 2b",
            "vstm {out}, {{s16}}",
            out = in(reg) out,
            x = inout(reg) x => _,
            w = inout(reg) w => _,
            step = in(reg) step,
            count = inout(reg) count => _,
        );
    }
}
