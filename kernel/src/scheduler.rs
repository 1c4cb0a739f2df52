//! The scheduler of the one CPU: round robin among ready threads, a list of sleepers woken by
//! the clock, and the hand-over of the CPU's user state (registers, FPU, address space) from
//! one thread to the next. How the kernel stack follows is the execution model's business.

use crate::arch::{cpu, debug_exit};
use crate::model;
use crate::thread::{RunState, Thread};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use boot::exit::ExitCode;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
use spin::Mutex;

struct Scheduler {
    current: Option<Arc<Thread>>,
    ready: VecDeque<Arc<Thread>>,
    sleeping: Vec<Arc<Thread>>,
    fpu_owner: Option<Arc<Thread>>,
}

/// Set whenever the running thread stops running (blocks, is preempted, ends), so that the
/// end of a kernel entry knows with one load whether to hand the CPU over.
static SWITCH_PENDING: AtomicBool = AtomicBool::new(false);

static SCHEDULER: Mutex<Scheduler> = Mutex::new(Scheduler {
    current: None,
    ready: VecDeque::new(),
    sleeping: Vec::new(),
    fpu_owner: None,
});

/// Starts scheduling with the first thread; never returns.
pub fn start(first: Arc<Thread>) -> ! {
    make_ready(first);
    model::start()
}

/// The thread whose user state is on the CPU. Only called on behalf of a user thread.
pub fn current() -> Arc<Thread> {
    SCHEDULER
        .lock()
        .current
        .clone()
        .expect("no current thread outside the idle loop")
}

/// Queues a thread to run.
pub fn make_ready(thread: Arc<Thread>) {
    thread.set_run_state(RunState::Ready);
    SCHEDULER.lock().ready.push_back(thread);
}

/// The next thread to run, taken off the ready queue.
pub fn take_next() -> Option<Arc<Thread>> {
    SCHEDULER.lock().ready.pop_front()
}

/// Puts the current thread to sleep until `deadline`; the caller then blocks.
pub fn sleep_current(deadline: u64) {
    let thread = current();
    thread.set_run_state(RunState::Sleeping { deadline });
    SCHEDULER.lock().sleeping.push(thread);
    SWITCH_PENDING.store(true, Relaxed);
}

/// Wakes every sleeper whose deadline has passed.
pub fn wake_sleepers(now: u64) {
    let mut scheduler = SCHEDULER.lock();
    let mut index = 0;
    while index < scheduler.sleeping.len() {
        let due = matches!(
            scheduler.sleeping[index].run_state(),
            RunState::Sleeping { deadline } if deadline <= now
        );
        if due {
            let thread = scheduler.sleeping.swap_remove(index);
            thread.set_run_state(RunState::Ready);
            scheduler.ready.push_back(thread);
        } else {
            index += 1;
        }
    }
}

/// Sends the running thread to the back of the ready queue if another thread is waiting.
pub fn preempt_current() {
    let mut scheduler = SCHEDULER.lock();
    if scheduler.ready.is_empty() {
        return;
    }
    if let Some(thread) = scheduler.current.clone() {
        thread.set_run_state(RunState::Ready);
        scheduler.ready.push_back(thread);
        SWITCH_PENDING.store(true, Relaxed);
    }
}

/// Ends the running thread for good. The end of a root thread ends the boot.
pub fn end_current(state: RunState) {
    let thread = current();
    thread.set_run_state(state);
    SWITCH_PENDING.store(true, Relaxed);
    if thread.is_root {
        let verdict = match state {
            RunState::Exited(0) => ExitCode::Success,
            RunState::Exited(status) => {
                log::info!("root program exited with status {status}");
                ExitCode::RootFailed
            }
            _ => ExitCode::RootFaulted,
        };
        log::info!("root program ended: {}", verdict.describe());
        debug_exit::exit(verdict);
    }
}

/// After an entry from user mode: go back to the running thread, or give the CPU to the next
/// one if it stopped running (blocked, preempted, ended).
#[inline(always)]
pub fn reschedule() {
    if SWITCH_PENDING.load(Relaxed) {
        SWITCH_PENDING.store(false, Relaxed);
        if current().run_state() != RunState::Running {
            model::switch_away();
        }
    }
}

/// Makes `next` the running thread: its registers become the target of the next kernel entry,
/// and its FPU state and address space are loaded.
pub fn switch_in(next: &Arc<Thread>) {
    next.set_run_state(RunState::Running);
    let mut scheduler = SCHEDULER.lock();
    let previous_owner = scheduler.fpu_owner.replace(next.clone());
    match previous_owner {
        Some(owner) if Arc::ptr_eq(&owner, next) => {}
        Some(owner) => {
            if !owner.has_ended() {
                owner.fpu.lock().save();
            }
            next.fpu.lock().restore();
        }
        None => next.fpu.lock().restore(),
    }
    scheduler.current = Some(next.clone());
    drop(scheduler);
    next.space.activate();
    cpu::set_entry_points(next.registers.top(), model::kernel_stack_top(next));
}

/// Called by the idle loop: stops the machine when no thread is left that could ever run.
pub fn stop_if_nothing_left() {
    let scheduler = SCHEDULER.lock();
    let current_alive = scheduler
        .current
        .as_ref()
        .is_some_and(|thread| !thread.has_ended());
    if scheduler.ready.is_empty() && scheduler.sleeping.is_empty() && !current_alive {
        drop(scheduler);
        log::error!("no thread is left to run");
        debug_exit::exit(ExitCode::RootFailed);
    }
}
