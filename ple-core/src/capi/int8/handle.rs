//! The validated int8 handle: check a model once, predict many times.
//!
//! [`ple_predict_int8`](super::ple_predict_int8) checks every entry of the model on every
//! call, an O(outputs) scan (the numeric weight sums, every requantisation, shift, bias and
//! mixing ratio) that is about a third of a Census prediction's instructions on the host. A
//! caller predicting many records from one model runs that check once with
//! [`ple_int8_handle_init`], which keeps in a caller-allocated, fixed-size
//! [`PleInt8Handle`] a copy of the model struct, a tag and two fingerprints;
//! [`ple_predict_int8_validated`] then verifies the tag and the fingerprints, O(layers +
//! fields), and runs the model without the scan.
//!
//! The first fingerprint covers the copied struct's fields (every pointer, length and
//! count; the handle's other words must be zero, so every bit of it is checked) and is
//! checked before any of its pointers is used, so a handle that was never
//! initialised (zeroed), whose initialisation failed, that was corrupted or edited, or that
//! was written from guesses is refused (`PLE_ERR_HANDLE`) without touching memory through
//! it. The second covers the contents of the shape and vocabulary arrays the struct points
//! to, which decide every length: a handle gone stale because they changed is refused too.
//! What no fingerprint catches without the scan it replaces is a weight changed in place
//! after validation; that gives wrong results, never undefined behaviour, because every
//! kernel bounds-checks its reads against the lengths the fingerprints pin. The
//! fingerprints guard against mistakes, not against a caller who forges a matching one on
//! purpose, and the model's arrays must outlive the handle, as they must outlive any call.

use core::mem::{align_of, size_of, MaybeUninit};

use super::{
    check_no_overlap, check_ptr, int8_error_code, parts_of, predict_view, read_model, status,
    Buffers, Parts, PleInputLayoutC, PleModelInt8, PleShapeC, Span,
};
use crate::capi::{PLE_ERR_OVERLAP, PLE_OK};
use crate::int8::Int8Model;

/// A handle that is not the valid result of [`ple_int8_handle_init`] (never initialised,
/// its initialisation failed, corrupted, or its model's shape or vocabulary arrays changed).
pub const PLE_ERR_HANDLE: i32 = -16;

/// Size of [`PleInt8Handle`] in 64-bit words, fixed in the C header; room for the model
/// struct's copy on 32- and 64-bit targets, and for later fields.
pub const PLE_INT8_HANDLE_WORDS: usize = 40;

/// An int8 model checked by [`ple_int8_handle_init`]: opaque to the caller, who allocates it
/// (anywhere: stack, static, heap) and may copy it byte for byte. Its words are
/// `MaybeUninit` so that a copy keeps the pointers inside it whole (a typed copy of
/// integers would drop their provenance); in C it is `uint64_t opaque[40]`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PleInt8Handle {
    /// Contents private to the library.
    pub opaque: [MaybeUninit<u64>; PLE_INT8_HANDLE_WORDS],
}

impl PleInt8Handle {
    /// The all-zero handle, which every call refuses until it is initialised.
    pub const ZEROED: PleInt8Handle = PleInt8Handle {
        opaque: [MaybeUninit::new(0); PLE_INT8_HANDLE_WORDS],
    };
}

impl core::fmt::Debug for PleInt8Handle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PleInt8Handle { .. }")
    }
}

/// What a handle holds: integers and pointers only, with no padding on 32- or 64-bit
/// targets (22 words, then 12 pointers), so that every bit of a filled handle is either a
/// fingerprinted field or one of the zero words after them. Any bit pattern is a valid
/// value of every field, so a handle of arbitrary bytes can be read before it is checked.
#[repr(C)]
#[derive(Clone, Copy)]
struct Contents {
    tag: u64,
    fields_fingerprint: u64,
    arrays_fingerprint: u64,
    /// The struct's counts then its array lengths, in [`Contents::of`]'s order.
    counts: [u64; 19],
    /// `expert_units`, `tower_units`, `vocab_sizes`, then the arrays in declaration order.
    pointers: [*const u8; 12],
}

/// The first word of the handle that [`Contents`] does not use; from there on every word
/// must stay zero.
const FIRST_SPARE_WORD: usize = size_of::<Contents>() / size_of::<u64>();

const _: () = assert!(
    size_of::<Contents>() <= size_of::<PleInt8Handle>()
        && size_of::<Contents>().is_multiple_of(size_of::<u64>())
        && size_of::<Contents>() == 22 * size_of::<u64>() + 12 * size_of::<*const u8>()
        && align_of::<Contents>() <= align_of::<PleInt8Handle>()
);

