//! The scheduler of the one CPU: fixed priorities, round robin within a priority, a list of
//! sleepers woken by the clock, and the hand-over of the CPU's user state (registers, FPU,
//! segment bases, address space) from one thread to the next. How the kernel stack follows is
//! the execution model's business.

use crate::arch::lock::{KernelCell, Lock};
use crate::arch::{cpu, debug_exit};
use crate::model;
use crate::thread::{RunState, SegmentBases, Thread};
use abi::registers::PRIORITY_MAX;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use boot::exit::ExitCode;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

const PRIORITIES: usize = PRIORITY_MAX as usize + 1;

/// How long a thread keeps the CPU, in nanoseconds of the clock, before the timer hands it to
/// the next ready thread of the same priority. A thread switched in always gets a fresh one, so
/// a tick that became due while the kernel was switching does not take the CPU away again at
/// once.
const QUANTUM: u64 = 4 * abi::registers::CLOCK_TICK_NANOSECONDS;

/// One first-in, first-out queue per priority, and a mask of the non-empty ones, so the
/// highest ready priority is one instruction away.
struct ReadyQueues {
    queues: [VecDeque<Arc<Thread>>; PRIORITIES],
    /// Bit `p` is set when `queues[p]` is not empty.
    mask: u32,
}

const _: () = assert!(PRIORITIES <= 32, "the ready mask has one bit per priority");

impl ReadyQueues {
    const fn new() -> ReadyQueues {
        ReadyQueues {
            queues: [const { VecDeque::new() }; PRIORITIES],
            mask: 0,
        }
    }

    fn highest(&self) -> Option<usize> {
        (self.mask != 0).then(|| 31 - self.mask.leading_zeros() as usize)
    }

    fn push_back(&mut self, thread: Arc<Thread>) {
        let priority = thread.priority() as usize;
        self.queues[priority].push_back(thread);
        self.mask |= 1 << priority;
    }

    fn push_front(&mut self, thread: Arc<Thread>) {
        let priority = thread.priority() as usize;
        self.queues[priority].push_front(thread);
        self.mask |= 1 << priority;
    }

    fn pop_highest(&mut self) -> Option<Arc<Thread>> {
        let priority = self.highest()?;
        let thread = self.queues[priority].pop_front();
        if self.queues[priority].is_empty() {
            self.mask &= !(1 << priority);
        }
        thread
    }

    /// Takes a thread out of whichever queue holds it; whether one did.
    fn remove(&mut self, thread: &Arc<Thread>) -> bool {
        let mut removed = false;
        for (priority, queue) in self.queues.iter_mut().enumerate() {
            let before = queue.len();
            queue.retain(|other| !Arc::ptr_eq(other, thread));
            removed |= queue.len() != before;
            if queue.is_empty() {
                self.mask &= !(1 << priority);
            }
        }
        removed
    }
}

struct Scheduler {
    ready: ReadyQueues,
    sleeping: Vec<Arc<Thread>>,
    /// Threads a hand-over let go, should one have found [`LEFT_BEHIND`] occupied: releasing
    /// the last reference to a thread can wake others (its connections close), and nothing may
    /// ask for a switch between a hand-over and the return to user mode (see [`hand_over_to`]).
    released_later: Vec<Arc<Thread>>,
}

impl Scheduler {
    fn highest_ready(&self) -> Option<usize> {
        self.ready.highest()
    }
}

/// Set whenever the running thread should stop running (it blocked, was preempted, ended, or a
/// thread of higher priority became ready), so that the end of a kernel entry knows with one
/// load whether to look further.
static SWITCH_PENDING: AtomicBool = AtomicBool::new(false);

static SCHEDULER: Lock<Scheduler> = Lock::new(Scheduler {
    ready: ReadyQueues::new(),
    sleeping: Vec::new(),
    released_later: Vec::new(),
});

// The three words every switch reads and writes are cells of their own, outside the
// scheduler's lock: a hand-over between two threads (the IPC fast path) then takes no lock.

/// The thread whose user state is on the CPU (none in the idle loop).
static CURRENT: KernelCell<Option<Arc<Thread>>> = KernelCell::new(None);

/// The thread the CPU last switched away from (or left for good), kept until the next switch
/// so that nothing frees it, and its kernel stack, while the CPU may still be on it.
static LEFT_BEHIND: KernelCell<Option<Arc<Thread>>> = KernelCell::new(None);

