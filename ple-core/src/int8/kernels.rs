//! Integer kernels of the int8 path, each in a scalar form and a lane-packed form.
//!
//! The packed forms follow the Arm DSP extension (Cortex-M4/M7/M33): two 16-bit lanes per
//! 32-bit register, `SXTAB16` to sign-extend two bytes of a weight word and add them to two
//! 16-bit accumulators in one instruction, and `SMLAD` for two 16x16 multiply-accumulates.
//! They are written once against the [`Dsp`] trait: [`PortableDsp`] implements its primitives
//! in plain Rust with the exact semantics of the instructions (every target, and the host's
//! property tests), and `ArmDsp` (with the `arm-dsp` feature on `target_arch = "arm"`) issues
//! the instructions themselves through inline assembly. Scalar and packed forms return the
//! same bits for every input: the packed sums wrap exactly like the scalar ones
//! (wrapping `i32`), and the 16-bit category sums cannot leave `i16` for the at most
//! [`ROWS_PER_I16_CHUNK`] rows a model may gather.
//!
//! `unsafe` appears only in `ArmDsp`: its instructions, and its gather, which checks every
//! row once and then reads words unchecked. The portable gather checks every read.

/// Rows of `i8` weights that can be summed in an `i16` lane without overflow:
/// `256 * -128 == i16::MIN` and `256 * 127 < i16::MAX`; the most fields an int8 model may
/// have.
pub const ROWS_PER_I16_CHUNK: usize = 256;

/// The two Arm DSP primitives the packed kernels are made of.
pub trait Dsp {
    /// `SXTAB16 acc, acc, w`: adds the sign-extended bytes 0 and 2 of `w` to the low and high
    /// 16-bit lanes of `acc` (each lane wrapping).
    fn sxtab16(acc: u32, w: u32) -> u32;
    /// `SXTAB16 acc, acc, w, ROR #8`: the same with bytes 1 and 3.
    fn sxtab16_ror8(acc: u32, w: u32) -> u32;
    /// `SMLAD`: `acc + lo(a) * lo(b) + hi(a) * hi(b)` on signed 16-bit lanes, wrapping.
    fn smlad(a: u32, b: u32, acc: i32) -> i32;
    /// `SXTB16 w`: bytes 0 and 2 of `w` sign-extended into the low and high 16-bit lanes.
    #[inline(always)]
    fn sxtb16(w: u32) -> u32 {
        Self::sxtab16(0, w)
    }
    /// `SXTB16 w, ROR #8`: the same with bytes 1 and 3.
    #[inline(always)]
    fn sxtb16_ror8(w: u32) -> u32 {
        Self::sxtab16_ror8(0, w)
    }

    /// The first layer's ReLU outputs from the first of `out` on (category sums in, the
    /// per-output step of the [module documentation](super) out), as this target runs them
    /// best; returns how many it computed, the caller computes the rest. The portable form
    /// computes none.
    #[inline(always)]
    fn relu_steps<const P: usize>(
        x: &[u32; P],
        out: &mut [i32],
        records: &[super::SparseOutput],
        weights: &[[i16; 2]],
    ) -> usize
    where
        Self: Sized,
    {
        let _ = (x, out, records, weights);
        0
    }

    /// The ReLU outputs of a dense layer from the first of `out` on, for an input of whole
    /// groups of four packed by [`pack_activations`] (`packed`, two words per group): the
    /// dot product with each output's row of `weights`, plus its `bias` (saturating),
    /// requantised and clamped to `0..=32767`, as this target runs them best; returns how
    /// many it computed, the caller computes the rest. The portable form computes none.
    #[inline(always)]
    fn dense_relu_steps(
        weights: &[i8],
        packed: &[u32],
        bias: &[i32],
        requant: &[super::Requant],
        out: &mut [i32],
    ) -> usize
    where
        Self: Sized,
    {
        let _ = (weights, packed, bias, requant, out);
        0
    }

