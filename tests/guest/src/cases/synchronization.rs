//! Mutexes and condition variables: exclusion and first-come hand-over, the states `TryLock`
//! and `Unlock` report, waiting and signalling, and the atomic contract: a thread waiting for a
//! mutex, or for a condition (which comes back as a spurious wakeup, holding the mutex), can be
//! stopped and moved into a new thread.

use super::handles::fail;
use super::{wait_for, wait_until_ended};
use crate::{Case, CaseFailure, check, check_equal};
use core::mem::ManuallyDrop;
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::state::{Condition as ThreadCondition, register};
use runtime::abi::{Call, Error, Handle};
use runtime::process::own_space;
use runtime::synchronization::{Condition, Mutex};
use runtime::syscall::{thread_create, thread_yield};
use runtime::thread::{Stack, Thread, spawn};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "a_mutex_excludes",
        run: a_mutex_excludes,
    },
    Case {
        name: "try_lock_and_unlock_report_the_mutex_state",
        run: try_lock_and_unlock,
    },
    Case {
        name: "cond_wait_unlocks_and_locks_again",
        run: cond_wait_unlocks_and_relocks,
    },
    Case {
        name: "broadcast_wakes_every_waiter",
        run: broadcast_wakes_every_waiter,
    },
    Case {
        name: "a_thread_waiting_for_a_mutex_moves",
        run: mutex_waiter_moves,
    },
    Case {
        name: "a_condition_waiter_moves_as_a_spurious_wakeup",
        run: condition_waiter_moves,
    },
    Case {
        name: "restart_torture_mutex_workers",
        run: restart_torture_mutex,
    },
];

static STACKS: [Stack<1024>; 3] = [const { Stack::new() }; 3];
static MUTEX: AtomicU64 = AtomicU64::new(0);
static CONDITION: AtomicU64 = AtomicU64::new(0);
static COUNTER: AtomicU64 = AtomicU64::new(0);
static FLAG: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static FAILURES: AtomicU64 = AtomicU64::new(0);

/// The shared mutex and condition variable, borrowed (their handles stay open).
fn shared() -> (ManuallyDrop<Mutex>, ManuallyDrop<Condition>) {
    (
        ManuallyDrop::new(Mutex::from_handle(Handle::from_raw(MUTEX.load(SeqCst)))),
        ManuallyDrop::new(Condition::from_handle(Handle::from_raw(
            CONDITION.load(SeqCst),
        ))),
    )
}

fn setup() -> Result<(Mutex, Condition), CaseFailure> {
    for value in [&COUNTER, &FLAG, &DONE, &FAILURES] {
        value.store(0, SeqCst);
    }
    let mutex = Mutex::new().map_err(fail)?;
    let condition = Condition::new().map_err(fail)?;
    MUTEX.store(mutex.handle().raw(), SeqCst);
    CONDITION.store(condition.handle().raw(), SeqCst);
    Ok((mutex, condition))
}

fn note(outcome: Result<(), Error>) {
    if outcome.is_err() {
        FAILURES.fetch_add(1, SeqCst);
    }
}

/// Adds one to `COUNTER` `rounds` times under the mutex, with a yield between the read and the
/// write that would lose updates without it.
fn increment_under_lock(rounds: u64) {
    let (mutex, _) = shared();
    for _ in 0..rounds {
        note(mutex.lock());
        let value = COUNTER.load(SeqCst);
        thread_yield();
        COUNTER.store(value + 1, SeqCst);
        note(mutex.unlock());
    }
    DONE.fetch_add(1, SeqCst);
}

fn a_mutex_excludes() -> Result<(), CaseFailure> {
    let (_mutex, _condition) = setup()?;
    let mut threads = [const { None }; 3];
    for (slot, stack) in threads.iter_mut().zip(STACKS.iter()) {
        let thread = spawn(stack, increment_under_lock, 50).map_err(fail)?;
        check_equal!(thread.resume(), Ok(()));
        *slot = Some(thread);
    }
    check!(
        wait_for(|| DONE.load(SeqCst) == 3),
        "the threads never finished"
    );
    check_equal!((COUNTER.load(SeqCst), FAILURES.load(SeqCst)), (150, 0));
    for thread in threads.iter().flatten() {
        check!(wait_until_ended(thread), "a thread never ended");
    }
    Ok(())
}

