//! The hot loops of an int8 inference as Arm Thumb-2 assembly (Cortex-M4/M7/M33 with the
//! DSP extension): the category gather, the first layer's per-output step, the dense ReLU
//! layers after it and the gate mixing.
//!
//! They exist because a compiler cannot keep their working set in registers: the gather
//! wants eight accumulators, the row pointer and the word address, and the step wants up
//! to eight numeric input words beside its pointers, which is every register a Cortex-M
//! has. Written as plain functions (`global_asm!`, the AAPCS calling convention), they save
//! and use all fourteen. Each computes exactly what its portable twin computes (the same
//! `SXTAB16`, `SMLAD`, `SMMUL`, `MLA` arithmetic, wrapping alike), and the twin tests
//! compare them on every property-test case under `qemu-arm`.
//!
//! - [`gather_passes`]: passes of four weight words (sixteen outputs) over the selected
//!   rows, each `LDR` + two `SXTAB16` per word, the eight packed sums stored with one `STM`:
//!   the words [`super::kernels::gather_rows_packed`] leaves for those outputs.
//!   [`gather_sum_passes`] is the same loop storing the sixteen sums unpacked (`SXTH`,
//!   `ASR`, four `STM`s), as the first layer's step reads them.
//! - [`relu_steps`]: the per-output step of [`super::first_layer`] for the expert outputs
//!   (ReLU), with the `P` numeric words in registers: the category sum shifted plus the
//!   bias, `P` `SMLAD`s, `SMMUL` and the rounding shifts, `USAT`. It stops before an output
//!   whose requantisation needs the 64-bit form (a right shift below 33), which the caller
//!   computes in Rust.
//! - [`dense_relu_steps`]: a dense ReLU layer of whole groups of four inputs (see
//!   [`super::dense`]): per weight word one `LDR`, one `LDRD` of the packed input pair,
//!   two `SXTB16` and two `SMLAD`s, then `QADD` of the bias and the requantisation of
//!   [`relu_steps`]; it stops at a right shift below 33 alike.
//! - [`mix_blocks`]: a gate's mixing ([`super::mix`]) four outputs at a time, each member
//!   expert's four values loaded by one `LDM` and added with four `MLA`s.

use super::{Requant, SparseOutput};