/// When the running thread's quantum began.
static QUANTUM_STARTED: KernelCell<u64> = KernelCell::new(0);

/// Releases the thread the last switch left behind, for a path about to hand the processor
/// over (`hand_over_to`), while the CPU is still on the running thread's own stack: whatever
/// the release does (it may wake threads, and ask for a switch, which then keeps the path from
/// handing over) is handled like anything else the entry does.
#[inline(always)]
pub fn release_left_behind() {
    drop(LEFT_BEHIND.take());
}

/// Starts scheduling with the first thread; never returns.
pub fn start(first: Arc<Thread>) -> ! {
    make_ready(first);
    model::start()
}

/// [`current`], for a path about to hand the processor over: also releases the thread the
/// last switch left behind ([`release_left_behind`]), with one look at the scheduler.
#[inline(always)]
pub fn current_releasing_left_behind() -> Arc<Thread> {
    drop(LEFT_BEHIND.take());
    current()
}

/// The thread whose user state is on the CPU. Only called on behalf of a user thread.
pub fn current() -> Arc<Thread> {
    CURRENT
        .cloned()
        .expect("no current thread outside the idle loop")
}

/// Whether `thread` is the running thread (without taking a reference to it).
pub fn is_current(thread: &Thread) -> bool {
    CURRENT.inspect(|current| {
        current
            .as_ref()
            .is_some_and(|current| core::ptr::eq(Arc::as_ptr(current), thread))
    })
}

/// Queues a thread to run, behind the others of its priority; if it outranks the running
/// thread, the running thread is preempted at the end of this kernel entry.
pub fn make_ready(thread: Arc<Thread>) {
    thread.set_run_state(RunState::Ready);
    thread.inherits_quantum.store(false, Relaxed);
    let outranked = CURRENT.inspect(|current| {
        current.as_ref().is_some_and(|current| {
            current.run_state() == RunState::Running && current.priority() < thread.priority()
        })
    });
    if outranked {
        SWITCH_PENDING.store(true, Relaxed);
    }
    SCHEDULER.lock().ready.push_back(thread);
}

/// Queues a thread that the running thread hands the processor to, because it is about to wait
/// for it (the server of its call, the client of its reply, the keeper of its fault): ahead of
/// the others of its priority when that is at least the running thread's, so that it runs
/// next; behind them otherwise, as any thread made ready.
pub fn make_ready_next(thread: Arc<Thread>) {
    let current_priority =
        CURRENT.inspect(|current| current.as_ref().map_or(0, |current| current.priority()));
    if thread.priority() < current_priority {
        make_ready(thread);
        return;
    }
    if thread.priority() > current_priority {
        SWITCH_PENDING.store(true, Relaxed);
    }
    // It runs on what is left of the running thread's quantum: threads that keep handing the
    // processor to each other share one quantum, and the others of their priority still get
    // their turn when it runs out.
    thread.inherits_quantum.store(true, Relaxed);
    make_ready_first(thread);
}

/// Queues a thread to run ahead of the others of its priority (a thread that lent the CPU to
/// another for a bounded task and should get it back first, or one handed the CPU next).
pub fn make_ready_first(thread: Arc<Thread>) {
    thread.set_run_state(RunState::Ready);
    SCHEDULER.lock().ready.push_front(thread);
}

/// The next thread to run, taken off the ready queues.
pub fn take_next() -> Option<Arc<Thread>> {
    SCHEDULER.lock().ready.pop_highest()
}

/// Puts the current thread to sleep until `deadline`; the caller then blocks.
pub fn sleep_current(deadline: u64) {
    let thread = current();
    thread.set_run_state(RunState::Sleeping { deadline });
    SCHEDULER.lock().sleeping.push(thread);
    SWITCH_PENDING.store(true, Relaxed);
}

/// Wakes every sleeper whose deadline has passed, by the timer interrupt raised at the time
/// stamp `raised` (which each learns: `SleepUntil`'s result).
pub fn wake_sleepers(now: u64, raised: u64) {
    let mut due = Vec::new();
    SCHEDULER.lock().sleeping.retain(|thread| {
        let wake = matches!(thread.run_state(), RunState::Sleeping { deadline } if deadline <= now);
        if wake {
            thread.woken_at.store(raised, Relaxed);
            due.push(thread.clone());
        }
        !wake
    });
    due.into_iter().for_each(make_ready);
}