impl Contents {
    /// The model struct's fields, without fingerprints.
    fn of(m: &PleModelInt8) -> Self {
        let (s, l) = (&m.shape, &m.layout);
        let len = |n: usize| n as u64;
        Contents {
            tag: TAG,
            fields_fingerprint: 0,
            arrays_fingerprint: 0,
            counts: [
                u64::from(s.input_dim),
                u64::from(s.tasks),
                u64::from(s.experts_per_task),
                u64::from(s.shared_experts),
                u64::from(s.levels),
                u64::from(s.expert_layers),
                u64::from(s.tower_layers),
                u64::from(l.numeric),
                u64::from(l.fields),
                u64::from(m.numeric_frac_bits),
                len(m.numeric_prescale_len),
                len(m.category_weights_len),
                len(m.numeric_weights_len),
                len(m.sparse_outputs_len),
                len(m.dense_weights_len),
                len(m.dense_bias_len),
                len(m.dense_requant_len),
                len(m.mix_ratios_len),
                0,
            ],
            pointers: [
                s.expert_units.cast(),
                s.tower_units.cast(),
                l.vocab_sizes.cast(),
                m.numeric_prescale.cast(),
                m.category_weights.cast(),
                m.numeric_weights.cast(),
                m.sparse_outputs.cast(),
                m.dense_weights.cast(),
                m.dense_bias.cast(),
                m.dense_requant.cast(),
                m.mix_ratios.cast(),
                core::ptr::null(),
            ],
        }
    }

    /// The model struct back; `None` when a count does not fit its field (never for
    /// contents whose fingerprint matches, as [`Contents::of`] wrote them).
    fn model(&self) -> Option<PleModelInt8> {
        let [input_dim, tasks, experts_per_task, shared_experts, levels, expert_layers, tower_layers, numeric, fields, frac_bits, prescale, category, numeric_w, outputs, dense_w, bias, requant, mix, _] =
            self.counts;
        let [expert_units, tower_units, vocab_sizes, p_prescale, p_category, p_numeric, p_outputs, p_dense, p_bias, p_requant, p_mix, _] =
            self.pointers;
        let u32_of = |v: u64| u32::try_from(v).ok();
        let len = |v: u64| usize::try_from(v).ok();
        Some(PleModelInt8 {
            shape: PleShapeC {
                input_dim: u32_of(input_dim)?,
                tasks: u32_of(tasks)?,
                experts_per_task: u32_of(experts_per_task)?,
                shared_experts: u32_of(shared_experts)?,
                levels: u32_of(levels)?,
                expert_units: expert_units.cast(),
                expert_layers: u32_of(expert_layers)?,
                tower_units: tower_units.cast(),
                tower_layers: u32_of(tower_layers)?,
            },
            layout: PleInputLayoutC {
                numeric: u32_of(numeric)?,
                vocab_sizes: vocab_sizes.cast(),
                fields: u32_of(fields)?,
            },
            numeric_frac_bits: u8::try_from(frac_bits).ok()?,
            numeric_prescale: p_prescale.cast(),
            numeric_prescale_len: len(prescale)?,
            category_weights: p_category.cast(),
            category_weights_len: len(category)?,
            numeric_weights: p_numeric.cast(),
            numeric_weights_len: len(numeric_w)?,
            sparse_outputs: p_outputs.cast(),
            sparse_outputs_len: len(outputs)?,
            dense_weights: p_dense.cast(),
            dense_weights_len: len(dense_w)?,
            dense_bias: p_bias.cast(),
            dense_bias_len: len(bias)?,
            dense_requant: p_requant.cast(),
            dense_requant_len: len(requant)?,
            mix_ratios: p_mix.cast(),
            mix_ratios_len: len(mix)?,
        })
    }

    /// The fingerprint of the counts, lengths and pointers, read without following any
    /// pointer.
    fn fingerprint_of_fields(&self) -> u64 {
        let mut f = Fingerprint(TAG);
        f.words(self.counts);
        f.words(self.pointers.map(|p| p as usize as u64));
        f.finish()
    }
}

/// "PLE int8 handle, version 1": a handle of another layout version is refused.
const TAG: u64 = u64::from_le_bytes(*b"PLEi8h\x01\x00");

/// A 64-bit multiply-rotate hash, finished with SplitMix64's mixer: every input bit
/// reaches every output bit, so a changed field is caught but for a 2^-64 chance.
struct Fingerprint(u64);

impl Fingerprint {
    fn word(&mut self, value: u64) {
        self.0 = (self.0 ^ value)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(27);
    }

    fn words(&mut self, values: impl IntoIterator<Item = u64>) {
        for v in values {
            self.word(v);
        }
    }

