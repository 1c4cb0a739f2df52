//! Safe, typed wrappers for every system call (see `kernel/abi/SPEC.md`).

use crate::arch::syscall::{call0, call3};
use abi::{Call, Error};

/// `Null`: does nothing; the cost floor of a system call.
#[inline(always)]
pub fn null() -> Result<(), Error> {
    Error::check(call0(Call::Null))
}

/// `DebugPrint`: writes bytes (at most `abi::registers::DEBUG_PRINT_MAX`) to the kernel's
/// debug console.
pub fn debug_print(bytes: &[u8]) -> Result<(), Error> {
    let returned = call3(
        Call::DebugPrint,
        bytes.as_ptr() as u64,
        bytes.len() as u64,
        0,
    );
    Error::check(returned.status)
}

/// `DebugPrint` with an arbitrary address and length, for tests of the kernel's checks: the
/// kernel validates both, so no value can make it touch memory it should not.
pub fn debug_print_raw(address: u64, length: u64) -> Result<(), Error> {
    Error::check(call3(Call::DebugPrint, address, length, 0).status)
}

/// `ThreadExit`: ends the calling thread.
pub fn thread_exit(status: u64) -> ! {
    call3(Call::ThreadExit, status, 0, 0);
    // The kernel never returns from ThreadExit; if it did, stop here rather than run on.
    loop {
        core::hint::spin_loop();
    }
}

/// `ClockMonotonic`: nanoseconds since boot, in steps of `abi::registers::CLOCK_TICK_NANOSECONDS`.
pub fn clock_monotonic() -> u64 {
    call3(Call::ClockMonotonic, 0, 0, 0).results[0]
}

/// `SleepUntil`: blocks until the monotonic clock reaches `deadline` (nanoseconds).
pub fn sleep_until(deadline: u64) -> Result<(), Error> {
    Error::check(call3(Call::SleepUntil, deadline, 0, 0).status)
}
