//! Keepers: a thread's CPU exceptions go to its keeper port as requests; the keeper reads and
//! rewrites the stopped thread's state and lets it run on, or leaves it stopped. A thread
//! without a keeper stays stopped and `ThreadStatus` says why.

use super::handles::fail;
use super::{wait_for, wait_until_ended};
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::exception::page_fault;
use runtime::abi::handle::ConnectionSide;
use runtime::abi::keeper::{self, FaultMessage};
use runtime::abi::state::{Condition, register};
use runtime::abi::{Call, Error, Handle, Rights};
use runtime::arch::probe;
use runtime::ipc;
use runtime::process::own_space;
use runtime::syscall::{handle_close, handle_duplicate, thread_get_state, thread_set_state};
use runtime::thread::{Stack, Thread, spawn};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "a_state_saved_with_its_handles_brings_its_keeper_along",
        run: state_carries_the_keeper,
    },
    Case {
        name: "a_keeper_moves_a_thread_past_an_invalid_instruction",
        run: keeper_skips_ud2,
    },
    Case {
        name: "a_keeper_repairs_a_page_fault_through_the_registers",
        run: keeper_repairs,
    },
    Case {
        name: "a_breakpoint_goes_to_the_keeper",
        run: breakpoint_goes_to_keeper,
    },
    Case {
        name: "a_keeper_may_leave_a_thread_stopped",
        run: keeper_leaves_stopped,
    },
    Case {
        name: "an_unanswered_fault_leaves_the_thread_stopped",
        run: unanswered_fault,
    },
    Case {
        name: "a_fault_waits_for_a_busy_keeper",
        run: fault_waits_for_keeper,
    },
    Case {
        name: "an_answer_to_an_old_fault_does_not_resume_a_new_one",
        run: stale_answer,
    },
    Case {
        name: "a_stale_answer_given_with_reply_and_wait_does_not_resume_a_new_fault",
        run: stale_answer_waiting,
    },
    Case {
        name: "a_space_out_of_quota_still_faults_to_its_keeper",
        run: fault_out_of_quota,
    },
    Case {
        name: "without_a_keeper_thread_status_says_why",
        run: no_keeper,
    },
];

static KEEPER_STACK: Stack<2048> = Stack::new();
static VICTIM_STACK: Stack<1024> = Stack::new();

/// What the keeper does with a fault.
static MODE: AtomicU64 = AtomicU64::new(0);
const SKIP_TWO_BYTES: u64 = 0;
const REDIRECT_RDI: u64 = 1;
const RESUME_AS_IS: u64 = 2;
const LEAVE: u64 = 3;
const DROP: u64 = 4;
/// Resume the thread directly, let it fault again, then answer the first fault late.
const ANSWER_LATE: u64 = 5;
/// The first word of the request that ends the keeper.
const STOP: u64 = u64::MAX;

static SEEN_VECTOR: AtomicU64 = AtomicU64::new(0);
static SEEN_ERROR: AtomicU64 = AtomicU64::new(0);
static SEEN_ADDRESS: AtomicU64 = AtomicU64::new(0);
static SEEN_RIP_MATCHES: AtomicU64 = AtomicU64::new(0);
static FAULTS: AtomicU64 = AtomicU64::new(0);
static RESULT: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static GOOD_WORD: AtomicU64 = AtomicU64::new(0x600d_f00d);
/// Set by the late-answering keeper: 1 if the thread stayed stopped after the stale answer.
static STAYED_STOPPED: AtomicU64 = AtomicU64::new(0);

const UNMAPPED: u64 = 0x1000_0000;

fn reset(mode: u64) {
    MODE.store(mode, SeqCst);
    for value in [
        &SEEN_VECTOR,
        &SEEN_ERROR,
        &SEEN_ADDRESS,
        &SEEN_RIP_MATCHES,
        &FAULTS,
        &RESULT,
        &DONE,
    ] {
        value.store(0, SeqCst);
    }
}

