//! Threads: creation with a checked state, running and exiting, priorities and yield, stopping
//! (also of oneself), and the checks of the state calls.

use super::handles::fail;
use super::{wait_for, wait_until_ended};
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::registers::{PRIORITY_MAX, PRIORITY_ROOT};
use runtime::abi::state::{USER_FLAGS, register};
use runtime::abi::{Error, Handle};
use runtime::process::{first_thread, own_space};
use runtime::syscall::{
    thread_create, thread_create_raw, thread_get_state_raw, thread_interrupt, thread_yield,
};
use runtime::thread::{Stack, Thread, initial_state, spawn};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "a_created_thread_runs_and_exits",
        run: a_created_thread_runs_and_exits,
    },
    Case {
        name: "thread_create_checks_the_state",
        run: thread_create_checks_the_state,
    },
    Case {
        name: "a_lower_priority_thread_waits_until_the_higher_blocks",
        run: priorities,
    },
    Case {
        name: "yield_lets_a_thread_of_the_same_priority_run",
        run: yield_alternates,
    },
    Case {
        name: "a_thread_can_stop_itself",
        run: a_thread_can_stop_itself,
    },
    Case {
        name: "state_calls_check_their_arguments",
        run: state_calls_check_arguments,
    },
    Case {
        name: "threads_that_come_and_go_leak_nothing",
        run: threads_leak_nothing,
    },
    Case {
        name: "creating_threads_until_the_quota_runs_out_fails_cleanly",
        run: quota_runs_out_cleanly,
    },
];

static STACK: Stack<2048> = Stack::new();
static VALUE: AtomicU64 = AtomicU64::new(0);
static STOP: AtomicU64 = AtomicU64::new(0);
static OWN_HANDLE: AtomicU64 = AtomicU64::new(0);
static TURNS: AtomicU64 = AtomicU64::new(0);

fn store_argument(argument: u64) {
    VALUE.store(argument, SeqCst);
}

/// Lowers the flag main raises before each of its yields, until told to stop.
fn answer_and_yield_until_stopped(_: u64) {
    while STOP.load(SeqCst) == 0 {
        if VALUE.swap(0, SeqCst) == 1 {
            TURNS.fetch_add(1, SeqCst);
        }
        thread_yield();
    }
}

/// Tells a test's helper thread to stop when the test ends, even by an early failure.
struct StopOnDrop;

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        STOP.store(1, SeqCst);
    }
}

fn a_created_thread_runs_and_exits() -> Result<(), CaseFailure> {
    VALUE.store(0, SeqCst);
    let thread = spawn(&STACK, store_argument, 42).map_err(fail)?;
    check_equal!(VALUE.load(SeqCst), 0);
    check_equal!(thread.resume(), Ok(()));
    check!(
        wait_for(|| VALUE.load(SeqCst) == 42),
        "the thread never ran"
    );
    check!(wait_until_ended(&thread), "the thread never ended");
    check_equal!(thread.resume(), Err(Error::InvalidState));
    check_equal!(thread.state().err(), Some(Error::InvalidState));
    Ok(())
}