    /// The category sums of the first layer, one `i32` per output of `out`: the packed
    /// gather then [`unpack_sums`] (with `packed` as room for the packed sums, two words per
    /// four outputs), or what this target does best with the same results.
    #[inline(always)]
    fn gather_sums(table: &[i8], row_starts: &[u32], packed: &mut [u32], out: &mut [i32])
    where
        Self: Sized,
    {
        Self::gather_rows(table, row_starts, out.len(), packed);
        unpack_sums(packed, out);
    }

    /// The packed gather ([`gather_rows_packed`]) as this target runs it best.
    #[inline(always)]
    fn gather_rows(table: &[i8], row_starts: &[u32], outputs: usize, packed: &mut [u32])
    where
        Self: Sized,
    {
        gather_rows_packed::<Self>(table, row_starts, outputs, packed);
    }
}

/// The DSP primitives in plain Rust, bit-exact with the instructions.
#[derive(Clone, Copy, Debug, Default)]
pub struct PortableDsp;

impl Dsp for PortableDsp {
    #[inline(always)]
    fn sxtab16(acc: u32, w: u32) -> u32 {
        let lo = (acc as u16).wrapping_add(w as u8 as i8 as i16 as u16);
        let hi = ((acc >> 16) as u16).wrapping_add((w >> 16) as u8 as i8 as i16 as u16);
        u32::from(lo) | (u32::from(hi) << 16)
    }

    #[inline(always)]
    fn sxtab16_ror8(acc: u32, w: u32) -> u32 {
        Self::sxtab16(acc, w.rotate_right(8))
    }

    #[inline(always)]
    fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let lo = i32::from(a as u16 as i16) * i32::from(b as u16 as i16);
        let hi = i32::from((a >> 16) as u16 as i16) * i32::from((b >> 16) as u16 as i16);
        acc.wrapping_add(lo).wrapping_add(hi)
    }
}

/// The DSP primitives as Arm instructions (Cortex-M4, M7, M33 with the DSP extension).
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct ArmDsp;

#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
impl Dsp for ArmDsp {
    #[inline(always)]
    fn sxtab16(acc: u32, w: u32) -> u32 {
        let out: u32;
        // SAFETY: register-only arithmetic: no memory access, no stack, flags untouched; the
        // `arm-dsp` feature is only enabled for cores that implement SXTAB16.
        unsafe {
            core::arch::asm!("sxtab16 {o}, {a}, {w}", o = lateout(reg) out, a = in(reg) acc,
                w = in(reg) w, options(pure, nomem, nostack, preserves_flags));
        }
        out
    }

    #[inline(always)]
    fn sxtab16_ror8(acc: u32, w: u32) -> u32 {
        let out: u32;
        // SAFETY: as in `sxtab16`.
        unsafe {
            core::arch::asm!("sxtab16 {o}, {a}, {w}, ror #8", o = lateout(reg) out,
                a = in(reg) acc, w = in(reg) w, options(pure, nomem, nostack, preserves_flags));
        }
        out
    }