    fn finish(self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The fingerprint of the arrays that decide every length: expert and tower widths and the
/// vocabulary sizes.
fn arrays_fingerprint(p: &Parts<'_>) -> u64 {
    let mut f = Fingerprint(!TAG);
    f.words(p.shape.expert_units.iter().map(|&u| u64::from(u)));
    f.word(u64::MAX); // separates the two lists
    f.words(p.shape.tower_units.iter().map(|&u| u64::from(u)));
    f.word(u64::MAX);
    f.words(p.sparse.layout.vocab_sizes.iter().map(|&v| u64::from(v)));
    f.finish()
}

/// Checks the model at `model` (as [`ple_validate_int8`](super::ple_validate_int8) does) and,
/// when it is valid, fills `handle` for [`ple_predict_int8_validated`]. Returns `PLE_OK` or
/// the model's status code; on failure the handle is cleared to zeros (so a handle whose
/// re-initialisation failed cannot run the previous model), except when `handle` itself is
/// null, misaligned or overlaps one of the model's arrays (`PLE_ERR_OVERLAP`), which leaves
/// it untouched. The model struct itself may be discarded afterwards; its arrays may not.
///
/// # Safety
/// `model` as for [`ple_validate_int8`](super::ple_validate_int8); `handle` must be null or
/// address a writable [`PleInt8Handle`].
#[no_mangle]
pub unsafe extern "C" fn ple_int8_handle_init(
    model: *const PleModelInt8,
    handle: *mut PleInt8Handle,
) -> i32 {
    if let Err(code) = check_ptr(handle, 1) {
        return code;
    }
    let handle_span = Span::of(handle, 1);
    // SAFETY: forwarded from the caller.
    let checked = unsafe { read_model(model) }.and_then(|m| {
        // SAFETY: forwarded from the caller.
        let parts = unsafe { parts_of(&m)? };
        check_no_overlap(&[handle_span], &[&parts.spans])?;
        let arrays_fingerprint = arrays_fingerprint(&parts);
        Int8Model::new(parts.shape, parts.sparse, parts.dense, parts.mix_ratios)
            .map_err(int8_error_code)?;
        let mut contents = Contents::of(&m);
        contents.fields_fingerprint = contents.fingerprint_of_fields();
        contents.arrays_fingerprint = arrays_fingerprint;
        Ok(contents)
    });
    let code = match checked {
        Err(PLE_ERR_OVERLAP) => return PLE_ERR_OVERLAP,
        Ok(_) => PLE_OK,
        Err(code) => code,
    };
    // SAFETY: non-null and aligned (checked above), writable by the caller's promise, and
    // no reference into it is alive (the model struct was copied by value).
    unsafe {
        handle.write(PleInt8Handle::ZEROED);
        if let Ok(contents) = checked {
            handle.cast::<Contents>().write(contents);
        }
    }
    code
}

/// The model view of a handle, after its tag and fingerprints, and the spans no output may
/// overlap: the model's arrays and the handle itself.
///
/// # Safety
/// `handle` must be null or address a readable [`PleInt8Handle`], and the arrays of the
/// model it was initialised with must still be alive.
unsafe fn view_of_handle<'a>(
    handle: *const PleInt8Handle,
) -> Result<(Int8Model<'a>, [Span; 12]), i32> {
    check_ptr(handle, 1)?;
    // SAFETY: non-null and aligned (checked above); any bytes are a valid `Contents` (see
    // its documentation), and `Contents` fits in the handle (the assertion above).
    let contents = unsafe { handle.cast::<Contents>().read() };
    // SAFETY: as above, for the words after `Contents`.
    let words = unsafe { core::ptr::addr_of!((*handle).opaque).cast::<u64>() };
    // SAFETY: these words lie inside the handle.
    let spare_clear =
        (FIRST_SPARE_WORD..PLE_INT8_HANDLE_WORDS).all(|k| unsafe { words.add(k).read() } == 0);
    let model = match contents.model() {
        Some(model)
            if contents.tag == TAG
                && spare_clear
                && contents.fields_fingerprint == contents.fingerprint_of_fields() =>
        {
            model
        }
        _ => return Err(PLE_ERR_HANDLE),
    };
    // SAFETY: these are the pointers and lengths `ple_int8_handle_init` checked (the
    // fingerprint says so), and the arrays are alive by the caller's promise.
    let parts = unsafe { parts_of(&model)? };
    if contents.arrays_fingerprint != arrays_fingerprint(&parts) {
        return Err(PLE_ERR_HANDLE);
    }
    let view =
        Int8Model::from_validated_parts(parts.shape, parts.sparse, parts.dense, parts.mix_ratios);
    let mut read_only = [Span::of(handle, 1); 12];
    for (slot, span) in read_only.iter_mut().zip(parts.spans) {
        *slot = span;
    }
    Ok((view, read_only))
}

int8_predict_fn!(
    /// [`ple_predict_int8`](super::ple_predict_int8) on a handle filled by
    /// [`ple_int8_handle_init`]: the same arguments, checks and results, but the model's
    /// entries are not checked again. `PLE_ERR_HANDLE` for a handle that is not one
    /// `ple_int8_handle_init` filled successfully, or whose model's shape or vocabulary arrays
    /// changed since; `PLE_ERR_OVERLAP` also for an output overlapping the handle.
    ///
    /// # Safety
    /// `handle` must be null or address a readable [`PleInt8Handle`], the arrays of the model
    /// it was initialised with must still be alive and unchanged, and the buffers are as for
    /// [`ple_predict_int8`](super::ple_predict_int8).
    ple_predict_int8_validated(handle: *const PleInt8Handle) via view_of_handle
);