fn thread_create_checks_the_state() -> Result<(), CaseFailure> {
    let good = initial_state(STACK.top(), store_argument, 0);
    let refused = |change: fn(&mut runtime::abi::state::ThreadState)| {
        let mut state = good;
        change(&mut state);
        thread_create(own_space(), &state).err()
    };
    let invalid = Some(Error::InvalidArgument);
    check_equal!(
        refused(|s| s.registers[register::RIP] = 0x8000_0000_0000),
        invalid
    );
    check_equal!(
        refused(|s| s.registers[register::RIP] = 0xffff_ffff_8010_0000),
        invalid
    );
    check_equal!(
        refused(|s| s.registers[register::RSP] = 0x8000_0000_0000),
        invalid
    );
    check_equal!(refused(|s| s.fs_base = 0xffff_8000_0000_0000), invalid);
    check_equal!(refused(|s| s.gs_base = 0x1234_5678_9abc_def0), invalid);
    check_equal!(
        refused(|s| s.fpu[24..28].copy_from_slice(&0x1_1f80u32.to_le_bytes())),
        invalid
    );
    check_equal!(
        thread_create_raw(own_space(), 0).err(),
        Some(Error::BadAddress)
    );
    check_equal!(
        thread_create_raw(own_space(), 0xffff_8000_0000_0000).err(),
        Some(Error::BadAddress)
    );
    // Flags a thread may not set are dropped; interrupts stay on.
    let mut state = good;
    state.registers[register::RFLAGS] = u64::MAX;
    let thread = Thread::from_handle(thread_create(own_space(), &state).map_err(fail)?);
    let read = thread.state().map_err(fail)?;
    check_equal!(read.registers[register::RFLAGS], USER_FLAGS | 0x202);
    check_equal!(read.registers[register::RIP], good.registers[register::RIP]);
    check_equal!(read.fpu, good.fpu);
    Ok(())
}

fn priorities() -> Result<(), CaseFailure> {
    VALUE.store(0, SeqCst);
    let thread = spawn(&STACK, store_argument, 7).map_err(fail)?;
    check_equal!(
        thread.set_priority(PRIORITY_ROOT + 1),
        Err(Error::InvalidArgument)
    );
    check_equal!(
        thread.set_priority(PRIORITY_MAX + 1),
        Err(Error::InvalidArgument)
    );
    check_equal!(thread.set_priority(PRIORITY_ROOT - 1), Ok(()));
    check_equal!(thread.resume(), Ok(()));
    // Yielding only gives way to threads of the same or a higher priority.
    for _ in 0..100 {
        thread_yield();
    }
    check_equal!(VALUE.load(SeqCst), 0);
    check!(
        wait_for(|| VALUE.load(SeqCst) == 7),
        "the lower-priority thread never ran"
    );
    check!(wait_until_ended(&thread), "the thread never ended");
    Ok(())
}

fn yield_alternates() -> Result<(), CaseFailure> {
    VALUE.store(0, SeqCst);
    STOP.store(0, SeqCst);
    TURNS.store(0, SeqCst);
    let thread = spawn(&STACK, answer_and_yield_until_stopped, 0).map_err(fail)?;
    let stop = StopOnDrop;
    check_equal!(thread.resume(), Ok(()));
    for round in 0..20 {
        // Raise the flag; the other thread, of the same priority, lowers it when it runs.
        VALUE.store(1, SeqCst);
        thread_yield();
        check!(
            VALUE.load(SeqCst) == 0,
            "round {round}: the other thread did not run during a yield (it is {:?}, {} turns)",
            thread.status(),
            TURNS.load(SeqCst)
        );
    }
    check_equal!(TURNS.load(SeqCst), 20);
    drop(stop);
    check!(wait_until_ended(&thread), "the thread never ended");
    Ok(())
}

fn stop_self_then_record(_: u64) {
    let _ = thread_interrupt(Handle::from_raw(OWN_HANDLE.load(SeqCst)));
    VALUE.store(1, SeqCst);
}

fn a_thread_can_stop_itself() -> Result<(), CaseFailure> {
    VALUE.store(0, SeqCst);
    let thread = spawn(&STACK, stop_self_then_record, 0).map_err(fail)?;
    OWN_HANDLE.store(thread.handle().raw(), SeqCst);
    check_equal!(thread.resume(), Ok(()));
    check!(
        wait_for(|| thread.state().is_ok()),
        "the thread did not stop itself"
    );
    check_equal!(VALUE.load(SeqCst), 0);
    check_equal!(thread.resume(), Ok(()));
    check!(
        wait_for(|| VALUE.load(SeqCst) == 1),
        "the thread did not continue"
    );
    check!(wait_until_ended(&thread), "the thread never ended");
    Ok(())
}

/// Read-only memory: a write to it must fail, not land.
static READ_ONLY: [u8; 1024] = [1; 1024];

