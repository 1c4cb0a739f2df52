//! Isolation between spaces: a child space whose threads spin, fault in a loop and flood its
//! parent's port with one-way messages cannot stop the parent from being served, sleeping to
//! its deadlines and stopping the child; and destroying a child full of objects is a
//! restartable operation like any other.

use super::handles::fail;
use super::memory::child_running_this_program;
use super::wait_for;
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::keeper::RESUME;
use runtime::abi::registers::CLOCK_TICK_NANOSECONDS;
use runtime::abi::state::{Condition, KILLED, ThreadState, register};
use runtime::abi::{Call, Error, Handle, Rights};
use runtime::arch::probe::load_through_rdi;
use runtime::ipc;
use runtime::syscall::{
    clock_monotonic, handle_close, handle_grant, handle_info, handle_list, sleep_until,
    space_create, space_destroy,
};
use runtime::thread::{Stack, Thread, spawn, spawn_in};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "isolation_a_spinning_faulting_flooding_child_cannot_starve_its_parent",
        run: hostile_child,
    },
    Case {
        name: "restart_torture_destroying_a_space_full_of_objects",
        run: destroy_moving,
    },
    Case {
        name: "restart_torture_closing_the_last_handle_of_a_space_full_of_handles",
        run: close_last_handle_moving,
    },
    Case {
        name: "isolation_a_space_whose_thread_made_a_child_space_goes_with_its_last_handle",
        run: space_with_a_child_of_its_own_goes,
    },
];

static SPINNER_STACK: Stack<1024> = Stack::new();
static FAULTER_STACK: Stack<1024> = Stack::new();
static FLOODER_STACK: Stack<1024> = Stack::new();
static KEEPER_STACK: Stack<1024> = Stack::new();
static SERVER_STACK: Stack<1024> = Stack::new();
static SPINS: AtomicU64 = AtomicU64::new(0);
static FAULTS: AtomicU64 = AtomicU64::new(0);
static FLOODED: AtomicU64 = AtomicU64::new(0);
static ONE_WAY_SEEN: AtomicU64 = AtomicU64::new(0);

fn spin(_: u64) {
    loop {
        SPINS.fetch_add(1, SeqCst);
    }
}

/// Loads from the null page forever: its keeper resumes it at the same instruction.
fn fault_forever(_: u64) {
    loop {
        load_through_rdi(0x10);
    }
}

/// The faulter's keeper, in the child: answers every fault with `RESUME`, changing nothing.
fn resume_everything(set: u64) {
    let set = Handle::from_raw(set);
    let Ok(mut request) = ipc::wait(set) else {
        return;
    };
    loop {
        FAULTS.fetch_add(1, SeqCst);
        let _ = handle_close(Handle::from_raw(request.words[3]));
        match ipc::reply_wait(request.reply, [RESUME, 0, 0, 0], set) {
            Ok(next) => request = next,
            Err(_) => return,
        }
    }
}

/// Sends one-way messages to the parent's port as fast as it can.
fn flood(port: u64) {
    loop {
        let _ = ipc::send(Handle::from_raw(port), [1, 2, 3, 4]);
        FLOODED.fetch_add(1, SeqCst);
    }
}

/// The parent's service: answers calls with their first word plus one, counts one-way
/// messages.
fn service(set: u64) {
    let set = Handle::from_raw(set);
    let Ok(mut request) = ipc::wait(set) else {
        return;
    };
    loop {
        if request.reply == Handle::NONE {
            ONE_WAY_SEEN.fetch_add(1, SeqCst);
            match ipc::wait(set) {
                Ok(next) => request = next,
                Err(_) => return,
            }
            continue;
        }
        let words = [request.words[0] + 1, 0, 0, 0];
        match ipc::reply_wait(request.reply, words, set) {
            Ok(next) => request = next,
            Err(_) => return,
        }
    }
}

