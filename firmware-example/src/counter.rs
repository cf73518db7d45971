//! Counting the work of one inference: instructions under QEMU, cycles on a real board.
//!
//! QEMU does not model cycles, but with `-icount shift=10` its virtual clock advances exactly
//! 2^10 ns per executed instruction, so any timer clocked from it counts instructions:
//! `instructions = ticks * 10^9 / (2^10 * f)`. Each board reads a free-running 32-bit timer
//! (the CMSDK timer on the MPS2 boards, TIMER0 on the micro:bit's nRF51) and converts ticks
//! with its own frequency. RISC-V has `minstret`, which QEMU derives from the same count when
//! `-icount shift=0` is given. A real Cortex-M4 board uses the DWT cycle counter: cycles, not
//! instructions (QEMU reads the DWT as zero). The tick conversions assume the runners'
//! `-icount shift=10` (Arm) and `shift=0` (RISC-V).
//!
//! The conversion is checked at start-up by [`calibrate`], which times loops of known
//! instruction counts; the report prints the result. Every measurement has the cost of an
//! empty measurement subtracted; the compiler may still move a register move or two across a
//! counter read, so a single figure is exact to within a few instructions.

/// What [`Counter::elapsed`] counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Executed instructions (QEMU with `-icount`).
    Instructions,
    /// Core clock cycles (hardware).
    #[cfg_attr(not(board = "nrf52840"), allow(dead_code))]
    Cycles,
}

impl Unit {
    /// The word used in the report.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Instructions => "instructions",
            Unit::Cycles => "cycles",
        }
    }
}

/// A free-running counter of the board.
pub struct Counter {
    /// Units spent by a measurement of nothing (two back-to-back reads), subtracted from
    /// every measurement.
    overhead: u32,
}

impl Counter {
    /// Starts the board's counter and measures its own overhead.
    pub fn start() -> Self {
        board::start();
        let mut counter = Counter { overhead: 0 };
        let begin = counter.now();
        let end = counter.now();
        counter.overhead = board::to_units(end.wrapping_sub(begin));
        counter
    }

    /// The raw counter value, to pass to [`elapsed`](Self::elapsed) later.
    #[inline(always)]
    pub fn now(&self) -> u32 {
        board::now()
    }

    /// Units spent since `begin` (a value of [`now`](Self::now)), without the measurement's
    /// own overhead.
    #[inline(always)]
    pub fn elapsed(&self, begin: u32) -> u32 {
        let end = board::now();
        board::to_units(end.wrapping_sub(begin)).saturating_sub(self.overhead)
    }

    /// What this board counts.
    pub fn unit(&self) -> Unit {
        board::UNIT
    }
}

/// The result of timing loops whose instruction counts are known.
pub struct Calibration {
    /// Instructions the loops differ by.
    pub expected: u32,
    /// What the counter measured for that difference.
    pub measured: u32,
}

/// How far a calibration may be off when the counter counts instructions: each of the two
/// measurements rounds ticks to whole instructions.
pub const ROUNDING_SLACK: u32 = 1;

impl Calibration {
    /// Whether the counter counted the extra instructions exactly, up to rounding (only
    /// meaningful when it counts instructions; a cycle counter legitimately differs).
    pub fn exact(&self) -> bool {
        self.expected.abs_diff(self.measured) <= ROUNDING_SLACK
    }
}

/// Times [`known_loop`] with `iterations` and with `2 * iterations` iterations through the
/// same (not inlined) code: the difference is exactly `2 * iterations` instructions, whatever
/// the compiler scheduled around the counter reads.
pub fn calibrate(counter: &Counter, iterations: u32) -> Calibration {
    let short = timed_loop(counter, iterations);
    let long = timed_loop(counter, 2 * iterations);
    Calibration {
        expected: 2 * iterations,
        measured: long.wrapping_sub(short),
    }
}

#[inline(never)]
fn timed_loop(counter: &Counter, iterations: u32) -> u32 {
    // black_box: one copy of this code for both calls, not one specialised per constant.
    let iterations = core::hint::black_box(iterations);
    let begin = counter.now();
    known_loop(iterations);
    counter.elapsed(begin)
}

/// Runs exactly `2 * iterations` instructions (a decrement and a branch per iteration;
/// `iterations` must be at least 1) between the two counter reads around it.
#[inline(always)]
fn known_loop(iterations: u32) {
    let iterations = iterations.max(1);
    #[cfg(target_arch = "arm")]
    // SAFETY: a register-only loop; it touches no memory and clobbers only the flags and the
    // register it was given.
    unsafe {
        // r3 because Thumb-1 (Cortex-M0) `subs #imm` only takes a low register.
        core::arch::asm!("2:", "subs r3, #1", "bne 2b", inout("r3") iterations => _, options(nomem, nostack));
    }
    #[cfg(target_arch = "riscv32")]
    // SAFETY: a register-only loop; it touches no memory and clobbers only its register.
    unsafe {
        core::arch::asm!("2:", "addi {n}, {n}, -1", "bnez {n}, 2b", n = inout(reg) iterations => _, options(nomem, nostack));
    }
}