/// Handles one fault as `MODE` says.
fn handle_fault(reply: Handle, message: FaultMessage) {
    let thread = Handle::from_raw(message.thread);
    SEEN_VECTOR.store(message.vector, SeqCst);
    SEEN_ERROR.store(message.error_code, SeqCst);
    SEEN_ADDRESS.store(message.address, SeqCst);
    FAULTS.fetch_add(1, SeqCst);
    if let Ok(mut state) = thread_get_state(thread) {
        if state.registers[register::RIP] == message.rip {
            SEEN_RIP_MATCHES.store(1, SeqCst);
        }
        // Only a keeper that changes the state replaces it (which also makes the thread a
        // plain stopped one rather than a faulted one).
        match MODE.load(SeqCst) {
            SKIP_TWO_BYTES => state.registers[register::RIP] += 2,
            REDIRECT_RDI => state.registers[register::RDI] = &GOOD_WORD as *const AtomicU64 as u64,
            _ => {}
        }
        if matches!(MODE.load(SeqCst), SKIP_TWO_BYTES | REDIRECT_RDI) {
            let _ = thread_set_state(thread, &state);
        }
    }
    if MODE.load(SeqCst) == ANSWER_LATE {
        answer_late(reply, thread);
        return;
    }
    let _ = handle_close(thread);
    match MODE.load(SeqCst) {
        LEAVE => {
            let _ = ipc::reply(reply, [keeper::LEAVE_STOPPED, 0, 0, 0]);
        }
        DROP => {
            let _ = handle_close(reply);
        }
        _ => {
            let _ = ipc::reply(reply, [keeper::RESUME, 0, 0, 0]);
        }
    }
}

/// Moves the thread past its first fault and resumes it directly; once it has faulted again
/// (that fault waits in the port's queue: this keeper is busy), answers the first fault with
/// `RESUME`, which must not wake the thread from the second.
fn answer_late(reply: Handle, thread: Handle) {
    if let Ok(mut state) = thread_get_state(thread) {
        state.registers[register::RIP] += 2;
        let _ = thread_set_state(thread, &state);
    }
    let _ = runtime::syscall::thread_resume(thread);
    let faulted_again = || {
        matches!(
            runtime::syscall::thread_status(thread),
            Ok((Condition::Faulted, _, _))
        )
    };
    let mut tries = 0;
    while !faulted_again() && tries < 100_000 {
        runtime::syscall::thread_yield();
        tries += 1;
    }
    let _ = ipc::reply(reply, [keeper::RESUME, 0, 0, 0]);
    for _ in 0..100 {
        runtime::syscall::thread_yield();
    }
    if faulted_again() {
        STAYED_STOPPED.store(1, SeqCst);
    }
    let _ = handle_close(thread);
    // The second fault, still queued, is handled the ordinary way.
    MODE.store(SKIP_TWO_BYTES, SeqCst);
}

/// Serves faults on the set until a `STOP` request.
fn keeper_loop(set: u64) {
    let set = Handle::from_raw(set);
    while let Ok(request) = ipc::wait(set) {
        if request.words[0] == STOP {
            let _ = ipc::reply(request.reply, [0; 4]);
            return;
        }
        handle_fault(request.reply, FaultMessage::from_words(request.words));
    }
}

struct Keeper {
    port: Handle,
    set: Handle,
    thread: Thread,
}

impl Keeper {
    fn new() -> Result<Keeper, CaseFailure> {
        let port = ipc::port_create(0x6b).map_err(fail)?;
        let set = ipc::port_set_create().map_err(fail)?;
        ipc::port_set_add(set, port).map_err(fail)?;
        let thread = spawn(&KEEPER_STACK, keeper_loop, set.raw()).map_err(fail)?;
        Ok(Keeper { port, set, thread })
    }

    fn finish(self) -> Result<(), CaseFailure> {
        check_equal!(ipc::call(self.port, [STOP, 0, 0, 0]), Ok([0; 4]));
        check!(wait_until_ended(&self.thread), "the keeper never ended");
        check_equal!(handle_close(self.port), Ok(()));
        check_equal!(handle_close(self.set), Ok(()));
        Ok(())
    }
}