core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    // __ple_core_int8_gather4(base: *const i8, rows: *const u32, rows_end: *const u32,
    //                         packed: *mut u32, passes: usize)
    // Pass p sums the words at byte offsets 16p .. 16p + 16 of every row (a row starts at
    // `base + row`) into eight accumulators and stores them at `packed + 8p`.
    // __ple_core_int8_gather4_sums(base, rows, rows_end, sums: *mut i32, passes)
    // The same passes, each storing its sixteen sums unpacked, in output order, at
    // `sums + 16p`: accumulator 2g holds outputs 4g (low lane) and 4g + 2 (high lane),
    // accumulator 2g + 1 outputs 4g + 1 and 4g + 3.
    ".macro PLE_GATHER name, unpack",
    ".section .text.\\name,\"ax\",%progbits",
    ".p2align 2",
    ".global \\name",
    ".hidden \\name",
    ".type \\name,%function",
    ".thumb_func",
    "\\name:",
    "    push {{r4-r11, lr}}",
    "    ldr r12, [sp, #36]", // passes
    // [sp]: first row, [sp, #4]: destination, [sp, #8]: passes left
    "    push {{r1, r3, r12}}",
    "    cmp r12, #0",
    "    beq 4f",
    "1:",
    "    movs r4, #0",
    "    movs r5, #0",
    "    movs r6, #0",
    "    movs r7, #0",
    "    mov r8, r4",
    "    mov r9, r4",
    "    mov r10, r4",
    "    mov r11, r4",
    "    ldr r1, [sp]",
    "    cmp r1, r2",
    "    beq 3f",
    "2:",
    "    ldr r12, [r1], #4",
    "    add r12, r12, r0",
    "    ldr r3, [r12]",
    "    sxtab16 r4, r4, r3",
    "    sxtab16 r5, r5, r3, ror #8",
    "    ldr r3, [r12, #4]",
    "    sxtab16 r6, r6, r3",
    "    sxtab16 r7, r7, r3, ror #8",
    "    ldr r3, [r12, #8]",
    "    sxtab16 r8, r8, r3",
    "    sxtab16 r9, r9, r3, ror #8",
    "    ldr r3, [r12, #12]",
    "    sxtab16 r10, r10, r3",
    "    sxtab16 r11, r11, r3, ror #8",
    "    cmp r1, r2",
    "    bne 2b",
    "3:",
    "    ldr r3, [sp, #4]",
    "    .if \\unpack",
    // Each accumulator pair (a, b) becomes outputs lo(a), lo(b), hi(a), hi(b): the high
    // lanes go to r12 and lr, so that one STM stores the four in order.
    "    asr r12, r4, #16",
    "    asr lr, r5, #16",
    "    sxth r4, r4",
    "    sxth r5, r5",
    "    stm r3!, {{r4, r5, r12, lr}}",
    "    asr r12, r6, #16",
    "    asr lr, r7, #16",
    "    sxth r6, r6",
    "    sxth r7, r7",
    "    stm r3!, {{r6, r7, r12, lr}}",
    "    asr r12, r8, #16",
    "    asr lr, r9, #16",
    "    sxth r8, r8",
    "    sxth r9, r9",
    "    stm r3!, {{r8, r9, r12, lr}}",
    "    asr r12, r10, #16",
    "    asr lr, r11, #16",
    "    sxth r10, r10",
    "    sxth r11, r11",
    "    stm r3!, {{r10, r11, r12, lr}}",
    "    .else",
    "    stm r3!, {{r4-r11}}",
    "    .endif",
    "    str r3, [sp, #4]",
    "    adds r0, r0, #16",
    "    ldr r3, [sp, #8]",
    "    subs r3, r3, #1",
    "    str r3, [sp, #8]",
    "    bne 1b",
    "4:",
    "    add sp, sp, #12",
    "    pop {{r4-r11, pc}}",
    ".size \\name, . - \\name",
    ".endm",
    "PLE_GATHER __ple_core_int8_gather4, 0",
    "PLE_GATHER __ple_core_int8_gather4_sums, 1",
    // __ple_core_int8_reluP(out: *mut i32, records: *const SparseOutput, weights: *const u32,
    //                       out_end: *mut i32, x: *const u32) -> *mut i32
    // For each output from `out` to `out_end`: acc = (out[o] << category_shift) + bias
    // + SMLAD of the P numeric words with the output's P weight words; then SMMUL by the
    // multiplier, an arithmetic shift by right_shift - 33, +1, a shift by 1, USAT #15.
    // Returns where it stopped: `out_end`, or the first output whose right shift is below
    // 33 (not computed).
    // __ple_core_int8_mix4(dst: *mut i32, dst_end: *mut i32, spans: *const MixSpans)
    // For each block of four outputs from `dst` to `dst_end`: four accumulators start at
    // 2^14 (the rounding half), each member expert adds weight * its four values (one LDM,
    // four MLA), the own span's experts then the shared span's; each output is then
    // min(acc >> 15, 32767).
    ".section .text.__ple_core_int8_mix4,\"ax\",%progbits",
    ".p2align 2",
    ".global __ple_core_int8_mix4",
    ".hidden __ple_core_int8_mix4",
    ".type __ple_core_int8_mix4,%function",
    ".thumb_func",
    "__ple_core_int8_mix4:",
    "    push {{r4-r11, lr}}",
    "    cmp r0, r1",
    "    bhs 9f",
    "    push {{r1, r2}}",   // [sp]: dst_end, [sp, #4]: spans
    "    ldr r1, [r2, #16]", // stride in bytes
    "1:",
    "    ldr r2, [sp, #4]",
    "    ldr lr, [r2]", // own span, as an offset from dst
    "    add lr, lr, r0",
    "    ldr r3, [r2, #20]", // weights
    "    ldr r2, [r2, #4]",  // own experts
    "    mov r4, #16384",
    "    mov r5, r4",
    "    mov r6, r4",
    "    mov r7, r4",
    "    cbz r2, 3f",
    "2:",
    "    ldrh r12, [r3], #2",
    "    ldm lr, {{r8-r11}}",
    "    add lr, lr, r1",
    "    mla r4, r12, r8, r4",
    "    mla r5, r12, r9, r5",
    "    mla r6, r12, r10, r6",
    "    mla r7, r12, r11, r7",
    "    subs r2, r2, #1",
    "    bne 2b",
    "3:",
    "    ldr r2, [sp, #4]",
    "    ldr lr, [r2, #8]", // shared span, as an offset from dst
    "    add lr, lr, r0",
    "    ldr r2, [r2, #12]", // shared experts
    "    cbz r2, 5f",
    "4:",
    "    ldrh r12, [r3], #2",
    "    ldm lr, {{r8-r11}}",
    "    add lr, lr, r1",
    "    mla r4, r12, r8, r4",
    "    mla r5, r12, r9, r5",
    "    mla r6, r12, r10, r6",
    "    mla r7, r12, r11, r7",
    "    subs r2, r2, #1",
    "    bne 4b",
    "5:",
    "    movw r8, #32767",
    "    asr r4, r4, #15",
    "    cmp r4, r8",
    "    it gt",
    "    movgt r4, r8",
    "    asr r5, r5, #15",
    "    cmp r5, r8",
    "    it gt",
    "    movgt r5, r8",
    "    asr r6, r6, #15",
    "    cmp r6, r8",
    "    it gt",
    "    movgt r6, r8",
    "    asr r7, r7, #15",
    "    cmp r7, r8",
    "    it gt",
    "    movgt r7, r8",
    "    stm r0!, {{r4-r7}}",
    "    ldr r2, [sp]",
    "    cmp r0, r2",
    "    blo 1b",
    "    add sp, sp, #8",
    "9:",
    "    pop {{r4-r11, pc}}",
    ".size __ple_core_int8_mix4, . - __ple_core_int8_mix4",
    // __ple_core_int8_dense_relu(out: *mut i32, out_end: *mut i32, weights: *const i8,
    //                            inputs: *const DenseInputs) -> *mut i32
    // For each output from `out` to `out_end`, its weight row following the previous one:
    // the dot product of the row's words (each split by SXTB16 and SXTB16 ROR #8) with the
    // packed input pairs (SMLAD), QADD of the bias, SMMUL by the multiplier, an arithmetic
    // shift by right_shift - 33, +1, USAT #15 of that shifted by 1. Returns where it stopped:
    // `out_end`, or the first output whose right shift is below 33 (not computed).
    ".section .text.__ple_core_int8_dense_relu,\"ax\",%progbits",
    ".p2align 2",
    ".global __ple_core_int8_dense_relu",
    ".hidden __ple_core_int8_dense_relu",
    ".type __ple_core_int8_dense_relu,%function",
    ".thumb_func",
    "__ple_core_int8_dense_relu:",
    "    push {{r4-r11, lr}}",
    "    ldr r4, [r3, #12]", // requantisation records
    "    ldr r5, [r3]",      // packed input
    "    ldr r6, [r3, #4]",  // groups of four inputs
    "    ldr r3, [r3, #8]",  // biases
    "    cmp r0, r1",
    "    bhs 9f",
    "1:",
    "    ldrb r12, [r4, #4]", // right_shift
    "    cmp r12, #33",
    "    blo 9f", // below 33: the 64-bit form, left to the caller
    "    mov r7, r5",
    "    mov r8, r6",
    "    movs r9, #0",
    "2:",
    "    ldr r10, [r2], #4",
    "    ldrd r12, lr, [r7], #8",
    "    sxtb16 r11, r10",
    "    smlad r9, r12, r11, r9",
    "    sxtb16 r11, r10, ror #8",
    "    smlad r9, lr, r11, r9",
    "    subs r8, r8, #1",
    "    bne 2b",
    "    ldr r12, [r3], #4",
    "    qadd r9, r9, r12",
    "    ldr r12, [r4], #8", // multiplier, and on to the next record
    "    smmul r9, r9, r12",
    "    ldrb r12, [r4, #-4]",
    "    sub r12, r12, #33",
    "    asr r9, r9, r12",
    "    add r9, r9, #1",
    "    usat r9, #15, r9, asr #1",
    "    str r9, [r0], #4",
    "    cmp r0, r1",
    "    blo 1b",
    "9:",
    "    pop {{r4-r11, pc}}",
    ".size __ple_core_int8_dense_relu, . - __ple_core_int8_dense_relu",
    ".macro PLE_RELU_STEP name, pairs",
    ".section .text.\\name,\"ax\",%progbits",
    ".p2align 2",
    ".global \\name",
    ".hidden \\name",
    ".type \\name,%function",
    ".thumb_func",
    "\\name:",
    "    push {{r4-r11, lr}}",
    "    ldr lr, [sp, #36]", // x
    "    .if \\pairs == 1",
    "    ldr r4, [lr]",
    "    .else",
    "    .if \\pairs == 2",
    "    ldm lr, {{r4-r5}}",
    "    .else",
    "    .if \\pairs == 3",
    "    ldm lr, {{r4-r6}}",
    "    .else",
    "    .if \\pairs == 4",
    "    ldm lr, {{r4-r7}}",
    "    .else",
    "    .if \\pairs == 5",
    "    ldm lr, {{r4-r8}}",
    "    .else",
    "    .if \\pairs == 6",
    "    ldm lr, {{r4-r9}}",
    "    .else",
    "    .if \\pairs == 7",
    "    ldm lr, {{r4-r10}}",
    "    .else",
    "    ldm lr, {{r4-r11}}",
    "    .endif",
    "    .endif",
    "    .endif",
    "    .endif",
    "    .endif",
    "    .endif",
    "    .endif",
    "    cmp r0, r3",
    "    bhs 9f",
    "1:",
    "    ldr r12, [r0]",     // category sum
    "    ldrb lr, [r1, #9]", // category_shift
    "    lsl r12, r12, lr",
    "    ldr lr, [r1]", // bias
    "    add r12, r12, lr",
    "    ldr lr, [r2], #4",
    "    smlad r12, r4, lr, r12",
    "    .if \\pairs >= 2",
    "    ldr lr, [r2], #4",
    "    smlad r12, r5, lr, r12",
    "    .endif",
    "    .if \\pairs >= 3",
    "    ldr lr, [r2], #4",
    "    smlad r12, r6, lr, r12",
    "    .endif",
    "    .if \\pairs >= 4",
    "    ldr lr, [r2], #4",
    "    smlad r12, r7, lr, r12",
    "    .endif",
    "    .if \\pairs >= 5",
    "    ldr lr, [r2], #4",
    "    smlad r12, r8, lr, r12",
    "    .endif",
    "    .if \\pairs >= 6",
    "    ldr lr, [r2], #4",
    "    smlad r12, r9, lr, r12",
    "    .endif",
    "    .if \\pairs >= 7",
    "    ldr lr, [r2], #4",
    "    smlad r12, r10, lr, r12",
    "    .endif",
    "    .if \\pairs >= 8",
    "    ldr lr, [r2], #4",
    "    smlad r12, r11, lr, r12",
    "    .endif",
    "    ldr lr, [r1, #4]", // multiplier
    "    smmul r12, r12, lr",
    "    ldrb lr, [r1, #8]", // right_shift
    "    subs lr, lr, #33",
    "    bmi 9f", // below 33: the 64-bit form, left to the caller
    "    asr r12, r12, lr",
    "    add r12, r12, #1",
    "    asr r12, r12, #1",
    "    usat r12, #15, r12",
    "    str r12, [r0], #4",
    "    add r1, r1, #12",
    "    cmp r0, r3",
    "    blo 1b",
    "9:",
    "    pop {{r4-r11, pc}}",
    ".size \\name, . - \\name",
    ".endm",
    "PLE_RELU_STEP __ple_core_int8_relu1, 1",
    "PLE_RELU_STEP __ple_core_int8_relu2, 2",
    "PLE_RELU_STEP __ple_core_int8_relu3, 3",
    "PLE_RELU_STEP __ple_core_int8_relu4, 4",
    "PLE_RELU_STEP __ple_core_int8_relu5, 5",
    "PLE_RELU_STEP __ple_core_int8_relu6, 6",
    "PLE_RELU_STEP __ple_core_int8_relu7, 7",
    "PLE_RELU_STEP __ple_core_int8_relu8, 8",
    ".text",
);

