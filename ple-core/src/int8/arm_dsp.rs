//! The two hot loops of an int8 inference as Arm Thumb-2 assembly (Cortex-M4/M7/M33 with the
//! DSP extension): the category gather and the first layer's per-output step.
//!
//! Both exist because a compiler cannot keep their working set in registers: the gather
//! wants eight accumulators, the row pointer and the word address, and the step wants up
//! to eight numeric input words beside its pointers, which is every register a Cortex-M
//! has. Written as plain functions (`global_asm!`, the AAPCS calling convention), they save
//! and use all fourteen. Each computes exactly what its portable twin computes (the same
//! `SXTAB16`, `SMLAD`, `SMMUL` arithmetic, wrapping alike), and the twin tests compare them
//! on every property-test case under `qemu-arm`.
//!
//! - [`gather_passes`]: passes of four weight words (sixteen outputs) over the selected
//!   rows, each `LDR` + two `SXTAB16` per word, the eight packed sums stored with one `STM`:
//!   the words [`super::kernels::gather_rows_packed`] leaves for those outputs.
//! - [`relu_steps`]: the per-output step of [`super::first_layer`] for the expert outputs
//!   (ReLU), with the `P` numeric words in registers: the category sum shifted plus the
//!   bias, `P` `SMLAD`s, `SMMUL` and the rounding shifts, `USAT`. It stops before an output
//!   whose requantisation needs the 64-bit form (a right shift below 33), which the caller
//!   computes in Rust.

use super::SparseOutput;

core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    // __ple_core_int8_gather4(base: *const i8, rows: *const u32, rows_end: *const u32,
    //                         packed: *mut u32, passes: usize)
    // Pass p sums the words at byte offsets 16p .. 16p + 16 of every row (a row starts at
    // `base + row`) into eight accumulators and stores them at `packed + 8p`.
    ".section .text.__ple_core_int8_gather4,\"ax\",%progbits",
    ".p2align 2",
    ".global __ple_core_int8_gather4",
    ".hidden __ple_core_int8_gather4",
    ".type __ple_core_int8_gather4,%function",
    ".thumb_func",
    "__ple_core_int8_gather4:",
    "    push {{r4-r11, lr}}",
    "    ldr r12, [sp, #36]", // passes
    "    push {{r3, r12}}",   // [sp]: packed, [sp, #4]: passes left
    "    cmp r12, #0",
    "    beq 4f",
    "    mov lr, r1", // first row
    "1:",
    "    movs r4, #0",
    "    movs r5, #0",
    "    movs r6, #0",
    "    movs r7, #0",
    "    mov r8, r4",
    "    mov r9, r4",
    "    mov r10, r4",
    "    mov r11, r4",
    "    mov r1, lr",
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
    "    ldr r3, [sp]",
    "    stm r3!, {{r4-r11}}",
    "    str r3, [sp]",
    "    adds r0, r0, #16",
    "    ldr r3, [sp, #4]",
    "    subs r3, r3, #1",
    "    str r3, [sp, #4]",
    "    bne 1b",
    "4:",
    "    add sp, sp, #8",
    "    pop {{r4-r11, pc}}",
    ".size __ple_core_int8_gather4, . - __ple_core_int8_gather4",
    // __ple_core_int8_reluP(out: *mut i32, records: *const SparseOutput, weights: *const u32,
    //                       out_end: *mut i32, x: *const u32) -> *mut i32
    // For each output from `out` to `out_end`: acc = (out[o] << category_shift) + bias
    // + SMLAD of the P numeric words with the output's P weight words; then SMMUL by the
    // multiplier, an arithmetic shift by right_shift - 33, +1, a shift by 1, USAT #15.
    // Returns where it stopped: `out_end`, or the first output whose right shift is below
    // 33 (not computed).
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

extern "C" {
    fn __ple_core_int8_gather4(
        base: *const i8,
        rows: *const u32,
        rows_end: *const u32,
        packed: *mut u32,
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
