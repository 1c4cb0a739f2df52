//! The atomic contract (DESIGN.md section 2): a thread stopped anywhere, running in user mode or
//! blocked in a call, has a state that its registers fully describe; loading that state into a
//! brand-new thread and resuming it gives the same results as never stopping. Also: the FPU
//! state and segment bases belong to their thread across switches.

use super::handles::fail;
use super::{wait_for, wait_until_ended};
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::registers::CLOCK_TICK_NANOSECONDS;
use runtime::abi::state::{Condition, register};
use runtime::abi::{Call, Error};
use runtime::arch::probe;
use runtime::process::own_space;
use runtime::syscall::{clock_monotonic, sleep_until, thread_create, thread_yield};
use runtime::thread::{Stack, Thread, initial_state, spawn};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "a_spinning_thread_stops_and_continues",
        run: spinning_stops_and_continues,
    },
    Case {
        name: "a_stopped_thread_moves_into_a_new_thread",
        run: stopped_thread_moves,
    },
    Case {
        name: "interrupting_a_sleep_rolls_the_call_back",
        run: interrupting_a_sleep,
    },
    Case {
        name: "restart_torture_sleeping_worker",
        run: restart_torture_sleeping_worker,
    },
    Case {
        name: "vector_registers_follow_their_thread",
        run: vector_registers_follow,
    },
    Case {
        name: "segment_bases_belong_to_their_thread",
        run: segment_bases,
    },
    Case {
        name: "segment_bases_a_thread_sets_itself_are_kept",
        run: segment_bases_set_by_the_thread,
    },
];

static STACK: Stack<2048> = Stack::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static FAILURES: AtomicU64 = AtomicU64::new(0);
static DEADLINE: AtomicU64 = AtomicU64::new(0);
static RESULT: AtomicU64 = AtomicU64::new(0);

fn reset() {
    for value in [&COUNTER, &STOP, &DONE, &FAILURES, &DEADLINE, &RESULT] {
        value.store(0, SeqCst);
    }
}

fn spin_until_stopped(_: u64) {
    while STOP.load(SeqCst) == 0 {
        COUNTER.fetch_add(1, SeqCst);
    }
}

fn ticks(count: u64) -> u64 {
    clock_monotonic() + count * CLOCK_TICK_NANOSECONDS
}

/// A thread spinning in user mode, counting, seen to have run.
fn start_spinner() -> Result<Thread, CaseFailure> {
    reset();
    let thread = spawn(&STACK, spin_until_stopped, 0).map_err(fail)?;
    check_equal!(thread.resume(), Ok(()));
    check!(
        wait_for(|| COUNTER.load(SeqCst) > 1000),
        "the thread never ran"
    );
    Ok(thread)
}

fn spinning_stops_and_continues() -> Result<(), CaseFailure> {
    let thread = start_spinner()?;
    check_equal!(thread.interrupt(), Ok(()));
    let stopped_at = COUNTER.load(SeqCst);
    let _ = sleep_until(ticks(3));
    check_equal!(COUNTER.load(SeqCst), stopped_at);
    let state = thread.state().map_err(fail)?;
    let stack = STACK.top() - 2048 * 8..STACK.top();
    check!(
        stack.contains(&state.registers[register::RSP]),
        "rsp is off the thread's stack"
    );
    check_equal!(thread.interrupt(), Ok(()));
    check_equal!(thread.resume(), Ok(()));
    check!(
        wait_for(|| COUNTER.load(SeqCst) > stopped_at),
        "the thread did not continue"
    );
    STOP.store(1, SeqCst);
    check!(wait_until_ended(&thread), "the thread never ended");
    Ok(())
}

fn stopped_thread_moves() -> Result<(), CaseFailure> {
    let thread = start_spinner()?;
    check_equal!(thread.interrupt(), Ok(()));
    let state = thread.state().map_err(fail)?;
    let moved = Thread::from_handle(thread_create(own_space(), &state).map_err(fail)?);
    drop(thread);
    let stopped_at = COUNTER.load(SeqCst);
    check_equal!(moved.resume(), Ok(()));
    check!(
        wait_for(|| COUNTER.load(SeqCst) > stopped_at),
        "the new thread did not continue"
    );
    STOP.store(1, SeqCst);
    check!(wait_until_ended(&moved), "the new thread never ended");
    Ok(())
}