type ReluStep = unsafe extern "C" fn(
    out: *mut i32,
    records: *const SparseOutput,
    weights: *const u32,
    out_end: *mut i32,
    x: *const u32,
) -> *mut i32;

/// Where [`__ple_core_int8_mix4`] finds the experts it mixes: two runs of experts, each
/// given by its first value's address minus the destination's and its number of experts,
/// the distance between two experts' outputs, and the scaled weights of both runs in order.
#[repr(C)]
struct MixSpans {
    own: usize,
    own_experts: usize,
    shared: usize,
    shared_experts: usize,
    stride_bytes: usize,
    weights: *const u16,
}

/// What [`__ple_core_int8_dense_relu`] reads besides the outputs and weights: the input
/// packed in lane pairs, its number of groups of four, and the layer's biases and
/// requantisations from the first output on.
#[repr(C)]
struct DenseInputs {
    packed: *const u32,
    groups: usize,
    bias: *const i32,
    requant: *const Requant,
}

extern "C" {
    fn __ple_core_int8_dense_relu(
        out: *mut i32,
        out_end: *mut i32,
        weights: *const i8,
        inputs: *const DenseInputs,
    ) -> *mut i32;
    fn __ple_core_int8_mix4(dst: *mut i32, dst_end: *mut i32, spans: *const MixSpans);
    fn __ple_core_int8_gather4(
        base: *const i8,
        rows: *const u32,
        rows_end: *const u32,
        packed: *mut u32,
        passes: usize,
    );
    fn __ple_core_int8_gather4_sums(
        base: *const i8,
        rows: *const u32,
        rows_end: *const u32,
        sums: *mut i32,
        passes: usize,
    );
    fn __ple_core_int8_relu1(
        o: *mut i32,
        r: *const SparseOutput,
        w: *const u32,
        e: *mut i32,
        x: *const u32,
    ) -> *mut i32;
    fn __ple_core_int8_relu2(
        o: *mut i32,
        r: *const SparseOutput,
        w: *const u32,
        e: *mut i32,
        x: *const u32,
    ) -> *mut i32;
    fn __ple_core_int8_relu3(
        o: *mut i32,
        r: *const SparseOutput,
        w: *const u32,
        e: *mut i32,
        x: *const u32,
    ) -> *mut i32;
    fn __ple_core_int8_relu4(
        o: *mut i32,
        r: *const SparseOutput,
        w: *const u32,
        e: *mut i32,
        x: *const u32,
    ) -> *mut i32;
    fn __ple_core_int8_relu5(
        o: *mut i32,
        r: *const SparseOutput,
        w: *const u32,
        e: *mut i32,
        x: *const u32,
    ) -> *mut i32;
    fn __ple_core_int8_relu6(
        o: *mut i32,
        r: *const SparseOutput,
        w: *const u32,
        e: *mut i32,
        x: *const u32,
    ) -> *mut i32;
    fn __ple_core_int8_relu7(
        o: *mut i32,
        r: *const SparseOutput,
        w: *const u32,
        e: *mut i32,
        x: *const u32,
    ) -> *mut i32;
    fn __ple_core_int8_relu8(
        o: *mut i32,
        r: *const SparseOutput,
        w: *const u32,
        e: *mut i32,
        x: *const u32,
    ) -> *mut i32;
}

