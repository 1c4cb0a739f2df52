//! The states of the objects a checkpointer must save besides threads and memory: a space's
//! handle table (`HandleList`, and `HandleGrant` at a given value to rebuild it), ports and
//! port sets (`PortGetState`, `PortSetGetState`), and the connections that link IPC peers
//! (the connection fields of a thread's state, and `IpcDetach`).

use super::handles::fail;
use super::{wait_for, wait_until_ended};
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::handle::{ConnectionSide, ObjectKind};
use runtime::abi::state::Condition;
use runtime::abi::{Error, Handle, Rights};
use runtime::ipc;
use runtime::synchronization::Mutex;
use runtime::syscall::{
    ListedHandle, handle_close, handle_duplicate, handle_grant, handle_grant_at, handle_info,
    handle_list, space_create, space_destroy, thread_get_state_with_handles,
};
use runtime::thread::{Stack, Thread, spawn};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "object_state_a_handle_table_lists_and_is_rebuilt_at_the_same_values",
        run: handle_table_rebuilt,
    },
    Case {
        name: "object_state_listing_refuses_what_its_rights_do_not_allow",
        run: listing_rights,
    },
    Case {
        name: "object_state_ports_and_port_sets_read_back",
        run: ports_read_back,
    },
    Case {
        name: "object_state_thread_states_name_both_ends_of_a_connection",
        run: connection_ends,
    },
    Case {
        name: "object_state_a_detached_request_is_answered_from_another_thread",
        run: detached_request,
    },
    Case {
        name: "object_state_a_connection_handle_outlives_the_answer_it_was_taken_for",
        run: handle_outlives_answer,
    },
];

/// The most handles a listing here holds.
const MOST: usize = 8;

/// The live handles of `space` (at most [`MOST`]), in slot order, with copies in this table
/// if `copy`.
fn list_all(
    space: Handle,
    copy: bool,
) -> Result<([Option<ListedHandle>; MOST], usize), CaseFailure> {
    let mut listed = [None; MOST];
    let mut count = 0;
    let mut index = 0;
    while let Some(entry) = handle_list(space, index, copy).map_err(fail)? {
        check!(count < MOST, "more handles than the test made");
        index = entry.handle.index() + 1;
        listed[count] = Some(entry);
        count += 1;
    }
    Ok((listed, count))
}