fn sleep_to_the_deadline(_: u64) {
    let outcome = sleep_until(DEADLINE.load(SeqCst));
    RESULT.store(if outcome.is_ok() { 1 } else { 2 }, SeqCst);
    DONE.store(clock_monotonic(), SeqCst);
}

fn interrupting_a_sleep() -> Result<(), CaseFailure> {
    reset();
    let deadline = ticks(30);
    DEADLINE.store(deadline, SeqCst);
    let thread = spawn(&STACK, sleep_to_the_deadline, 0).map_err(fail)?;
    check_equal!(thread.resume(), Ok(()));
    let blocked = || matches!(thread.status(), Ok((Condition::Blocked, _, _)));
    check!(wait_for(blocked), "the thread never blocked in its sleep");
    check_equal!(thread.interrupt(), Ok(()));
    check_equal!(DONE.load(SeqCst), 0);
    check!(
        matches!(thread.status(), Ok((Condition::Stopped, _, _))),
        "not stopped"
    );
    // The registers name the call to re-issue.
    let state = thread.state().map_err(fail)?;
    check_equal!(state.registers[register::RAX], Call::SleepUntil.number());
    check_equal!(state.registers[register::RDI], deadline);
    let moved = Thread::from_handle(thread_create(own_space(), &state).map_err(fail)?);
    drop(thread);
    check_equal!(moved.resume(), Ok(()));
    check!(
        wait_for(|| DONE.load(SeqCst) != 0),
        "the moved sleep never finished"
    );
    check_equal!(RESULT.load(SeqCst), 1);
    let finished = DONE.load(SeqCst);
    check!(
        finished >= deadline,
        "the moved sleep ended at {finished}, before {deadline}"
    );
    check!(wait_until_ended(&moved), "the new thread never ended");
    Ok(())
}

const TORTURE_ROUNDS: u64 = 40;

fn sleep_in_rounds(_: u64) {
    for _ in 0..TORTURE_ROUNDS {
        let deadline = ticks(1);
        if sleep_until(deadline).is_err() || clock_monotonic() < deadline {
            FAILURES.fetch_add(1, SeqCst);
        }
        COUNTER.fetch_add(1, SeqCst);
    }
    DONE.store(1, SeqCst);
}

/// A worker sleeps in rounds while the controller stops it at varying moments (before it ran,
/// while it runs, while it sleeps), moves its state into a brand-new thread and resumes that:
/// every round still completes once, and no sleep ends early or fails.
fn restart_torture_sleeping_worker() -> Result<(), CaseFailure> {
    reset();
    let mut worker = spawn(&STACK, sleep_in_rounds, 0).map_err(fail)?;
    check_equal!(worker.resume(), Ok(()));
    let (mut transplants, mut while_blocked, mut while_runnable) = (0u64, 0u64, 0u64);
    while DONE.load(SeqCst) == 0 && transplants < 2000 {
        match transplants % 3 {
            0 => thread_yield(),
            1 => {
                let _ = sleep_until(ticks(1));
            }
            _ => {}
        }
        match worker.status() {
            Ok((Condition::Blocked, _, _)) => while_blocked += 1,
            Ok((Condition::Runnable, _, _)) => while_runnable += 1,
            _ => {}
        }
        match worker.interrupt() {
            Ok(()) => {}
            Err(Error::InvalidState) => break,
            Err(error) => return Err(fail(error)),
        }
        let state = worker.state().map_err(fail)?;
        worker = Thread::from_handle(thread_create(own_space(), &state).map_err(fail)?);
        check_equal!(worker.resume(), Ok(()));
        transplants += 1;
    }
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the worker never finished"
    );
    check_equal!(COUNTER.load(SeqCst), TORTURE_ROUNDS);
    check_equal!(FAILURES.load(SeqCst), 0);
    check!(
        transplants >= 20,
        "only {transplants} transplants: the test proved little"
    );
    check!(
        while_blocked >= 3 && while_runnable >= 3,
        "stopped {while_blocked} times while blocked and {while_runnable} while runnable: \
         both kinds of stop must happen for the test to prove anything"
    );
    check!(wait_until_ended(&worker), "the worker never ended");
    Ok(())
}

