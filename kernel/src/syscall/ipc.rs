//! The IPC calls: ports and port sets, request and reply, one-way messages (see `crate::ipc`
//! for the objects); calls that may block return a `wait::BlockingResult`.

use crate::arch::frame::SavedRegisters;
use crate::arch::lock::Lock;
use crate::ipc::{Caller, Port, PortSet, Reply, ReplyState};
use crate::model::{self, Restart};
use crate::object::KernelObject;
use crate::scheduler;
use crate::thread::{FaultReport, RunState, Thread};
use crate::transfer::{self, Interruption};
use crate::wait::{BlockingResult, WaitQueue, block_in};
use abi::keeper::{self, FaultMessage};
use abi::registers::MESSAGE_WORDS;
use abi::{Call, Error, Handle, Rights};
use alloc::sync::Arc;

/// Rights of a new port handle, and of a port set handle.
const PORT_RIGHTS: Rights = Rights::SEND
    .union(Rights::RECEIVE)
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);
const PORT_SET_RIGHTS: Rights = Rights::RECEIVE
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);

fn object<T>(
    handle: u64,
    needed: Rights,
    convert: fn(KernelObject) -> Result<T, Error>,
) -> Result<T, Error> {
    let space = scheduler::current().space.clone();
    space.typed(Handle::from_raw(handle), needed, convert)
}

/// The four words a client's registers carry.
fn message_of(thread: &Thread) -> [u64; MESSAGE_WORDS] {
    thread.registers.message()
}

/// `PortCreate`.
pub fn port_create(badge: u64) -> Result<u64, Error> {
    let space = scheduler::current().space.clone();
    let port = Port::new(&space, badge)?;
    space
        .insert_handle(KernelObject::Port(port), PORT_RIGHTS)
        .map(Handle::raw)
}

/// `PortSetCreate`.
pub fn port_set_create() -> Result<u64, Error> {
    let space = scheduler::current().space.clone();
    let set = PortSet::new(&space)?;
    space
        .insert_handle(KernelObject::PortSet(set), PORT_SET_RIGHTS)
        .map(Handle::raw)
}

/// `PortSetAdd`.
pub fn port_set_add(set: u64, port: u64) -> Result<(), Error> {
    let set = object(set, Rights::RECEIVE, KernelObject::into_port_set)?;
    let port = object(port, Rights::RECEIVE, KernelObject::into_port)?;
    let mut membership = port.set.lock();
    if membership.is_some() {
        return Err(Error::InvalidState);
    }
    *membership = Some(set.clone());
    let mut ports = set.ports.lock();
    // Ports destroyed since leave only a dead entry; clear those as the set grows.
    ports.retain(|entry| entry.strong_count() > 0);
    ports.push(Arc::downgrade(&port));
    Ok(())
}

/// Opens a reply object between `client` and `server`: a receiving handle in the client's
/// space, a sending one in the server's.
fn open_reply(
    client: &Thread,
    server: &Thread,
    state: ReplyState,
) -> Result<(Arc<Reply>, Handle, Handle), Error> {
    let reply = Reply::for_client(client, state);
    let client_side = KernelObject::ReplyReceiver(reply.clone());
    let client_handle = client.space.insert_handle(client_side, Rights::RECEIVE)?;
    let server_side = KernelObject::ReplySender(reply.clone());
    match server.space.insert_handle(server_side, Rights::RECEIVE) {
        Ok(server_handle) => Ok((reply, client_handle, server_handle)),
        Err(error) => {
            let _ = client.space.close_handle(client_handle);
            Err(error)
        }
    }
}

/// What a server's wait returns for a request or message on `port`.
fn server_results(reply: Handle, words: [u64; MESSAGE_WORDS], port: &Port) -> [u64; 6] {
    [
        reply.raw(),
        words[0],
        words[1],
        words[2],
        words[3],
        port.badge,
    ]
}

