//! The local APIC: its periodic timer drives the kernel clock and preemption, and the legacy
//! 8259 PICs are masked so they never deliver (Intel SDM vol. 3A chapter 11).

use super::interrupts::{SPURIOUS_VECTOR, TIMER_VECTOR};
use super::paging::device_address;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use x86_64::instructions::port::Port;

/// The local APIC's physical register page (its reset default, `IA32_APIC_BASE`).
pub const PHYSICAL_BASE: u64 = 0xfee0_0000;
/// The APIC's slot in the device window.
pub const DEVICE_INDEX: usize = 0;

const SPURIOUS_REGISTER: u64 = 0xf0;
const END_OF_INTERRUPT_REGISTER: u64 = 0xb0;
const TASK_PRIORITY_REGISTER: u64 = 0x80;
const TIMER_VECTOR_REGISTER: u64 = 0x320;
const TIMER_INITIAL_COUNT_REGISTER: u64 = 0x380;
const TIMER_CURRENT_COUNT_REGISTER: u64 = 0x390;
const TIMER_DIVIDE_REGISTER: u64 = 0x3e0;
const TIMER_PERIODIC: u32 = 1 << 17;
const TIMER_MASKED: u32 = 1 << 16;
const DIVIDE_BY_ONE: u32 = 0b1011;

/// The 8254 PIT's input clock in Hz, used to measure the APIC timer's rate.
const PIT_FREQUENCY: u64 = 1_193_182;
const CALIBRATION_MILLISECONDS: u64 = 10;

fn register(offset: u64) -> *mut u32 {
    (device_address(DEVICE_INDEX) + offset) as *mut u32
}

fn read(offset: u64) -> u32 {
    // SAFETY: the APIC page is mapped uncached in the device window at boot; registers are
    // 32-bit aligned.
    unsafe { register(offset).read_volatile() }
}

fn write(offset: u64, value: u32) {
    // SAFETY: as in `read`.
    unsafe { register(offset).write_volatile(value) }
}

fn mask_legacy_pics() {
    // Remap the PICs to vectors 0x20-0x2f first (ICW1-ICW4) so that a stray interrupt latched
    // before masking cannot arrive as a CPU exception vector, then mask every line.
    let commands: [(u16, u8); 10] = [
        (0x20, 0x11),
        (0xa0, 0x11),
        (0x21, 0x20),
        (0xa1, 0x28),
        (0x21, 0x04),
        (0xa1, 0x02),
        (0x21, 0x01),
        (0xa1, 0x01),
        (0x21, 0xff),
        (0xa1, 0xff),
    ];
    for (port, value) in commands {
        // SAFETY: the 8259 command and data ports; no memory effects.
        unsafe { Port::<u8>::new(port).write(value) };
    }
}

/// Measures the APIC timer's count rate against the PIT (channel 2, gated through port 0x61),
/// in counts per millisecond. `None` if no PIT answered.
fn measure_counts_per_millisecond() -> Option<u64> {
    let mut gate: Port<u8> = Port::new(0x61);
    let mut command: Port<u8> = Port::new(0x43);
    let mut channel: Port<u8> = Port::new(0x42);
    let pit_count = PIT_FREQUENCY * CALIBRATION_MILLISECONDS / 1000;
    write(TIMER_DIVIDE_REGISTER, DIVIDE_BY_ONE);
    write(TIMER_VECTOR_REGISTER, TIMER_MASKED | TIMER_VECTOR as u32);
    // SAFETY: PIT and system-control ports; no memory effects.
    let elapsed = unsafe {
        let original = gate.read();
        gate.write((original & !0x02) | 0x01);
        command.write(0b1011_0000); // channel 2, low then high byte, mode 0
        channel.write(pit_count as u8);
        channel.write((pit_count >> 8) as u8);
        let value = gate.read();
        gate.write(value & !0x01);
        gate.write(value | 0x01);
        // Mode 0 drives the output low until the count runs out: if it already reads high,
        // nothing is behind the gate port (QEMU's microvm has no port 0x61).
        if gate.read() & 0x20 != 0 {
            gate.write(original);
            return None;
        }
        write(TIMER_INITIAL_COUNT_REGISTER, u32::MAX);
        let mut spins = 0u64;
        while gate.read() & 0x20 == 0 {
            spins += 1;
            if spins > 100_000_000 {
                return None;
            }
        }
        let remaining = read(TIMER_CURRENT_COUNT_REGISTER);
        write(TIMER_INITIAL_COUNT_REGISTER, 0);
        gate.write(original);
        u32::MAX - remaining
    };
    let per_millisecond = elapsed as u64 / CALIBRATION_MILLISECONDS;
    (per_millisecond > 0).then_some(per_millisecond)
}

/// The timer's period in counts, once started.
static PERIOD_COUNTS: AtomicU64 = AtomicU64::new(0);

/// Enables the local APIC and starts its timer with one interrupt per `period_nanoseconds`.
/// Returns the measured timer rate in counts per millisecond.
pub fn initialize(period_nanoseconds: u64) -> u64 {
    mask_legacy_pics();
    write(TASK_PRIORITY_REGISTER, 0);
    write(SPURIOUS_REGISTER, 0x100 | SPURIOUS_VECTOR as u32);
    // QEMU's APIC timer counts at 1 GHz (its APIC_BUS_CYCLE_NS is 1); a machine without a
    // PIT to measure against is assumed to be QEMU.
    let per_millisecond = measure_counts_per_millisecond().unwrap_or_else(|| {
        log::info!("no PIT to calibrate the APIC timer against: assuming QEMU's 1 GHz");
        1_000_000
    });
    let count = (per_millisecond * period_nanoseconds / 1_000_000).clamp(1, u32::MAX as u64);
    write(TIMER_DIVIDE_REGISTER, DIVIDE_BY_ONE);
    write(TIMER_VECTOR_REGISTER, TIMER_PERIODIC | TIMER_VECTOR as u32);
    PERIOD_COUNTS.store(count, Relaxed);
    write(TIMER_INITIAL_COUNT_REGISTER, count as u32);
    per_millisecond
}

/// The timer's period in counts.
pub fn timer_period() -> u64 {
    PERIOD_COUNTS.load(Relaxed)
}

/// Counts since the timer last expired: in periodic mode the current-count register restarts
/// from the initial count at each expiry and counts down (Intel SDM vol. 3A section 11.5.4).
pub fn counts_since_expiry() -> u64 {
    timer_period().saturating_sub(read(TIMER_CURRENT_COUNT_REGISTER) as u64)
}

/// Acknowledges the interrupt being handled.
pub fn end_of_interrupt() {
    write(END_OF_INTERRUPT_REGISTER, 0);
}

/// Whether a timer interrupt is waiting to be taken: its bit in the interrupt request
/// register (eight 32-bit registers from offset 0x200, Intel SDM vol. 3A section 11.8.4). The
/// kernel runs with interrupts off, so a long kernel operation looks here at its preemption
/// points.
pub fn timer_interrupt_pending() -> bool {
    let vector = TIMER_VECTOR as u64;
    read(0x200 + 0x10 * (vector / 32)) & (1 << (vector % 32)) != 0
}