fn state_calls_check_arguments() -> Result<(), CaseFailure> {
    let thread = spawn(&STACK, store_argument, 0).map_err(fail)?;
    let handle = thread.handle();
    check_equal!(thread_get_state_raw(handle, 0), Err(Error::BadAddress));
    check_equal!(
        thread_get_state_raw(handle, 0xffff_8000_0000_0000),
        Err(Error::BadAddress)
    );
    check_equal!(
        thread_get_state_raw(handle, READ_ONLY.as_ptr() as u64),
        Err(Error::BadAddress)
    );
    check!(
        READ_ONLY.iter().all(|&byte| byte == 1),
        "the kernel wrote to read-only memory"
    );
    let mut state = thread.state().map_err(fail)?;
    state.registers[register::RIP] = 0xffff_8000_0000_0000;
    check_equal!(thread.set_state(&state), Err(Error::InvalidArgument));
    // The running thread's state can be neither read nor replaced.
    let running = Thread::from_handle(
        runtime::syscall::handle_duplicate(first_thread(), runtime::abi::Rights::all())
            .map_err(fail)?,
    );
    let good = thread.state().map_err(fail)?;
    check_equal!(running.set_state(&good), Err(Error::InvalidState));
    check_equal!(thread.resume(), Ok(()));
    check_equal!(thread.resume(), Err(Error::InvalidState));
    check!(wait_until_ended(&thread), "the thread never ended");
    Ok(())
}

fn exit_at_once(_: u64) {}

/// Gives the CPU away once (so it is switched out and back in), then exits.
fn yield_then_exit(_: u64) {
    thread_yield();
}

/// More threads than the root quota could hold at once (interrupt model: about 1 KiB each),
/// created, switched out and back in, run to their end and closed: each one's kernel memory goes
/// back to the quota, or creation fails with `QuotaExceeded` well before the end.
fn threads_leak_nothing() -> Result<(), CaseFailure> {
    for round in 0..16_000u32 {
        let thread = spawn(&STACK, yield_then_exit, 0).map_err(|error| {
            CaseFailure(crate::heapless_message::Message::format(format_args!(
                "thread {round}: {error}"
            )))
        })?;
        check_equal!(thread.resume(), Ok(()));
        let mut yields = 0;
        while !matches!(
            thread.status(),
            Ok((runtime::abi::state::Condition::Exited, _, _))
        ) {
            thread_yield();
            yields += 1;
            check!(yields < 1000, "thread {round} never ended");
        }
    }
    Ok(())
}

static MANY: [AtomicU64; 16384] = [const { AtomicU64::new(0) }; 16384];

/// Creating stopped threads until a space's quota is spent ends in `QuotaExceeded`, never in
/// a kernel that ran out of memory; closing them gives the quota back. (A child space with a
/// quota of 4 MiB pays for them, whatever the root program's quota.)
fn quota_runs_out_cleanly() -> Result<(), CaseFailure> {
    let state = initial_state(STACK.top(), exit_at_once, 0);
    let space = runtime::syscall::space_create(4 << 20).map_err(fail)?;
    let mut created = 0;
    let outcome = loop {
        if created == MANY.len() {
            break Ok(());
        }
        match thread_create(space, &state) {
            Ok(handle) => {
                MANY[created].store(handle.raw(), SeqCst);
                created += 1;
            }
            Err(error) => break Err(error),
        }
    };
    for slot in &MANY[..created] {
        let _ = runtime::syscall::handle_close(Handle::from_raw(slot.load(SeqCst)));
    }
    check_equal!(outcome, Err(Error::QuotaExceeded));
    check!(
        created > 100,
        "only {created} threads before the quota ran out"
    );
    let again = thread_create(space, &state).map_err(fail)?;
    check_equal!(runtime::syscall::handle_close(again), Ok(()));
    check_equal!(runtime::syscall::handle_close(space), Ok(()));
    Ok(())
}
