//! The element types a model's weights may be stored in.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use half::f16;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
}

/// A floating-point weight type: `f32`, or `f16` read as `f32` (all arithmetic is `f32`).
pub trait Weight: Copy + sealed::Sealed + 'static {
    /// Zero.
    const ZERO: Self;

    /// The value as `f32` (exact for both types).
    fn to_f32(self) -> f32;
}

impl Weight for f32 {
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}

impl Weight for f16 {
    const ZERO: Self = f16::ZERO;

    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

/// A value stored at a 16-byte boundary: the wrapper generated code puts its weight arrays in.
///
/// A `static [f16; N]` is only aligned to 2 bytes, and where the linker places it decides
/// whether its address is a multiple of 4. The Arm FPU kernels load `f16` weights a word (two
/// weights) at a time only from word-aligned matrices and otherwise convert one weight at a
/// time: a Cortex-M4F then runs an f16 model about three times slower. SIMD kernels elsewhere
/// also prefer whole vectors. `Aligned` takes the linker's choice away; it dereferences to the
/// array it holds.
///
/// ```
/// use ple_core::Aligned;
/// static WEIGHTS: Aligned<[ple_core::half::f16; 3]> = Aligned([ple_core::half::f16::ZERO; 3]);
/// assert_eq!(WEIGHTS.as_ptr() as usize % 16, 0);
/// assert_eq!(WEIGHTS.len(), 3);
/// ```
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Aligned<T>(pub T);

impl<T> core::ops::Deref for Aligned<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
