//! The process model: every thread has its own kernel stack and keeps its kernel context
//! across a block; a blocking point switches stacks and returns `Ok` when the thread is woken,
//! or `Err(Restart)` when it was interrupted while blocked.
//!
//! The IPC waits are the exception (the "continuation" optimization of Draves et al., SOSP
//! 1991): a thread waiting for a request or a reply keeps nothing on its stack, because its
//! registers already say everything about its call. It blocks at its restart point, as in the
//! interrupt model, and its stack starts over when it runs again; so a peer can hand it the
//! processor without switching stacks (the IPC fast path).

use super::{Restart, Wake};

use crate::arch::context::{KernelStack, abandon_to, switch};
use crate::arch::{cpu, entry};
use crate::scheduler;
use crate::thread::{RunState, Thread};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The model's name in logs and reports.
pub const NAME: &str = "process";

/// The kernel stack every thread has.
pub const KERNEL_STACK_BYTES: u64 = 16 * 1024;

/// A thread's kernel stack, and whether its kernel context is in the middle of a call.
pub struct ExecutionContext {
    stack: KernelStack,
    /// Set while the thread is blocked inside a call: stopping it then means letting it unwind
    /// to the call's restart point first.
    in_call: AtomicBool,
    /// Set while the thread is blocked at its restart point, its stack holding nothing: a
    /// peer that completes its call moves its `rip` past the `syscall` again, and its stack
    /// starts over when it is switched in.
    at_restart_point: AtomicBool,
}

impl ExecutionContext {
    /// A stack whose first use returns to the thread's user state.
    pub fn new() -> ExecutionContext {
        ExecutionContext {
            stack: KernelStack::new(KERNEL_STACK_BYTES as usize, first_run, 0),
            in_call: AtomicBool::new(false),
            at_restart_point: AtomicBool::new(false),
        }
    }
}

extern "C" fn first_run(_: u64) -> ! {
    entry::return_to_user()
}

/// Where `thread` enters the kernel: its own stack.
pub fn kernel_stack_top(thread: &Thread) -> u64 {
    thread.execution.stack.top()
}

static IDLE: spin::Once<KernelStack> = spin::Once::new();

fn idle_stack() -> &'static KernelStack {
    IDLE.call_once(|| KernelStack::new(KERNEL_STACK_BYTES as usize, idle_loop, 0))
}

extern "C" fn idle_loop(_: u64) -> ! {
    loop {
        if let Some(next) = scheduler::take_next() {
            scheduler::switch_in(&next);
            let target = next.execution.stack.saved_stack_pointer();
            drop(next);
            switch(idle_stack().save_slot(), target);
            continue;
        }
        scheduler::stop_if_nothing_left();
        cpu::wait_for_interrupt();
    }
}

/// Leaves the boot stack for the idle thread, which runs the first ready thread.
pub fn start() -> ! {
    // The boot stack is left for good.
    abandon_to(idle_stack().saved_stack_pointer())
}

/// Gives the CPU from `from`, the current thread, to the next thread (or the idle thread);
/// returns when `from` is switched back in.
pub fn switch_away(from: Arc<Thread>) {
    let save = from.execution.stack.save_slot();
    let target = match scheduler::take_next() {
        Some(next) if Arc::ptr_eq(&next, &from) => {
            scheduler::switch_in(&next);
            return;
        }
        Some(next) => {
            scheduler::switch_in(&next);
            next.execution.stack.saved_stack_pointer()
        }
        None => idle_stack().saved_stack_pointer(),
    };
    // No reference to our own thread may live on this stack while it is switched away; the
    // scheduler keeps it (as its current thread, or left behind by `switch_in`) until the CPU
    // is off its stack.
    drop(from);
    switch(save, target);
}

/// Leaves a thread that has ended, for good. Its stack stays allocated (the scheduler keeps the
/// thread, `leave_behind`) until the next switch, by which time the CPU is off it.
pub fn leave_ended_thread() -> ! {
    let stack_pointer = match scheduler::take_next() {
        Some(next) => {
            scheduler::switch_in(&next);
            next.execution.stack.saved_stack_pointer()
        }
        None => idle_stack().saved_stack_pointer(),
    };
    // The scheduler holds the next thread as its current one.
    abandon_to(stack_pointer)
}

/// A blocking point: the caller has queued the current thread on what it waits for. Returns
/// why it was woken; `Err(Restart)` if it was asked to stop while nothing had happened to its
/// call (which is then rolled back to its restart point).
pub fn block() -> Result<Wake, Restart> {
    let thread = scheduler::current();
    thread.execution.in_call.store(true, Relaxed);
    thread.wake.store(Wake::Look as u8, Relaxed);
    switch_away(thread);
    let thread = scheduler::current();
    thread.execution.in_call.store(false, Relaxed);
    let wake = Wake::from_code(thread.wake.swap(Wake::Look as u8, Relaxed));
    if thread.stop_requested.load(Relaxed) {
        // The end of this kernel entry stops the thread. If a peer completed the call or moved
        // it to its next stage, that finishes first (its registers say so); otherwise the call
        // unwinds to its restart point.
        scheduler::request_switch();
        if wake == Wake::Look {
            return Err(Restart);
        }
    }
    Ok(wake)
}

