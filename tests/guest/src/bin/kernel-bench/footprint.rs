//! Kernel memory per thread, as the kernel charges it to the quota of the space that creates
//! threads: the difference in quota left before and after making a thousand threads that all
//! block in an IPC call. What one thread costs depends on the execution model (a kernel stack
//! per thread in the process model, none in the interrupt model).

use runtime::abi::registers::transfer::Transfer;
use runtime::abi::state::Condition;
use runtime::abi::{Call, Error};
use runtime::arch::syscall::call_with_transfer;
use runtime::ipc::port_create;
use runtime::syscall::{handle_close, space_create, thread_yield};
use runtime::thread::{Stack, spawn};

const THREADS: usize = 1000;
static STACKS: [Stack<128>; THREADS] = [const { Stack::new() }; THREADS];

/// How much of this space's quota is left: the largest quota a new space can be granted
/// (found by bisection; each trial space is closed at once).
fn quota_left() -> Result<u64, Error> {
    let (mut low, mut high) = (0u64, 1u64 << 40);
    while low + 1 < high {
        let middle = low + (high - low) / 2;
        match space_create(middle) {
            Ok(space) => {
                handle_close(space)?;
                low = middle;
            }
            Err(Error::QuotaExceeded) => high = middle,
            Err(error) => return Err(error),
        }
    }
    Ok(low)
}

/// Calls the port, which nobody serves: the thread waits in its queue.
fn call_and_wait(port: u64) {
    call_with_transfer(
        Call::IpcCall,
        [port, 0, 0, 0, 0, 0],
        &mut Transfer::default(),
    );
}

/// Prints `memory threads_blocked_in_ipc per_thread=<bytes> threads=<n>`.
pub fn threads_blocked_in_ipc() -> Result<(), Error> {
    let port = port_create(0)?;
    let before = quota_left()?;
    let (last_stack, stacks) = STACKS.split_last().ok_or(Error::InvalidState)?;
    for stack in stacks {
        // The handle goes once the thread runs (dropped here): the port's queue keeps the
        // thread, which costs what a thread costs and nothing more.
        spawn(stack, call_and_wait, port.raw())?.resume()?;
    }
    let last = spawn(last_stack, call_and_wait, port.raw())?;
    last.resume()?;
    while !matches!(last.status(), Ok((Condition::Blocked, _, _))) {
        thread_yield();
    }
    let after = quota_left()?;
    // The handles took one or two table slots (each new one reuses the last one's), which
    // the division by a thousand leaves out.
    runtime::println!(
        "memory threads_blocked_in_ipc per_thread={} threads={THREADS}",
        (before - after + THREADS as u64 / 2) / THREADS as u64
    );
    // Closing the port fails every waiting call; the threads return and end.
    handle_close(port)
}
