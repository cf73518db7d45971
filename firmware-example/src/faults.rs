//! What happens when things go wrong: a fault or a panic prints what it knows and ends the
//! program with a failure status, so that a runner (QEMU under `timeout`, probe-rs) sees the
//! failure at once instead of a core spinning in a default handler.

use crate::{out, semihosting};

/// Exit status of a run whose rows did not all match.
pub const EXIT_MISMATCH: u32 = 1;
/// Exit status after a processor fault.
pub const EXIT_FAULT: u32 = 3;
/// Exit status after a panic (only reachable in builds that still contain panic paths).
pub const EXIT_PANIC: u32 = 4;

#[cfg(target_arch = "arm")]
#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    out::str("\nHARDFAULT pc=");
    out::hex32(frame.pc());
    out::str(" lr=");
    out::hex32(frame.lr());
    out::str("\n");
    semihosting::exit(EXIT_FAULT)
}

#[cfg(target_arch = "riscv32")]
#[export_name = "ExceptionHandler"]
fn exception_handler(_frame: &riscv_rt::TrapFrame) -> ! {
    let (cause, pc): (u32, u32);
    // SAFETY: reading mcause and mepc in machine mode has no side effect.
    unsafe {
        core::arch::asm!("csrr {0}, mcause", "csrr {1}, mepc", out(reg) cause, out(reg) pc, options(nomem, nostack));
    }
    out::str("\nEXCEPTION mcause=");
    out::hex32(cause);
    out::str(" mepc=");
    out::hex32(pc);
    out::str("\n");
    semihosting::exit(EXIT_FAULT)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    out::str("\nPANIC\n");
    semihosting::exit(EXIT_PANIC)
}