fn hostile_child() -> Result<(), CaseFailure> {
    let (child, image, shown) = child_running_this_program()?;
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let server = spawn(&SERVER_STACK, service, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    // The child's keeper port lives in the child: the parent makes it and grants it.
    let keeper_port = ipc::port_create(0).map_err(fail)?;
    let keeper_set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(keeper_set, keeper_port).map_err(fail)?;
    let child_keeper_set = handle_grant(child, keeper_set, Rights::RECEIVE).map_err(fail)?;
    let child_port = handle_grant(child, port, Rights::SEND).map_err(fail)?;
    let threads: [Thread; 4] = [
        spawn_in(child, &SPINNER_STACK, spin, 0).map_err(fail)?,
        spawn_in(child, &FAULTER_STACK, fault_forever, 0).map_err(fail)?,
        spawn_in(child, &FLOODER_STACK, flood, child_port.raw()).map_err(fail)?,
        spawn_in(
            child,
            &KEEPER_STACK,
            resume_everything,
            child_keeper_set.raw(),
        )
        .map_err(fail)?,
    ];
    check_equal!(threads[1].set_keeper(Some(keeper_port)), Ok(()));
    for thread in &threads {
        check_equal!(thread.resume(), Ok(()));
    }
    // The parent is served and sleeps to its deadlines while all of that goes on.
    for round in 0..50u64 {
        check_equal!(
            ipc::call(port, [round, 0, 0, 0]).map(|words| words[0]),
            Ok(round + 1)
        );
        let deadline = clock_monotonic() + CLOCK_TICK_NANOSECONDS;
        check_equal!(sleep_until(deadline), Ok(()));
        check!(clock_monotonic() >= deadline, "a sleep ended early");
    }
    let busy = || {
        SPINS.load(SeqCst) > 0
            && FAULTS.load(SeqCst) > 10
            && FLOODED.load(SeqCst) > 10
            && ONE_WAY_SEEN.load(SeqCst) > 0
    };
    check!(wait_for(busy), "the child's threads did not all run");
    // And it can end the child at once, whatever its threads are doing.
    check_equal!(space_destroy(child), Ok(()));
    let spins = SPINS.load(SeqCst);
    let later = clock_monotonic() + 5 * CLOCK_TICK_NANOSECONDS;
    check_equal!(sleep_until(later), Ok(()));
    check_equal!(SPINS.load(SeqCst), spins);
    for thread in &threads {
        check_equal!(thread.status(), Ok((Condition::Exited, KILLED, 0)));
    }
    check_equal!(
        spawn_in(child, &SPINNER_STACK, spin, 0).err(),
        Some(Error::InvalidState)
    );
    drop(threads);
    for handle in [keeper_port, keeper_set, port, set, shown, image, child] {
        check_equal!(handle_close(handle), Ok(()));
    }
    check!(
        wait_for(|| matches!(server.status(), Ok((Condition::Exited, 0, _)))),
        "the service never ended"
    );
    Ok(())
}

/// Handles the parent puts in the child it destroys.
const GRANTED: u64 = 1500;
static DESTROYER_STACK: Stack<1024> = Stack::new();
static CALLER_STACK: Stack<1024> = Stack::new();
static DESTROYED: AtomicU64 = AtomicU64::new(u64::MAX);

/// Destroys the space `child` and records the call's status.
fn destroy(child: u64) {
    let status = match space_destroy(Handle::from_raw(child)) {
        Ok(()) => 0,
        Err(error) => error.code(),
    };
    DESTROYED.store(status, SeqCst);
}

/// Runs `work(space)` in a thread that the controller keeps moving into new threads (at
/// every preemption point under partial preemption, where the call stops) until it returns
/// its call's status in `DESTROYED`, which must be success. The last thread, and how many
/// moves `caught` it in the middle of its call (it sees each state that moved).
fn end_moving(
    work: fn(u64),
    space: Handle,
    caught: impl Fn(&ThreadState) -> bool,
) -> Result<(Thread, u64), CaseFailure> {
    DESTROYED.store(u64::MAX, SeqCst);
    let mut worker = spawn(&DESTROYER_STACK, work, space.raw()).map_err(fail)?;
    check_equal!(worker.resume(), Ok(()));
    let (mut moves, mut mid_call) = (0u64, 0u64);
    while DESTROYED.load(SeqCst) == u64::MAX && moves < 100_000 {
        runtime::syscall::thread_yield();
        let mut inspect = |moved: super::Moved<'_>| {
            if caught(moved.state) {
                mid_call += 1;
            }
        };
        match super::transplant(&worker, &mut inspect)? {
            Some(moved) => worker = moved,
            None => break,
        }
        moves += 1;
    }
    check!(
        wait_for(|| DESTROYED.load(SeqCst) != u64::MAX),
        "the thread ending the space never returned"
    );
    check_equal!(DESTROYED.load(SeqCst), 0);
    runtime::println!("  {moves} moves, {mid_call} in the middle of the call");
    Ok((worker, mid_call))
}

