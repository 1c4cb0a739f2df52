//! The interrupt model: one kernel stack per CPU. A blocking point returns `Err(Restart)`, the
//! error unwinds to the system-call entry, which leaves the thread's registers at the restart
//! point, and the CPU stack is reused from the top for whatever runs next.

use super::{Restart, Wake};
use crate::arch::{cpu, entry};
use crate::scheduler;
use crate::thread::{RunState, Thread};
use alloc::sync::Arc;

/// The model's name in logs and reports.
pub const NAME: &str = "interrupt";

/// No thread has a kernel stack of its own.
pub const KERNEL_STACK_BYTES: u64 = 0;

/// Nothing per thread: the whole user state lives in the thread's register frame.
pub struct ExecutionContext;

impl ExecutionContext {
    /// Nothing to set up.
    pub fn new() -> ExecutionContext {
        ExecutionContext
    }
}

/// Where every thread enters the kernel: the CPU's stack (the boot stack).
pub fn kernel_stack_top(_: &Thread) -> u64 {
    crate::arch::boot::boot_stack_top()
}

/// Runs the first ready thread.
pub fn start() -> ! {
    run_next()
}

/// Gives the CPU to the next thread; the current kernel stack contents are abandoned.
pub fn switch_away(current: Arc<Thread>) -> ! {
    // `run_next` never returns, so nothing on this stack is ever dropped: let go of the
    // reference now (the scheduler keeps the thread until the next switch).
    drop(current);
    run_next()
}

/// Leaves a thread that has ended, for good.
pub fn leave_ended_thread() -> ! {
    run_next()
}

fn run_next() -> ! {
    loop {
        if let Some(next) = scheduler::take_next() {
            scheduler::switch_in(&next);
            // The scheduler holds it as its current thread; this stack is abandoned.
            drop(next);
            entry::return_to_user();
        }
        scheduler::stop_if_nothing_left();
        cpu::wait_for_interrupt();
    }
}

/// A blocking point: the caller has queued the current thread on what it waits for.
pub fn block() -> Result<Wake, Restart> {
    Err(Restart)
}

/// A blocking point whose call the registers fully describe: as every other here.
pub fn block_at_restart_point(_: &Thread) -> Restart {
    Restart
}

/// Whether `thread`, blocked, keeps nothing on a kernel stack: always.
pub fn blocked_at_restart_point(_: &Thread) -> bool {
    true
}

/// Nothing to prepare: a thread's state is its registers.
pub fn prepare_to_run(_: &Thread) {}

/// Nothing to prepare: a thread's state is its registers.
pub fn prepare_to_return_from_here(_: &Thread) {}

/// Writes a peer's results into a blocked thread's registers. They were rolled back to the
/// `syscall` instruction when it blocked; with the results written, `rip` moves past it again.
fn write_results(thread: &Thread, status: u64, results: &[u64]) {
    thread.registers.complete_system_call(status, results);
    thread.registers.point_past_syscall();
}

/// [`complete_blocked`] for a thread that the caller switches to at once (the IPC fast path).
pub fn complete_at_restart_point(thread: &Thread, status: u64, results: &[u64]) {
    write_results(thread, status, results);
}

/// A peer completes the call `thread` is blocked in: the results go into its registers.
pub fn complete_blocked(thread: &Arc<Thread>, status: u64, results: &[u64]) {
    write_results(thread, status, results);
    scheduler::make_ready(thread.clone());
}

/// [`complete_blocked`] by a thread that is about to wait for `thread` (an IPC peer): the
/// processor goes to `thread` next if its priority allows (`scheduler::make_ready_next`).
pub fn complete_blocked_handing_over(thread: &Arc<Thread>, status: u64, results: &[u64]) {
    write_results(thread, status, results);
    scheduler::make_ready_next(thread.clone());
}

/// A peer moves the call `thread` is blocked in to its next stage by rewriting its registers,
/// which already point at the `syscall` instruction: the thread re-issues it when it runs.
pub fn advance_blocked(
    thread: &Arc<Thread>,
    rewrite: impl FnOnce(&mut crate::arch::frame::RegisterFrame),
) {
    thread.registers.update(rewrite);
    scheduler::make_ready(thread.clone());
}

/// Stops `target`, which waits in no queue any more and is not the running thread. Its
/// registers already are a restart point: a thread that blocked was rolled back when it did.
pub fn stop_blocked(target: &Arc<Thread>) {
    target.set_run_state(RunState::Stopped);
}
