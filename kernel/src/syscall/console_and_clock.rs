//! The debug console and the clock: `DebugPrint`, `SleepUntil`.

use crate::model::{self, Restart};
use crate::user_pointer::UserSlice;
use crate::{clock, logger, scheduler};
use abi::Error;
use abi::registers::DEBUG_PRINT_MAX;
use core::sync::atomic::Ordering::Relaxed;

/// `DebugPrint`: all or nothing, the bytes are copied in before any is printed.
pub fn debug_print(address: u64, length: u64) -> Result<(), Error> {
    let slice = UserSlice::new(address, length, DEBUG_PRINT_MAX)?;
    let mut buffer = [0u8; DEBUG_PRINT_MAX as usize];
    let buffer = &mut buffer[..slice.len()];
    slice.read_into(buffer)?;
    logger::write_raw(buffer);
    Ok(())
}

/// `SleepUntil`. In the process model this loops after each wake-up; in the interrupt model
/// `block` returns `Restart` and the re-issued call starts here again. Either way the deadline
/// is checked afresh, so a spurious wake-up never cuts the sleep short. Returns the time stamp
/// of the timer interrupt that ended the sleep, or the present one if the call did not sleep.
pub fn sleep_until(deadline: u64) -> Result<u64, Restart> {
    while clock::now() < deadline {
        // No reference to the thread stays on this stack while it blocks (process model).
        scheduler::current().woken_at.store(0, Relaxed);
        scheduler::sleep_current(deadline);
        // Only the clock wakes a sleeper: whatever the reason, look at the clock again.
        model::block()?;
    }
    match scheduler::current().woken_at.swap(0, Relaxed) {
        0 => Ok(crate::arch::cpu::time_stamp()),
        raised => Ok(raised),
    }
}