/// Whether `state` stands at `call`.
fn stands_at(state: &ThreadState, call: Call) -> bool {
    state.registers[register::RAX] == call.number()
}

/// Closes the handle `space` and records the call's status.
fn close_space(space: u64) {
    let status = match handle_close(Handle::from_raw(space)) {
        Ok(()) => 0,
        Err(error) => error.code(),
    };
    DESTROYED.store(status, SeqCst);
}

/// A child space holding `GRANTED` handles to `port` (and nothing else names it), with the
/// slots of the first and the last of them.
fn child_of_many_handles(port: Handle) -> Result<(Handle, [u32; 2]), CaseFailure> {
    let child = space_create(1 << 20).map_err(fail)?;
    let first = handle_grant(child, port, Rights::SEND).map_err(fail)?;
    let mut last = first;
    for _ in 1..GRANTED {
        last = handle_grant(child, port, Rights::SEND).map_err(fail)?;
    }
    Ok((child, [first.index(), last.index()]))
}

/// Whether `slot` of `space`'s table holds a handle.
fn slot_taken(space: Handle, slot: u32) -> bool {
    matches!(
        handle_list(space, slot, false),
        Ok(Some(listed)) if listed.handle.index() == slot
    )
}

/// The restart torture test for closing the last handle of a space full of handles, which
/// destroys what the space holds as `SpaceDestroy` does, a piece at a time, in the call's last
/// stage (`InvalidationFinish`): the closing thread is caught there and moved into new
/// threads, wherever `SpaceDestroy` (run side by side on the same kind of child) is caught
/// with its space half emptied; the handle is gone from the first catch on (nobody sees the
/// space half destroyed), and the close gives back what the space cost.
fn close_last_handle_moving() -> Result<(), CaseFailure> {
    let port = ipc::port_create(0).map_err(fail)?;
    settle()?;
    let quota = super::memory::quota_left()?;
    let (destroyed, [first, last]) = child_of_many_handles(port)?;
    let half_emptied = |state: &ThreadState| {
        stands_at(state, Call::SpaceDestroy)
            && slot_taken(destroyed, first)
            && !slot_taken(destroyed, last)
    };
    let (destroyer, destroy_caught) = end_moving(destroy, destroyed, half_emptied)?;
    check_equal!(handle_close(destroyed), Ok(()));
    let (closed, _) = child_of_many_handles(port)?;
    let handle_seen_open = AtomicU64::new(0);
    let finishing = |state: &ThreadState| {
        let finishing = stands_at(state, Call::InvalidationFinish);
        if finishing && handle_info(closed) != Err(Error::BadHandle) {
            handle_seen_open.fetch_add(1, SeqCst);
        }
        finishing
    };
    let (closer, close_caught) = end_moving(close_space, closed, finishing)?;
    check_equal!(handle_info(closed), Err(Error::BadHandle));
    check_equal!(handle_seen_open.load(SeqCst), 0);
    check!(
        close_caught > 0 || destroy_caught == 0,
        "SpaceDestroy was caught with its space half emptied {destroy_caught} times, the close \
         of a last handle never in its last stage"
    );
    drop((destroyer, closer));
    settle()?;
    check_equal!(super::memory::quota_left()?, quota);
    check_equal!(handle_close(port), Ok(()));
    Ok(())
}