/// Takes `client`'s request for `server`: opens their connection, moves the handle the
/// request carries, writes the server's results (the reply handle, the words, the badge) with
/// its call at the `IpcReceive` stage, and moves the client's call to its `IpcAwaitReply`
/// stage. The request's bytes are still to move. On error nothing has changed.
fn connect(client: &Thread, server: &Thread, port: &Port) -> Result<Arc<Reply>, Error> {
    let bytes = client.registers.transfer().send_length != 0
        && server.registers.transfer().receive_length != 0;
    let state = if bytes {
        ReplyState::Request
    } else {
        ReplyState::Pending
    };
    let (reply, client_handle, server_handle) = open_reply(client, server, state)?;
    server.registers.update(|frame| frame.rbx = 0);
    if let Err(error) = transfer::move_handle(client, server) {
        let _ = client.space.close_handle(client_handle);
        let _ = server.space.close_handle(server_handle);
        return Err(error);
    }
    let results = server_results(server_handle, message_of(client), port);
    server.registers.update(|frame| {
        frame.rax = Call::IpcReceive.number();
        [
            frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9,
        ] = results;
    });
    client.registers.update(|frame| {
        frame.rax = Call::IpcAwaitReply.number();
        frame.rdi = client_handle.raw();
    });
    Ok(reply)
}

/// Puts `thread`, which is not running, back in one of a connection's waiting slots.
fn wait_on(reply: &Arc<Reply>, slot: &Lock<Option<Arc<Thread>>>, thread: Arc<Thread>) {
    *thread.waiting_in.lock() = Some(WaitQueue::Reply(Arc::downgrade(reply)));
    *slot.lock() = Some(thread);
}

/// Moves the request's bytes from `client` to `server`, one of which is the running thread
/// and the other blocked and taken out of every queue. When the bytes are through, the
/// request phase ends and `Ok` is returned. A pause puts the blocked one back in its slot;
/// a fault fails the call of the side whose memory it is. In both cases the caller returns
/// `Err(Restart)` or the error, as `finish_request` says.
fn move_request(
    reply: &Arc<Reply>,
    client: &Arc<Thread>,
    server: &Arc<Thread>,
    client_is_running: bool,
) -> Result<(), Stop> {
    match transfer::copy_bytes(client, server) {
        Ok(()) => {
            *reply.state.lock() = ReplyState::Pending;
            Ok(())
        }
        Err(interruption) => {
            let (blocked, slot) = if client_is_running {
                (server, &reply.server)
            } else {
                (client, &reply.waiter)
            };
            if let Some((keeper, address, write)) = keeper_for(interruption, client, server) {
                wait_on(reply, slot, blocked.clone());
                stop_running_for_keeper(keeper, address, write);
                return Err(Stop::Restart);
            }
            let faulted_blocked = match interruption {
                Interruption::Preempted => false,
                Interruption::SenderFault(_) => !client_is_running,
                Interruption::ReceiverFault(_) => client_is_running,
            };
            if faulted_blocked {
                // Its memory changed under the transfer (possible only once memory can be
                // taken away): its call fails, its registers showing how far it got, and the
                // running side waits for it to come back.
                model::complete_blocked(blocked, Error::BadAddress.code(), &[]);
                return Err(Stop::Wait);
            }
            wait_on(reply, slot, blocked.clone());
            Err(match interruption {
                Interruption::Preempted => Stop::Restart,
                _ => Stop::Fail(Error::BadAddress),
            })
        }
    }
}

/// For a copy from `sender` to `receiver` stopped at a hole: the region keeper that can fill
/// it, the hole's address in the region's space, and whether the copy was writing there.
fn keeper_for(
    interruption: Interruption,
    sender: &Thread,
    receiver: &Thread,
) -> Option<(Arc<Port>, u64, bool)> {
    let (owner, address, write) = match interruption {
        Interruption::SenderFault(address) => (sender, address, false),
        Interruption::ReceiverFault(address) => (receiver, address, true),
        Interruption::Preempted => return None,
    };
    let (keeper, hole) = transfer::hole_keeper(owner, address, write)?;
    Some((keeper, hole, write))
}

/// Stops the running thread, in the middle of a transfer, for a region keeper to fill the
/// hole at `address` (of the region's space): a page fault at its `syscall` instruction, whose
/// registers name the stage to re-issue once the keeper answers.
fn stop_running_for_keeper(keeper: Arc<Port>, address: u64, write: bool) {
    // Page-fault error code bits (Intel SDM vol. 3A section 4.7): a user-mode access, a write.
    let error_code = 1 << 2 | if write { 1 << 1 } else { 0 };
    let thread = scheduler::current();
    let report = FaultReport {
        vector: 14,
        error_code,
        rip: thread.registers.get().rip - abi::registers::SYSCALL_INSTRUCTION_LENGTH,
        address,
    };
    crate::trap::stop_for_keeper(&thread, report, keeper);
}