/// A victim with the keeper's port as its keeper (a send-only duplicate).
fn victim(function: fn(u64), keeper: &Keeper) -> Result<Thread, CaseFailure> {
    let thread = spawn(&VICTIM_STACK, function, 0).map_err(fail)?;
    let send_only = handle_duplicate(keeper.port, Rights::SEND).map_err(fail)?;
    check_equal!(thread.set_keeper(Some(send_only)), Ok(()));
    check_equal!(handle_close(send_only), Ok(()));
    Ok(thread)
}

fn run_invalid_opcode(_: u64) {
    RESULT.store(probe::invalid_opcode_then(42), SeqCst);
    DONE.store(1, SeqCst);
}

fn run_bad_load(_: u64) {
    RESULT.store(probe::load_through_rdi(UNMAPPED), SeqCst);
    DONE.store(1, SeqCst);
}

fn run_breakpoint(_: u64) {
    RESULT.store(probe::breakpoint_then(7), SeqCst);
    DONE.store(1, SeqCst);
}

fn finishes(thread: &Thread) -> bool {
    wait_for(|| DONE.load(SeqCst) == 1) && wait_until_ended(thread)
}

fn keeper_skips_ud2() -> Result<(), CaseFailure> {
    reset(SKIP_TWO_BYTES);
    let keeper = Keeper::new()?;
    check_equal!(keeper.thread.resume(), Ok(()));
    let thread = victim(run_invalid_opcode, &keeper)?;
    check_equal!(thread.resume(), Ok(()));
    check!(finishes(&thread), "the victim never finished");
    check_equal!(RESULT.load(SeqCst), 42);
    check_equal!((SEEN_VECTOR.load(SeqCst), FAULTS.load(SeqCst)), (6, 1));
    check_equal!(SEEN_RIP_MATCHES.load(SeqCst), 1);
    keeper.finish()
}

fn keeper_repairs() -> Result<(), CaseFailure> {
    reset(REDIRECT_RDI);
    let keeper = Keeper::new()?;
    check_equal!(keeper.thread.resume(), Ok(()));
    let thread = victim(run_bad_load, &keeper)?;
    check_equal!(thread.resume(), Ok(()));
    check!(finishes(&thread), "the victim never finished");
    // The load was retried through the new rdi and read the good word.
    check_equal!(RESULT.load(SeqCst), GOOD_WORD.load(SeqCst));
    check_equal!(SEEN_VECTOR.load(SeqCst), 14);
    check_equal!(
        (SEEN_ADDRESS.load(SeqCst), SEEN_ERROR.load(SeqCst)),
        (UNMAPPED, page_fault::USER)
    );
    keeper.finish()
}

fn breakpoint_goes_to_keeper() -> Result<(), CaseFailure> {
    reset(RESUME_AS_IS);
    let keeper = Keeper::new()?;
    check_equal!(keeper.thread.resume(), Ok(()));
    let thread = victim(run_breakpoint, &keeper)?;
    check_equal!(thread.resume(), Ok(()));
    check!(finishes(&thread), "the victim never finished");
    check_equal!((RESULT.load(SeqCst), SEEN_VECTOR.load(SeqCst)), (7, 3));
    keeper.finish()
}

/// Waits until the victim is stopped by a fault, and checks the vector `ThreadStatus` reports.
fn stays_faulted(thread: &Thread, vector: u64) -> Result<(), CaseFailure> {
    let faulted = || matches!(thread.status(), Ok((Condition::Faulted, _, _)));
    check!(wait_for(faulted), "the thread is not stopped by its fault");
    let (_, detail, _) = thread.status().map_err(fail)?;
    check_equal!(detail & 0xff, vector);
    check_equal!(DONE.load(SeqCst), 0);
    Ok(())
}

