//! Stack high-water mark by painting.
//!
//! At start-up [`paint`] fills the unused stack (from its lowest address up to a little below
//! the current stack pointer) with a known word; after the work, [`high_water`] finds the
//! lowest word that was overwritten. Everything from there to the top of the stack counts as
//! used, including what start-up and `main` used before painting, so the figure is an upper
//! bound on the deepest stack the program reached.

const PAINT: u32 = 0xCCCC_CCCC;
/// Bytes below the stack pointer left unpainted: the painting function's own frame.
const MARGIN: usize = 256;
/// At most this many bytes are painted (and so measured): a few hundred microseconds of
/// start-up on a board with a large RAM, and far more than this firmware needs.
const MAX_PAINTED: usize = 64 * 1024;

extern "C" {
    /// Top of the stack (cortex-m-rt and riscv-rt both define it).
    static _stack_start: u32;
}
#[cfg(target_arch = "arm")]
extern "C" {
    /// Lowest stack address: the end of `.bss`/`.uninit` (cortex-m-rt).
    static _stack_end: u32;
}
#[cfg(target_arch = "riscv32")]
extern "C" {
    /// Lowest stack address: the end of the (empty) heap (riscv-rt).
    static __eheap: u32;
}

fn top() -> usize {
    // Only the address of the linker symbol is taken: no unsafe needed.
    core::ptr::addr_of!(_stack_start) as usize
}

fn bottom() -> usize {
    #[cfg(target_arch = "arm")]
    // Only the address of the linker symbol is taken: no unsafe needed.
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    #[cfg(target_arch = "riscv32")]
    // Only the address of the linker symbol is taken: no unsafe needed.
    let bottom = core::ptr::addr_of!(__eheap) as usize;
    // Never measure more than MAX_PAINTED bytes: paint and scan the same window.
    bottom.max(top().saturating_sub(MAX_PAINTED))
}

/// The painted window: `[start, end)`, word-aligned.
struct Window {
    start: usize,
    end: usize,
}

/// Paints the stack below the caller. Call it first thing in `main`.
#[inline(never)]
pub fn paint() {
    let marker = 0u32;
    let sp = core::ptr::addr_of!(marker) as usize;
    let window = Window {
        start: (bottom() + 3) & !3,
        end: sp.saturating_sub(MARGIN) & !3,
    };
    let mut address = window.start;
    while address < window.end {
        // SAFETY: [start, end) lies between the end of the static data and MARGIN bytes below
        // this function's frame: stack memory no live value occupies.
        unsafe { (address as *mut u32).write_volatile(PAINT) };
        address += 4;
    }
}

/// Bytes of stack used so far: from the lowest overwritten painted word to the top.
pub fn high_water() -> usize {
    let start = (bottom() + 3) & !3;
    let mut address = start;
    while address < top() {
        // SAFETY: the address is inside the stack region, which is always readable RAM.
        if unsafe { (address as *const u32).read_volatile() } != PAINT {
            break;
        }
        address += 4;
    }
    top() - address
}

/// Bytes available to the stack (the window that was painted and measured).
pub fn capacity() -> usize {
    top() - ((bottom() + 3) & !3)
}
