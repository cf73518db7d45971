//! The `f32` tiles: sums of rows and dense-layer products over 16, 8, 4, 2 or 1 columns.
//!
//! A chunk loads up to eight weights straight into registers, one accumulation each: sums
//! load into `s0`..`s7` and keep their tile in `s8`..`s23`; dense layers keep the row's input
//! in `s0`, load into `s8`..`s15` and keep their tile in `s16`..`s31`.

use super::Tiles;

impl Tiles for f32 {
    unsafe fn sum_rows(rows: &[*const f32], n: usize, out: *mut f32) {
        let (list, count) = (rows.as_ptr(), rows.len());
        if count == 0 {
            return;
        }
        // SAFETY (every tile): columns `j..j + width` with `j + width <= n` are inside each
        // row and inside `out` (the caller's guarantee); `count > 0`.
        unsafe {
            by_tiles!(
                j < n,
                (list, count, 4 * j, out.add(j)),
                sum16: 16,
                sum8: 8,
                sum4: 4,
                sum2: 2,
                sum1: 1,
            );
        }
    }

    unsafe fn gemv(x: &[f32], rows: usize, w: *const f32, n: usize, out: *mut f32) {
        if rows == 0 {
            return;
        }
        let x = x.as_ptr();
        // SAFETY (every tile): `rows` rows of `n` values from `w`, columns `j..j + width`
        // inside them and inside `out`; `rows > 0` values of `x`.
        unsafe {
            by_tiles!(
                j < n,
                (x, rows, w.add(j), n, out.add(j)),
                gemv16: 16,
                gemv8: 8,
                gemv4: 4,
                gemv2: 2,
                gemv1: 1,
            );
        }
    }
}

/// The text of a chunk of `f32` columns: load the values, then accumulate each into its
/// tile register (`sum` or `gemv`, see `accumulate!`), `loaded => tile` per column.
macro_rules! f32_chunk {
    ($kind:ident, $advance:literal, [$($value:ident => $acc:ident),+ $(,)?]) => {
        concat!(
            load_chunk!($kind, $advance, $($value),+),
            $(accumulate!($kind, $acc, $value),)+
        )
    };
}

sum_tile!(
    sum16,
    f32,
    16,
    "s8-s23",
    f32_chunk!(sum, "!", [
        s0 => s8, s1 => s9, s2 => s10, s3 => s11, s4 => s12, s5 => s13, s6 => s14, s7 => s15,
    ]),
    f32_chunk!(sum, "", [
        s0 => s16, s1 => s17, s2 => s18, s3 => s19, s4 => s20, s5 => s21, s6 => s22, s7 => s23,
    ]),
);
sum_tile!(
    sum8,
    f32,
    8,
    "s8-s15",
    f32_chunk!(sum, "", [
        s0 => s8, s1 => s9, s2 => s10, s3 => s11, s4 => s12, s5 => s13, s6 => s14, s7 => s15,
    ]),
);
sum_tile!(
    sum4,
    f32,
    4,
    "s8-s11",
    f32_chunk!(sum, "", [s0 => s8, s1 => s9, s2 => s10, s3 => s11])
);
sum_tile!(
    sum2,
    f32,
    2,
    "s8-s9",
    f32_chunk!(sum, "", [s0 => s8, s1 => s9])
);
sum_tile!(sum1, f32, 1, "s8", f32_chunk!(sum, "", [s0 => s8]));

gemv_tile!(
    gemv16,
    f32,
    16,
    "s16-s31",
    advanced 32,
    f32_chunk!(gemv, "!", [
        s8 => s16, s9 => s17, s10 => s18, s11 => s19,
        s12 => s20, s13 => s21, s14 => s22, s15 => s23,
    ]),
    f32_chunk!(gemv, "", [
        s8 => s24, s9 => s25, s10 => s26, s11 => s27,
        s12 => s28, s13 => s29, s14 => s30, s15 => s31,
    ]),
);
gemv_tile!(
    gemv8,
    f32,
    8,
    "s16-s23",
    advanced 0,
    f32_chunk!(gemv, "", [
        s8 => s16, s9 => s17, s10 => s18, s11 => s19,
        s12 => s20, s13 => s21, s14 => s22, s15 => s23,
    ]),
);
gemv_tile!(
    gemv4,
    f32,
    4,
    "s16-s19",
    advanced 0,
    f32_chunk!(gemv, "", [s8 => s16, s9 => s17, s10 => s18, s11 => s19]),
);
gemv_tile!(gemv2, f32, 2, "s16-s17", advanced 0, f32_chunk!(gemv, "", [s8 => s16, s9 => s17]));
gemv_tile!(gemv1, f32, 1, "s16", advanced 0, f32_chunk!(gemv, "", [s8 => s16]));