/// A keeper in `mode` hears of the victim's fault and does not let it run on.
fn fault_left_stopped(mode: u64) -> Result<(), CaseFailure> {
    reset(mode);
    let keeper = Keeper::new()?;
    check_equal!(keeper.thread.resume(), Ok(()));
    let thread = victim(run_invalid_opcode, &keeper)?;
    check_equal!(thread.resume(), Ok(()));
    check!(
        wait_for(|| FAULTS.load(SeqCst) == 1),
        "the keeper never heard of the fault"
    );
    stays_faulted(&thread, 6)?;
    keeper.finish()
}

fn keeper_leaves_stopped() -> Result<(), CaseFailure> {
    fault_left_stopped(LEAVE)
}

fn unanswered_fault() -> Result<(), CaseFailure> {
    fault_left_stopped(DROP)
}

fn fault_waits_for_keeper() -> Result<(), CaseFailure> {
    reset(SKIP_TWO_BYTES);
    let keeper = Keeper::new()?;
    let thread = victim(run_invalid_opcode, &keeper)?;
    check_equal!(thread.resume(), Ok(()));
    // Nobody serves the keeper port yet: the fault waits in its queue.
    stays_faulted(&thread, 6)?;
    check_equal!(keeper.thread.resume(), Ok(()));
    check!(finishes(&thread), "the victim never finished");
    check_equal!((RESULT.load(SeqCst), FAULTS.load(SeqCst)), (42, 1));
    keeper.finish()
}

fn run_two_invalid_opcodes(_: u64) {
    let first = probe::invalid_opcode_then(1);
    RESULT.store(first + probe::invalid_opcode_then(2), SeqCst);
    DONE.store(1, SeqCst);
}

fn stale_answer() -> Result<(), CaseFailure> {
    reset(ANSWER_LATE);
    STAYED_STOPPED.store(0, SeqCst);
    let keeper = Keeper::new()?;
    check_equal!(keeper.thread.resume(), Ok(()));
    let thread = victim(run_two_invalid_opcodes, &keeper)?;
    check_equal!(thread.resume(), Ok(()));
    check!(finishes(&thread), "the victim never finished");
    check_equal!(STAYED_STOPPED.load(SeqCst), 1);
    check_equal!((RESULT.load(SeqCst), FAULTS.load(SeqCst)), (3, 2));
    keeper.finish()
}

fn no_keeper() -> Result<(), CaseFailure> {
    reset(SKIP_TWO_BYTES);
    let thread = spawn(&VICTIM_STACK, run_bad_load, 0).map_err(fail)?;
    check_equal!(thread.resume(), Ok(()));
    let faulted = || matches!(thread.status(), Ok((Condition::Faulted, _, _)));
    check!(wait_for(faulted), "the thread did not stop at its fault");
    let (_, detail, address) = thread.status().map_err(fail)?;
    check_equal!(
        (detail & 0xff, detail >> 32, address),
        (14, page_fault::USER, UNMAPPED)
    );
    // The creator may repair and resume it, as a keeper would.
    let mut state = thread.state().map_err(fail)?;
    state.registers[register::RDI] = &GOOD_WORD as *const AtomicU64 as u64;
    check_equal!(thread.set_state(&state), Ok(()));
    check_equal!(thread.resume(), Ok(()));
    check!(finishes(&thread), "the repaired thread never finished");
    check_equal!(RESULT.load(SeqCst), GOOD_WORD.load(SeqCst));
    Ok(())
}

fn raise_invalid_opcode(_: u64) {
    runtime::arch::probe::invalid_opcode_then(0);
}