static GRANDCHILD_STACK: Stack<1024> = Stack::new();

/// Lets the kernel release the threads that ended: the CPU keeps the thread it last left until
/// its next switch, and a sleep makes two.
fn settle() -> Result<(), CaseFailure> {
    check!(
        sleep_until(clock_monotonic() + 2 * CLOCK_TICK_NANOSECONDS).is_ok(),
        "the sleep failed"
    );
    Ok(())
}

/// In a child: makes a space of its own (its handle stays in the child's table), then ends.
fn make_a_space(_: u64) {
    let status = match space_create(1 << 16) {
        Ok(_) => 0,
        Err(error) => error.code(),
    };
    DESTROYED.store(status, SeqCst);
}

/// A child whose thread made a space of its own (which its payer, the child, pays for) and
/// ended: closing the parent's handles gives back everything the child cost. (The grandchild
/// once held its payer strongly, and the child's table held the grandchild: a cycle that
/// kept both, and the parent's quota, for good.)
fn space_with_a_child_of_its_own_goes() -> Result<(), CaseFailure> {
    settle()?;
    let quota = super::memory::quota_left()?;
    let (child, image, shown) = child_running_this_program()?;
    DESTROYED.store(u64::MAX, SeqCst);
    let thread = spawn_in(child, &GRANDCHILD_STACK, make_a_space, 0).map_err(fail)?;
    check_equal!(thread.resume(), Ok(()));
    check!(
        super::wait_until_ended(&thread),
        "the child's thread never ended"
    );
    check_equal!(DESTROYED.load(SeqCst), 0);
    drop(thread);
    settle()?;
    for handle in [child, shown, image] {
        check_equal!(handle_close(handle), Ok(()));
    }
    check_equal!(super::memory::quota_left()?, quota);
    Ok(())
}

/// In the child: one call to the parent, which the parent takes and never answers.
fn call_parent(port: u64) {
    let _ = ipc::call(Handle::from_raw(port), [7, 0, 0, 0]);
}

/// The restart torture test for `SpaceDestroy`: a thread destroys a child holding a thread in
/// a call, spinning threads and 1,500 handles, while the controller keeps moving it into new
/// threads (between any two pieces under partial preemption, where the call stops at every
/// preemption point); the destruction completes once, with all its effects.
fn destroy_moving() -> Result<(), CaseFailure> {
    let (child, image, shown) = child_running_this_program()?;
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let child_port = handle_grant(child, port, Rights::SEND).map_err(fail)?;
    for _ in 1..GRANTED {
        handle_grant(child, port, Rights::SEND).map_err(fail)?;
    }
    let caller = spawn_in(child, &CALLER_STACK, call_parent, child_port.raw()).map_err(fail)?;
    let spinner = spawn_in(child, &SPINNER_STACK, spin, 0).map_err(fail)?;
    check_equal!(caller.resume(), Ok(()));
    check_equal!(spinner.resume(), Ok(()));
    let request = ipc::wait(set).map_err(fail)?;
    check_equal!(request.words[0], 7);
    let (destroyer, _) = end_moving(destroy, child, |state| stands_at(state, Call::SpaceDestroy))?;
    // Its threads are gone, and the handle its caller held: the call's reply goes nowhere.
    check_equal!(caller.status(), Ok((Condition::Exited, KILLED, 0)));
    check_equal!(spinner.status(), Ok((Condition::Exited, KILLED, 0)));
    check_equal!(
        ipc::reply(request.reply, [0, 0, 0, 0]),
        Err(Error::PeerGone)
    );
    check_equal!(
        handle_grant(child, port, Rights::SEND).err(),
        Some(Error::InvalidState)
    );
    drop((caller, spinner, destroyer));
    for handle in [port, set, shown, image, child] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}
