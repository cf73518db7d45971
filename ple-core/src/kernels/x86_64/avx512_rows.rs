//! The sparse first layer of a tile of rows on AVX-512: `Kernels::sparse_rows`.
//!
//! Row by row, a batch spends about a third of its first layer outside the arithmetic:
//! two kernel calls a row (finding the category rows, then the fused layer), each with its
//! dispatch, its shape checks and the choice of how many accumulators a pass takes. Here the
//! shape is checked and the pass chosen once for the tile; each row then finds its category
//! rows in registers (`avx512_front::category_rows_of_32`, inlined), checks them against the
//! matrix in one compare and goes through the same `avx512::pass` as `sparse_layer`, so every
//! row gets the operations of its own `category_rows` and `sparse_layer` calls, in the same
//! order, bit for bit. The pass's `0 + bias` is the same for every row: it is computed once
//! (`avx512::start`) and each row starts from copies of it, register moves instead of nine
//! loads and additions. The loop calls no function (the category rows of up to 32 fields
//! have no fallback to leave for), so the compiler keeps those nine vectors in registers.
#![allow(clippy::incompatible_msrv)]

use super::avx512::{pass_from, rows_below, start, Pass, Wide, PASS};
use super::avx512_front::category_rows_of_32;
use super::front::MAX_VECTOR_FIELDS;

/// The widest row the tile kernel takes: one pass of [`PASS`] accumulators.
const MAX_WIDTH: usize = 16 * PASS;

/// See `Kernels::sparse_rows`. Returns how many rows, from the first, it computed: all of
/// them, or fewer when a row's category rows fall outside the matrix (the caller finishes
/// from that row on with the row-by-row kernels), or 0 for a shape it does not take (fewer
/// than 16 or more than 256 columns, more than 32 fields, slices that do not hold `count`
/// whole rows).
///
/// # Safety
/// The CPU must have AVX-512F and BW, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
pub(super) unsafe fn sparse_rows<W: Wide>(
    x: &[f32],
    w: &[W],
    bias: &[W],
    categories: &[u16],
    starts: &[u32],
    out: &mut [f32],
) -> usize {
    let n = bias.len();
    if !(16..=MAX_WIDTH).contains(&n) {
        return 0;
    }
    let count = out.len() / n;
    let fields = starts.len();
    let height = w.len() / n;
    let columns = x.len().checked_div(count).unwrap_or(0);
    let whole = count * n == out.len()
        && count * columns == x.len()
        && Some(categories.len()) == count.checked_mul(fields);
    if count == 0 || !whole || fields > MAX_VECTOR_FIELDS || columns > height {
        return 0;
    }
    let vectors = n.div_ceil(16);
    // The last vector ends at column n; the others follow from column 0.
    let at = Pass {
        stride: n,
        last: (16 * (vectors - 1)).min(n - 16),
    };
    // SAFETY: the shape is checked above: n >= 16 columns in one pass of `vectors` <= PASS
    // accumulators, `count` whole rows in `x`, `categories` and `out`, and every numeric
    // input below the matrix height; `rows_of` checks each row's category rows.
    unsafe {
        match vectors {
            1 => tile::<W, 1>(x, w, bias, categories, starts, out, at),
            2 => tile::<W, 2>(x, w, bias, categories, starts, out, at),
            3 => tile::<W, 3>(x, w, bias, categories, starts, out, at),
            4 => tile::<W, 4>(x, w, bias, categories, starts, out, at),
            5 => tile::<W, 5>(x, w, bias, categories, starts, out, at),
            6 => tile::<W, 6>(x, w, bias, categories, starts, out, at),
            7 => tile::<W, 7>(x, w, bias, categories, starts, out, at),
            8 => tile::<W, 8>(x, w, bias, categories, starts, out, at),
            9 => tile::<W, 9>(x, w, bias, categories, starts, out, at),
            10 => tile::<W, 10>(x, w, bias, categories, starts, out, at),
            11 => tile::<W, 11>(x, w, bias, categories, starts, out, at),
            12 => tile::<W, 12>(x, w, bias, categories, starts, out, at),
            13 => tile::<W, 13>(x, w, bias, categories, starts, out, at),
            14 => tile::<W, 14>(x, w, bias, categories, starts, out, at),
            15 => tile::<W, 15>(x, w, bias, categories, starts, out, at),
            _ => tile::<W, PASS>(x, w, bias, categories, starts, out, at),
        }
    }
}

/// Every row of a checked tile with `A` accumulators; stops at the first row whose category
/// rows fall outside the matrix and returns the rows done.
///
/// # Safety
/// As `sparse_rows` after its checks: `out.len() / at.stride` whole rows of `x` (at most the
/// matrix height of inputs each), `categories` (`starts.len() <= 32` fields each) and `out`;
/// `A` vectors cover the `at.stride >= 16` columns; the CPU features of `sparse_rows`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn tile<W: Wide, const A: usize>(
    x: &[f32],
    w: &[W],
    bias: &[W],
    categories: &[u16],
    starts: &[u32],
    out: &mut [f32],
    at: Pass,
) -> usize {
    let n = at.stride;
    let fields = starts.len();
    let count = out.len().checked_div(n).unwrap_or(0);
    let columns = x.len().checked_div(count).unwrap_or(0);
    let height = w.len().checked_div(n).unwrap_or(0);
    let mut rows = [0u32; MAX_VECTOR_FIELDS];
    // SAFETY: the pass's vectors lie in columns 0..n of the bias.
    let from = unsafe { start::<W, A>(bias.as_ptr(), at) };
    for r in 0..count {
        let values = x.get(r * columns..(r + 1) * columns).unwrap_or(&[]);
        let row_categories = categories.get(r * fields..(r + 1) * fields).unwrap_or(&[]);
        let Some(row_out) = out.get_mut(r * n..(r + 1) * n) else {
            return r;
        };
        // SAFETY: the CPU has the features; `rows` has room for 32 rows.
        let known = unsafe { category_rows_of_32(row_categories, starts, &mut rows) };
        let found = rows.get(..known).unwrap_or(&[]);
        if !rows_below(found, height) {
            return r;
        }
        // SAFETY: every vector of the pass lies in columns 0..n of every numeric row
        // (`columns` of them, at most `height`), of every category row (below `height`,
        // checked) and of this row's output.
        unsafe { pass_from::<W, A>(from, values, w.as_ptr(), found, row_out.as_mut_ptr(), at) };
    }
    count
}
