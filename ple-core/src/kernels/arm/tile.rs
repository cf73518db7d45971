//! The shape every FPU tile shares, written once for both weight types and every width.
//!
//! A tile keeps `width` output columns in FPU registers across all rows, then stores them
//! back. A row-sum tile (`sum_tile!`) fetches each row's pointer from a list and adds the
//! row's columns; a dense-layer tile (`gemv_tile!`) loads the row's input into `s0` and
//! multiplies-accumulates the row's columns, then steps to the next row of the matrix. Inside
//! the loop, the row's columns arrive in chunks of at most eight values: one `VLDM` of the
//! chunk, then one accumulation per column (preceded, for `f16`, by the conversion of its
//! half). The chunk text is the only part that depends on the weight type, so each weight
//! type's file writes its own chunk macro and lists, per tile, the registers it uses; the
//! instructions a tile runs are exactly the ones the lists spell out.

/// `{s0, s1, …}`: a `VLDM` register list (consecutive registers), braces escaped for the
/// `asm!` template.
macro_rules! register_list {
    ($first:ident $(, $rest:ident)*) => {
        concat!("{{", stringify!($first), $(", ", stringify!($rest),)* "}}")
    };
}

/// One accumulation into a tile register: `acc += value` in a row sum (`VADD`), or
/// `acc += s0 · value` in a dense layer, `s0` holding the row's input (`VMLA`, the chained
/// multiply-accumulate: the product is rounded before the addition, as in the scalar kernel).
macro_rules! accumulate {
    (sum, $acc:ident, $value:ident) => {
        concat!(
            "vadd.f32 ",
            stringify!($acc),
            ", ",
            stringify!($acc),
            ", ",
            stringify!($value),
            "\n"
        )
    };
    (gemv, $acc:ident, $value:ident) => {
        concat!(
            "vmla.f32 ",
            stringify!($acc),
            ", s0, ",
            stringify!($value),
            "\n"
        )
    };
}

/// Loads one chunk of the current row into the registers listed: from `{t}` in a row sum,
/// from `{w}` in a dense layer. `$advance` is `"!"` for a chunk that another chunk of the
/// same row follows (the pointer moves past it), `""` otherwise.
macro_rules! load_chunk {
    (sum, $advance:literal, $($reg:ident),+) => {
        concat!("vldm {t}", $advance, ", ", register_list!($($reg),+), "\n")
    };
    (gemv, $advance:literal, $($reg:ident),+) => {
        concat!("vldm {w}", $advance, ", ", register_list!($($reg),+), "\n")
    };
}

/// A row-sum tile `$name`: `out[..$width] += Σ rows[r][..$width]` (each row `col` bytes in),
/// rows added in order, the sums kept in the registers `$tile` and each row's columns
/// added by the `$chunk` texts.
macro_rules! sum_tile {
    ($name:ident, $weight:ty, $width:literal, $tile:literal, $($chunk:expr),+ $(,)?) => {
        #[doc = concat!(
            "`out[..", stringify!($width), "] += Σ rows[r][..", stringify!($width),
            "]` (after `col` bytes), in row order."
        )]
        ///
        /// # Safety
        #[doc = concat!(
            "`count > 0` pointers at `rows`, each readable for `col` bytes plus ",
            stringify!($width), " values (4-byte aligned there), and `out` writable for ",
            stringify!($width), " aligned `f32`s."
        )]
        #[inline]
        pub(super) unsafe fn $name(
            rows: *const *const $weight,
            count: usize,
            col: usize,
            out: *mut f32,
        ) {
            // SAFETY: the caller guarantees the ranges; the loop runs `count` times, reading
            // one row pointer each time; only the declared registers are written.
            unsafe {
                fpu_asm!(
                    concat!("vldm {out}, {{", $tile, "}}"),
                    "2:",
                    "ldr {t}, [{rows}], #4",
                    "add {t}, {t}, {col}",
                    $($chunk,)+
                    "subs {count}, {count}, #1",
                    "bne 2b",
                    concat!("vstm {out}, {{", $tile, "}}"),
                    out = in(reg) out,
                    rows = inout(reg) rows => _,
                    count = inout(reg) count => _,
                    col = in(reg) col,
                    t = out(reg) _,
                );
            }
        }
    };
}

/// A dense-layer tile `$name`: `out[..$width] += Σ_i x[i] · w[i·stride..][..$width]`, rows
/// in order, the sums kept in the registers `$tile`. The chunks of a row move `w` on by
/// `$advanced` bytes (their `"!"` loads); the rest of the row's stride follows.
macro_rules! gemv_tile {
    (
        $name:ident, $weight:ty, $width:literal, $tile:literal, advanced $advanced:literal,
        $($chunk:expr),+ $(,)?
    ) => {
        #[doc = concat!(
            "`out[..", stringify!($width), "] += Σ_i x[i] · w[i·stride..][..",
            stringify!($width), "]` over `count` rows, in row order."
        )]
        ///
        /// # Safety
        #[doc = concat!(
            "`count > 0`; `x` readable for `count` `f32`s; `w + i·stride` readable for ",
            stringify!($width), " values (4-byte aligned) for every `i < count`; `out` ",
            "writable for ", stringify!($width), " `f32`s."
        )]
        #[inline]
        pub(super) unsafe fn $name(
            x: *const f32,
            count: usize,
            w: *const $weight,
            stride: usize,
            out: *mut f32,
        ) {
            let step = stride * core::mem::size_of::<$weight>() - $advanced;
            // SAFETY: the caller guarantees the ranges; the loop runs `count` times.
            unsafe {
                fpu_asm!(
                    concat!("vldm {out}, {{", $tile, "}}"),
                    "2:",
                    "vldmia {x}!, {{s0}}",
                    $($chunk,)+
                    "add {w}, {w}, {step}",
                    "subs {count}, {count}, #1",
                    "bne 2b",
                    concat!("vstm {out}, {{", $tile, "}}"),
                    out = in(reg) out,
                    x = inout(reg) x => _,
                    w = inout(reg) w => _,
                    step = in(reg) step,
                    count = inout(reg) count => _,
                );
            }
        }
    };
}

/// Covers the columns from 0 on with tiles, widest first: the first tile as often as it
/// fits below `$n`, each narrower one at most once. `$call` is the parenthesised argument list
/// every tile is called with, where `$j` is the tile's first column. Evaluates to the first
/// column not covered.
macro_rules! by_tiles {
    (
        $j:ident < $n:expr, $call:tt,
        $wide:ident: $wide_width:literal $(, $tile:ident: $width:literal)* $(,)?
    ) => {{
        let mut $j = 0;
        while $j + $wide_width <= $n {
            $wide $call;
            $j += $wide_width;
        }
        $(
            // One form for every width, the one-column tile's `j + 1 <= n` included.
            #[allow(clippy::int_plus_one)]
            if $j + $width <= $n {
                $tile $call;
                $j += $width;
            }
        )*
        $j
    }};
}
