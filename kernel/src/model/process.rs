//! The process model: every thread has its own kernel stack and keeps its kernel context
//! across a block; a blocking point switches stacks and returns `Ok` when the thread is woken.

use super::Restart;
use crate::arch::context::{KernelStack, switch};
use crate::arch::{cpu, entry};
use crate::scheduler;
use crate::thread::Thread;
use alloc::sync::Arc;

/// The model's name in logs and reports.
pub const NAME: &str = "process";

const KERNEL_STACK_SIZE: usize = 16 * 1024;

/// A thread's kernel stack.
pub struct ExecutionContext {
    stack: KernelStack,
}

impl ExecutionContext {
    /// A stack whose first use returns to the thread's user state.
    pub fn new() -> ExecutionContext {
        ExecutionContext {
            stack: KernelStack::new(KERNEL_STACK_SIZE, first_run, 0),
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
static BOOT: spin::Once<KernelStack> = spin::Once::new();

fn idle_stack() -> &'static KernelStack {
    IDLE.call_once(|| KernelStack::new(KERNEL_STACK_SIZE, idle_loop, 0))
}

extern "C" fn idle_loop(_: u64) -> ! {
    loop {
        if let Some(next) = scheduler::take_next() {
            scheduler::switch_in(&next);
            switch(idle_stack(), &next.execution.stack);
            continue;
        }
        scheduler::stop_if_nothing_left();
        cpu::wait_for_interrupt();
    }
}

/// Leaves the boot stack for the idle thread, which runs the first ready thread.
pub fn start() -> ! {
    // The boot context is saved here and never resumed.
    let boot = BOOT.call_once(KernelStack::for_running_context);
    switch(boot, idle_stack());
    unreachable!("the boot context was resumed")
}

/// Gives the CPU to the next thread (or the idle thread); returns when the current thread is
/// switched back in.
pub fn switch_away() {
    let from: Arc<Thread> = scheduler::current();
    match scheduler::take_next() {
        Some(next) if Arc::ptr_eq(&next, &from) => scheduler::switch_in(&next),
        Some(next) => {
            scheduler::switch_in(&next);
            switch(&from.execution.stack, &next.execution.stack);
        }
        None => switch(&from.execution.stack, idle_stack()),
    }
}

/// A blocking point: the caller has queued the current thread on what it waits for.
pub fn block() -> Result<(), Restart> {
    switch_away();
    Ok(())
}