    #[inline(always)]
    fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let out: i32;
        // SAFETY: register-only arithmetic; SMLAD may set the sticky Q flag, which nothing
        // reads, so flags are not declared preserved.
        unsafe {
            core::arch::asm!("smlad {o}, {a}, {b}, {c}", o = lateout(reg) out, a = in(reg) a,
                b = in(reg) b, c = in(reg) acc, options(pure, nomem, nostack));
        }
        out
    }

    #[inline(always)]
    fn sxtb16(w: u32) -> u32 {
        let out: u32;
        // SAFETY: as in `sxtab16`.
        unsafe {
            core::arch::asm!("sxtb16 {o}, {w}", o = lateout(reg) out, w = in(reg) w,
                options(pure, nomem, nostack, preserves_flags));
        }
        out
    }

    #[inline(always)]
    fn sxtb16_ror8(w: u32) -> u32 {
        let out: u32;
        // SAFETY: as in `sxtab16`.
        unsafe {
            core::arch::asm!("sxtb16 {o}, {w}, ror #8", o = lateout(reg) out, w = in(reg) w,
                options(pure, nomem, nostack, preserves_flags));
        }
        out
    }

    #[inline(always)]
    fn relu_steps<const P: usize>(
        x: &[u32; P],
        out: &mut [i32],
        records: &[super::SparseOutput],
        weights: &[[i16; 2]],
    ) -> usize {
        super::arm_dsp::relu_steps(x, out, records, weights)
    }

    #[inline(always)]
    fn dense_relu_steps(
        weights: &[i8],
        packed: &[u32],
        bias: &[i32],
        requant: &[super::Requant],
        out: &mut [i32],
    ) -> usize {
        super::arm_dsp::dense_relu_steps(weights, packed, bias, requant, out)
    }

    /// Checks every row once, then reads weight words without bounds checks: this is the
    /// hot loop of an int8 inference on a Cortex-M4 (29 rows of 138 weights for the default
    /// model), where a check per word would cost as much as the additions themselves. The
    /// whole passes of four words run in assembly ([`super::arm_dsp`]), the rest here.
    #[inline(always)]
    fn gather_rows(table: &[i8], row_starts: &[u32], outputs: usize, packed: &mut [u32]) {
        if !rows_fit(table, row_starts, outputs) {
            gather_rows_packed::<Self>(table, row_starts, outputs, packed);
            return;
        }
        let done = super::arm_dsp::gather_passes(table, row_starts, outputs, packed);
        // `done` packed words hold the sums of the first `2 * done` outputs.
        let skip = 2 * done;
        let packed = packed.get_mut(done..).unwrap_or(&mut []);
        gather_fitting_rows_from::<Self>(table, row_starts, skip, outputs, packed);
    }

    /// [`gather_rows`](Dsp::gather_rows) whose assembly passes store the sums unpacked,
    /// so that only the last outputs (fewer than sixteen) go through `packed`.
    #[inline(always)]
    fn gather_sums(table: &[i8], row_starts: &[u32], packed: &mut [u32], out: &mut [i32]) {
        let outputs = out.len();
        if !rows_fit(table, row_starts, outputs) {
            gather_rows_packed::<Self>(table, row_starts, outputs, packed);
            unpack_sums(packed, out);
            return;
        }
        let skip = super::arm_dsp::gather_sum_passes(table, row_starts, out);
        gather_fitting_rows_from::<Self>(table, row_starts, skip, outputs, packed);
        unpack_sums(packed, out.get_mut(skip..).unwrap_or(&mut []));
    }
}

/// The packed gather of outputs `skip..outputs` (`skip` a multiple of 4) into `packed`,
/// for rows that all fit (`rows_fit` checked by the caller), reading words unchecked.
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
#[inline(always)]
fn gather_fitting_rows_from<D: Dsp>(
    table: &[i8],
    row_starts: &[u32],
    skip: usize,
    outputs: usize,
    packed: &mut [u32],
) {
    let outputs = outputs.saturating_sub(skip);
    let base = table.as_ptr();
    let word = |start: u32, at: usize| -> u32 {
        // SAFETY: `start` is one of `row_starts`, whose rows each end, rounded up to a
        // word, inside `table` (checked by the caller); `gather_blocks` keeps `at + 4`
        // within the rest of that rounded-up row after the first `skip` bytes. Unaligned
        // reads are done with `read_unaligned`.
        let at = skip + at;
        let bytes = unsafe { base.add(start as usize + at).cast::<u32>().read_unaligned() };
        u32::from_le(bytes)
    };
    gather_blocks::<D>(row_starts, outputs, packed, word);
}

/// Packed category sums ([`gather_rows_packed`]) into one `i32` per output of `out`: whole
/// groups of four, then the rest.
pub fn unpack_sums(packed: &[u32], out: &mut [i32]) {
    let mut groups = out.chunks_exact_mut(4);
    let mut pairs = packed.chunks_exact(2);
    for (sums, pair) in (&mut groups).zip(&mut pairs) {
        if let ([a, b, c, d], &[even, odd]) = (sums, pair) {
            [*a, *b, *c, *d] = unpack_group(even, odd);
        }
    }
    if let Some(&[even, odd]) = pairs.next() {
        for (sum, value) in groups
            .into_remainder()
            .iter_mut()
            .zip(unpack_group(even, odd))
        {
            *sum = value;
        }
    }
}