/// Runs the whole four-word passes of the packed gather over `table` and returns how many
/// words of `packed` it filled (a multiple of 8); the caller sums the rest.
///
/// The caller has checked that every row, rounded up to a word, lies inside `table`
/// (`rows_fit`), and `packed` holds two words per four outputs.
pub(super) fn gather_passes(
    table: &[i8],
    row_starts: &[u32],
    outputs: usize,
    packed: &mut [u32],
) -> usize {
    let passes = (outputs.div_ceil(4) / 4).min(packed.len() / 8);
    if passes == 0 {
        return 0;
    }
    let rows = row_starts.as_ptr_range();
    // SAFETY: every row start plus the row's word-rounded width (at least `16 * passes`
    // bytes, the most the function reads from a row) lies inside `table` (checked by the
    // caller); it writes `8 * passes <= packed.len()` words of `packed` and reads
    // `row_starts` from start to end. It follows the AAPCS and restores every callee-saved
    // register.
    unsafe {
        __ple_core_int8_gather4(
            table.as_ptr(),
            rows.start,
            rows.end,
            packed.as_mut_ptr(),
            passes,
        );
    }
    8 * passes
}

/// [`gather_passes`] with the sums unpacked, one `i32` per output in output order, into
/// `sums` (one per output); returns how many outputs it filled (a multiple of 16).
///
/// The caller has checked that every row, rounded up to a word, lies inside `table`
/// (`rows_fit`) for `sums.len()` outputs.
pub(super) fn gather_sum_passes(table: &[i8], row_starts: &[u32], sums: &mut [i32]) -> usize {
    let outputs = sums.len();
    let passes = (outputs.div_ceil(4) / 4).min(outputs / 16);
    if passes == 0 {
        return 0;
    }
    let rows = row_starts.as_ptr_range();
    // SAFETY: every row start plus the row's word-rounded width (at least `16 * passes`
    // bytes, the most the function reads from a row) lies inside `table` (checked by the
    // caller); it writes `16 * passes <= sums.len()` values of `sums` and reads
    // `row_starts` from start to end. It follows the AAPCS and restores every callee-saved
    // register.
    unsafe {
        __ple_core_int8_gather4_sums(
            table.as_ptr(),
            rows.start,
            rows.end,
            sums.as_mut_ptr(),
            passes,
        );
    }
    16 * passes
}

