//! The monotonic clock, advanced by the local APIC timer, and the instants its interrupts were
//! raised, in time-stamp-counter units (for measuring how long a wake-up waited).

use crate::arch::{apic, cpu};
use abi::registers::CLOCK_TICK_NANOSECONDS;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

static TICKS: AtomicU64 = AtomicU64::new(0);

/// The time-stamp counter at the last timer expiry the kernel handled (0 before the first).
static LAST_EXPIRY: AtomicU64 = AtomicU64::new(0);

/// Time-stamp-counter units per APIC timer count, times 2^16.
static STAMPS_PER_COUNT: AtomicU64 = AtomicU64::new(1 << 16);

/// Starts the periodic timer.
pub fn start() {
    let rate = apic::initialize(CLOCK_TICK_NANOSECONDS);
    let stamps = measure_stamps_per_count();
    STAMPS_PER_COUNT.store(stamps, Relaxed);
    log::info!(
        "clock: APIC timer at {} counts/ms, one tick every {} ns, {}.{:03} time stamps per count",
        rate,
        CLOCK_TICK_NANOSECONDS,
        stamps >> 16,
        ((stamps & 0xffff) * 1000) >> 16
    );
}

/// Calibration samples; the median is kept. Without `-icount` both counters follow the host's
/// clock, and a virtual CPU descheduled by the host in the middle of a sample spoils it (by a
/// factor of 40 in one boot seen: the clock then took most ticks for echoes and ran that much
/// slower); a single spoiled sample is outvoted.
const CALIBRATION_SAMPLES: usize = 7;

/// How many time-stamp-counter units one APIC timer count lasts, times 2^16: the median of
/// [`CALIBRATION_SAMPLES`] measurements (under QEMU's `-icount` both count virtual
/// nanoseconds: exactly 1).
fn measure_stamps_per_count() -> u64 {
    let mut samples = [0u64; CALIBRATION_SAMPLES];
    for sample in samples.iter_mut() {
        match sample_stamps_per_count() {
            Some(stamps) => *sample = stamps,
            None => {
                log::warn!(
                    "clock: the APIC timer does not count; assuming one time stamp per count"
                );
                return 1 << 16;
            }
        }
    }
    samples.sort_unstable();
    samples[CALIBRATION_SAMPLES / 2]
}

/// One measurement of time stamps per APIC timer count (times 2^16), over a tenth of a
/// period; `None` if the timer does not seem to count.
fn sample_stamps_per_count() -> Option<u64> {
    let span = apic::timer_period() / 10;
    let first = apic::counts_since_expiry();
    let start = cpu::time_stamp();
    // A timer that does not count would keep this loop forever: give up after a while.
    for _ in 0..10_000_000 {
        let now = apic::counts_since_expiry();
        // The timer expired meanwhile: count from the expiry instead.
        let elapsed = if now >= first {
            now - first
        } else {
            now + apic::timer_period() - first
        };
        if elapsed >= span {
            let stamps = cpu::time_stamp() - start;
            return Some(((stamps << 16) / elapsed.max(1)).max(1));
        }
    }
    None
}

/// Counts the timer interrupt being handled: the clock moves on by every period that has
/// passed since the last one handled (several, if interrupts were off that long). Returns the
/// time stamp at which this interrupt was raised: the first expiry after the last one handled.
pub fn tick() -> u64 {
    let now = cpu::time_stamp();
    let stamps_per_count = STAMPS_PER_COUNT.load(Relaxed);
    let since_expiry = (apic::counts_since_expiry() * stamps_per_count) >> 16;
    let period = (apic::timer_period() * stamps_per_count) >> 16;
    let expiry = now.saturating_sub(since_expiry);
    let last = LAST_EXPIRY.load(Relaxed);
    if last == 0 || period == 0 {
        LAST_EXPIRY.store(expiry, Relaxed);
        TICKS.fetch_add(1, Relaxed);
        return expiry;
    }
    if expiry < last + period / 2 {
        // The timer expired again while the last interrupt was being taken, and the last one
        // counted that expiry already: this interrupt is its echo.
        return expiry;
    }
    LAST_EXPIRY.store(expiry, Relaxed);
    let periods = ((expiry - last + period / 2) / period).max(1);
    TICKS.fetch_add(periods, Relaxed);
    if periods == 1 {
        return expiry;
    }
    // Interrupts were off for longer than a period: this interrupt was raised by the first
    // expiry after the last one handled, and later ones merged into it. (Only then is the
    // period extrapolated: across a `hlt` the counter and the timer may drift apart.)
    last + period
}

/// Nanoseconds since the clock started, in whole ticks.
pub fn now() -> u64 {
    TICKS.load(Relaxed) * CLOCK_TICK_NANOSECONDS
}
