//! The IPC calls: ports and port sets, request and reply, one-way messages (see `crate::ipc`
//! for the objects); calls that may block return a `wait::BlockingResult`.

use crate::arch::frame::SavedRegisters;
use crate::ipc::{Caller, Port, PortSet, Reply, ReplySender, ReplyState};
use crate::model;
use crate::object::KernelObject;
use crate::scheduler;
use crate::thread::{FaultReport, RunState, Thread};
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
fn open_reply(client: &Thread, server: &Thread) -> Result<(Handle, Handle), Error> {
    let reply = Reply::new();
    let client_side = KernelObject::ReplyReceiver(reply.clone());
    let client_handle = client.space.insert_handle(client_side, Rights::RECEIVE)?;
    let server_side = KernelObject::ReplySender(Arc::new(ReplySender(reply)));
    match server.space.insert_handle(server_side, Rights::RECEIVE) {
        Ok(server_handle) => Ok((client_handle, server_handle)),
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

/// `IpcCall`, stage 1: hand the request to a waiting server, or wait for one.
pub fn call(registers: &SavedRegisters, port: u64) -> BlockingResult {
    let port = match object(port, Rights::SEND, KernelObject::into_port) {
        Ok(port) => port,
        Err(error) => return Ok(Err(error)),
    };
    let client = scheduler::current();
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
    let (client_handle, server_handle) = match open_reply(&client, &server) {
        Ok(handles) => handles,
        Err(error) => {
            // The server goes back to waiting, first in line.
            if let Some(set) = set {
                set.servers.lock().push_front(server.clone());
                *server.waiting_in.lock() = Some(WaitQueue::PortSet(Arc::downgrade(&set)));
            }
            return Ok(Err(error));
        }
    };
    let results = server_results(server_handle, message_of(&client), &port);
    model::complete_blocked(&server, 0, &results);
    // Stage 2, in place: from here on an interruption re-issues the wait for this reply.
    registers.update(|frame| {
        frame.rax = Call::IpcAwaitReply.number();
        frame.rdi = client_handle.raw();
    });
    drop((client, server, port, set));
    await_reply(registers, client_handle.raw())
}

/// `IpcAwaitReply` (and `IpcCall`'s stage 2).
pub fn await_reply(registers: &SavedRegisters, handle: u64) -> BlockingResult {
    let reply = match object(handle, Rights::RECEIVE, KernelObject::into_reply_receiver) {
        Ok(reply) => reply,
        Err(error) => return Ok(Err(error)),
    };
    let client = scheduler::current();
    let state = *reply.state.lock();
    match state {
        ReplyState::Pending => {
            let mut waiter = reply.waiter.lock();
            if waiter.is_some() {
                // Another thread already waits for this reply (a copy of this one's state).
                return Ok(Err(Error::InvalidState));
            }
            *waiter = Some(client.clone());
            drop(waiter);
            let queue = WaitQueue::Reply(Arc::downgrade(&reply));
            drop(reply);
            block_in(client, queue)
        }
        ReplyState::Answered(words) => {
            let _ = client.space.close_handle(Handle::from_raw(handle));
            registers.complete_system_call(0, &[0, words[0], words[1], words[2], words[3]]);
            Ok(Ok(()))
        }
        ReplyState::Abandoned => {
            let _ = client.space.close_handle(Handle::from_raw(handle));
            Ok(Err(Error::PeerGone))
        }
    }
}

/// Hands a reply (answered or abandoned) to the client blocked waiting for it, if one is; a
/// client not yet waiting finds it when it (re-)issues `IpcAwaitReply`.
pub fn deliver_reply(reply: &Arc<Reply>) {
    let Some(client) = reply.waiter.lock().take() else {
        return;
    };
    *client.waiting_in.lock() = None;
    // The client waits in `IpcAwaitReply`, whose rdi names its side of the reply.
    let handle = Handle::from_raw(client.registers.first_argument());
    let _ = client.space.close_handle(handle);
    let state = *reply.state.lock();
    match state {
        ReplyState::Answered(words) => {
            model::complete_blocked(&client, 0, &[0, words[0], words[1], words[2], words[3]]);
        }
        ReplyState::Abandoned | ReplyState::Pending => {
            model::complete_blocked(&client, Error::PeerGone.code(), &[]);
        }
    }
}

/// `IpcReply`.
pub fn reply(handle: u64, words: [u64; MESSAGE_WORDS]) -> Result<(), Error> {
    let space = scheduler::current().space.clone();
    let sender = space.typed(
        Handle::from_raw(handle),
        Rights::RECEIVE,
        KernelObject::into_reply_sender,
    )?;
    space.close_handle(Handle::from_raw(handle))?;
    // Nobody but this side holds the reply object: the client's side is gone (its handle was
    // closed, or its space destroyed), and the answer would go nowhere.
    let client_gone = sender.0.faulted.lock().is_none()
        && Arc::strong_count(&sender.0) == 1
        && sender.0.waiter.lock().is_none();
    *sender.0.state.lock() = ReplyState::Answered(words);
    if client_gone {
        return Err(Error::PeerGone);
    }
    deliver_reply(&sender.0);
    let faulted = sender.0.faulted.lock().take();
    if let Some((thread, sequence)) = faulted
        && words[0] == keeper::RESUME
        && thread
            .fault_sequence
            .load(core::sync::atomic::Ordering::Relaxed)
            == sequence
        && matches!(thread.run_state(), RunState::Faulted(_) | RunState::Stopped)
    {
        scheduler::make_ready(thread);
    }
    Ok(())
}

/// `IpcReplyWait`: the reply is sent at once; then the call becomes `IpcWait` on the set.
pub fn reply_wait(registers: &SavedRegisters, arguments: [u64; 6]) -> BlockingResult {
    let words = [arguments[1], arguments[2], arguments[3], arguments[4]];
    // A client that has gone away does not stop the server from serving the next one.
    match reply(arguments[0], words) {
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
        match open_reply(&client, &server) {
            Ok((client_handle, server_handle)) => {
                let results = server_results(server_handle, message_of(&client), &port);
                model::advance_blocked(&client, |frame| {
                    frame.rax = Call::IpcAwaitReply.number();
                    frame.rdi = client_handle.raw();
                });
                registers.complete_system_call(0, &results);
                return Ok(Ok(()));
            }
            // The request cannot be taken (a quota ran out): its call fails; try the next.
            Err(error) => model::complete_blocked(&client, error.code(), &[]),
        }
    }
    set.servers.lock().push_back(server.clone());
    let queue = WaitQueue::PortSet(Arc::downgrade(&set));
    drop(set);
    block_in(server, queue)
}

/// `IpcSend`: to a waiting server, at most once.
pub fn send(port: u64, words: [u64; MESSAGE_WORDS]) -> Result<(), Error> {
    let port = object(port, Rights::SEND, KernelObject::into_port)?;
    let set = port.set.lock().clone().ok_or(Error::NoReceiver)?;
    let server = set.servers.lock().pop_front().ok_or(Error::NoReceiver)?;
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
    let reply = Reply::new();
    let sequence = thread
        .fault_sequence
        .load(core::sync::atomic::Ordering::Relaxed);
    *reply.faulted.lock() = Some((thread.clone(), sequence));
    let sender = KernelObject::ReplySender(Arc::new(ReplySender(reply)));
    let server_handle = server.space.insert_handle(sender, Rights::RECEIVE)?;
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