/// The ReLU outputs of the first layer from the first of `out` on, with the `P` numeric
/// words `x` (see [`super::first_layer`]); returns how many it computed: all of them, or up
/// to the first whose requantisation needs the 64-bit form (right shift below 33).
///
/// `out` holds each output's category sum on entry, `records` and `weights` (`P` weight
/// pairs per output) follow the same outputs; the records' category shifts are at most 28
/// (the model view's bounds).
pub(super) fn relu_steps<const P: usize>(
    x: &[u32; P],
    out: &mut [i32],
    records: &[SparseOutput],
    weights: &[[i16; 2]],
) -> usize {
    let step: ReluStep = match P {
        1 => __ple_core_int8_relu1,
        2 => __ple_core_int8_relu2,
        3 => __ple_core_int8_relu3,
        4 => __ple_core_int8_relu4,
        5 => __ple_core_int8_relu5,
        6 => __ple_core_int8_relu6,
        7 => __ple_core_int8_relu7,
        8 => __ple_core_int8_relu8,
        _ => return 0,
    };
    let n = out.len().min(records.len()).min(weights.len() / P);
    let Some(out) = out.get_mut(..n) else {
        return 0;
    };
    let range = out.as_mut_ptr_range();
    // SAFETY: the function reads and writes `out[..n]`, reads `records[..n]` (12-byte
    // `#[repr(C)]` records, fields at offsets 0, 4, 8, 9), `P` words of weights per output
    // from `weights` (at least `n * P` pairs; unaligned word reads, which Armv7-M and
    // Armv7-A allow) and the `P` words of `x`; it returns a pointer between `out` and
    // `out_end` (a whole number of outputs past `out`). It follows the AAPCS and restores
    // every callee-saved register.
    let stop = unsafe {
        step(
            range.start,
            records.as_ptr(),
            weights.as_ptr().cast::<u32>(),
            range.end,
            x.as_ptr(),
        )
    };
    (stop as usize - range.start as usize) / 4
}

