//! The int8 C ABI (`ple_model_int8`, `ple_predict_int8`, the validated handle of
//! `ple_int8_handle_init` and `ple_predict_int8_validated`), called from Rust exactly as C
//! calls it, on a model quantised by ple-codegen: results equal the Rust API's bit for bit
//! through both entry points, and every kind of bad model, bad argument and bad handle gets
//! its documented status code, with the outputs untouched.
//!
//! The bad models and bad arguments are tables of (what, mutation, expected code); every
//! bad argument is tried through the model and through a handle. The tests also run under
//! Miri (`fuzz/miri.sh`), which checks that no refused call forms an invalid slice, with
//! fewer rows there.

mod common;

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::ptr::{null, null_mut};

use ple_codegen::codegen::{bake_int8, BakedWeights};
use ple_codegen::quantise::{Int8Params, SparseRows};
use ple_core::capi::*;
use ple_core::int8::{Int8Input, NO_CATEGORY};

use common::{calibration_rows, tiny_model};

/// Calibration rows predicted through C and Rust (Miri interprets slowly).
const ROWS: usize = if cfg!(miri) { 2 } else { 40 };

/// What the outputs hold before a call, to tell whether the call wrote them.
const LOGIT_SENTINEL: i32 = 0x5A5A_5A5A;
const Q15_SENTINEL: u16 = 0xA5A5;

fn params() -> Int8Params {
    let (numeric, categories) = calibration_rows();
    let rows = SparseRows {
        numeric: &numeric,
        categories: &categories,
    };
    let path = std::path::Path::new("tiny.safetensors");
    let baked = bake_int8(path, tiny_model(), String::new(), rows).unwrap();
    let BakedWeights::Int8(params) = baked.weights else {
        panic!("int8 bake gave another precision");
    };
    *params
}

/// The C struct over `p`'s arrays (pointers derived for writing, so that a test may change
/// a shape array through them after a handle was made).
fn model_c(p: &mut Int8Params) -> PleModelInt8 {
    PleModelInt8 {
        shape: PleShapeC {
            input_dim: p.input_dim,
            tasks: p.tasks,
            experts_per_task: p.experts_per_task,
            shared_experts: p.shared_experts,
            levels: p.levels,
            expert_units: p.expert_units.as_mut_ptr(),
            expert_layers: p.expert_units.len() as u32,
            tower_units: p.tower_units.as_mut_ptr(),
            tower_layers: p.tower_units.len() as u32,
        },
        layout: PleInputLayoutC {
            numeric: p.numeric,
            vocab_sizes: p.vocab_sizes.as_mut_ptr(),
            fields: p.vocab_sizes.len() as u32,
        },
        numeric_frac_bits: p.numeric_frac_bits,
        numeric_prescale: p.numeric_prescale.as_ptr(),
        numeric_prescale_len: p.numeric_prescale.len(),
        category_weights: p.category_weights.as_ptr(),
        category_weights_len: p.category_weights.len(),
        numeric_weights: p.numeric_weights.as_ptr(),
        numeric_weights_len: p.numeric_weights.len(),
        sparse_outputs: p.sparse_outputs.as_ptr(),
        sparse_outputs_len: p.sparse_outputs.len(),
        dense_weights: p.dense_weights.as_ptr(),
        dense_weights_len: p.dense_weights.len(),
        dense_bias: p.dense_bias.as_ptr(),
        dense_bias_len: p.dense_bias.len(),
        dense_requant: p.dense_requant.as_ptr(),
        dense_requant_len: p.dense_requant.len(),
        mix_ratios: p.mix_ratios.as_mut_ptr(),
        mix_ratios_len: p.mix_ratios.len(),
    }
}

/// A filled handle for `model`.
fn handle_of(model: &PleModelInt8) -> PleInt8Handle {
    let mut handle = PleInt8Handle::ZEROED;
    // SAFETY: the struct's pointers address the fixture's live arrays.
    assert_eq!(unsafe { ple_int8_handle_init(model, &mut handle) }, PLE_OK);
    handle
}