fn probe_vectors_while_yielding(_: u64) {
    for _ in 0..50 {
        if probe::vector_registers_survive(Call::ThreadYield, 0, 1) != 0 {
            FAILURES.fetch_add(1, SeqCst);
        }
    }
    DONE.store(1, SeqCst);
}

fn vector_registers_follow() -> Result<(), CaseFailure> {
    reset();
    let thread = spawn(&STACK, probe_vectors_while_yielding, 0).map_err(fail)?;
    check_equal!(thread.resume(), Ok(()));
    for _ in 0..50 {
        // Each yield switches to the other thread, which loads its own patterns.
        let changed = probe::vector_registers_survive(Call::ThreadYield, 0, 2);
        check!(
            changed == 0,
            "xmm registers changed across a switch: {changed:#x}"
        );
    }
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the other thread never finished"
    );
    check_equal!(FAILURES.load(SeqCst), 0);
    check!(wait_until_ended(&thread), "the thread never ended");
    Ok(())
}

static FS_WORD: AtomicU64 = AtomicU64::new(0x1111_2222_3333_4444);
static GS_WORD: AtomicU64 = AtomicU64::new(0x5555_6666_7777_8888);

fn read_segment_words(_: u64) {
    let (fs_word, gs_word) = probe::segment_words();
    COUNTER.store(fs_word, SeqCst);
    RESULT.store(gs_word, SeqCst);
    DONE.store(1, SeqCst);
}

fn segment_bases() -> Result<(), CaseFailure> {
    reset();
    let mut state = initial_state(STACK.top(), read_segment_words, 0);
    state.fs_base = &FS_WORD as *const AtomicU64 as u64;
    state.gs_base = &GS_WORD as *const AtomicU64 as u64;
    let thread = Thread::from_handle(thread_create(own_space(), &state).map_err(fail)?);
    let read = thread.state().map_err(fail)?;
    check_equal!((read.fs_base, read.gs_base), (state.fs_base, state.gs_base));
    check_equal!(thread.resume(), Ok(()));
    check!(wait_for(|| DONE.load(SeqCst) == 1), "the thread never ran");
    check_equal!(COUNTER.load(SeqCst), FS_WORD.load(SeqCst));
    check_equal!(RESULT.load(SeqCst), GS_WORD.load(SeqCst));
    check!(wait_until_ended(&thread), "the thread never ended");
    Ok(())
}

/// Clears its segment bases itself (loading `fs` and `gs`), then yields until stopped.
fn clear_segment_bases_then_yield(_: u64) {
    probe::load_segment_bases_from_stack_segment();
    DONE.store(1, SeqCst);
    while STOP.load(SeqCst) == 0 {
        thread_yield();
    }
}

/// A thread created with segment bases clears them itself, in user mode: the kernel keeps
/// what the CPU holds, not what it was told, so the thread's state then shows 0 for both.
/// (A switch reads the bases back only from a thread whose recorded bases are not both 0:
/// this one's are.)
fn segment_bases_set_by_the_thread() -> Result<(), CaseFailure> {
    reset();
    let mut state = initial_state(STACK.top(), clear_segment_bases_then_yield, 0);
    state.fs_base = &FS_WORD as *const AtomicU64 as u64;
    state.gs_base = &GS_WORD as *const AtomicU64 as u64;
    let thread = Thread::from_handle(thread_create(own_space(), &state).map_err(fail)?);
    check_equal!(thread.resume(), Ok(()));
    check!(wait_for(|| DONE.load(SeqCst) == 1), "the thread never ran");
    // It yields: the processor has left it, and come back, since it cleared them.
    for _ in 0..4 {
        thread_yield();
    }
    check_equal!(thread.interrupt(), Ok(()));
    let read = thread.state().map_err(fail)?;
    check_equal!((read.fs_base, read.gs_base), (0, 0));
    STOP.store(1, SeqCst);
    check_equal!(thread.resume(), Ok(()));
    check!(wait_until_ended(&thread), "the thread never ended");
    Ok(())
}