/// The whole blocks of four outputs of a gate's mixing (see [`super::mix`]): `dst` holds one
/// expert's width of outputs, `spans` the two runs of member experts (whole multiples of that
/// width), `weights` their scaled weights in order (members without a weight are left out,
/// as the portable loops do). Returns how many outputs it wrote: every whole block of four
/// from the first; the caller mixes the rest.
pub(super) fn mix_blocks(spans: [&[i32]; 2], weights: &[u16], dst: &mut [i32]) -> usize {
    let width = dst.len();
    let [own, shared] = spans;
    let (Some(own_experts), Some(shared_experts)) = (
        own.len().checked_div(width),
        shared.len().checked_div(width),
    ) else {
        return 0;
    };
    // As the Rust loops, which zip the experts with the weights: no more members than
    // weights, the own span's first.
    let own_experts = own_experts.min(weights.len());
    let shared_experts = shared_experts.min(weights.len() - own_experts);
    let done = width - width % 4;
    let Some(blocks) = dst.get_mut(..done) else {
        return 0;
    };
    if done == 0 {
        return 0;
    }
    let range = blocks.as_mut_ptr_range();
    let from_dst = |span: &[i32]| (span.as_ptr() as usize).wrapping_sub(range.start as usize);
    let spans = MixSpans {
        own: from_dst(own),
        own_experts,
        shared: from_dst(shared),
        shared_experts,
        stride_bytes: 4 * width,
        weights: weights.as_ptr(),
    };
    // SAFETY: the function writes `dst[..done]` (whole blocks of four) and, for every block
    // at output k and every member e of a span, reads the four values at `span[e * width + k]`
    // onwards, inside the span because `k + 4 <= width` and `e` is below the span's whole
    // experts; it reads one weight per member (`weights` holds at least as many) and the
    // `MixSpans` record. Word loads are aligned (`i32` slices). It follows the AAPCS and
    // restores every callee-saved register.
    unsafe { __ple_core_int8_mix4(range.start, range.end, &spans) };
    done
}