/// The timer's round robin: rotates the running thread once it has used up its quantum.
pub fn rotate_current_after_quantum(now: u64) {
    let started = QUANTUM_STARTED.get();
    if now.saturating_sub(started) >= QUANTUM {
        rotate_current();
    }
}

/// Sends the running thread behind the ready threads of its priority, if any thread of that
/// priority or higher is waiting (`ThreadYield`, and the timer after a quantum).
pub fn rotate_current() {
    let Some(thread) = CURRENT.cloned() else {
        return;
    };
    let mut scheduler = SCHEDULER.lock();
    let waiting = scheduler
        .highest_ready()
        .is_some_and(|priority| priority as u64 >= thread.priority());
    if waiting && thread.run_state() == RunState::Running {
        thread.set_run_state(RunState::Ready);
        scheduler.ready.push_back(thread);
        SWITCH_PENDING.store(true, Relaxed);
    }
}

/// Takes a thread out of whatever queue it waits in (ready or sleeping), so that it can be
/// stopped. Returns whether it was in one.
pub fn withdraw(thread: &Arc<Thread>) -> bool {
    let mut scheduler = SCHEDULER.lock();
    let sleepers = scheduler.sleeping.len();
    scheduler
        .sleeping
        .retain(|other| !Arc::ptr_eq(other, thread));
    let was_sleeping = scheduler.sleeping.len() != sleepers;
    scheduler.ready.remove(thread) || was_sleeping
}

/// Changes a thread's priority, moving it between ready queues if it waits in one.
pub fn set_priority(thread: &Arc<Thread>, priority: u64) {
    let was_ready = thread.run_state() == RunState::Ready && withdraw(thread);
    thread.priority.store(priority, Relaxed);
    if was_ready {
        make_ready(thread.clone());
    }
    // A running thread that lowered itself below a ready one gives way at the end of the call.
    let highest = SCHEDULER.lock().highest_ready();
    let outranked = CURRENT.inspect(|current| {
        current
            .as_ref()
            .zip(highest)
            .is_some_and(|(current, highest)| highest as u64 > current.priority())
    });
    if outranked {
        SWITCH_PENDING.store(true, Relaxed);
    }
}

/// Whether the running thread is to give way at the end of this kernel entry (it stopped
/// running, or a thread that outranks it became ready).
pub fn switch_pending() -> bool {
    SWITCH_PENDING.load(Relaxed)
}

/// Whether `thread` may have the processor now: no ready thread outranks it.
pub fn nothing_outranks(thread: &Thread) -> bool {
    SCHEDULER
        .lock()
        .highest_ready()
        .is_none_or(|priority| priority as u64 <= thread.priority())
}

/// Gives the processor straight to `next`, which the running thread has just unblocked and
/// now waits for, or which takes over from a thread that just stopped (the fast paths of IPC
/// and faults): no ready queue on the way, and `next` runs on the rest of the running thread's
/// quantum. The caller has checked that `next` would run next anyway (no ready thread
/// outranks it, and the running thread no longer runs or is outranked by it).
pub fn hand_over_to(next: &Arc<Thread>) {
    next.inherits_quantum.store(true, Relaxed);
    // Nothing may ask for a switch between here and the return to user mode: the CPU leaves
    // the kernel as `next` on the stack it is on (see `model::prepare_to_return_from_here`).
    debug_assert!(!switch_pending());
    model::prepare_to_return_from_here(next);
    // The callers released the thread left behind before (`release_left_behind`), so there
    // is none; were there one, it would wait for the next switch rather than go here.
    if let Some(released) = load(next) {
        SCHEDULER.lock().released_later.push(released);
    }
}

/// Asks the current thread's scheduling to be looked at at the end of this kernel entry.
pub fn request_switch() {
    SWITCH_PENDING.store(true, Relaxed);
}

