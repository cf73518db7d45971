//! The device-specific part of the Arm vector table.
//!
//! Without a device crate, cortex-m-rt fills the vector table with 240 interrupt vectors
//! (32 on ARMv6-M), 960 bytes of flash that point at its default handler. This firmware
//! enables no interrupt, so it asks cortex-m-rt for its `device` mode and provides the
//! smallest table the linker script accepts: one vector, to the same default handler (the
//! build script writes the `device.x` that mode includes, with nothing to declare). An
//! interrupt could only reach a vector after being enabled in the NVIC, which nothing here
//! does.

extern "C" {
    /// cortex-m-rt's default exception handler (its linker script provides the symbol).
    fn DefaultHandler();
}

/// The interrupt vectors, placed after the core exceptions by cortex-m-rt's `link.x`.
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
pub static __INTERRUPTS: [unsafe extern "C" fn(); 1] = [DefaultHandler];
