//! The firmware under QEMU: every embedded Census row predicted on the device matches the
//! host, the instruction counter is exact, and the figures (instructions per inference,
//! flash, RAM) are printed for the README.

use ple_tests::firmware::{self, Board, BuildRequest, Precision, Report};
use ple_tests::{elf, model};

/// Rows of the test split each firmware checks: firmware-example's default, as many as the
/// int8 Cortex-M4F firmware holds within its 90 KiB of flash.
const ROWS: usize = 200;
/// Seconds before QEMU is killed: a hung firmware fails instead of blocking CI.
const QEMU_TIMEOUT: u32 = 120;

struct Run {
    report: Report,
    sizes: elf::Sizes,
    /// Bytes of the embedded test rows and expected outputs (flash that a deployed firmware
    /// would not carry).
    fixture_bytes: u64,
    symbols: Vec<elf::Symbol>,
}

fn build_and_run(board: Board, precision: Precision) -> Run {
    let model = model::model_path();
    let elf_path = firmware::build(&BuildRequest {
        board,
        precision,
        model: &model,
        rows: ROWS,
    });
    let report = firmware::run(board, &elf_path, QEMU_TIMEOUT);
    let sizes = elf::sizes(&elf_path);
    let symbols = elf::symbols(&elf_path);
    let fixture_bytes = symbols
        .iter()
        .filter(|s| s.name.starts_with("FIXTURE_"))
        .map(|s| s.size)
        .sum();
    let run = Run {
        report,
        sizes,
        fixture_bytes,
        symbols,
    };
    print_figures(board, precision, &run);
    run
}

fn print_figures(board: Board, precision: Precision, run: &Run) {
    let r = &run.report;
    let stack = r
        .fields
        .get("stack_high_water")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    println!(
        "FIGURES board={} precision={} {}_per_inference(min/mean/max)={}/{}/{} \
         flash_total={} flash_without_test_rows={} static_ram={} stack_high_water={} ram_total={}",
        board.name,
        precision.name(),
        r.fields.get("counter").map_or("?", String::as_str),
        r.fields
            .get("per_inference_min")
            .map_or("?", String::as_str),
        r.fields
            .get("per_inference_mean")
            .map_or("?", String::as_str),
        r.fields
            .get("per_inference_max")
            .map_or("?", String::as_str),
        run.sizes.flash(),
        run.sizes.flash() - run.fixture_bytes,
        run.sizes.static_ram(),
        stack,
        run.sizes.static_ram() + stack,
    );
}

/// What every run must show: the firmware ran to its end, checked every row, found no
/// mismatch, counted instructions exactly, and exited with status 0.
fn assert_passed(board: Board, precision: Precision, run: &Run) {
    let r = &run.report;
    let context = format!("{} {}:\n{}", board.name, precision.name(), r.console);
    assert_eq!(r.text("result"), "PASS", "{context}");
    assert_eq!(r.exit_code, Some(0), "{context}");
    assert_eq!(r.number("rows"), ROWS as u64, "{context}");
    assert_eq!(r.number("mismatches"), 0, "{context}");
    assert_eq!(r.number("errors"), 0, "{context}");
    assert_eq!(r.text("counter"), "instructions", "{context}");
    let (expected, measured) = (
        r.number("calibration_expected"),
        r.number("calibration_measured"),
    );
    assert!(
        expected.abs_diff(measured) <= 4,
        "instruction counter is off: {context}"
    );
    assert!(r.number("per_inference_min") > 0, "{context}");
}

fn assert_no_panic_path(run: &Run) {
    let panics = elf::panic_symbols(&run.symbols);
    assert!(
        panics.is_empty(),
        "the release firmware links panic paths: {panics:?}"
    );
}

/// Every checked row agreed with the host to the last bit (not only within tolerance).
fn assert_bit_exact(run: &Run) {
    assert_eq!(
        run.report.number("bit_exact_rows"),
        ROWS as u64,
        "{}",
        run.report.console
    );
}

/// The int8 budget of a Cortex-M4F deployment: static RAM plus stack.
const INT8_RAM_LIMIT: u64 = 4 * 1024;
/// The int8 flash budget of a Cortex-M4F deployment: the whole firmware, its code, the model,
/// and the embedded test rows with the host's outputs (`.vector_table + .text + .rodata +
/// .data`).
const INT8_FLASH_LIMIT: u64 = 90 * 1024;

#[test]
fn cortex_m4f_f32_matches_the_host_bit_for_bit() {
    let run = build_and_run(firmware::CORTEX_M4F, Precision::F32);
    assert_passed(firmware::CORTEX_M4F, Precision::F32, &run);
    assert_no_panic_path(&run);
    // The Arm FPU kernels add in the portable kernels' order and multiply-accumulate
    // without fusing (VMLA rounds the product), so the device computes the host's bits.
    assert_bit_exact(&run);
}

#[test]
fn cortex_m4f_f16_matches_the_host_bit_for_bit() {
    let run = build_and_run(firmware::CORTEX_M4F, Precision::F16);
    assert_passed(firmware::CORTEX_M4F, Precision::F16, &run);
    assert_no_panic_path(&run);
    // Half-to-single conversion is exact, in hardware (VCVTB/VCVTT) as in software.
    assert_bit_exact(&run);
}

#[test]
fn cortex_m4f_int8_matches_the_host_bit_for_bit_within_90_kib_of_flash_and_4_kib_of_ram() {
    let run = build_and_run(firmware::CORTEX_M4F, Precision::Int8);
    assert_passed(firmware::CORTEX_M4F, Precision::Int8, &run);
    assert_no_panic_path(&run);
    assert_bit_exact(&run);
    let ram = run.sizes.static_ram() + run.report.number("stack_high_water");
    assert!(
        ram <= INT8_RAM_LIMIT,
        "int8 Cortex-M4F needs {ram} bytes of RAM, over 4 KiB"
    );
    let flash = run.sizes.flash();
    println!(
        "int8 Cortex-M4F flash with {ROWS} test rows: {flash} of {INT8_FLASH_LIMIT} bytes \
         ({} bytes of test rows)",
        run.fixture_bytes
    );
    assert!(
        flash <= INT8_FLASH_LIMIT,
        "the int8 Cortex-M4F firmware with its {ROWS} test rows takes {flash} bytes of flash, \
         over 90 KiB ({INT8_FLASH_LIMIT})"
    );
}

#[test]
fn cortex_m7_f32_and_int8_match_the_host_bit_for_bit() {
    for precision in [Precision::F32, Precision::Int8] {
        let run = build_and_run(firmware::CORTEX_M7, precision);
        assert_passed(firmware::CORTEX_M7, precision, &run);
        assert_bit_exact(&run);
    }
}

#[test]
fn cortex_m0_int8_matches_the_host_bit_for_bit() {
    let run = build_and_run(firmware::CORTEX_M0, Precision::Int8);
    assert_passed(firmware::CORTEX_M0, Precision::Int8, &run);
    assert_no_panic_path(&run);
    assert_bit_exact(&run);
}

#[test]
fn riscv32_f32_and_int8_match_the_host_bit_for_bit() {
    for precision in [Precision::F32, Precision::Int8] {
        let run = build_and_run(firmware::RISCV32, precision);
        assert_passed(firmware::RISCV32, precision, &run);
        assert_no_panic_path(&run);
        assert_bit_exact(&run);
    }
}