/// A child's table (ports, port sets and a mutex, with various rights) is listed with copies
/// and rebuilt in a new space at the same values, leaving one out (a hole, as a closed
/// handle leaves): the new table lists the same values, kinds, rights and objects, and the
/// hole takes the missing one back later. A value in use, or too far past the end, is
/// refused.
fn handle_table_rebuilt() -> Result<(), CaseFailure> {
    let child = space_create(1 << 16).map_err(fail)?;
    let port = ipc::port_create(7).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    let mutex = Mutex::new().map_err(fail)?;
    let send_only = handle_duplicate(port, Rights::SEND | Rights::TRANSFER).map_err(fail)?;
    let port_rights = Rights::SEND | Rights::RECEIVE | Rights::TRANSFER;
    let granted_port = handle_grant(child, port, port_rights).map_err(fail)?;
    handle_grant(child, set, Rights::RECEIVE | Rights::TRANSFER).map_err(fail)?;
    handle_grant(child, mutex.handle(), Rights::TRANSFER).map_err(fail)?;
    handle_grant(child, send_only, Rights::SEND).map_err(fail)?;
    handle_grant(child, set, Rights::RECEIVE).map_err(fail)?;
    let (listing, count) = list_all(child, true)?;
    check_equal!(count, 5);
    let before: [ListedHandle; 5] = core::array::from_fn(|index| listing[index].unwrap());
    check_equal!(before[0].handle, granted_port);
    let kinds = before.map(|entry| entry.info.kind);
    check_equal!(
        kinds,
        [
            ObjectKind::Port,
            ObjectKind::PortSet,
            ObjectKind::Mutex,
            ObjectKind::Port,
            ObjectKind::PortSet
        ]
    );
    check_equal!(before[3].info.rights, Rights::SEND);
    // Every copy names the object the child's handle names.
    for entry in &before {
        let copy = handle_info(entry.copy).map_err(fail)?;
        check_equal!(copy.object, entry.info.object);
        check!(
            copy.rights.contains(entry.info.rights | Rights::TRANSFER),
            "a copy lacks rights to be granted on"
        );
    }
    // The rebuilt space leaves out the second entry: a hole, as a closed handle leaves.
    let rebuilt = space_create(1 << 16).map_err(fail)?;
    for (position, entry) in before.iter().enumerate() {
        if position == 1 {
            continue;
        }
        let placed = handle_grant_at(rebuilt, entry.copy, entry.info.rights, entry.handle);
        check_equal!(placed, Ok(entry.handle));
    }
    let (after, count) = list_all(rebuilt, false)?;
    check_equal!(count, 4);
    let kept = before
        .iter()
        .enumerate()
        .filter(|(position, _)| *position != 1)
        .map(|(_, entry)| (entry.handle, entry.info));
    let found = after
        .iter()
        .flatten()
        .map(|entry| (entry.handle, entry.info));
    check!(found.eq(kept), "the rebuilt table lists {after:?}");
    check!(
        after
            .iter()
            .flatten()
            .all(|entry| entry.copy == Handle::NONE),
        "a listing without HANDLES made copies"
    );
    // Refused: a value in use, slot 0, a generation of 0, a slot far past the end.
    let copy = before[0].copy;
    check_equal!(
        handle_grant_at(rebuilt, copy, Rights::SEND, before[0].handle),
        Err(Error::Overlaps)
    );
    for bad in [Handle::new(0, 1), Handle::new(2, 0), Handle::new(10_000, 1)] {
        check_equal!(
            handle_grant_at(rebuilt, copy, Rights::SEND, bad),
            Err(Error::InvalidArgument)
        );
    }
    // The slot left out is free in the rebuilt space: the missing entry goes back there.
    check_equal!(
        handle_grant_at(
            rebuilt,
            before[1].copy,
            before[1].info.rights,
            before[1].handle
        ),
        Ok(before[1].handle)
    );
    // New handles never land on a live slot, placed or not.
    let fresh = handle_grant(rebuilt, port, Rights::SEND).map_err(fail)?;
    check!(
        before
            .iter()
            .all(|entry| entry.handle.index() != fresh.index()),
        "a new handle reused a live slot"
    );
    for entry in &before {
        check_equal!(handle_close(entry.copy), Ok(()));
    }
    for space in [child, rebuilt] {
        check_equal!(space_destroy(space), Ok(()));
        check_equal!(handle_close(space), Ok(()));
    }
    for handle in [port, set, send_only] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

/// Listing needs READ_STATE on the space; taking copies needs CONTROL too; a slot index past
/// 32 bits is refused; a listing past the last handle finds nothing.
fn listing_rights() -> Result<(), CaseFailure> {
    let child = space_create(1 << 16).map_err(fail)?;
    let port = ipc::port_create(0).map_err(fail)?;
    handle_grant(child, port, Rights::SEND).map_err(fail)?;
    let reader = handle_duplicate(child, Rights::READ_STATE).map_err(fail)?;
    check!(
        handle_list(reader, 0, false).is_ok_and(|entry| entry.is_some()),
        "READ_STATE could not list"
    );
    check_equal!(handle_list(reader, 0, true), Err(Error::MissingRights));
    let blind = handle_duplicate(child, Rights::CREATE).map_err(fail)?;
    check_equal!(handle_list(blind, 0, false), Err(Error::MissingRights));
    check_equal!(handle_list(port, 0, false), Err(Error::WrongType));
    check_equal!(handle_list(child, 1 << 20, false), Ok(None));
    let (status, _) = runtime::arch::syscall::call6(
        runtime::abi::Call::HandleList,
        [child.raw(), 1 << 40, 0, 0, 0, 0],
    );
    check_equal!(Error::check(status), Err(Error::InvalidArgument));
    for handle in [reader, blind] {
        check_equal!(handle_close(handle), Ok(()));
    }
    check_equal!(space_destroy(child), Ok(()));
    check_equal!(handle_close(child), Ok(()));
    check_equal!(handle_close(port), Ok(()));
    Ok(())
}

static CLIENT_STACK: Stack<1024> = Stack::new();
static SERVER_STACK: Stack<1024> = Stack::new();
static OUTCOME: AtomicU64 = AtomicU64::new(0);
const PENDING: u64 = u64::MAX;

fn call_port(port: u64) {
    let outcome = ipc::call(Handle::from_raw(port), [5, 6, 7, 8]);
    OUTCOME.store(outcome.map_or(PENDING - 1, |words| words[0]), SeqCst);
}

fn wait_on_set(set: u64) {
    let _ = ipc::wait(Handle::from_raw(set));
}

/// A port reads back its badge, its set (by identity) and its queue; a set its ports and its
/// waiting servers; both need RECEIVE.
fn ports_read_back() -> Result<(), CaseFailure> {
    OUTCOME.store(PENDING, SeqCst);
    let port = ipc::port_create(0x55).map_err(fail)?;
    let state = ipc::port_state(port).map_err(fail)?;
    check_equal!((state.badge, state.set, state.queued), (0x55, 0, 0));
    let set = ipc::port_set_create().map_err(fail)?;
    check_equal!(ipc::port_set_state(set), Ok((0, 0)));
    ipc::port_set_add(set, port).map_err(fail)?;
    let identity = handle_info(set).map_err(fail)?.object;
    check_equal!(ipc::port_state(port).map(|state| state.set), Ok(identity));
    check_equal!(ipc::port_set_state(set), Ok((1, 0)));
    // A client waits in the port's queue (no server yet).
    let client = spawn(&CLIENT_STACK, call_port, port.raw()).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    check!(
        wait_for(|| ipc::port_state(port).is_ok_and(|state| state.queued == 1)),
        "the client never queued"
    );
    // A server takes it; a second one waits on the set.
    let server = spawn(&SERVER_STACK, wait_on_set, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    check!(
        wait_until_ended(&server),
        "the server never took the request"
    );
    check_equal!(ipc::port_state(port).map(|state| state.queued), Ok(0));
    // The server ended holding the request: the client learns its peer is gone.
    check!(
        wait_for(|| OUTCOME.load(SeqCst) != PENDING),
        "the client never returned"
    );
    check_equal!(OUTCOME.load(SeqCst), PENDING - 1);
    let waiter = spawn(&SERVER_STACK, wait_on_set, set.raw()).map_err(fail)?;
    check_equal!(waiter.resume(), Ok(()));
    check!(
        wait_for(|| ipc::port_set_state(set) == Ok((1, 1))),
        "the waiting server was not counted"
    );
    let send_only = handle_duplicate(port, Rights::SEND).map_err(fail)?;
    check_equal!(ipc::port_state(send_only), Err(Error::MissingRights));
    check_equal!(ipc::port_state(set), Err(Error::WrongType));
    check_equal!(ipc::port_set_state(port), Err(Error::WrongType));
    check_equal!(handle_close(send_only), Ok(()));
    check_equal!(handle_close(port), Ok(()));
    check_equal!(ipc::port_set_state(set), Ok((0, 1)));
    // The set goes: its waiting server's wait ends.
    check_equal!(handle_close(set), Ok(()));
    check!(wait_until_ended(&waiter), "the waiting server never ended");
    check!(wait_until_ended(&client), "the client never ended");
    Ok(())
}

static HOLD: AtomicU64 = AtomicU64::new(0);

/// Takes one request and answers it with its first word plus one once `HOLD` drops.
fn hold_then_answer(set: u64) {
    let Ok(request) = ipc::wait(Handle::from_raw(set)) else {
        return;
    };
    while HOLD.load(SeqCst) != 0 {
        runtime::syscall::thread_yield();
    }
    let _ = ipc::reply(request.reply, [request.words[0] + 1, 0, 0, 0]);
}

/// A port in a set, a server running `serve` on the set (which holds its request while `HOLD`
/// is set), and a client calling the port, once it waits for its reply.
fn held_call(serve: fn(u64)) -> Result<(Handle, Handle, Thread, Thread), CaseFailure> {
    HOLD.store(1, SeqCst);
    OUTCOME.store(PENDING, SeqCst);
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let server = spawn(&SERVER_STACK, serve, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    let client = spawn(&CLIENT_STACK, call_port, port.raw()).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    let blocked = || matches!(client.status(), Ok((Condition::Blocked, _, _)));
    check!(wait_for(blocked), "the client never waited");
    Ok((port, set, server, client))
}

/// While a server holds a request, the states of the client and the server (stopped for the
/// look, then resumed) name the two ends of one connection: handles to its client and server
/// sides, which `HandleInfo` shows are the same object. The call then completes as if nothing
/// had looked.
fn connection_ends() -> Result<(), CaseFailure> {
    let (port, set, server, client) = held_call(hold_then_answer)?;
    check_equal!(client.interrupt(), Ok(()));
    check_equal!(server.interrupt(), Ok(()));
    let client_state = thread_get_state_with_handles(client.handle()).map_err(fail)?;
    let server_state = thread_get_state_with_handles(server.handle()).map_err(fail)?;
    check_equal!(client_state.server_connection, 0);
    check_equal!(server_state.client_connection, 0);
    let client_end = handle_info(Handle::from_raw(client_state.client_connection)).map_err(fail)?;
    let server_end = handle_info(Handle::from_raw(server_state.server_connection)).map_err(fail)?;
    check_equal!(client_end.kind, ObjectKind::ReplyReceiver);
    check_equal!(server_end.kind, ObjectKind::ReplySender);
    check_equal!(client_end.object, server_end.object);
    for handle in [
        client_state.client_connection,
        server_state.server_connection,
    ] {
        check_equal!(handle_close(Handle::from_raw(handle)), Ok(()));
    }
    // Closing the handles the states brought closed nothing: the threads hold the ends.
    check_equal!(client.resume(), Ok(()));
    check_equal!(server.resume(), Ok(()));
    HOLD.store(0, SeqCst);
    check!(
        wait_for(|| OUTCOME.load(SeqCst) != PENDING),
        "the client never returned"
    );
    check_equal!(OUTCOME.load(SeqCst), 6);
    check!(wait_until_ended(&client), "the client never ended");
    check!(wait_until_ended(&server), "the server never ended");
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_close(set), Ok(()));
    Ok(())
}

static DETACHED: AtomicU64 = AtomicU64::new(0);

/// Takes one request and detaches it into a handle for another thread to answer.
fn take_and_detach(set: u64) {
    if ipc::wait(Handle::from_raw(set)).is_ok() {
        // Held in a handle now: the thread holds nothing, and detaching again is refused.
        let detached = ipc::detach(ConnectionSide::Server);
        let again = ipc::detach(ConnectionSide::Server);
        if again == Err(Error::InvalidState) {
            DETACHED.store(detached.map_or(1, Handle::raw), SeqCst);
        } else {
            DETACHED.store(1, SeqCst);
        }
    }
}

/// A server detaches the request it took and ends; this thread answers it through the
/// handle, and the client gets the answer. `IpcDetach` refuses a side that is no side, and a
/// thread holding nothing.
fn detached_request() -> Result<(), CaseFailure> {
    OUTCOME.store(PENDING, SeqCst);
    DETACHED.store(0, SeqCst);
    check_equal!(
        ipc::detach(ConnectionSide::Client),
        Err(Error::InvalidState)
    );
    let (status, _) =
        runtime::arch::syscall::call6(runtime::abi::Call::IpcDetach, [2, 0, 0, 0, 0, 0]);
    check_equal!(Error::check(status), Err(Error::InvalidArgument));
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let server = spawn(&SERVER_STACK, take_and_detach, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    let client = spawn(&CLIENT_STACK, call_port, port.raw()).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    check!(wait_until_ended(&server), "the server never ended");
    let detached = Handle::from_raw(DETACHED.load(SeqCst));
    check!(detached.raw() > 1, "detaching failed ({})", detached.raw());
    check_equal!(
        handle_info(detached).map(|info| info.kind),
        Ok(ObjectKind::ReplySender)
    );
    // The server's end outlived the server: the handle holds it.
    check_equal!(OUTCOME.load(SeqCst), PENDING);
    check_equal!(ipc::reply(detached, [41, 0, 0, 0]), Ok(()));
    check!(
        wait_for(|| OUTCOME.load(SeqCst) != PENDING),
        "the client never got the answer"
    );
    check_equal!(OUTCOME.load(SeqCst), 41);
    // The answer closed the handle.
    check_equal!(handle_close(detached), Err(Error::BadHandle));
    check!(wait_until_ended(&client), "the client never ended");
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_close(set), Ok(()));
    Ok(())
}

static WAITER_STACK: Stack<1024> = Stack::new();
static AWAITED: AtomicU64 = AtomicU64::new(0);

/// Takes one request, answers it (its first word plus one) with `IpcReplyWait` once `HOLD`
/// drops, and serves on until its set goes.
fn answer_then_serve(set: u64) {
    let set = Handle::from_raw(set);
    let Ok(mut request) = ipc::wait(set) else {
        return;
    };
    // Sleeping rather than yielding, so that the answer comes right after a wake-up, with
    // nothing else due: the fast path's conditions.
    while HOLD.load(SeqCst) != 0 {
        let tick = runtime::abi::registers::CLOCK_TICK_NANOSECONDS;
        let _ = runtime::syscall::sleep_until(runtime::syscall::clock_monotonic() + tick);
    }
    while let Ok(next) = ipc::reply_wait(request.reply, [request.words[0] + 1, 0, 0, 0], set) {
        request = next;
    }
}

/// Waits for a reply on the connection handle given.
fn await_on_handle(connection: u64) {
    let outcome = ipc::finish_call(Handle::from_raw(connection), &[], &mut []);
    AWAITED.store(outcome.err().map_or(1, Error::code), SeqCst);
}

/// A client's state is taken with its connection while it waits for its reply; the server's
/// answer, given by `IpcReplyWait` (the fast path's shape), still reaches the client, and the
/// handle the state brought stays valid: waiting on it for a reply already delivered fails at
/// once instead of waiting for ever, and closing it closes nothing the server still serves.
fn handle_outlives_answer() -> Result<(), CaseFailure> {
    AWAITED.store(0, SeqCst);
    let (port, set, server, client) = held_call(answer_then_serve)?;
    let blocked = || matches!(client.status(), Ok((Condition::Blocked, _, _)));
    check_equal!(client.interrupt(), Ok(()));
    let state = thread_get_state_with_handles(client.handle()).map_err(fail)?;
    let connection = state.client_connection;
    check!(connection != 0, "the state named no connection");
    check_equal!(client.resume(), Ok(()));
    check!(wait_for(blocked), "the client never waited again");
    HOLD.store(0, SeqCst);
    check!(
        wait_for(|| OUTCOME.load(SeqCst) != PENDING),
        "the client never got its answer"
    );
    check_equal!(OUTCOME.load(SeqCst), 6);
    let waiter = spawn(&WAITER_STACK, await_on_handle, connection).map_err(fail)?;
    check_equal!(waiter.resume(), Ok(()));
    check!(
        wait_for(|| AWAITED.load(SeqCst) != 0),
        "waiting on the handle of an answered connection never ended"
    );
    check_equal!(AWAITED.load(SeqCst), Error::InvalidState.code());
    check_equal!(handle_close(Handle::from_raw(connection)), Ok(()));
    // The server serves on, through the same reply objects.
    check_equal!(ipc::call(port, [10, 0, 0, 0]), Ok([11, 0, 0, 0]));
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_close(set), Ok(()));
    check!(wait_until_ended(&server), "the server never ended");
    check!(wait_until_ended(&client), "the client never ended");
    Ok(())
}
