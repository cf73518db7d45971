//! Rows into lanes on AVX-512F: the batch tile's rows transposed so that value `c` of every
//! row is one vector of [`LANES`] lanes, sixteen a register.
//!
//! The tile goes through in blocks of sixteen rows by eight columns. Each register is
//! loaded as two 256-bit halves, eight columns of one row in each half; the halves are
//! paired so that, after the two in-lane stages of the 8 x 8 transposition (unpack, then
//! shuffle), one 128-bit-lane shuffle of two registers gathers a whole column in row order.
//! Register `i` holds rows `lo(i)` and `lo(i) + 4` with `lo(i) = i` for `i < 4` and `i + 4`
//! above: then the first four registers give rows 0..8 of each column (lanes 0 and 2 of
//! the 128-bit lanes after the in-lane stages) and the last four rows 8..16. That is 24
//! shuffles and 8 half-register inserts for 128 values, where a 16 x 16 transposition needs
//! 64 shuffles for 256 and the AVX2 8 x 8 one 48 for 128. A last block that would run past
//! the columns is moved left to end at the last column, so some columns are written twice,
//! identically. The rows of a partial tile past `count` are zero registers, as the
//! contract wants their lanes.

use core::arch::x86_64::{
    __m256, __m512, _mm256_castps_pd, _mm256_loadu_ps, _mm256_setzero_ps, _mm512_castpd_ps,
    _mm512_castps256_ps512, _mm512_castps_pd, _mm512_insertf64x4, _mm512_shuffle_f32x4,
    _mm512_shuffle_ps, _mm512_storeu_ps, _mm512_unpackhi_ps, _mm512_unpacklo_ps,
};

use crate::kernels::LANES;

const _: () = assert!(
    LANES.is_multiple_of(16),
    "the AVX-512 transposition fills sixteen lanes a register"
);

/// Columns a block transposes.
const BLOCK: usize = 8;

/// See `Kernels::to_lanes`. Returns `false`, touching nothing, for an empty tile, fewer
/// than eight columns, a stride shorter than the columns, or rows that do not hold the
/// first `count` rows' columns.
///
/// # Safety
/// The CPU must have AVX-512F, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
pub(super) unsafe fn to_lanes(
    rows: &[f32],
    stride: usize,
    count: usize,
    lanes: &mut [f32],
) -> bool {
    let count = count.min(LANES);
    let columns = lanes.len() / LANES;
    let inside = (count.wrapping_sub(1))
        .checked_mul(stride)
        .and_then(|start| start.checked_add(columns))
        .is_some_and(|end| end <= rows.len());
    if count == 0 || columns < BLOCK || stride < columns || !inside {
        return false;
    }
    let mut start = 0;
    while start < columns {
        let c0 = start.min(columns - BLOCK);
        // SAFETY: rows below `count` hold columns c0..c0 + 8 (c0 + 8 <= columns <= stride,
        // and row count - 1 ends inside `rows`, checked above); no other row is read. The
        // vectors of columns c0..c0 + 8 are inside `lanes`.
        unsafe {
            for first in (0..LANES).step_by(16) {
                let half = |r: usize| -> __m256 {
                    if first + r < count {
                        _mm256_loadu_ps(rows.as_ptr().add((first + r) * stride + c0))
                    } else {
                        _mm256_setzero_ps()
                    }
                };
                let registers: [__m512; 8] = core::array::from_fn(|i| {
                    let lo = if i < 4 { i } else { i + 4 };
                    pair(half(lo), half(lo + 4))
                });
                let columns = transpose(registers);
                let dst = lanes.as_mut_ptr().add(c0 * LANES + first);
                for (j, v) in columns.iter().enumerate() {
                    _mm512_storeu_ps(dst.add(j * LANES), *v);
                }
            }
        }
        start = c0 + BLOCK;
    }
    true
}

/// One register of two halves: `low` in lanes 0..8, `high` in lanes 8..16.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn pair(low: __m256, high: __m256) -> __m512 {
    _mm512_castpd_ps(_mm512_insertf64x4::<1>(
        _mm512_castps_pd(_mm512_castps256_ps512(low)),
        _mm256_castps_pd(high),
    ))
}

/// The eight columns of the sixteen rows held as the module documentation says.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn transpose(r: [__m512; 8]) -> [__m512; 8] {
    let [r0, r1, r2, r3, r4, r5, r6, r7] = r;
    // Within each 128-bit lane, as the 8 x 8 transposition's first two stages: `u_j` holds
    // column j (lanes 0 and 2 of the 128-bit lanes) and column j + 4 (lanes 1 and 3) of
    // four registers' rows.
    let (t0, t1) = (_mm512_unpacklo_ps(r0, r1), _mm512_unpackhi_ps(r0, r1));
    let (t2, t3) = (_mm512_unpacklo_ps(r2, r3), _mm512_unpackhi_ps(r2, r3));
    let (t4, t5) = (_mm512_unpacklo_ps(r4, r5), _mm512_unpackhi_ps(r4, r5));
    let (t6, t7) = (_mm512_unpacklo_ps(r6, r7), _mm512_unpackhi_ps(r6, r7));
    let u0 = _mm512_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm512_shuffle_ps::<0xee>(t0, t2);
    let u2 = _mm512_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm512_shuffle_ps::<0xee>(t1, t3);
    let u4 = _mm512_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm512_shuffle_ps::<0xee>(t4, t6);
    let u6 = _mm512_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm512_shuffle_ps::<0xee>(t5, t7);
    // Lanes 0 and 2 of `u_j` are rows 0..8 of column j, of `u_{j+4}` rows 8..16 (0x88);
    // lanes 1 and 3 the same rows of column j + 4 (0xdd).
    [
        _mm512_shuffle_f32x4::<0x88>(u0, u4),
        _mm512_shuffle_f32x4::<0x88>(u1, u5),
        _mm512_shuffle_f32x4::<0x88>(u2, u6),
        _mm512_shuffle_f32x4::<0x88>(u3, u7),
        _mm512_shuffle_f32x4::<0xdd>(u0, u4),
        _mm512_shuffle_f32x4::<0xdd>(u1, u5),
        _mm512_shuffle_f32x4::<0xdd>(u2, u6),
        _mm512_shuffle_f32x4::<0xdd>(u3, u7),
    ]
}
