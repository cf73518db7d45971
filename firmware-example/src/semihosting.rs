//! Semihosting: the firmware's console and exit code, through the debugger or QEMU.
//!
//! Only three calls are needed (write a string, write a character, exit with a status), so
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

/// Prints `text` on the host's console.
pub fn write_str(text: &str) {
    // SYS_WRITE0 takes a NUL-terminated string: copy through a small buffer so that any
    // `&str` works and the stack cost stays fixed.
    let mut buf = [0u8; 65];
    for chunk in text.as_bytes().chunks(buf.len() - 1) {
        let mut len = 0;
        for (dst, &src) in buf.iter_mut().zip(chunk) {
            // A NUL inside the text would end the host's string early: show it as '?'.
            *dst = if src == 0 { b'?' } else { src };
            len += 1;
        }
        if let Some(end) = buf.get_mut(len) {
            *end = 0;
        }
        // SAFETY: `buf` holds a NUL-terminated string and outlives the call.
        unsafe {
            call(SYS_WRITE0, buf.as_ptr() as usize);
        }
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
