//! The int8 hot loops on x86_64: AVX2, and AVX-512BW for the category gather.
//!
//! Every kernel here computes exactly what the portable code computes, because every
//! operation is an integer one whose result does not depend on how it is vectorised:
//!
//! - the category gather adds `i8` weights in 16-bit lanes (`vpmovsxbw`, `vpaddw`), which
//!   wrap exactly like the packed portable gather's lanes (and never wrap at all for the at
//!   most [`ROWS_PER_I16_CHUNK`](super::kernels::ROWS_PER_I16_CHUNK) rows a model gathers);
//! - the dot products (the first layer's numeric part, the dense layers) multiply `i16` pairs
//!   with `vpmaddwd` and add in wrapping `i32` lanes, and wrapping sums do not depend on their
//!   order;
//! - the requantisation takes the high word of the signed 64-bit product (`vpmuldq`) and the
//!   rounding shift of [`Requant::apply_clamped`](super::Requant::apply_clamped) when every
//!   lane's right shift is 33 or more (every activation in practice), and otherwise its
//!   64-bit form (`apply_wide`) with the arithmetic shift built from the logical one.
//!
//! Each kernel has a portable twin and a property test against it.
//!
//! [`Avx2::detect`] is the only way to get an [`Avx2`], and it returns `None` unless the CPU
//! has AVX2: at run time with the `std` feature, otherwise from the compile-time
//! `target_feature`s. Holding one is the proof that the `unsafe` `#[target_feature]`
//! functions below may be called; the safe methods on it are what the forward pass calls.
#![allow(clippy::incompatible_msrv)]

mod dense;
mod gather;
mod lanes;
mod mix;
mod step;

use super::fixed::Requant;
use super::SparseOutput;

/// Proof that the CPU has AVX2, and whether it also has AVX-512BW (used by the gather when the
/// crate's `avx512` feature is on).
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx2 {
    #[cfg_attr(not(feature = "avx512"), allow(dead_code))]
    wide: bool,
}

impl Avx2 {
    /// The kernels, if this CPU has AVX2.
    #[inline]
    pub(super) fn detect() -> Option<Self> {
        #[cfg(any(feature = "std", test))]
        let (present, wide) = (
            std::is_x86_feature_detected!("avx2"),
            cfg!(feature = "avx512")
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw"),
        );
        #[cfg(not(any(feature = "std", test)))]
        let (present, wide) = (
            cfg!(target_feature = "avx2"),
            cfg!(all(
                feature = "avx512",
                target_feature = "avx512f",
                target_feature = "avx512bw"
            )),
        );
        present.then_some(Avx2 { wide })
    }

    /// The same proof without AVX-512BW: the AVX2 gather even on a CPU that has it (tests).
    #[cfg(test)]
    pub(super) fn narrow(self) -> Self {
        Avx2 { wide: false }
    }

    /// The category sums of the first layer, one `i32` per output of `out`, as
    /// [`Dsp::gather_sums`](super::kernels::Dsp::gather_sums) computes them (`packed` is the
    /// room the portable gather uses when the vector one does not apply: fewer than 16
    /// outputs, or a row past the end of `table`).
    #[inline]
    pub(super) fn gather_sums(
        self,
        table: &[i8],
        rows: &[u32],
        packed: &mut [u32],
        out: &mut [i32],
    ) {
        // SAFETY: an `Avx2` exists only on a CPU with AVX2 (see `detect`), and `wide` only if
        // it also has AVX-512F and AVX-512BW; the kernels bound every read by the slices.
        let done = unsafe {
            #[cfg(feature = "avx512")]
            if self.wide {
                gather::gather_sums_avx512(table, rows, out)
            } else {
                gather::gather_sums_avx2(table, rows, out)
            }
            #[cfg(not(feature = "avx512"))]
            gather::gather_sums_avx2(table, rows, out)
        };
        if !done {
            use super::kernels::{Dsp, PortableDsp};
            PortableDsp::gather_sums(table, rows, packed, out);
        }
    }

    /// The first layer's per-output step for the whole blocks of eight outputs at the start
    /// of `out` (category sums in, outputs out), clamped to `bounds`; returns how many
    /// outputs it computed.
    #[inline]
    pub(super) fn steps<const P: usize>(
        self,
        x: &[u32; P],
        out: &mut [i32],
        records: &[SparseOutput],
        pairs: &[[i16; 2]],
        bounds: (i32, i32),
    ) -> usize {
        // SAFETY: an `Avx2` exists only on a CPU with AVX2.
        unsafe { step::steps::<P>(x, out, records, pairs, bounds) }
    }

    /// The gate mixing of [`mix`](super::mix::mix), the whole blocks of eight outputs in
    /// AVX2.
    #[inline]
    pub(super) fn mix(
        self,
        spans: [&[i32]; 2],
        weights: &mut [u16],
        ratios: &[u16],
        dst: &mut [i32],
    ) {
        super::mix::mix_with(spans, weights, ratios, dst, |spans, weights, dst| {
            // SAFETY: an `Avx2` exists only on a CPU with AVX2.
            unsafe { mix::mix_blocks(spans, weights, dst) }
        });
    }

    /// A dense layer, every output finished (bias, requantisation, clamp to `bounds`), for
    /// inputs within `i16`; returns `false`, touching nothing, for layers it does not take
    /// (more than [`dense::MAX_INPUTS`] inputs, or arrays too short).
    #[inline]
    pub(super) fn dense_layer(
        self,
        weights: &[i8],
        input: &[i32],
        bias: &[i32],
        requant: &[Requant],
        out: &mut [i32],
        bounds: (i32, i32),
    ) -> bool {
        // SAFETY: an `Avx2` exists only on a CPU with AVX2.
        unsafe { dense::dense_layer(weights, input, bias, requant, out, bounds) }
    }
}
