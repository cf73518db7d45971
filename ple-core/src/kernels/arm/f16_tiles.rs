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
        // The columns the tiles leave (all of them when a row is not word-aligned).
        let rest = if count > 0 && !misaligned {
            // SAFETY (every tile): columns `j..j + width` with `j + width <= n` are inside
            // each row and inside `out`; `j` is even, so every row's tile starts word-aligned.
            unsafe {
                by_tiles!(
                    j < n,
                    (list, count, 2 * j, out.add(j)),
                    sum16: 16,
                    sum8: 8,
                    sum4: 4,
                    sum2: 2,
                )
            }
        } else {
            0
        };
        // Row after row, so that each column still adds its rows in order.
        for &row in rows {
            for c in rest..n {
                // SAFETY: `c < n`: inside the row and inside `out`.
                unsafe { *out.add(c) += widen(*row.add(c)) };
            }
        }
    }

    unsafe fn gemv(x: &[f32], rows: usize, w: *const f16, n: usize, out: *mut f32) {
        let xs = x.as_ptr();
        // Every row's start is word-aligned when the matrix's is and a row is a whole
        // number of words.
        let rest = if rows > 0 && (w as usize).is_multiple_of(4) && n.is_multiple_of(2) {
            // SAFETY (every tile): `rows` rows of `n` values from `w`, columns
            // `j..j + width` inside them and inside `out`; `rows > 0` values of `x`.
            unsafe {
                by_tiles!(
                    j < n,
                    (xs, rows, w.add(j), n, out.add(j)),
                    gemv16: 16,
                    gemv8: 8,
                    gemv4: 4,
                    gemv2: 2,
                )
            }
        } else {
            0
        };
        for (i, &xi) in x.iter().take(rows).enumerate() {
            for c in rest..n {
                // SAFETY: `i < rows` and `c < n`: inside `w` and `out`.
                unsafe { *out.add(c) += xi * widen(*w.add(i * n + c)) };
            }
        }
    }
}

/// The text of a chunk of `f16` columns: load whole words (two halves each), then per half
/// widen it into a temporary (`VCVTB` the bottom, `VCVTT` the top) and accumulate that into
/// its tile register (`sum` or `gemv`, see `accumulate!`). Each word names the tile
/// registers of its two columns and the two temporaries they go through.
macro_rules! f16_chunk {
    (
        $kind:ident, $advance:literal,
        [$($word:ident => ($bottom:ident, $top:ident) via ($t_bottom:ident, $t_top:ident)),+ $(,)?]
    ) => {
        concat!(
            load_chunk!($kind, $advance, $($word),+),
            $(
                "vcvtb.f32.f16 ", stringify!($t_bottom), ", ", stringify!($word), "\n",
                accumulate!($kind, $bottom, $t_bottom),
                "vcvtt.f32.f16 ", stringify!($t_top), ", ", stringify!($word), "\n",
                accumulate!($kind, $top, $t_top),
            )+
        )
    };
}

// Sums load the words into `s0`..`s3`, widen through `s4`..`s7` and keep the tile in
// `s8`..`s23`.
sum_tile!(
    sum16,
    f16,
    16,
    "s8-s23",
    f16_chunk!(sum, "!", [
        s0 => (s8, s9) via (s4, s5),
        s1 => (s10, s11) via (s6, s7),
        s2 => (s12, s13) via (s4, s5),
        s3 => (s14, s15) via (s6, s7),
    ]),
    f16_chunk!(sum, "", [
        s0 => (s16, s17) via (s4, s5),
        s1 => (s18, s19) via (s6, s7),
        s2 => (s20, s21) via (s4, s5),
        s3 => (s22, s23) via (s6, s7),
    ]),
);
sum_tile!(
    sum8,
    f16,
    8,
    "s8-s15",
    f16_chunk!(sum, "", [
        s0 => (s8, s9) via (s4, s5),
        s1 => (s10, s11) via (s6, s7),
        s2 => (s12, s13) via (s4, s5),
        s3 => (s14, s15) via (s6, s7),
    ]),
);
sum_tile!(
    sum4,
    f16,
    4,
    "s8-s11",
    f16_chunk!(sum, "", [s0 => (s8, s9) via (s4, s5), s1 => (s10, s11) via (s6, s7)]),
);
sum_tile!(
    sum2,
    f16,
    2,
    "s8-s9",
    f16_chunk!(sum, "", [s0 => (s8, s9) via (s4, s5)])
);

// Dense layers keep the row's input in `s0`, load the words into `s2`..`s5`, widen through
// `s6` and `s7` and keep the tile in `s16`..`s31`.
gemv_tile!(
    gemv16,
    f16,
    16,
    "s16-s31",
    advanced 16,
    f16_chunk!(gemv, "!", [
        s2 => (s16, s17) via (s6, s7),
        s3 => (s18, s19) via (s6, s7),
        s4 => (s20, s21) via (s6, s7),
        s5 => (s22, s23) via (s6, s7),
    ]),
    f16_chunk!(gemv, "", [
        s2 => (s24, s25) via (s6, s7),
        s3 => (s26, s27) via (s6, s7),
        s4 => (s28, s29) via (s6, s7),
        s5 => (s30, s31) via (s6, s7),
    ]),
);
gemv_tile!(
    gemv8,
    f16,
    8,
    "s16-s23",
    advanced 0,
    f16_chunk!(gemv, "", [
        s2 => (s16, s17) via (s6, s7),
        s3 => (s18, s19) via (s6, s7),
        s4 => (s20, s21) via (s6, s7),
        s5 => (s22, s23) via (s6, s7),
    ]),
);
gemv_tile!(
    gemv4,
    f16,
    4,
    "s16-s19",
    advanced 0,
    f16_chunk!(gemv, "", [s2 => (s16, s17) via (s6, s7), s3 => (s18, s19) via (s6, s7)]),
);
gemv_tile!(
    gemv2,
    f16,
    2,
    "s16-s17",
    advanced 0,
    f16_chunk!(gemv, "", [s2 => (s16, s17) via (s6, s7)]),
);