/// Sums selected rows of an `i8` table: `out[o] = sum over r of table[row_starts[r] + o]`.
///
/// A row is `out.len()` bytes long; the packed form reads it a word at a time, up to
/// `out.len()` rounded up to a multiple of 4, so a row whose rounded-up extent would run past
/// the end of `table` is skipped, in both forms (the model view's constructor proves that
/// none does).
pub fn gather_rows_scalar(table: &[i8], row_starts: &[u32], out: &mut [i32]) {
    out.fill(0);
    let padded = out.len().div_ceil(4) * 4;
    for &start in row_starts {
        let Some(row) = padded_row(table, start, padded) else {
            continue;
        };
        for (acc, &w) in out.iter_mut().zip(row) {
            *acc = acc.wrapping_add(i32::from(w));
        }
    }
}

#[inline(always)]
fn padded_row(table: &[i8], start: u32, padded: usize) -> Option<&[i8]> {
    let start = start as usize;
    table.get(start..start.checked_add(padded)?)
}

/// Whether every row's word-rounded extent lies inside `table`.
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
fn rows_fit(table: &[i8], row_starts: &[u32], outputs: usize) -> bool {
    let padded = outputs.div_ceil(4) * 4;
    row_starts.iter().all(|&s| {
        (s as usize)
            .checked_add(padded)
            .is_some_and(|end| end <= table.len())
    })
}

/// [`gather_rows_scalar`] with two 16-bit lanes per word, the sums left packed: for every
/// group of four outputs `4g..4g + 4`, `packed[2g]` holds outputs `4g` (low lane) and `4g + 2`
/// (high lane), `packed[2g + 1]` outputs `4g + 1` and `4g + 3`; lanes wrap, so the sums are
/// exact for up to [`ROWS_PER_I16_CHUNK`] rows (more rows wrap; the model view refuses
/// them). `packed` holds `2 * outputs.div_ceil(4)` words.
///
/// This is the portable form: every word read is bounds-checked, so it needs no `unsafe`.
/// `D::gather_rows` is what the forward pass calls; on Arm DSP cores it reads the words
/// without checks after checking every row once.
pub fn gather_rows_packed<D: Dsp>(
    table: &[i8],
    row_starts: &[u32],
    outputs: usize,
    packed: &mut [u32],
) {
    let padded = outputs.div_ceil(4) * 4;
    let word = |start: u32, at: usize| -> u32 {
        let start = start as usize;
        let row_fits = start
            .checked_add(padded)
            .is_some_and(|end| end <= table.len());
        let bytes = table.get(start + at..start + at + 4);
        match (row_fits, bytes) {
            (true, Some(&[a, b, c, d])) => u32::from_le_bytes([a as u8, b as u8, c as u8, d as u8]),
            _ => 0,
        }
    };
    gather_blocks::<D>(row_starts, outputs, packed, word);
}

/// The loops of the packed gather, over any word reader: three weight words (twelve outputs)
/// per pass over the rows, which keeps six accumulators, the three word addresses and the
/// row pointer in registers on a Cortex-M4; leftover words one at a time.
#[inline(always)]
pub(crate) fn gather_blocks<D: Dsp>(
    row_starts: &[u32],
    outputs: usize,
    packed: &mut [u32],
    word: impl Fn(u32, usize) -> u32,
) {
    let words = outputs.div_ceil(4);
    let packed = packed.get_mut(..2 * words).unwrap_or(&mut []);
    let mut blocks = packed.chunks_exact_mut(6);
    let mut at = 0;
    for block in &mut blocks {
        let [mut a0, mut a1, mut b0, mut b1, mut c0, mut c1] = [0u32; 6];
        for &start in row_starts {
            let w = word(start, at);
            a0 = D::sxtab16(a0, w);
            a1 = D::sxtab16_ror8(a1, w);
            let w = word(start, at + 4);
            b0 = D::sxtab16(b0, w);
            b1 = D::sxtab16_ror8(b1, w);
            let w = word(start, at + 8);
            c0 = D::sxtab16(c0, w);
            c1 = D::sxtab16_ror8(c1, w);
        }
        block.copy_from_slice(&[a0, a1, b0, b1, c0, c1]);
        at += 12;
    }
    for pair in blocks.into_remainder().chunks_exact_mut(2) {
        let [mut even, mut odd] = [0u32; 2];
        for &start in row_starts {
            let w = word(start, at);
            even = D::sxtab16(even, w);
            odd = D::sxtab16_ror8(odd, w);
        }
        pair.copy_from_slice(&[even, odd]);
        at += 4;
    }
}