/// Why the running thread's part of a transfer stopped.
enum Stop {
    /// Preempted: re-issue the call from the registers.
    Restart,
    /// Its own memory failed: the call returns this error.
    Fail(Error),
    /// The peer went away from the transfer: wait for it.
    Wait,
}

/// `IpcCall`, stage 1: hand the request to a waiting server, or wait for one.
pub fn call(registers: &SavedRegisters, port: u64) -> BlockingResult {
    let port = match object(port, Rights::SEND, KernelObject::into_port) {
        Ok(port) => port,
        Err(error) => return Ok(Err(error)),
    };
    let client = scheduler::current();
    if let Err(error) = transfer::check_send(&client).and(transfer::check_receive(&client)) {
        return Ok(Err(error));
    }
    let set = port.set.lock().clone();
    let server = set.as_ref().and_then(|set| set.servers.lock().pop_front());
    let Some(server) = server else {
        port.callers.lock().push_back(Caller {
            thread: client.clone(),
            fault: None,
        });
        // Nothing strong may stay on this stack while it waits (process model): a waiter does
        // not keep what it waits on alive.
        let queue = WaitQueue::Port(Arc::downgrade(&port));
        drop((port, set));
        return block_in(client, queue);
    };
    *server.waiting_in.lock() = None;
    let reply = match connect(&client, &server, &port) {
        Ok(reply) => reply,
        Err(error) => {
            // The server goes back to waiting, first in line.
            if let Some(set) = set {
                set.servers.lock().push_front(server.clone());
                *server.waiting_in.lock() = Some(WaitQueue::PortSet(Arc::downgrade(&set)));
            }
            return Ok(Err(error));
        }
    };
    // From here on an interruption re-issues stage 2, `IpcAwaitReply`, which never sends
    // twice.
    if matches!(*reply.state.lock(), ReplyState::Request) {
        match move_request(&reply, &client, &server, true) {
            Ok(()) => {}
            Err(Stop::Restart) => return Err(Restart),
            Err(Stop::Fail(error)) => return Ok(Err(error)),
            Err(Stop::Wait) => {}
        }
    }
    model::complete_blocked(&server, 0, &[]);
    drop((client, server, port, set, reply));
    await_reply(registers, registers.first_argument())
}

/// `IpcAwaitReply` (and `IpcCall`'s stage 2): finish sending the request if bytes of it are
/// left, then wait for the reply.
pub fn await_reply(registers: &SavedRegisters, handle: u64) -> BlockingResult {
    let reply = match object(handle, Rights::RECEIVE, KernelObject::into_reply_receiver) {
        Ok(reply) => reply,
        Err(error) => return Ok(Err(error)),
    };
    let client = scheduler::current();
    if let Err(error) = transfer::check_receive(&client) {
        return Ok(Err(error));
    }
    let state = reply.state.lock().clone();
    match state {
        ReplyState::Request => {
            if let Err(error) = transfer::check_send(&client) {
                return Ok(Err(error));
            }
            let server = reply.server.lock().take();
            let Some(server) = server else {
                return wait_for_peer(&reply, client, &reply.waiter);
            };
            *server.waiting_in.lock() = None;
            match move_request(&reply, &client, &server, true) {
                Ok(()) => model::complete_blocked(&server, 0, &[]),
                Err(Stop::Restart) => return Err(Restart),
                Err(Stop::Fail(error)) => return Ok(Err(error)),
                Err(Stop::Wait) => {}
            }
            drop((server, client, reply));
            // The request is through, or the server went away from it: look again.
            await_reply(registers, handle)
        }
        ReplyState::Pending => {
            let server = reply.server.lock().take();
            let Some(server) = server else {
                return wait_for_peer(&reply, client, &reply.waiter);
            };
            // The server waits with a reply whose bytes need this thread's buffer.
            *server.waiting_in.lock() = None;
            match move_reply(&reply, &server, &client, false) {
                Ok(()) => Ok(Ok(())),
                Err(Stop::Restart) => Err(Restart),
                Err(Stop::Fail(error)) => Ok(Err(error)),
                Err(Stop::Wait) => {
                    drop((server, client, reply));
                    await_reply(registers, handle)
                }
            }
        }
        ReplyState::Answered(words, handle) => {
            let outcome = take_answer(&client, handle);
            let _ = client
                .space
                .close_handle(Handle::from_raw(handle_of(&client)));
            match outcome {
                Ok(()) => {
                    registers.complete_system_call(0, &reply_results(words));
                    Ok(Ok(()))
                }
                Err(error) => Ok(Err(error)),
            }
        }
        ReplyState::Abandoned => {
            let _ = client.space.close_handle(Handle::from_raw(handle));
            Ok(Err(Error::PeerGone))
        }
    }
}