/// The ARM MPS2 FPGA images (AN386 Cortex-M4, AN500 Cortex-M7): CMSDK APB timer 0 at 25 MHz.
#[cfg(board = "mps2")]
mod board {
    use super::Unit;
    const BASE: usize = 0x4000_0000;
    const CTRL: *mut u32 = BASE as *mut u32;
    const VALUE: *mut u32 = (BASE + 0x4) as *mut u32;
    const RELOAD: *mut u32 = (BASE + 0x8) as *mut u32;
    pub const UNIT: Unit = Unit::Instructions;

    pub fn start() {
        // SAFETY: the CMSDK timer registers exist on every MPS2 image and nothing else uses
        // timer 0.
        unsafe {
            RELOAD.write_volatile(u32::MAX);
            VALUE.write_volatile(u32::MAX);
            CTRL.write_volatile(1);
        }
    }

    /// The timer counts down; return an up-counting value.
    #[inline(always)]
    pub fn now() -> u32 {
        // SAFETY: reading the timer's VALUE register has no side effect.
        !unsafe { VALUE.read_volatile() }
    }

    /// 25 MHz and 1024 ns per instruction: 25.6 ticks per instruction.
    pub fn to_units(ticks: u32) -> u32 {
        ((u64::from(ticks) * 5 + 64) / 128) as u32
    }
}

/// The BBC micro:bit's nRF51822: TIMER0 in 32-bit timer mode at 16 MHz.
#[cfg(board = "microbit")]
mod board {
    use super::Unit;
    const BASE: usize = 0x4000_8000;
    const TASKS_START: *mut u32 = BASE as *mut u32;
    const TASKS_CLEAR: *mut u32 = (BASE + 0x00C) as *mut u32;
    const TASKS_CAPTURE0: *mut u32 = (BASE + 0x040) as *mut u32;
    const MODE: *mut u32 = (BASE + 0x504) as *mut u32;
    const BITMODE: *mut u32 = (BASE + 0x508) as *mut u32;
    const PRESCALER: *mut u32 = (BASE + 0x510) as *mut u32;
    const CC0: *mut u32 = (BASE + 0x540) as *mut u32;
    pub const UNIT: Unit = Unit::Instructions;

    pub fn start() {
        // SAFETY: TIMER0's registers exist on every nRF51 and nothing else uses TIMER0.
        unsafe {
            MODE.write_volatile(0); // timer, not counter
            BITMODE.write_volatile(3); // 32 bits
            PRESCALER.write_volatile(0); // 16 MHz
            TASKS_CLEAR.write_volatile(1);
            TASKS_START.write_volatile(1);
        }
    }

    #[inline(always)]
    pub fn now() -> u32 {
        // SAFETY: the capture task copies the running count into CC[0]; only this code uses
        // either register.
        unsafe {
            TASKS_CAPTURE0.write_volatile(1);
            CC0.read_volatile()
        }
    }

    /// 16 MHz and 1024 ns per instruction: 16.384 ticks per instruction.
    pub fn to_units(ticks: u32) -> u32 {
        ((u64::from(ticks) * 125 + 1024) / 2048) as u32
    }
}

/// QEMU's RISC-V `virt` machine: the `minstret` CSR (exact with `-icount shift=0`).
#[cfg(board = "riscv_virt")]
mod board {
    use super::Unit;
    pub const UNIT: Unit = Unit::Instructions;

    pub fn start() {}

    #[inline(always)]
    pub fn now() -> u32 {
        let value: u32;
        // SAFETY: reading minstret in machine mode has no side effect.
        unsafe {
            core::arch::asm!("csrr {0}, minstret", out(reg) value, options(nomem, nostack));
        }
        value
    }

    pub fn to_units(ticks: u32) -> u32 {
        ticks
    }
}

/// A real Cortex-M4F board (nRF52840): the DWT cycle counter.
#[cfg(board = "nrf52840")]
mod board {
    use super::Unit;
    const DEMCR: *mut u32 = 0xE000_EDFC as *mut u32;
    const DWT_CTRL: *mut u32 = 0xE000_1000 as *mut u32;
    const DWT_CYCCNT: *mut u32 = 0xE000_1004 as *mut u32;
    pub const UNIT: Unit = Unit::Cycles;

    pub fn start() {
        // SAFETY: enabling trace (DEMCR.TRCENA) and the DWT cycle counter only starts a
        // counter; no other code configures the DWT.
        unsafe {
            DEMCR.write_volatile(DEMCR.read_volatile() | (1 << 24));
            DWT_CYCCNT.write_volatile(0);
            DWT_CTRL.write_volatile(DWT_CTRL.read_volatile() | 1);
        }
    }

    #[inline(always)]
    pub fn now() -> u32 {
        // SAFETY: reading CYCCNT has no side effect.
        unsafe { DWT_CYCCNT.read_volatile() }
    }

    pub fn to_units(ticks: u32) -> u32 {
        ticks
    }
}
