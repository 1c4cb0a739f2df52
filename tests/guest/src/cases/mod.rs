//! The in-process test cases of the kernel suite, by subject.

mod arguments;
mod clock;
mod fuzz;
pub use fuzz::set_seed as set_fuzz_seed;
mod handles;
mod ipc;
mod isolation;
mod keepers;
mod memory;
mod memory_state;
mod messages;
mod object_state;
mod pager;
mod registers;
mod restart;
mod revocation;
mod streams;
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
    streams::CASES,
    memory::CASES,
    memory_state::CASES,
    revocation::CASES,
    object_state::CASES,
    pager::CASES,
    isolation::CASES,
    arguments::CASES,
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

/// What a move found the thread doing, for tests that count the moves that matter.
struct Moved<'a> {
    /// The state that moved.
    state: &'a runtime::abi::state::ThreadState,
    /// Whether the thread was stopped by a fault when the move began.
    faulted: bool,
}

/// Stops `thread` wherever it is, moves its state into a new thread and resumes that one;
/// `None` once the thread has exited. `inspect` sees each state that moves.
fn transplant(
    thread: &Thread,
    inspect: &mut impl FnMut(Moved<'_>),
) -> Result<Option<Thread>, crate::CaseFailure> {
    use runtime::abi::Error;
    let faulted = matches!(thread.status(), Ok((Condition::Faulted, _, _)));
    match thread.interrupt() {
        Ok(()) => {}
        Err(Error::InvalidState) => return Ok(None),
        Err(error) => return Err(handles::fail(error)),
    }
    let space = runtime::process::own_space();
    let (state, moved) = thread.move_to_new_thread(space).map_err(handles::fail)?;
    inspect(Moved {
        state: &state,
        faulted,
    });
    crate::check_equal!(moved.resume(), Ok(()));
    Ok(Some(moved))
}

/// The controller of the restart torture tests: until `done` or `limit` moves, keeps moving
/// the client and the server, by turns and at varying moments, into new threads. Returns the
/// number of moves.
fn keep_moving(
    client: &mut Thread,
    server: &mut Thread,
    done: impl Fn() -> bool,
    limit: u64,
    mut inspect: impl FnMut(Moved<'_>),
) -> Result<u64, crate::CaseFailure> {
    let mut moves = 0u64;
    while !done() && moves < limit {
        if moves % 3 != 2 {
            runtime::syscall::thread_yield();
        }
        if moves.is_multiple_of(2) {
            match transplant(client, &mut inspect)? {
                Some(moved) => *client = moved,
                None => break,
            }
        } else if let Some(moved) = transplant(server, &mut inspect)? {
            *server = moved;
        }
        moves += 1;
    }
    Ok(moves)
}