/// The client's results for a reply of `words`: its reply handle, now closed, and the words.
fn reply_results(words: [u64; MESSAGE_WORDS]) -> [u64; 5] {
    [0, words[0], words[1], words[2], words[3]]
}

/// The connection handle in a thread's `rdi` (its call is at a stage that names one).
fn handle_of(thread: &Thread) -> u64 {
    thread.registers.first_argument()
}

/// Puts the handle an answer left in the reply object (if any) into the client's space, and
/// its value into the client's `rbx`.
fn take_answer(client: &Thread, handle: Option<(KernelObject, Rights)>) -> Result<(), Error> {
    let received = match handle {
        Some((object, rights)) => client.space.insert_handle(object, rights)?.raw(),
        None => 0,
    };
    client.registers.update(|frame| frame.rbx = received);
    Ok(())
}

/// Blocks the running thread in `slot`, one of `reply`'s: the client's, or the server's.
fn wait_for_peer(
    reply: &Arc<Reply>,
    thread: Arc<Thread>,
    slot: &Lock<Option<Arc<Thread>>>,
) -> BlockingResult {
    let mut occupant = slot.lock();
    if occupant.is_some() {
        // Another thread already waits here (a copy of this one's state).
        return Ok(Err(Error::InvalidState));
    }
    *occupant = Some(thread.clone());
    drop(occupant);
    let queue = WaitQueue::Reply(Arc::downgrade(reply));
    block_in(thread, queue)
}

/// Moves the reply from `server` to `client` (one running, the other blocked and out of every
/// queue): its handle, its bytes, then its words, which complete the client's call and the
/// server's reply.
fn move_reply(
    reply: &Arc<Reply>,
    server: &Arc<Thread>,
    client: &Arc<Thread>,
    server_is_running: bool,
) -> Result<(), Stop> {
    let (blocked, slot) = if server_is_running {
        (client, &reply.waiter)
    } else {
        (server, &reply.server)
    };
    if let Err(error) = transfer::move_handle(server, client) {
        if server_is_running {
            wait_on(reply, slot, blocked.clone());
            return Err(Stop::Fail(error));
        }
        release_server(server, Err(error));
        return Err(Stop::Wait);
    }
    match transfer::copy_bytes(server, client) {
        Ok(()) => {}
        Err(Interruption::Preempted) => {
            wait_on(reply, slot, blocked.clone());
            return Err(Stop::Restart);
        }
        Err(fault) => {
            if let Some((keeper, address, write)) = keeper_for(fault, server, client) {
                wait_on(reply, slot, blocked.clone());
                stop_running_for_keeper(keeper, address, write);
                return Err(Stop::Restart);
            }
            let server_faulted = matches!(fault, Interruption::SenderFault(_));
            if server_faulted == server_is_running {
                wait_on(reply, slot, blocked.clone());
                return Err(Stop::Fail(Error::BadAddress));
            }
            if server_is_running {
                model::complete_blocked(client, Error::BadAddress.code(), &[]);
                return Err(Stop::Wait);
            }
            release_server(server, Err(Error::BadAddress));
            return Err(Stop::Wait);
        }
    }
    let words = server.registers.message();
    *reply.state.lock() = ReplyState::Answered(words, None);
    let client_handle = Handle::from_raw(handle_of(client));
    if server_is_running {
        let _ = client.space.close_handle(client_handle);
        let _ = server
            .space
            .close_handle(Handle::from_raw(handle_of(server)));
        model::complete_blocked(client, 0, &reply_results(words));
    } else {
        let _ = client.space.close_handle(client_handle);
        client
            .registers
            .complete_system_call(0, &reply_results(words));
        release_server(server, Ok(()));
    }
    Ok(())
}