/// Where a call's model comes from.
#[derive(Clone, Copy)]
enum Via {
    Model(*const PleModelInt8),
    Handle(*const PleInt8Handle),
}

/// The pointer and length arguments of one call, which a test may point anywhere.
#[derive(Clone, Copy)]
struct Args {
    numeric: (*const i32, usize),
    categories: (*const u16, usize),
    scratch: (*mut i32, usize),
    logits: (*mut i32, usize),
    probabilities: (*mut u16, usize),
    gates: (*mut u16, usize),
}

impl Args {
    /// # Safety
    /// Every pointer addresses its length, or the call refuses it before use.
    unsafe fn call(self, via: Via) -> i32 {
        let a = self;
        // SAFETY: forwarded from the caller.
        unsafe {
            match via {
                Via::Model(m) => ple_predict_int8(
                    m,
                    a.numeric.0,
                    a.numeric.1,
                    a.categories.0,
                    a.categories.1,
                    a.scratch.0,
                    a.scratch.1,
                    a.logits.0,
                    a.logits.1,
                    a.probabilities.0,
                    a.probabilities.1,
                    a.gates.0,
                    a.gates.1,
                ),
                Via::Handle(h) => ple_predict_int8_validated(
                    h,
                    a.numeric.0,
                    a.numeric.1,
                    a.categories.0,
                    a.categories.1,
                    a.scratch.0,
                    a.scratch.1,
                    a.logits.0,
                    a.logits.1,
                    a.probabilities.0,
                    a.probabilities.1,
                    a.gates.0,
                    a.gates.1,
                ),
            }
        }
    }
}

/// The buffers of one call, each one value longer than the model needs, so that a test may
/// pass a length one too long without pointing past its memory.
struct Buffers {
    numeric: Vec<i32>,
    categories: Vec<u16>,
    scratch: Vec<i32>,
    logits: Vec<i32>,
    probabilities: Vec<u16>,
    gates: Vec<u16>,
}

impl Buffers {
    fn new(model: &PleModelInt8) -> Self {
        // SAFETY: the struct's pointers address the fixture's live arrays.
        let (scratch, gates) = unsafe { (ple_int8_scratch_len(model), ple_int8_gates_len(model)) };
        assert!(scratch > 0 && gates > 0);
        Buffers {
            numeric: vec![3 << 12, 1200 << 12, 0],
            categories: vec![1, 4, 0],
            scratch: vec![0; scratch + 1],
            logits: vec![0; 3],
            probabilities: vec![0; 3],
            gates: vec![0; gates + 1],
        }
    }

    /// Fills the outputs with sentinels and returns the arguments of a valid call.
    fn args(&mut self) -> Args {
        self.logits.fill(LOGIT_SENTINEL);
        self.probabilities.fill(Q15_SENTINEL);
        self.gates.fill(Q15_SENTINEL);
        let exact = |len: usize| len - 1;
        Args {
            numeric: (self.numeric.as_mut_ptr(), exact(self.numeric.len())),
            categories: (self.categories.as_mut_ptr(), exact(self.categories.len())),
            scratch: (self.scratch.as_mut_ptr(), exact(self.scratch.len())),
            logits: (self.logits.as_mut_ptr(), exact(self.logits.len())),
            probabilities: (
                self.probabilities.as_mut_ptr(),
                exact(self.probabilities.len()),
            ),
            gates: (self.gates.as_mut_ptr(), exact(self.gates.len())),
        }
    }

    fn outputs_untouched(&self) -> bool {
        self.logits.iter().all(|&l| l == LOGIT_SENTINEL)
            && self.probabilities.iter().all(|&p| p == Q15_SENTINEL)
            && self.gates.iter().all(|&g| g == Q15_SENTINEL)
    }
}