/// The four sums of group `g` of a packed gather, in output order.
#[inline(always)]
pub fn unpack_group(even: u32, odd: u32) -> [i32; 4] {
    [
        i32::from(even as u16 as i16),
        i32::from(odd as u16 as i16),
        i32::from((even >> 16) as u16 as i16),
        i32::from((odd >> 16) as u16 as i16),
    ]
}

/// The inverse of [`unpack_group`]: four sums (each within `i16`) as the two packed words
/// of their group.
#[inline(always)]
pub fn pack_group(sums: [i32; 4]) -> (u32, u32) {
    let lane = |v: i32| u32::from(v as u16);
    let [s0, s1, s2, s3] = sums;
    (lane(s0) | (lane(s2) << 16), lane(s1) | (lane(s3) << 16))
}

/// Packs `i16` values two per word, low lane first (`values.len()` odd: the last high lane
/// is 0).
pub fn pack_pairs(values: impl Iterator<Item = i16>, words: &mut [u32]) {
    words.fill(0);
    for (i, v) in values.enumerate() {
        if let Some(word) = words.get_mut(i / 2) {
            *word |= u32::from(v as u16) << (16 * (i % 2));
        }
    }
}

/// `sum of a[i] * b[i]` over `i16` vectors, wrapping in `i32` (the scalar twin of
/// [`dot_pairs_packed`]).
pub fn dot_i16_scalar(a: &[i16], b: &[i16]) -> i32 {
    a.iter().zip(b).fold(0i32, |acc, (&x, &y)| {
        acc.wrapping_add(i32::from(x) * i32::from(y))
    })
}

/// The dot product of two vectors given as packed pairs ([`pack_pairs`]), with `SMLAD`.
pub fn dot_pairs_packed<D: Dsp>(a: &[u32], b: &[u32]) -> i32 {
    a.iter()
        .zip(b)
        .fold(0i32, |acc, (&x, &y)| D::smlad(x, y, acc))
}

/// The dot product of packed `i16` pairs `a` with an `i16` row `b` read two at a time (an
/// odd last value pairs with 0).
#[inline]
pub fn dot_pairs_row<D: Dsp>(a: &[u32], b: &[i16]) -> i32 {
    let pairs = b.chunks_exact(2);
    let last = pairs
        .remainder()
        .first()
        .map_or(0, |&v| u32::from(v as u16));
    let full = pairs.len();
    let mut acc = 0i32;
    for (&x, pair) in a.iter().zip(pairs) {
        let w = match pair {
            [lo, hi] => u32::from(*lo as u16) | (u32::from(*hi as u16) << 16),
            _ => 0,
        };
        acc = D::smlad(x, w, acc);
    }
    match a.get(full) {
        Some(&x) if last != 0 => D::smlad(x, last, acc),
        _ => acc,
    }
}

/// `out[o] = sum over i of input[i] * weights[o * inputs + i]` for `i16` activations (held in
/// `i32` slots) and `i8` weights, wrapping in `i32`.
pub fn dense_scalar(weights: &[i8], input: &[i32], out: &mut [i32]) {
    let inputs = input.len();
    for (o, acc) in out.iter_mut().enumerate() {
        let row = weights.get(o * inputs..(o + 1) * inputs).unwrap_or(&[]);
        *acc = row.iter().zip(input).fold(0i32, |a, (&w, &x)| {
            a.wrapping_add(x.wrapping_mul(i32::from(w)))
        });
    }
}