/// Ends the running thread for good. The end of a root thread ends the boot.
pub fn end_current(state: RunState) {
    let thread = current();
    match state {
        RunState::Exited(status) => thread.end(status),
        _ => thread.set_run_state(state),
    }
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

/// After an entry from user mode: go back to the running thread, or, if it stopped running
/// (blocked, preempted, ended, asked to stop) or a higher-priority thread is ready, give the
/// CPU to the next one.
#[inline(always)]
pub fn reschedule() {
    if !SWITCH_PENDING.load(Relaxed) {
        return;
    }
    SWITCH_PENDING.store(false, Relaxed);
    let thread = current();
    if thread.stop_requested.swap(false, Relaxed) && thread.run_state() == RunState::Running {
        thread.set_run_state(RunState::Stopped);
    }
    match thread.run_state() {
        RunState::Running => {
            let outranked = SCHEDULER
                .lock()
                .highest_ready()
                .is_some_and(|priority| priority as u64 > thread.priority());
            if outranked {
                thread.set_run_state(RunState::Ready);
                SCHEDULER.lock().ready.push_back(thread.clone());
                model::switch_away(thread);
            }
        }
        RunState::Exited(_) => {
            leave_behind(thread);
            model::leave_ended_thread();
        }
        _ => model::switch_away(thread),
    }
}

/// Keeps `thread`, which the CPU is about to leave, until the next switch; whatever the slot
/// held before is released (outside the scheduler's lock: freeing a thread can reach other
/// objects whose release takes it).
pub fn leave_behind(thread: Arc<Thread>) {
    drop(LEFT_BEHIND.replace(Some(thread)));
}

/// Makes `next` the running thread: its registers become the target of the next kernel entry,
/// and its FPU state (`crate::fpu`), segment bases and address space are loaded.
pub fn switch_in(next: &Arc<Thread>) {
    model::prepare_to_run(next);
    drop(load(next));
    if !SCHEDULER.lock().released_later.is_empty() {
        release_later();
    }
}

/// Releases the threads a hand-over could not (see [`hand_over_to`]).
#[cold]
fn release_later() {
    let released = core::mem::take(&mut SCHEDULER.lock().released_later);
    drop(released);
}

/// Loads `next`'s user state into the CPU and makes it the running thread; the thread kept
/// from the switch before, which the caller releases.
fn load(next: &Arc<Thread>) -> Option<Arc<Thread>> {
    next.set_run_state(RunState::Running);
    crate::fpu::switch_to(next);
    let previous = CURRENT.replace(Some(next.clone()));
    if !next.inherits_quantum.swap(false, Relaxed) {
        QUANTUM_STARTED.set(crate::clock::now());
    }
    // User code can change its segment bases itself, so the bases in the CPU are the leaving
    // thread's truth: keep them, then load the next ones. It can do so only by loading `fs` or
    // `gs` (`CR4.FSGSBASE` is clear, so `wrfsbase` and `wrgsbase` are undefined), which in
    // 64-bit mode loads the descriptor's base, 0 in every user descriptor of ours; a null
    // selector clears the base (Intel) or leaves it (AMD) (Intel SDM vol. 3A section 3.4.4).
    // So a thread whose bases were both 0 when it was switched in still has them: the CPU need
    // not be asked (two `rdmsr`s, the dearest part of a switch between threads that leave
    // them alone).
    let zero = SegmentBases::default();
    let loaded = match &previous {
        Some(previous) if previous.segment_bases.load() == zero => zero,
        _ => {
            let (fs, gs) = cpu::user_segment_bases();
            let loaded = SegmentBases { fs, gs };
            if let Some(previous) = &previous {
                previous.segment_bases.store(loaded);
            }
            loaded
        }
    };
    let bases = next.segment_bases.load();
    if loaded != bases {
        cpu::set_user_segment_bases(bases.fs, bases.gs);
    }
    let same_space = previous
        .as_ref()
        .is_some_and(|previous| Arc::ptr_eq(&previous.space, &next.space));
    if !same_space {
        next.space.activate();
    }
    cpu::set_entry_points(next.registers.top(), model::kernel_stack_top(next));
    // The thread the CPU leaves is kept until the next switch, so that neither it (whose kernel
    // stack the CPU may still be on) nor its space (whose tables were loaded until just now)
    // goes too early; whatever was kept before goes to the caller.
    let previous = previous?;
    LEFT_BEHIND.replace(Some(previous))
}

/// Called by the idle loop: stops the machine when no thread is left that could ever run.
pub fn stop_if_nothing_left() {
    let current_alive = CURRENT.inspect(|current| {
        current
            .as_ref()
            .is_some_and(|thread| thread.run_state() == RunState::Running)
    });
    let scheduler = SCHEDULER.lock();
    if scheduler.highest_ready().is_none() && scheduler.sleeping.is_empty() && !current_alive {
        drop(scheduler);
        log::error!("no thread is left to run: every thread is stopped, faulted or ended");
        debug_exit::exit(ExitCode::RootFailed);
    }
}