/// The ReLU outputs of a dense layer whose input is whole groups of four, from the first of
/// `out` on (see [`super::dense`]): `packed` is the input packed in lane pairs (two words
/// per group), `weights` one row of `2 * packed.len()` weights per output, `bias` and
/// `requant` one entry per output. Returns how many it computed: all of them, or up to the
/// first whose requantisation needs the 64-bit form (right shift below 33).
pub(super) fn dense_relu_steps(
    weights: &[i8],
    packed: &[u32],
    bias: &[i32],
    requant: &[Requant],
    out: &mut [i32],
) -> usize {
    let groups = packed.len() / 2;
    let inputs = 4 * groups;
    let Some(rows) = weights.len().checked_div(inputs) else {
        return 0;
    };
    let n = out.len().min(bias.len()).min(requant.len()).min(rows);
    let Some(out) = out.get_mut(..n) else {
        return 0;
    };
    let range = out.as_mut_ptr_range();
    let inputs = DenseInputs {
        packed: packed.as_ptr(),
        groups,
        bias: bias.as_ptr(),
        requant: requant.as_ptr(),
    };
    // SAFETY: `groups >= 1` (else `checked_div` returned above). The function writes
    // `out[..n]`, and for each of those outputs reads one row of `4 * groups` weights (rows
    // follow each other: `n` rows lie inside `weights`; unaligned word reads, which
    // Armv7-M and Armv7-A allow), the `2 * groups` packed words (aligned, `u32`), one bias
    // and one 8-byte `#[repr(C)]` `Requant` (multiplier at offset 0, right shift at 4); `n`
    // is at most the length of each. It returns a pointer between `out` and `out_end` (a
    // whole number of outputs past `out`), and follows the AAPCS, restoring every
    // callee-saved register.
    let stop =
        unsafe { __ple_core_int8_dense_relu(range.start, range.end, weights.as_ptr(), &inputs) };
    (stop as usize - range.start as usize) / 4
}