fn try_lock_and_unlock() -> Result<(), CaseFailure> {
    let (mutex, condition) = setup()?;
    check_equal!(mutex.try_lock(), Ok(()));
    check_equal!(mutex.try_lock(), Err(Error::WouldBlock));
    check_equal!(mutex.unlock(), Ok(()));
    check_equal!(mutex.unlock(), Err(Error::InvalidState));
    // Waiting requires the mutex locked: nothing to unlock is an error, not a wait.
    check_equal!(condition.wait(&mutex), Err(Error::InvalidState));
    let wrong = ManuallyDrop::new(Mutex::from_handle(condition.handle()));
    check_equal!(wrong.lock(), Err(Error::WrongType));
    let stale = ManuallyDrop::new(Mutex::from_handle(Handle::new(3000, 1)));
    check_equal!(stale.unlock(), Err(Error::BadHandle));
    Ok(())
}

/// Waits under the mutex until `FLAG` is set, then checks it holds the mutex.
fn wait_for_flag(_: u64) {
    let (mutex, condition) = shared();
    note(mutex.lock());
    while FLAG.load(SeqCst) == 0 {
        note(condition.wait(&mutex));
    }
    // Back from the wait, the mutex is locked again (by this thread).
    if mutex.try_lock() != Err(Error::WouldBlock) {
        FAILURES.fetch_add(1, SeqCst);
    }
    note(mutex.unlock());
    DONE.fetch_add(1, SeqCst);
}

fn cond_wait_unlocks_and_relocks() -> Result<(), CaseFailure> {
    let (mutex, condition) = setup()?;
    let waiter = spawn(&STACKS[0], wait_for_flag, 0).map_err(fail)?;
    check_equal!(waiter.resume(), Ok(()));
    let blocked = || matches!(waiter.status(), Ok((ThreadCondition::Blocked, _, _)));
    check!(wait_for(blocked), "the waiter never waited");
    // The waiter unlocked the mutex when it began to wait.
    check_equal!(mutex.try_lock(), Ok(()));
    FLAG.store(1, SeqCst);
    check_equal!(condition.signal(), Ok(()));
    check_equal!(mutex.unlock(), Ok(()));
    check!(wait_for(|| DONE.load(SeqCst) == 1), "the waiter never woke");
    check_equal!(FAILURES.load(SeqCst), 0);
    check!(wait_until_ended(&waiter), "the waiter never ended");
    Ok(())
}

fn broadcast_wakes_every_waiter() -> Result<(), CaseFailure> {
    let (mutex, condition) = setup()?;
    let mut waiters = [const { None }; 3];
    for (slot, stack) in waiters.iter_mut().zip(STACKS.iter()) {
        let waiter = spawn(stack, wait_for_flag, 0).map_err(fail)?;
        check_equal!(waiter.resume(), Ok(()));
        *slot = Some(waiter);
    }
    for waiter in waiters.iter().flatten() {
        let blocked = || matches!(waiter.status(), Ok((ThreadCondition::Blocked, _, _)));
        check!(wait_for(blocked), "a waiter never waited");
    }
    check_equal!(mutex.lock(), Ok(()));
    FLAG.store(1, SeqCst);
    check_equal!(condition.broadcast(), Ok(()));
    check_equal!(mutex.unlock(), Ok(()));
    check!(wait_for(|| DONE.load(SeqCst) == 3), "not every waiter woke");
    check_equal!(FAILURES.load(SeqCst), 0);
    for waiter in waiters.iter().flatten() {
        check!(wait_until_ended(waiter), "a waiter never ended");
    }
    Ok(())
}

/// Stops `thread` once it is blocked, checks its registers name `call`, and moves it into a
/// new thread, which it resumes.
fn move_blocked(thread: Thread, call: Call) -> Result<Thread, CaseFailure> {
    let blocked = || matches!(thread.status(), Ok((ThreadCondition::Blocked, _, _)));
    check!(wait_for(blocked), "the thread never blocked");
    check_equal!(thread.interrupt(), Ok(()));
    let state = thread.state().map_err(fail)?;
    check_equal!(state.registers[register::RAX], call.number());
    let moved = Thread::from_handle(thread_create(own_space(), &state).map_err(fail)?);
    check_equal!(moved.resume(), Ok(()));
    Ok(moved)
}