/// Ends the call of a server blocked on a connection (in `IpcReceive`, `IpcReply` or
/// `IpcReplyWait`) with an outcome; `IpcReplyWait` that answered (or whose client vanished:
/// that does not stop a server) moves on to its `IpcWait` stage instead. The reply handle is
/// closed when the answer went out or the client is gone; after any other failure it stays,
/// so that the server can try again.
pub fn release_server(server: &Arc<Thread>, outcome: Result<(), Error>) {
    *server.waiting_in.lock() = None;
    let frame = server.registers.get();
    let answering = frame.rax != Call::IpcReceive.number();
    let over = matches!(outcome, Err(Error::PeerGone)) || (answering && outcome.is_ok());
    if over {
        let _ = server.space.close_handle(Handle::from_raw(frame.rdi));
    }
    if over && frame.rax == Call::IpcReplyWait.number() {
        model::advance_blocked(server, |frame| {
            frame.rax = Call::IpcWait.number();
            frame.rdi = frame.r9;
        });
        return;
    }
    model::complete_blocked(server, outcome.err().map_or(0, Error::code), &[]);
}

/// Hands an abandoned reply (or an answer given while the client was away) to the client
/// blocked waiting for it, if one is; a client not yet waiting finds it when it (re-)issues
/// `IpcAwaitReply`.
pub fn deliver_reply(reply: &Arc<Reply>) {
    let Some(client) = reply.waiter.lock().take() else {
        return;
    };
    *client.waiting_in.lock() = None;
    let state = core::mem::replace(&mut *reply.state.lock(), ReplyState::Abandoned);
    let outcome = match state {
        ReplyState::Answered(words, handle) => {
            take_answer(&client, handle).map(|()| reply_results(words))
        }
        _ => Err(Error::PeerGone),
    };
    let _ = client
        .space
        .close_handle(Handle::from_raw(handle_of(&client)));
    match outcome {
        Ok(results) => model::complete_blocked(&client, 0, &results),
        Err(error) => model::complete_blocked(&client, error.code(), &[]),
    }
}

/// `IpcReply`: answers a request; waits only if the reply has bytes and the client is not
/// there to take them.
pub fn reply(handle: u64, words: [u64; MESSAGE_WORDS]) -> BlockingResult {
    let server = scheduler::current();
    let reply = match server.space.typed(
        Handle::from_raw(handle),
        Rights::RECEIVE,
        KernelObject::into_reply_sender,
    ) {
        Ok(reply) => reply,
        Err(error) => return Ok(Err(error)),
    };
    if let Err(error) = transfer::check_send(&server) {
        return Ok(Err(error));
    }
    let faulted = reply.faulted.lock().take();
    if let Some((thread, sequence)) = faulted {
        *reply.state.lock() = ReplyState::Answered(words, None);
        let _ = server.space.close_handle(Handle::from_raw(handle));
        if words[0] == keeper::RESUME
            && thread
                .fault_sequence
                .load(core::sync::atomic::Ordering::Relaxed)
                == sequence
            && matches!(thread.run_state(), RunState::Faulted(_) | RunState::Stopped)
        {
            scheduler::make_ready(thread);
        }
        return Ok(Ok(()));
    }
    if !matches!(*reply.state.lock(), ReplyState::Pending) {
        // The request's bytes are not all received yet.
        return Ok(Err(Error::InvalidState));
    }
    if reply
        .client_gone
        .load(core::sync::atomic::Ordering::Relaxed)
    {
        // Nobody would take the answer.
        *reply.state.lock() = ReplyState::Abandoned;
        let _ = server.space.close_handle(Handle::from_raw(handle));
        return Ok(Err(Error::PeerGone));
    }
    let client = reply.waiter.lock().take();
    if let Some(client) = client {
        *client.waiting_in.lock() = None;
        return match move_reply(&reply, &server, &client, true) {
            Ok(()) => Ok(Ok(())),
            Err(Stop::Restart) => Err(Restart),
            Err(Stop::Fail(error)) => Ok(Err(error)),
            Err(Stop::Wait) => wait_for_peer(&reply, server, &reply.server),
        };
    }
    if server.registers.transfer().send_length != 0 {
        return wait_for_peer(&reply, server, &reply.server);
    }
    // No bytes: the answer waits in the reply object for the client.
    let transfer = server.registers.transfer();
    let handle_sent = if transfer.handle != 0 {
        match server.space.transferable(Handle::from_raw(transfer.handle)) {
            Ok(sent) => Some(sent),
            Err(error) => return Ok(Err(error)),
        }
    } else {
        None
    };
    server.registers.update(|frame| frame.rbx = 0);
    *reply.state.lock() = ReplyState::Answered(words, handle_sent);
    let _ = server.space.close_handle(Handle::from_raw(handle));
    Ok(Ok(()))
}

