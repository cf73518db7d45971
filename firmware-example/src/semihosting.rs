//! Semihosting: the firmware's console and exit code, through the debugger or QEMU.
//!
//! Only two calls are needed (write a NUL-terminated string, exit with a status), so
//! they are made directly rather than through a crate per architecture: the same few lines
//! serve Arm and RISC-V, and nothing here can panic.

/// `SYS_WRITE0`: print a NUL-terminated string.
const SYS_WRITE0: usize = 0x04;
/// `SYS_EXIT_EXTENDED`: stop the program with a reason and a status code.
const SYS_EXIT_EXTENDED: usize = 0x20;
/// `ADP_Stopped_ApplicationExit`: the program ended by itself.
const APPLICATION_EXIT: usize = 0x2_0026;

/// Issues semihosting call `op` with parameter `param` and returns the host's answer.
///
/// # Safety
/// `param` must be what the call `op` expects (for the calls here, a pointer to a valid
/// NUL-terminated string or to a two-word parameter block), and a semihosting host must be
/// attached: without one, Arm cores take a HardFault and RISC-V cores a breakpoint trap.
#[inline(always)]
unsafe fn call(op: usize, param: usize) -> usize {
    let result;
    #[cfg(target_arch = "arm")]
    // SAFETY: `bkpt 0xAB` is the Arm semihosting trap; the host reads r0/r1 and writes r0,
    // which is exactly what the operands declare. The caller guarantees `param`.
    unsafe {
        core::arch::asm!("bkpt 0xAB", inout("r0") op => result, in("r1") param, options(nostack, preserves_flags));
    }
    #[cfg(target_arch = "riscv32")]
    // SAFETY: the uncompressed slli/ebreak/srai sequence is the RISC-V semihosting trap; the
    // host reads a0/a1 and writes a0, as declared. The caller guarantees `param`.
    unsafe {
        core::arch::asm!(
            ".balign 16",
            ".option push",
            ".option norvc",
            "slli x0, x0, 0x1f",
            "ebreak",
            "srai x0, x0, 0x7",
            ".option pop",
            inout("a0") op => result,
            in("a1") param,
            options(nostack, preserves_flags),
        );
    }
    result
}

/// Prints a NUL-terminated string on the host's console (nothing if `text` holds no NUL).
pub fn write0(text: &[u8]) {
    if !text.contains(&0) {
        return;
    }
    // SAFETY: `text` holds a NUL, so the host reads a terminated string inside it, and it
    // outlives the call.
    unsafe {
        call(SYS_WRITE0, text.as_ptr() as usize);
    }
}

/// Ends the program with `status` as the host process's exit code (QEMU's, probe-rs').
pub fn exit(status: u32) -> ! {
    let block = [APPLICATION_EXIT, status as usize];
    // SAFETY: SYS_EXIT_EXTENDED reads the two-word block, which lives until the call ends.
    unsafe {
        call(SYS_EXIT_EXTENDED, block.as_ptr() as usize);
    }
    // A host that ignores the exit request (a debugger that is detached) leaves us here.
    loop {
        core::hint::spin_loop();
    }
}