/// `ThreadGetState` with `flags::HANDLES` hands out the thread's keeper and space;
/// `ThreadCreate` and `ThreadSetState` with it attach (or detach) the keeper a state names, and
/// refuse a state naming another space.
fn state_carries_the_keeper() -> Result<(), CaseFailure> {
    use runtime::abi::state::flags;
    use runtime::syscall::{
        thread_create_with_handles, thread_get_state_with_handles, thread_set_state_with_handles,
    };
    let port = ipc::port_create(9).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let original = spawn(&VICTIM_STACK, raise_invalid_opcode, 0).map_err(fail)?;
    check_equal!(original.set_keeper(Some(port)), Ok(()));
    check_equal!(original.state().map(|state| state.keeper), Ok(0));
    let saved = thread_get_state_with_handles(original.handle()).map_err(fail)?;
    check!(
        saved.keeper != 0 && saved.keeper != port.raw(),
        "the keeper came back as {:#x}",
        saved.keeper
    );
    // The thread runs in this very space: no handle to it (a space must not hold itself).
    check_equal!(saved.space, 0);
    // A thread of another space: its space comes as a handle that names that space and reads
    // its memory map, but cannot control it.
    let other = runtime::syscall::space_create(64 * 1024).map_err(fail)?;
    let foreign = Thread::from_handle(
        runtime::syscall::thread_create(other, &runtime::abi::state::ThreadState::default())
            .map_err(fail)?,
    );
    let foreign_state = thread_get_state_with_handles(foreign.handle()).map_err(fail)?;
    let space = Handle::from_raw(foreign_state.space);
    check_equal!(
        runtime::syscall::handle_info(space).map(|info| (info.object, info.rights)),
        runtime::syscall::handle_info(other).map(|info| (info.object, Rights::READ_STATE))
    );
    check!(
        runtime::memory::memory_search(space, 0).is_ok(),
        "the space handle does not read the space's memory map"
    );
    check_equal!(
        runtime::syscall::space_destroy(space),
        Err(Error::MissingRights)
    );
    // A thread never changes spaces: a state naming another space is refused.
    check_equal!(
        thread_create_with_handles(own_space(), &foreign_state).err(),
        Some(Error::InvalidArgument)
    );
    let mut buffer = [0u8; runtime::abi::state::THREAD_STATE_SIZE];
    let bad_flags = runtime::arch::syscall::call3(
        Call::ThreadGetState,
        original.handle().raw(),
        buffer.as_mut_ptr() as u64,
        flags::HANDLES << 1,
    );
    check_equal!(bad_flags.status, Error::InvalidArgument.code());
    drop(original);
    let restored =
        Thread::from_handle(thread_create_with_handles(own_space(), &saved).map_err(fail)?);
    check_equal!(restored.resume(), Ok(()));
    let request = ipc::wait(set).map_err(fail)?;
    check_equal!(request.badge, 9);
    let fault = FaultMessage::from_words(request.words);
    check_equal!(fault.vector, 6);
    check_equal!(
        ipc::reply(request.reply, [keeper::LEAVE_STOPPED, 0, 0, 0]),
        Ok(())
    );
    check_equal!(handle_close(Handle::from_raw(fault.thread)), Ok(()));
    // A state whose keeper is a port set is refused; one with none detaches the keeper.
    let mut wrong = saved;
    wrong.keeper = set.raw();
    check_equal!(
        thread_create_with_handles(own_space(), &wrong).err(),
        Some(Error::WrongType)
    );
    let mut detached = saved;
    detached.keeper = 0;
    check_equal!(restored.interrupt(), Ok(()));
    check_equal!(
        thread_set_state_with_handles(restored.handle(), &detached),
        Ok(())
    );
    let again = thread_get_state_with_handles(restored.handle()).map_err(fail)?;
    check_equal!(again.keeper, 0);
    check_equal!(
        thread_set_state_with_handles(restored.handle(), &foreign_state),
        Err(Error::InvalidArgument)
    );
    drop(foreign);
    for handle in [saved.keeper, foreign_state.space, other.raw()] {
        check_equal!(handle_close(Handle::from_raw(handle)), Ok(()));
    }
    for handle in [port, set] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

/// Set by the late keeper once it holds the first fault's request; set by the test when the
/// late keeper is to answer it.
static FIRST_HELD: AtomicU64 = AtomicU64::new(0);
static ANSWER_NOW: AtomicU64 = AtomicU64::new(0);

/// Takes one fault and holds it; when told, answers it `RESUME` with `IpcReplyWait` (the fast
/// path's shape: words only, nothing else queued), then serves until `STOP`.
fn late_keeper(set: u64) {
    let set = Handle::from_raw(set);
    let Ok(first) = ipc::wait(set) else {
        return;
    };
    let _ = handle_close(Handle::from_raw(
        FaultMessage::from_words(first.words).thread,
    ));
    FIRST_HELD.store(1, SeqCst);
    while ANSWER_NOW.load(SeqCst) == 0 {
        runtime::syscall::thread_yield();
    }
    let mut request = ipc::reply_wait(first.reply, [keeper::RESUME, 0, 0, 0], set);
    while let Ok(next) = request {
        if next.words[0] == STOP {
            let _ = ipc::reply(next.reply, [0; 4]);
            return;
        }
        request = ipc::reply_wait(next.reply, [0; 4], set);
    }
}

/// Moves a faulted thread past its two-byte `ud2`.
fn skip_ud2(thread: &Thread) -> Result<(), CaseFailure> {
    let mut state = thread.state().map_err(fail)?;
    state.registers[register::RIP] += 2;
    check_equal!(thread.set_state(&state), Ok(()));
    Ok(())
}

static SECOND_KEEPER_STACK: Stack<1024> = Stack::new();
/// How many faults the second keeper heard of, and the last request it holds.
static SECOND_FAULTS: AtomicU64 = AtomicU64::new(0);
static SECOND_HELD: AtomicU64 = AtomicU64::new(0);

/// Counts the faults that reach its set and answers none (until its set goes).
fn counting_keeper(set: u64) {
    let set = Handle::from_raw(set);
    while let Ok(request) = ipc::wait(set) {
        let _ = handle_close(Handle::from_raw(
            FaultMessage::from_words(request.words).thread,
        ));
        // Held in a handle: the next wait would close a request the thread holds.
        let Ok(held) = ipc::detach(ConnectionSide::Server) else {
            return;
        };
        let former = SECOND_HELD.swap(held.raw(), SeqCst);
        if former != 0 {
            let _ = handle_close(Handle::from_raw(former));
        }
        SECOND_FAULTS.fetch_add(1, SeqCst);
    }
}

/// The victim faults to a keeper that holds the request; the test moves it past the fault,
/// gives it a second keeper (which counts faults and answers none) and resumes it; it faults
/// again, to the second keeper. Only then does the first keeper answer the old fault, with
/// `IpcReplyWait`: the thread must stay stopped by its new fault (were it resumed, it would
/// run its `ud2` again, and the second keeper would hear of a third fault).
fn stale_answer_waiting() -> Result<(), CaseFailure> {
    reset(RESUME_AS_IS);
    for value in [&FIRST_HELD, &ANSWER_NOW, &SECOND_FAULTS, &SECOND_HELD] {
        value.store(0, SeqCst);
    }
    let port = ipc::port_create(0x6b).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let keeper_thread = spawn(&KEEPER_STACK, late_keeper, set.raw()).map_err(fail)?;
    let first = Keeper {
        port,
        set,
        thread: keeper_thread,
    };
    check_equal!(first.thread.resume(), Ok(()));
    let second_port = ipc::port_create(0x6c).map_err(fail)?;
    let second_set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(second_set, second_port).map_err(fail)?;
    let second = spawn(&SECOND_KEEPER_STACK, counting_keeper, second_set.raw()).map_err(fail)?;
    check_equal!(second.resume(), Ok(()));
    let thread = victim(run_two_invalid_opcodes, &first)?;
    check_equal!(thread.resume(), Ok(()));
    check!(
        wait_for(|| FIRST_HELD.load(SeqCst) == 1),
        "the first keeper never heard of the fault"
    );
    stays_faulted(&thread, 6)?;
    skip_ud2(&thread)?;
    let send_only = handle_duplicate(second_port, Rights::SEND).map_err(fail)?;
    check_equal!(thread.set_keeper(Some(send_only)), Ok(()));
    check_equal!(handle_close(send_only), Ok(()));
    check_equal!(thread.resume(), Ok(()));
    check!(
        wait_for(|| SECOND_FAULTS.load(SeqCst) == 1),
        "the second keeper never heard of the second fault"
    );
    stays_faulted(&thread, 6)?;
    ANSWER_NOW.store(1, SeqCst);
    for _ in 0..100 {
        runtime::syscall::thread_yield();
    }
    stays_faulted(&thread, 6)?;
    check_equal!(SECOND_FAULTS.load(SeqCst), 1);
    // The test lets it go on past the second fault itself.
    skip_ud2(&thread)?;
    check_equal!(thread.resume(), Ok(()));
    check!(finishes(&thread), "the victim never finished");
    check_equal!(RESULT.load(SeqCst), 3);
    for handle in [second_port, second_set] {
        check_equal!(handle_close(handle), Ok(()));
    }
    check!(wait_until_ended(&second), "the second keeper never ended");
    let held = SECOND_HELD.swap(0, SeqCst);
    check_equal!(handle_close(Handle::from_raw(held)), Ok(()));
    first.finish()
}

/// A thread of a space whose quota is spent faults to its keeper all the same (the keeper's
/// space pays for the request), and a `ThreadSetState` that the space cannot pay for (an FPU
/// image needs a save area) fails without taking the fault out of the keeper's queue.
fn fault_out_of_quota() -> Result<(), CaseFailure> {
    reset(RESUME_AS_IS);
    let (child, image, shown) = super::memory::child_running_this_program()?;
    let port = ipc::port_create(0x6d).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let thread =
        runtime::thread::spawn_in(child, &VICTIM_STACK, run_invalid_opcode, 0).map_err(fail)?;
    check_equal!(thread.set_keeper(Some(port)), Ok(()));
    check_equal!(thread.resume(), Ok(()));
    // Nobody waits on the keeper's set yet: the fault waits in the port's queue. (It comes
    // before the quota is spent: the thread's first steps need page tables the child pays.)
    stays_faulted(&thread, 6)?;
    // Spend the child's quota: stopped threads, then handle slots.
    let stopped = runtime::thread::initial_state(VICTIM_STACK.top(), run_invalid_opcode, 0);
    let mut spent = [Handle::NONE; 2048];
    let mut count = 0;
    while count < spent.len() {
        match runtime::syscall::thread_create(child, &stopped) {
            Ok(handle) => spent[count] = handle,
            Err(Error::QuotaExceeded) => break,
            Err(error) => return Err(fail(error)),
        }
        count += 1;
    }
    loop {
        match runtime::syscall::handle_grant(child, port, Rights::SEND) {
            Ok(_) => {}
            Err(Error::QuotaExceeded) => break,
            Err(error) => return Err(fail(error)),
        }
    }
    let mut state = thread.state().map_err(fail)?;
    state.fpu[160] ^= 0xff;
    check_equal!(thread.set_state(&state), Err(Error::QuotaExceeded));
    check_equal!(
        thread.status().map(|(condition, _, _)| condition),
        Ok(Condition::Faulted)
    );
    // The fault is still queued, and the keeper can take it though the child cannot pay.
    let request = ipc::wait(set).map_err(fail)?;
    let message = FaultMessage::from_words(request.words);
    check_equal!(message.vector, 6);
    check_equal!(handle_close(Handle::from_raw(message.thread)), Ok(()));
    // The quota comes back (the stopped threads end with their handles) before the thread
    // runs on: its next steps may need page tables.
    for handle in &spent[..count] {
        check_equal!(handle_close(*handle), Ok(()));
    }
    skip_ud2(&thread)?;
    check_equal!(ipc::reply(request.reply, [keeper::RESUME, 0, 0, 0]), Ok(()));
    check!(finishes(&thread), "the victim never finished");
    check_equal!(RESULT.load(SeqCst), 42);
    check_equal!(runtime::syscall::space_destroy(child), Ok(()));
    for handle in [port, set, shown, image, child] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}