/// A blocking point whose call the registers fully describe (an IPC wait): the thread keeps
/// nothing on its stack, which the caller unwinds with the `Restart` (the system-call entry
/// then points the thread back at its `syscall` instruction); a peer completes the call or
/// moves it to its next stage through the registers alone.
pub fn block_at_restart_point(thread: &Thread) -> Restart {
    thread.execution.at_restart_point.store(true, Relaxed);
    Restart
}

/// Whether `thread`, blocked, keeps nothing on its kernel stack, so that a peer may hand it
/// the processor by loading its user state alone.
pub fn blocked_at_restart_point(thread: &Thread) -> bool {
    thread.execution.at_restart_point.load(Relaxed)
}

/// Makes `thread`, handed the CPU straight from this kernel entry (an IPC hand-over), ready to
/// return to user mode from here: it is no longer blocked at its restart point, and its own
/// kernel stack needs nothing, because the CPU leaves the kernel on the current stack and the
/// thread's next entry starts from the top of its own. (Starting the stack over would only
/// matter to a switch onto it, and the thread saves a fresh context before any such switch.)
pub fn prepare_to_return_from_here(thread: &Thread) {
    thread.execution.at_restart_point.store(false, Relaxed);
}

/// Makes `thread`, about to be switched in, ready to run from its stack: a thread blocked at
/// its restart point starts over from the top, and returns to user mode.
pub fn prepare_to_run(thread: &Thread) {
    if thread.execution.at_restart_point.swap(false, Relaxed) {
        thread.execution.stack.start_over();
    }
}

/// Writes a peer's results into a blocked thread's registers.
fn write_results(thread: &Thread, status: u64, results: &[u64]) {
    thread.registers.complete_system_call(status, results);
    if thread.execution.at_restart_point.load(Relaxed) {
        // It was pointed back at its `syscall` instruction when it blocked.
        thread.registers.point_past_syscall();
    } else {
        thread.wake.store(Wake::Completed as u8, Relaxed);
    }
}

/// A preemption window of full preemption (`preemption::preempt_here`): interrupts are
/// enabled for a moment, so that a pending timer interrupt is taken here, where nothing is
/// half-done; if a thread is then due, the running one gives it the CPU and waits in the
/// ready queue with its kernel context kept, like a blocked thread (so that stopping it
/// meanwhile unwinds it to its restart point: `Err(Restart)`).
#[cfg(feature = "preempt-full")]
pub fn preempt_in_place() -> Result<(), Restart> {
    cpu::take_pending_interrupts();
    scheduler::rotate_current_after_quantum(crate::clock::now());
    if !scheduler::switch_pending() {
        return Ok(());
    }
    scheduler::current().execution.in_call.store(true, Relaxed);
    scheduler::reschedule();
    let thread = scheduler::current();
    thread.execution.in_call.store(false, Relaxed);
    if thread.stop_requested.load(Relaxed) {
        // The end of this kernel entry stops it; the call unwinds to its restart point.
        scheduler::request_switch();
        return Err(Restart);
    }
    Ok(())
}

/// A peer completes the call `thread` is blocked in: the results go into its registers, which
/// it returns as they are when it runs.
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

/// [`complete_blocked`] for a thread blocked at its restart point that the caller switches
/// to at once (the IPC fast path).
pub fn complete_at_restart_point(thread: &Thread, status: u64, results: &[u64]) {
    write_results(thread, status, results);
}

/// A peer moves the call `thread` is blocked in to its next stage by rewriting its registers;
/// the thread re-issues the call from them when it runs.
pub fn advance_blocked(
    thread: &Arc<Thread>,
    rewrite: impl FnOnce(&mut crate::arch::frame::RegisterFrame),
) {
    thread.registers.update(rewrite);
    thread.wake.store(Wake::NextStage as u8, Relaxed);
    scheduler::make_ready(thread.clone());
}

/// Stops `target`, which waits in no queue any more (the caller withdrew it) and is not the
/// running thread. A thread blocked inside a call first runs just long enough to unwind to the
/// call's restart point; the caller waits for that, which takes bounded time.
pub fn stop_blocked(target: &Arc<Thread>) {
    if !target.execution.in_call.load(Relaxed) {
        target.set_run_state(RunState::Stopped);
        return;
    }
    target.stop_requested.store(true, Relaxed);
    let caller = scheduler::current();
    // While it lends the CPU, the caller is in the middle of its own call: stopping it must
    // let it finish (it then stops at the end of the call), never cut it off here.
    caller.execution.in_call.store(true, Relaxed);
    let save = caller.execution.stack.save_slot();
    scheduler::make_ready_first(caller);
    scheduler::switch_in(target);
    switch(save, target.execution.stack.saved_stack_pointer());
    scheduler::current().execution.in_call.store(false, Relaxed);
}
