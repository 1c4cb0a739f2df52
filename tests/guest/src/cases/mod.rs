//! The in-process test cases of the kernel suite, by subject.

mod clock;
mod fuzz;
mod handles;
mod ipc;
mod isolation;
mod keepers;
mod memory;
mod messages;
mod pager;
mod registers;
mod restart;
mod synchronization;
mod system_calls;
mod threads;

use crate::Case;
use runtime::abi::registers::CLOCK_TICK_NANOSECONDS;
use runtime::abi::state::Condition;
use runtime::syscall::{clock_monotonic, sleep_until};
use runtime::thread::Thread;

/// Every case that runs in the main boot, in order.
pub const ALL: &[&[Case]] = &[
    system_calls::CASES,
    clock::CASES,
    registers::CASES,
    handles::CASES,
    threads::CASES,
    restart::CASES,
    ipc::CASES,
    messages::CASES,
    memory::CASES,
    pager::CASES,
    isolation::CASES,
    synchronization::CASES,
    keepers::CASES,
    fuzz::CASES,
];

/// Sleeps a tick at a time, letting other threads run, until `condition` holds or two
/// seconds of the kernel clock have passed; whether it held.
fn wait_for(condition: impl Fn() -> bool) -> bool {
    for _ in 0..2000 {
        if condition() {
            return true;
        }
        let _ = sleep_until(clock_monotonic() + CLOCK_TICK_NANOSECONDS);
    }
    condition()
}

/// Waits until a thread has exited.
fn wait_until_ended(thread: &Thread) -> bool {
    wait_for(|| matches!(thread.status(), Ok((Condition::Exited, _, _))))
}

/// A case that fails on purpose, run only when the harness asks (`broken-case`), to show that
/// a failing case fails the run.
pub const DELIBERATELY_BROKEN: Case = Case {
    name: "deliberately_broken",
    run: || {
        let sum = 1 + 1;
        crate::check_equal!(sum, 3);
        Ok(())
    },
};