fn message(code: i32) -> String {
    // SAFETY: a static NUL-terminated string.
    unsafe { CStr::from_ptr(ple_error_message(code)) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn c_abi_predictions_equal_the_rust_api_with_any_choice_of_outputs() {
    let mut p = params();
    let model = model_c(&mut p);
    // SAFETY: the struct's pointers address the fixture's live arrays.
    assert_eq!(unsafe { ple_validate_int8(&model) }, PLE_OK);
    let handle = handle_of(&model);
    let view = p.model().unwrap();
    let (numeric, categories) = calibration_rows();
    let mut rust_scratch = vec![0; view.scratch_words()];
    let mut buffers = Buffers::new(&model);
    for row in 0..ROWS {
        p.encode_numeric(&numeric[2 * row..2 * row + 2], &mut buffers.numeric[..2])
            .unwrap();
        buffers.categories[..2].copy_from_slice(&categories[2 * row..2 * row + 2]);
        let input = Int8Input {
            numeric: &buffers.numeric[..2],
            categories: &buffers.categories[..2],
        };
        let (mut logits, mut probabilities) = ([0; 2], [0; 2]);
        let mut gates = vec![0; view.gate_weight_count()];
        view.predict_with_gates(
            &input,
            &mut rust_scratch,
            &mut logits,
            &mut probabilities,
            &mut gates,
        )
        .unwrap();
        for via in [Via::Model(&model), Via::Handle(&handle)] {
            // Every output, then the probabilities or the logits alone (the other one goes
            // to the scratch's spare words), without gates.
            let args = buffers.args();
            // SAFETY: every pointer addresses its length.
            assert_eq!(unsafe { args.call(via) }, PLE_OK);
            assert_eq!(buffers.logits[..2], logits);
            assert_eq!(buffers.probabilities[..2], probabilities);
            assert_eq!(buffers.gates[..gates.len()], gates);
            let only_probabilities = Args {
                logits: (null_mut(), 0),
                gates: (null_mut(), 0),
                ..buffers.args()
            };
            // SAFETY: as above.
            assert_eq!(unsafe { only_probabilities.call(via) }, PLE_OK);
            assert_eq!(buffers.probabilities[..2], probabilities);
            assert!(buffers.logits.iter().all(|&l| l == LOGIT_SENTINEL));
            let only_logits = Args {
                probabilities: (null_mut(), 0),
                gates: (null_mut(), 0),
                ..buffers.args()
            };
            // SAFETY: as above.
            assert_eq!(unsafe { only_logits.call(via) }, PLE_OK);
            assert_eq!(buffers.logits[..2], logits);
            assert!(buffers.probabilities.iter().all(|&q| q == Q15_SENTINEL));
        }
    }
}

/// How a bad model is made from the good one.
enum Mutation {
    /// A field of the C struct.
    Field(fn(&mut PleModelInt8)),
    /// An entry of an array (the struct is made from the changed arrays).
    Entries(fn(&mut Int8Params)),
}

use Mutation::{Entries, Field};

/// Every kind of inconsistent model struct and the code it gets.
#[rustfmt::skip]
const BAD_MODELS: &[(&str, Mutation, i32)] = &[
    ("no task", Field(|m| m.shape.tasks = 0), PLE_ERR_SHAPE),
    ("no level", Field(|m| m.shape.levels = 0), PLE_ERR_SHAPE),
    ("no expert", Field(|m| (m.shape.experts_per_task, m.shape.shared_experts) = (0, 0)),
        PLE_ERR_SHAPE),
    ("expert widths missing", Field(|m| m.shape.expert_units = null()), PLE_ERR_NULL),
    ("no expert layer", Field(|m| m.shape.expert_layers = 0), PLE_ERR_SHAPE),
    ("input width off by one", Field(|m| m.shape.input_dim += 1), PLE_ERR_INPUT_LAYOUT),
    ("a numeric column too many", Field(|m| m.layout.numeric += 1), PLE_ERR_INPUT_LAYOUT),
    ("vocabularies missing", Field(|m| m.layout.vocab_sizes = null()), PLE_ERR_NULL),
    ("a field too few", Field(|m| m.layout.fields -= 1), PLE_ERR_INPUT_LAYOUT),
    ("an empty vocabulary", Entries(|p| p.vocab_sizes[0] = 0), PLE_ERR_INPUT_LAYOUT),
    ("category table a byte short", Field(|m| m.category_weights_len -= 1),
        PLE_ERR_WEIGHTS_LENGTH),
    ("a dense bias too many", Entries(|p| p.dense_bias.push(0)), PLE_ERR_WEIGHTS_LENGTH),
    ("no mixing ratios", Field(|m| m.mix_ratios_len = 0), PLE_ERR_WEIGHTS_LENGTH),
    ("a prescale too few", Entries(|p| p.numeric_prescale.truncate(1)), PLE_ERR_WEIGHTS_LENGTH),
    ("first-layer outputs missing", Field(|m| m.sparse_outputs = null()), PLE_ERR_NULL),
    ("numeric weights missing", Field(|m| m.numeric_weights = null()), PLE_ERR_NULL),
    ("dense requantisations misaligned",
        Field(|m| m.dense_requant = m.dense_requant.wrapping_byte_add(1)), PLE_ERR_POINTER),
    ("mixing ratios of unaddressable length", Field(|m| m.mix_ratios_len = usize::MAX / 2),
        PLE_ERR_POINTER),
    ("a mixing ratio above one", Entries(|p| p.mix_ratios[0] = 40_000), PLE_ERR_RANGE),
    ("a dense requantisation without shift", Entries(|p| p.dense_requant[0].right_shift = 0),
        PLE_ERR_RANGE),
    ("a dense requantisation shifting 64", Entries(|p| p.dense_requant[1].right_shift = 64),
        PLE_ERR_RANGE),
    ("a prescale multiplier below 2^30", Entries(|p| p.numeric_prescale[0].multiplier = 5),
        PLE_ERR_RANGE),
    ("a negative first-layer multiplier", Entries(|p| p.sparse_outputs[2].multiplier = -1),
        PLE_ERR_RANGE),
    ("a category shift of 40", Entries(|p| p.sparse_outputs[0].category_shift = 40),
        PLE_ERR_RANGE),
    ("a first-layer bias above 2^29", Entries(|p| p.sparse_outputs[1].bias = 1 << 30),
        PLE_ERR_RANGE),
    ("numeric weights summing past 2^15", Entries(|p| p.numeric_weights[..2].fill(i16::MAX)),
        PLE_ERR_RANGE),
];

#[test]
fn every_bad_model_gets_its_code_from_every_entry_point() {
    let mut good = params();
    let good_model = model_c(&mut good);
    let mut buffers = Buffers::new(&good_model);
    // SAFETY (every call of this test): the pointers address their lengths, or are refused
    // before use.
    unsafe {
        assert_eq!(ple_validate_int8(null()), PLE_ERR_NULL);
        let misaligned = (&good_model as *const PleModelInt8).wrapping_byte_add(1);
        assert_eq!(ple_validate_int8(misaligned), PLE_ERR_POINTER);
        assert_eq!(ple_int8_scratch_len(null()), 0);
        assert_eq!(ple_int8_gates_len(null()), 0);
        assert_eq!(buffers.args().call(Via::Model(null())), PLE_ERR_NULL);
        assert_eq!(buffers.args().call(Via::Model(misaligned)), PLE_ERR_POINTER);
        let mut handle = handle_of(&good_model);
        assert_eq!(ple_int8_handle_init(null(), &mut handle), PLE_ERR_NULL);
        assert_eq!(
            handle.opaque.map(|w| w.assume_init()),
            [0; PLE_INT8_HANDLE_WORDS]
        );
    }
    for (what, mutation, code) in BAD_MODELS {
        let mut p = good.clone();
        let model = match mutation {
            Field(change) => {
                let mut m = model_c(&mut p);
                change(&mut m);
                m
            }
            Entries(change) => {
                change(&mut p);
                model_c(&mut p)
            }
        };
        let model = &model;
        // SAFETY: as above.
        unsafe {
            assert_eq!(
                ple_validate_int8(model),
                *code,
                "{what}: {}",
                message(*code)
            );
            assert_eq!(ple_int8_scratch_len(model), 0, "{what}");
            assert_eq!(ple_int8_gates_len(model), 0, "{what}");
            assert_eq!(buffers.args().call(Via::Model(model)), *code, "{what}");
            assert!(buffers.outputs_untouched(), "{what}");
            // A handle that held the good model is cleared by the failed initialisation.
            let mut handle = handle_of(&good_model);
            assert_eq!(ple_int8_handle_init(model, &mut handle), *code, "{what}");
            assert_eq!(
                buffers.args().call(Via::Handle(&handle)),
                PLE_ERR_HANDLE,
                "{what}"
            );
            assert!(buffers.outputs_untouched(), "{what}");
        }
    }
}

/// Every kind of bad call argument and the code it gets, through the model and a handle.
type BadCall = (&'static str, fn(&mut Args, &PleModelInt8), i32);

#[rustfmt::skip]
const BAD_CALLS: &[BadCall] = &[
    ("a valid call", |_, _| {}, PLE_OK),
    ("no gates", |a, _| a.gates = (null_mut(), 0), PLE_OK),
    ("an unknown category", |a, _| set(a.categories, 1, NO_CATEGORY), PLE_OK),
    ("the largest numeric input", |a, _| set(a.numeric, 0, i32::MAX), PLE_OK),
    ("the smallest numeric input", |a, _| set(a.numeric, 1, i32::MIN), PLE_OK),
    ("a numeric value too many", |a, _| a.numeric.1 += 1, PLE_ERR_INPUT_LENGTH),
    ("a field too few", |a, _| a.categories.1 -= 1, PLE_ERR_INPUT_LENGTH),
    ("no categories", |a, _| a.categories = (null(), 0), PLE_ERR_INPUT_LENGTH),
    ("category 5 of 5", |a, _| set(a.categories, 1, 5), PLE_ERR_CATEGORY),
    ("category 0xFFFE", |a, _| set(a.categories, 0, 0xFFFE), PLE_ERR_CATEGORY),
    ("scratch of 10 words", |a, _| a.scratch.1 = 10, PLE_ERR_SCRATCH_LENGTH),
    ("no scratch", |a, _| a.scratch = (null_mut(), 0), PLE_ERR_SCRATCH_LENGTH),
    ("logits for 3 tasks", |a, _| a.logits.1 += 1, PLE_ERR_OUTPUT_LENGTH),
    ("probabilities for 1 task", |a, _| a.probabilities.1 = 1, PLE_ERR_OUTPUT_LENGTH),
    ("a gate weight too many", |a, _| a.gates.1 += 1, PLE_ERR_GATES_LENGTH),
    ("gates with length 0", |a, _| a.gates.1 = 0, PLE_ERR_GATES_LENGTH),
    ("numeric null", |a, _| a.numeric.0 = null(), PLE_ERR_NULL),
    ("categories null", |a, _| a.categories.0 = null(), PLE_ERR_NULL),
    ("scratch null", |a, _| a.scratch.0 = null_mut(), PLE_ERR_NULL),
    ("logits null", |a, _| a.logits.0 = null_mut(), PLE_ERR_NULL),
    ("probabilities null", |a, _| a.probabilities.0 = null_mut(), PLE_ERR_NULL),
    ("gates null", |a, _| a.gates.0 = null_mut(), PLE_ERR_NULL),
    ("neither logits nor probabilities",
        |a, _| (a.logits, a.probabilities) = ((null_mut(), 0), (null_mut(), 0)), PLE_ERR_NULL),
    ("numeric misaligned", |a, _| a.numeric.0 = a.numeric.0.wrapping_byte_add(1),
        PLE_ERR_POINTER),
    ("categories misaligned", |a, _| a.categories.0 = a.categories.0.wrapping_byte_add(1),
        PLE_ERR_POINTER),
    ("scratch misaligned", |a, _| a.scratch.0 = a.scratch.0.wrapping_byte_add(2),
        PLE_ERR_POINTER),
    ("logits misaligned", |a, _| a.logits.0 = a.logits.0.wrapping_byte_add(1), PLE_ERR_POINTER),
    ("gates misaligned", |a, _| a.gates.0 = a.gates.0.wrapping_byte_add(1), PLE_ERR_POINTER),
    ("numeric of usize::MAX values", |a, _| a.numeric.1 = usize::MAX, PLE_ERR_POINTER),
    ("scratch of usize::MAX / 2 words", |a, _| a.scratch.1 = usize::MAX / 2, PLE_ERR_POINTER),
    ("gates of usize::MAX / 4 + 1", |a, _| a.gates.1 = usize::MAX / 4 + 1, PLE_ERR_POINTER),
    ("logits inside the scratch", |a, _| a.logits.0 = a.scratch.0.wrapping_add(4),
        PLE_ERR_OVERLAP),
    ("probabilities over the logits", |a, _| a.probabilities.0 = a.logits.0.cast(),
        PLE_ERR_OVERLAP),
    ("gates over the numeric inputs", |a, _| a.gates.0 = a.numeric.0.cast_mut().cast(),
        PLE_ERR_OVERLAP),
    ("probabilities inside a model array", |a, m| a.probabilities.0 = m.mix_ratios.cast_mut(),
        PLE_ERR_OVERLAP),
];

/// Writes `value` at `at` of a call's input buffer (made for writing by `Buffers::args`).
fn set<T>(buffer: (*const T, usize), at: usize, value: T) {
    assert!(at < buffer.1);
    // SAFETY: the buffer is a live vector longer than `at`, its pointer made for writing.
    unsafe { buffer.0.cast_mut().add(at).write(value) }
}

#[test]
fn every_bad_argument_gets_its_code_through_model_and_handle() {
    let mut p = params();
    let model = model_c(&mut p);
    let handle = handle_of(&model);
    let mut buffers = Buffers::new(&model);
    for (what, change, code) in BAD_CALLS {
        for via in [Via::Model(&model), Via::Handle(&handle)] {
            let mut args = buffers.args();
            change(&mut args, &model);
            // SAFETY: the pointers address their lengths, or are refused before use.
            let status = unsafe { args.call(via) };
            assert_eq!(
                status,
                *code,
                "{what}: {} instead of {}",
                message(status),
                message(*code)
            );
            assert_eq!(buffers.outputs_untouched(), *code != PLE_OK, "{what}");
            buffers = Buffers::new(&model);
        }
    }
    // With an output left out, the engine's own scratch is one word per task short.
    let engine_words = p.model().unwrap().scratch_words();
    for via in [Via::Model(&model), Via::Handle(&handle)] {
        for leave_out_logits in [true, false] {
            let mut args = buffers.args();
            args.scratch.1 = engine_words;
            if leave_out_logits {
                args.logits = (null_mut(), 0);
            } else {
                args.probabilities = (null_mut(), 0);
            }
            // SAFETY: as above.
            assert_eq!(unsafe { args.call(via) }, PLE_ERR_SCRATCH_LENGTH);
            assert!(buffers.outputs_untouched());
        }
    }
    assert_eq!(
        message(PLE_ERR_RANGE),
        "an int8 model entry is out of its range"
    );
}

#[test]
fn handles_not_filled_by_a_successful_init_are_refused() {
    let mut p = params();
    let model = model_c(&mut p);
    let handle = handle_of(&model);
    let mut buffers = Buffers::new(&model);
    let run = |h: *const PleInt8Handle, buffers: &mut Buffers| {
        // SAFETY: the buffers address their lengths; the handle is refused or valid.
        let status = unsafe { buffers.args().call(Via::Handle(h)) };
        if status != PLE_OK {
            assert!(buffers.outputs_untouched());
        }
        status
    };
    assert_eq!(run(&handle, &mut buffers), PLE_OK);
    let copy = handle;
    assert_eq!(run(&copy, &mut buffers), PLE_OK, "a copied handle works");
    assert_eq!(run(null(), &mut buffers), PLE_ERR_NULL);
    assert_eq!(run(&PleInt8Handle::ZEROED, &mut buffers), PLE_ERR_HANDLE);
    let garbage = PleInt8Handle {
        opaque: [MaybeUninit::new(0xA5A5_A5A5_A5A5_A5A5); PLE_INT8_HANDLE_WORDS],
    };
    assert_eq!(run(&garbage, &mut buffers), PLE_ERR_HANDLE);
    // Any one bit changed anywhere in the handle.
    let mut flips = 0;
    for word in 0..PLE_INT8_HANDLE_WORDS {
        for bit in [0, 1, 31, 63] {
            let mut bad = handle;
            // SAFETY: every word of a filled handle is initialised.
            let value = unsafe { bad.opaque[word].assume_init() };
            bad.opaque[word] = MaybeUninit::new(value ^ (1 << bit));
            assert_eq!(
                run(&bad, &mut buffers),
                PLE_ERR_HANDLE,
                "word {word} bit {bit}"
            );
            flips += 1;
        }
    }
    assert_eq!(flips, 4 * PLE_INT8_HANDLE_WORDS);

    // A misaligned handle, for both entry points (a buffer one word longer than a handle).
    let mut room = [PleInt8Handle::ZEROED; 2];
    let odd = room.as_mut_ptr().wrapping_byte_add(4);
    // SAFETY: refused before use.
    unsafe {
        assert_eq!(ple_int8_handle_init(&model, odd), PLE_ERR_POINTER);
        assert_eq!(ple_int8_handle_init(&model, null_mut()), PLE_ERR_NULL);
    }
    assert_eq!(run(odd, &mut buffers), PLE_ERR_POINTER);
    assert!(room.iter().all(|h| h.opaque.iter().all(|w| {
        // SAFETY: initialised above.
        unsafe { w.assume_init() == 0 }
    })));

    // An output over the handle.
    let mut args = buffers.args();
    let mut target = handle;
    args.probabilities.0 = (&mut target as *mut PleInt8Handle).cast();
    // SAFETY: refused before use.
    let status = unsafe { args.call(Via::Handle(&target)) };
    assert_eq!(status, PLE_ERR_OVERLAP);

    // A handle inside a model array is refused and that array left as it was.
    let mut big = vec![0i32; p.dense_bias.len() + 2 * std::mem::size_of::<PleInt8Handle>()];
    big[..p.dense_bias.len()].copy_from_slice(&p.dense_bias);
    let before = big.clone();
    let base = big.as_mut_ptr();
    let first_aligned = base.align_offset(std::mem::align_of::<PleInt8Handle>());
    assert!(first_aligned < p.dense_bias.len());
    let mut inside = model;
    inside.dense_bias = base;
    let handle_in_bias = base.wrapping_add(first_aligned).cast::<PleInt8Handle>();
    // SAFETY: refused before the handle is written.
    assert_eq!(
        unsafe { ple_int8_handle_init(&inside, handle_in_bias) },
        PLE_ERR_OVERLAP
    );
    assert_eq!(big, before);

    // Stale: the vocabulary sizes changed after the handle was made.
    let vocab = model.layout.vocab_sizes.cast_mut();
    // SAFETY: `vocab` points into `p.vocab_sizes`, made for writing by `model_c`.
    unsafe { *vocab += 1 };
    assert_eq!(run(&handle, &mut buffers), PLE_ERR_HANDLE);
    // SAFETY: as above.
    unsafe { *vocab -= 1 };
    assert_eq!(
        run(&handle, &mut buffers),
        PLE_OK,
        "restored arrays make it valid again"
    );
    let widths = model.shape.expert_units.cast_mut();
    // SAFETY: as above, into `p.expert_units`.
    unsafe { *widths += 1 };
    assert_eq!(run(&handle, &mut buffers), PLE_ERR_HANDLE);
    // SAFETY: as above.
    unsafe { *widths -= 1 };
    assert_eq!(
        message(PLE_ERR_HANDLE),
        "not a handle ple_int8_handle_init filled, or its model changed"
    );
}