/// `IpcReplyWait`: the reply, then the call becomes `IpcWait` on the set.
pub fn reply_wait(registers: &SavedRegisters, arguments: [u64; 6]) -> BlockingResult {
    let words = [arguments[1], arguments[2], arguments[3], arguments[4]];
    // A client that has gone away does not stop the server from serving the next one.
    match reply(arguments[0], words)? {
        Ok(()) | Err(Error::PeerGone) => {}
        Err(error) => return Ok(Err(error)),
    }
    let set = arguments[5];
    registers.update(|frame| {
        frame.rax = Call::IpcWait.number();
        frame.rdi = set;
    });
    wait(registers, set)
}

/// `IpcWait`: take the oldest waiting request of the set, or wait for one.
pub fn wait(registers: &SavedRegisters, set: u64) -> BlockingResult {
    let set = match object(set, Rights::RECEIVE, KernelObject::into_port_set) {
        Ok(set) => set,
        Err(error) => return Ok(Err(error)),
    };
    let server = scheduler::current();
    if let Err(error) = transfer::check_receive(&server) {
        return Ok(Err(error));
    }
    while let Some((port, caller)) = set.take_caller() {
        // It waited in this port's queue, and leaves it now.
        *caller.thread.waiting_in.lock() = None;
        if let Some(report) = caller.fault {
            // A keeper's request; if it cannot be opened the thread stays stopped.
            if let Ok(results) = open_fault(&caller.thread, report, &server, &port) {
                registers.complete_system_call(0, &results);
                return Ok(Ok(()));
            }
            continue;
        }
        let client = caller.thread;
        let reply = match connect(&client, &server, &port) {
            Ok(reply) => reply,
            Err(error) => {
                // The request cannot be taken (a quota ran out): its call fails; try the next.
                model::complete_blocked(&client, error.code(), &[]);
                continue;
            }
        };
        return pull_request(registers, reply, client, server);
    }
    set.servers.lock().push_back(server.clone());
    let queue = WaitQueue::PortSet(Arc::downgrade(&set));
    drop(set);
    block_in(server, queue)
}

/// `IpcReceive` (`IpcWait`'s stage while a request's bytes are moving): finish receiving
/// them.
pub fn receive(registers: &SavedRegisters, handle: u64) -> BlockingResult {
    let server = scheduler::current();
    let reply = match server.space.typed(
        Handle::from_raw(handle),
        Rights::RECEIVE,
        KernelObject::into_reply_sender,
    ) {
        Ok(reply) => reply,
        Err(error) => return Ok(Err(error)),
    };
    if let Err(error) = transfer::check_receive(&server) {
        return Ok(Err(error));
    }
    if !matches!(*reply.state.lock(), ReplyState::Request) {
        registers.complete_system_call(0, &[]);
        return Ok(Ok(()));
    }
    if reply
        .client_gone
        .load(core::sync::atomic::Ordering::Relaxed)
    {
        let _ = server.space.close_handle(Handle::from_raw(handle));
        return Ok(Err(Error::PeerGone));
    }
    let client = reply.waiter.lock().take();
    let Some(client) = client else {
        return wait_for_peer(&reply, server, &reply.server);
    };
    *client.waiting_in.lock() = None;
    pull_request(registers, reply, client, server)
}