fn lock_then_record(_: u64) {
    let (mutex, _) = shared();
    note(mutex.lock());
    FLAG.store(1, SeqCst);
    note(mutex.unlock());
    DONE.store(1, SeqCst);
}

fn mutex_waiter_moves() -> Result<(), CaseFailure> {
    let (mutex, _condition) = setup()?;
    check_equal!(mutex.lock(), Ok(()));
    let waiter = spawn(&STACKS[0], lock_then_record, 0).map_err(fail)?;
    check_equal!(waiter.resume(), Ok(()));
    let moved = move_blocked(waiter, Call::MutexLock)?;
    check_equal!(FLAG.load(SeqCst), 0);
    check_equal!(mutex.unlock(), Ok(()));
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the moved waiter never locked"
    );
    check_equal!((FLAG.load(SeqCst), FAILURES.load(SeqCst)), (1, 0));
    check!(wait_until_ended(&moved), "the moved waiter never ended");
    Ok(())
}

/// Waits once (nobody signals), then records that it returned holding the mutex.
fn wait_once(_: u64) {
    let (mutex, condition) = shared();
    note(mutex.lock());
    note(condition.wait(&mutex));
    if mutex.try_lock() != Err(Error::WouldBlock) {
        FAILURES.fetch_add(1, SeqCst);
    }
    FLAG.store(1, SeqCst);
    note(mutex.unlock());
    DONE.store(1, SeqCst);
}

fn condition_waiter_moves() -> Result<(), CaseFailure> {
    let (_mutex, _condition) = setup()?;
    let waiter = spawn(&STACKS[0], wait_once, 0).map_err(fail)?;
    check_equal!(waiter.resume(), Ok(()));
    // Waiting on the condition, its registers already say what a restart must do: lock again.
    let moved = move_blocked(waiter, Call::MutexLock)?;
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the moved waiter never returned"
    );
    check_equal!((FLAG.load(SeqCst), FAILURES.load(SeqCst)), (1, 0));
    check!(wait_until_ended(&moved), "the moved waiter never ended");
    Ok(())
}

const TORTURE_ROUNDS: u64 = 40;

/// Two workers increment under the mutex while the controller keeps moving them into new
/// threads, wherever they are (running, waiting for the mutex, holding it): no update is lost
/// and none is made twice.
fn restart_torture_mutex() -> Result<(), CaseFailure> {
    let (_mutex, _condition) = setup()?;
    let mut workers = [
        spawn(&STACKS[0], increment_under_lock, TORTURE_ROUNDS).map_err(fail)?,
        spawn(&STACKS[1], increment_under_lock, TORTURE_ROUNDS).map_err(fail)?,
    ];
    for worker in &workers {
        check_equal!(worker.resume(), Ok(()));
    }
    let mut moves = 0u64;
    while DONE.load(SeqCst) < 2 && moves < 3000 {
        if moves % 3 != 2 {
            thread_yield();
        }
        let worker = &mut workers[(moves % 2) as usize];
        match worker.interrupt() {
            Ok(()) => {
                let state = worker.state().map_err(fail)?;
                *worker = Thread::from_handle(thread_create(own_space(), &state).map_err(fail)?);
                check_equal!(worker.resume(), Ok(()));
            }
            Err(Error::InvalidState) => {}
            Err(error) => return Err(fail(error)),
        }
        moves += 1;
    }
    check!(
        wait_for(|| DONE.load(SeqCst) == 2),
        "the workers never finished"
    );
    check_equal!(
        (COUNTER.load(SeqCst), FAILURES.load(SeqCst)),
        (2 * TORTURE_ROUNDS, 0)
    );
    check!(moves >= 20, "only {moves} moves: the test proved little");
    for worker in &workers {
        check!(wait_until_ended(worker), "a worker never ended");
    }
    Ok(())
}
