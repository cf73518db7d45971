//! The static library `libple_core.a`: ple-core's C ABI plus the panic handler a `no_std`
//! static library needs. It holds no logic of its own.
#![no_std]

pub use ple_core::*;

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // ple-core's inference paths do not panic; if anything else did, stop rather than unwind
    // into C.
    loop {}
}
