#![no_std]
#![no_main]

mod counter;
mod faults;
mod out;
mod semihosting;
mod stack;

#[cfg(target_arch = "arm")]
use cortex_m_rt::entry;
#[cfg(target_arch = "riscv32")]
use riscv_rt::entry;

#[entry]
fn main() -> ! {
    stack::paint();
    let counter = counter::Counter::start();
    let calibration = counter::calibrate(&counter, 1000);
    out::str("PLE-FIRMWARE\n");
    out::field("calibration_expected", u64::from(calibration.expected));
    out::field("calibration_measured", u64::from(calibration.measured));
    out::field("stack_high_water", stack::high_water() as u64);
    semihosting::exit(if calibration.exact() { 0 } else { 1 })
}
