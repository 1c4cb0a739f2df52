//! The monotonic clock, advanced by the local APIC timer.

use abi::registers::CLOCK_TICK_NANOSECONDS;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

static TICKS: AtomicU64 = AtomicU64::new(0);

/// Starts the periodic timer.
pub fn start() {
    let rate = crate::arch::apic::initialize(CLOCK_TICK_NANOSECONDS);
    log::info!(
        "clock: APIC timer at {} counts/ms, one tick every {} ns",
        rate,
        CLOCK_TICK_NANOSECONDS
    );
}

/// Counts one timer interrupt.
pub fn tick() {
    TICKS.fetch_add(1, Relaxed);
}

/// Nanoseconds since the clock started, in whole ticks.
pub fn now() -> u64 {
    TICKS.load(Relaxed) * CLOCK_TICK_NANOSECONDS
}