/// Words [`dense_packed`] needs for a layer of `inputs` inputs.
pub const fn packed_input_words(inputs: usize) -> usize {
    inputs.div_ceil(4) * 2
}

/// Packs a dense layer's input (activations, each within `i16`) as [`dense_packed`] reads
/// it: for every four inputs `4g..4g + 4`, word `2g` holds inputs `4g` (low lane) and
/// `4g + 2` (high lane), word `2g + 1` inputs `4g + 1` and `4g + 3`; the lanes of a last
/// partial group that have no input are 0. The same lane order as a weight word split by
/// `SXTB16` and `SXTB16 ROR #8`, so that each `SMLAD` multiplies matching pairs.
pub fn pack_activations(input: &[i32], words: &mut [u32]) {
    let lane = |v: i32| u32::from(v as u16);
    let mut groups = input.chunks_exact(4);
    let mut pairs = words.chunks_exact_mut(2);
    for (group, pair) in (&mut groups).zip(&mut pairs) {
        if let (&[a, b, c, d], [even, odd]) = (group, pair) {
            *even = lane(a) | (lane(c) << 16);
            *odd = lane(b) | (lane(d) << 16);
        }
    }
    let rest = groups.remainder();
    if let (false, Some([even, odd])) = (rest.is_empty(), pairs.next()) {
        let at = |k: usize| rest.get(k).copied().map_or(0, lane);
        *even = at(0) | (at(2) << 16);
        *odd = at(1) | (at(3) << 16);
    }
}

/// [`dense_scalar`] with two multiply-accumulates per `SMLAD`: each weight word (four `i8`
/// weights, read unaligned) is split into two lane pairs by `SXTB16` and `SXTB16 ROR #8`
/// and multiplied with the input packed by [`pack_activations`]; a last partial group of
/// inputs takes the scalar form. `inputs` is the layer's input width (each output's weight
/// row); `input` holds the same values unpacked, for that last group.
///
/// Equal to [`dense_scalar`] bit for bit when every input lies within `i16` (both wrap in
/// `i32`, and wrapping sums do not depend on their order): the forward pass only feeds it
/// activations, which are within `0..=32767`.
#[inline]
pub fn dense_packed<D: Dsp>(weights: &[i8], input: &[i32], packed: &[u32], out: &mut [i32]) {
    let inputs = input.len();
    let full = 4 * (inputs / 4);
    let packed = packed.get(..full / 2).unwrap_or(&[]);
    let tail = input.get(full..).unwrap_or(&[]);
    let mut rows = weights.chunks_exact(inputs.max(1));
    for acc in out.iter_mut() {
        *acc = packed_dot::<D>(rows.next().unwrap_or(&[]), full, packed, tail);
    }
}

/// One output of [`dense_packed`]: the dot product of a weight row with the input, two
/// multiply-accumulates per `SMLAD` over the first `full` inputs (`packed`, as
/// [`pack_activations`] packs them) and the scalar form over the rest (`tail`).
#[inline(always)]
pub(super) fn packed_dot<D: Dsp>(row: &[i8], full: usize, packed: &[u32], tail: &[i32]) -> i32 {
    let (groups, rest) = row.split_at_checked(full).unwrap_or((&[], &[]));
    let mut sum = 0i32;
    for (w, x) in groups.chunks_exact(4).zip(packed.chunks_exact(2)) {
        if let (&[a, b, c, d], &[even, odd]) = (w, x) {
            let w = u32::from_le_bytes([a as u8, b as u8, c as u8, d as u8]);
            sum = D::smlad(even, D::sxtb16(w), sum);
            sum = D::smlad(odd, D::sxtb16_ror8(w), sum);
        }
    }
    for (&w, &x) in rest.iter().zip(tail) {
        sum = sum.wrapping_add(x.wrapping_mul(i32::from(w)));
    }
    sum
}