/// The running server takes the rest of a request's bytes from `client` (blocked, out of every
/// queue), then leaves the client waiting for its reply, without the client having to run
/// first, and completes its own call. A pause or a keeper's fault re-issues `IpcReceive`.
fn pull_request(
    registers: &SavedRegisters,
    reply: Arc<Reply>,
    client: Arc<Thread>,
    server: Arc<Thread>,
) -> BlockingResult {
    if matches!(*reply.state.lock(), ReplyState::Request) {
        match move_request(&reply, &client, &server, false) {
            Ok(()) => {}
            Err(Stop::Restart) => return Err(Restart),
            Err(Stop::Fail(error)) => return Ok(Err(error)),
            Err(Stop::Wait) => return wait_for_peer(&reply, server, &reply.server),
        }
    }
    wait_on(&reply, &reply.waiter, client);
    registers.complete_system_call(0, &[]);
    Ok(Ok(()))
}

/// `IpcSend`: words and a handle to a waiting server, at most once.
pub fn send(port: u64, words: [u64; MESSAGE_WORDS]) -> Result<(), Error> {
    let port = object(port, Rights::SEND, KernelObject::into_port)?;
    let sender = scheduler::current();
    let handle = sender.registers.transfer().handle;
    if handle != 0 {
        sender.space.transferable(Handle::from_raw(handle))?;
    }
    let set = port.set.lock().clone().ok_or(Error::NoReceiver)?;
    let server = set.servers.lock().pop_front().ok_or(Error::NoReceiver)?;
    server.registers.update(|frame| frame.rbx = 0);
    if let Err(error) = transfer::move_handle(&sender, &server) {
        set.servers.lock().push_front(server);
        return Err(error);
    }
    *server.waiting_in.lock() = None;
    model::complete_blocked(&server, 0, &server_results(Handle::NONE, words, &port));
    Ok(())
}

/// Opens the request a keeper receives for `thread`'s exception: the sending side of a reply
/// object whose answer may resume the thread, and a handle to the thread.
fn open_fault(
    thread: &Arc<Thread>,
    report: FaultReport,
    server: &Thread,
    port: &Port,
) -> Result<[u64; 6], Error> {
    let reply = Reply::new(ReplyState::Pending);
    let sequence = thread
        .fault_sequence
        .load(core::sync::atomic::Ordering::Relaxed);
    *reply.faulted.lock() = Some((thread.clone(), sequence));
    let sender = KernelObject::ReplySender(reply);
    let server_handle = server.space.insert_handle(sender, Rights::RECEIVE)?;
    // A fault carries no handle beyond the one to the thread, which travels in the words.
    server.registers.update(|frame| frame.rbx = 0);
    let thread_rights = Rights::READ_STATE | Rights::WRITE_STATE | Rights::CONTROL;
    let thread_handle = match server
        .space
        .insert_handle(KernelObject::Thread(thread.clone()), thread_rights)
    {
        Ok(handle) => handle,
        Err(error) => {
            let _ = server.space.close_handle(server_handle);
            return Err(error);
        }
    };
    let message = FaultMessage {
        vector: report.vector,
        error_code: report.error_code,
        address: report.address,
        rip: report.rip,
        thread: thread_handle.raw(),
    };
    Ok(server_results(server_handle, message.to_words(), port))
}

/// Sends a thread's CPU exception to its keeper: straight to a server waiting on the keeper's
/// set, or into the port's queue. The thread is already stopped as faulted.
pub fn deliver_fault(thread: &Arc<Thread>, report: FaultReport, keeper: Arc<Port>) {
    let set = keeper.set.lock().clone();
    let server = set.as_ref().and_then(|set| set.servers.lock().pop_front());
    if let (Some(set), Some(server)) = (set, server) {
        *server.waiting_in.lock() = None;
        match open_fault(thread, report, &server, &keeper) {
            Ok(results) => model::complete_blocked(&server, 0, &results),
            Err(_) => {
                // Out of quota for the request: the server waits on; the thread stays stopped.
                set.servers.lock().push_front(server.clone());
                *server.waiting_in.lock() = Some(WaitQueue::PortSet(Arc::downgrade(&set)));
            }
        }
        return;
    }
    keeper.callers.lock().push_back(Caller {
        thread: thread.clone(),
        fault: Some(report),
    });
    *thread.waiting_in.lock() = Some(WaitQueue::Port(Arc::downgrade(&keeper)));
}
