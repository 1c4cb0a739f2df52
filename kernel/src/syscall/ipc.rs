//! The IPC calls: ports and port sets, request and reply, one-way messages (see `crate::ipc`
//! for the objects); calls that may block return a `wait::BlockingResult`.

use super::connection::{
    Stop, close_connection, close_named_connection, connect, connection_named, move_reply,
    move_request, pull_request, reply_results, server_results, take_answer, wait_for_peer,
};
pub use super::connection::{deliver_reply, release_server};
use super::object;
use crate::arch::frame::SavedRegisters;
use crate::ipc::{Caller, Port, PortSet, Reply, ReplyState, hold_connection};
use crate::model::{self, Restart};
use crate::object::KernelObject;
use crate::scheduler;
use crate::thread::{FaultReport, RunState, Thread};
use crate::transfer::{self, Check};
use crate::wait::{BlockingResult, WaitQueue, block_at_restart_point, or_return_error};
use abi::handle::ConnectionSide;
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
    let set = object(set, Rights::RECEIVE, KernelObject::to_port_set)?;
    let port = object(port, Rights::RECEIVE, KernelObject::to_port)?;
    let mut membership = port.set.lock();
    if membership.is_some() {
        return Err(Error::InvalidState);
    }
    *membership = Some(set.clone());
    drop(membership);
    set.add(&port);
    Ok(())
}

/// `PortGetState`: the port's badge, the identity of its set (0 for none), and how many
/// requests wait in its queue.
pub fn port_state(port: u64) -> Result<[u64; 3], Error> {
    let port = object(port, Rights::RECEIVE, KernelObject::to_port)?;
    let set = port.set.lock().as_ref().map_or(0, |set| set.id);
    let queued = port.callers.lock().len() as u64;
    Ok([port.badge, set, queued])
}

/// `PortSetGetState`: how many live ports the set has, and how many servers wait on it.
pub fn port_set_state(set: u64) -> Result<[u64; 2], Error> {
    let set = object(set, Rights::RECEIVE, KernelObject::to_port_set)?;
    let ports = set
        .ports
        .lock()
        .iter()
        .filter(|port| port.strong_count() > 0)
        .count() as u64;
    let servers = set.servers.len() as u64;
    Ok([ports, servers])
}

/// `IpcCall` and `IpcConnect`, stage 1: hand the request to a waiting server, or wait for
/// one.
pub fn call(registers: &SavedRegisters, port: u64) -> BlockingResult {
    let port = or_return_error!(object(port, Rights::SEND, KernelObject::to_port));
    let client = scheduler::current();
    or_return_error!(
        transfer::check_send(&client, Check::Ends)
            .and(transfer::check_receive(&client, Check::Ends))
    );
    let set = port.set.lock().clone();
    let server = set.as_ref().and_then(|set| set.servers.pop_front());
    let Some(server) = server else {
        port.queue_caller(
            Caller {
                thread: client.clone(),
                fault: None,
            },
            false,
        );
        // Nothing strong may stay on this stack while it waits (process model): a waiter does
        // not keep what it waits on alive.
        let queue = WaitQueue::Port(Arc::downgrade(&port));
        drop((port, set));
        return block_at_restart_point(client, queue);
    };
    server.waiting_in.set(None);
    let reply = match connect(&client, &server, &port) {
        Ok(reply) => reply,
        Err(error) => {
            // The server goes back to waiting, first in line.
            if let Some(set) = set {
                set.servers.push_front(server.clone());
                server.waiting_in.set(Some(set.wait_queue()));
            }
            return Ok(Err(error));
        }
    };
    // From here on an interruption re-issues stage 2 (`IpcAwaitReply`, or `IpcSendMore` for a
    // connection), which never sends twice.
    let mut chunk_done = true;
    // Whether the server's call is still to complete: not if the copy failed it (its own
    // buffer went away), in which case the client waits for it to come back.
    let mut server_waits = true;
    if matches!(reply.state.get(), ReplyState::Request) {
        match move_request(&reply, &client, &server, true) {
            Ok(done) => chunk_done = done,
            Err(Stop::Restart) => return Err(Restart),
            Err(Stop::Fail(error)) => return Ok(Err(error)),
            Err(Stop::Wait) => {
                chunk_done = false;
                server_waits = false;
            }
        }
    }
    if server_waits {
        model::complete_blocked_handing_over(&server, 0, &[]);
    }
    let streaming = reply.streaming.load(core::sync::atomic::Ordering::Relaxed);
    drop((server, port, set));
    if streaming {
        if chunk_done {
            registers.complete_system_call(0, &[]);
            return Ok(Ok(()));
        }
        // The rest of the first chunk waits for the server's next `IpcReceiveMore`.
        return wait_for_peer(&reply, client, &reply.waiter);
    }
    drop(client);
    await_on(registers, reply, registers.first_argument())
}

/// `IpcSendMore`: sends the next chunk of a streaming request; completes when all of it has
/// moved, waiting for the server's `IpcReceiveMore` as often as it takes.
pub fn send_more(registers: &SavedRegisters, handle: u64) -> BlockingResult {
    let client = scheduler::current();
    let reply = or_return_error!(connection_named(&client, handle, ConnectionSide::Client));
    or_return_error!(transfer::check_send(&client, Check::Bounds));
    let state = reply.state.get();
    match state {
        ReplyState::Request if reply.open.load(core::sync::atomic::Ordering::Relaxed) => {}
        ReplyState::Abandoned => return Ok(Err(Error::PeerGone)),
        // Not a streaming connection, or one already reversed.
        _ => return Ok(Err(Error::InvalidState)),
    }
    if client.registers.transfer().send_length == 0 {
        registers.complete_system_call(0, &[]);
        return Ok(Ok(()));
    }
    let server = reply.server.take();
    let Some(server) = server else {
        return wait_for_peer(&reply, client, &reply.waiter);
    };
    server.waiting_in.set(None);
    match move_request(&reply, &client, &server, true) {
        Ok(done) => {
            model::complete_blocked_handing_over(&server, 0, &[]);
            if done {
                registers.complete_system_call(0, &[]);
                return Ok(Ok(()));
            }
            wait_for_peer(&reply, client, &reply.waiter)
        }
        Err(Stop::Restart) => Err(Restart),
        Err(Stop::Fail(error)) => Ok(Err(error)),
        Err(Stop::Wait) => {
            drop((server, client, reply));
            send_more(registers, handle)
        }
    }
}

/// `IpcReceiveMore`: receives the next chunk of a request, up to the room in `r14`/`r15`;
/// completes at once, with no bytes, once the client has reversed the connection (or for a
/// request that was never streamed).
pub fn receive_more(registers: &SavedRegisters, handle: u64) -> BlockingResult {
    receive_request_bytes(registers, handle, true)
}

/// `IpcAwaitReply` (and `IpcCall`'s stage 2): finish sending the request if bytes of it are
/// left, then wait for the reply.
pub fn await_reply(registers: &SavedRegisters, handle: u64) -> BlockingResult {
    let client = scheduler::current();
    let reply = or_return_error!(connection_named(&client, handle, ConnectionSide::Client));
    drop(client);
    await_on(registers, reply, handle)
}

/// `IpcAwaitReply` on `reply`, which `handle` names for the caller.
fn await_on(registers: &SavedRegisters, reply: Arc<Reply>, handle: u64) -> BlockingResult {
    let client = scheduler::current();
    or_return_error!(transfer::check_receive(&client, Check::Bounds));
    let state = reply.state.get();
    match state {
        ReplyState::Request => {
            or_return_error!(transfer::check_send(&client, Check::Bounds));
            // Reversing the connection: these are the request's last bytes.
            reply
                .open
                .store(false, core::sync::atomic::Ordering::Relaxed);
            let server = reply.server.take();
            let Some(server) = server else {
                if client.registers.transfer().send_length == 0 {
                    // Nothing is left to send: the request is complete.
                    reply.state.set(ReplyState::Pending);
                    drop((client, reply));
                    return await_reply(registers, handle);
                }
                return wait_for_peer(&reply, client, &reply.waiter);
            };
            server.waiting_in.set(None);
            match move_request(&reply, &client, &server, true) {
                Ok(_) => model::complete_blocked_handing_over(&server, 0, &[]),
                Err(Stop::Restart) => return Err(Restart),
                Err(Stop::Fail(error)) => return Ok(Err(error)),
                Err(Stop::Wait) => {}
            }
            drop((server, client, reply));
            // The request is through, or the server went away from it: look again.
            await_reply(registers, handle)
        }
        ReplyState::Pending => {
            let server = reply.server.take();
            let Some(server) = server else {
                return wait_for_peer(&reply, client, &reply.waiter);
            };
            // The server waits with a reply whose bytes need this thread's buffer.
            server.waiting_in.set(None);
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
        ReplyState::Answered => {
            // The answer leaves the reply object (which the client keeps for its next call):
            // a handle it carries must not outlive its delivery there.
            let Some((words, handle)) = reply.take_answer() else {
                return Ok(Err(Error::InvalidState));
            };
            let outcome = take_answer(&client, handle);
            close_named_connection(&client, ConnectionSide::Client);
            match outcome {
                Ok(()) => {
                    registers.complete_system_call(0, &reply_results(words));
                    Ok(Ok(()))
                }
                Err(error) => Ok(Err(error)),
            }
        }
        ReplyState::Abandoned => {
            close_connection(&client, handle, ConnectionSide::Client);
            Ok(Err(Error::PeerGone))
        }
    }
}

/// `IpcReply`: answers a request; waits only if the reply has bytes and the client is not
/// there to take them.
pub fn reply(handle: u64, words: [u64; MESSAGE_WORDS]) -> BlockingResult {
    let server = scheduler::current();
    let reply = or_return_error!(connection_named(&server, handle, ConnectionSide::Server));
    or_return_error!(transfer::check_send(&server, Check::Ends));
    let faulted = reply.faulted.lock().take();
    if let Some((thread, sequence)) = faulted {
        reply.state.set(ReplyState::Answered);
        close_connection(&server, handle, ConnectionSide::Server);
        if words[0] == keeper::RESUME
            && thread
                .fault_sequence
                .load(core::sync::atomic::Ordering::Relaxed)
                == sequence
            && matches!(thread.run_state(), RunState::Faulted(_) | RunState::Stopped)
        {
            crate::trap::enter_answered_page(&thread);
            scheduler::make_ready_next(thread);
        }
        return Ok(Ok(()));
    }
    if !matches!(reply.state.get(), ReplyState::Pending) {
        // The request's bytes are not all received yet.
        return Ok(Err(Error::InvalidState));
    }
    if reply
        .client_gone
        .load(core::sync::atomic::Ordering::Relaxed)
    {
        // Nobody would take the answer.
        reply.state.set(ReplyState::Abandoned);
        close_connection(&server, handle, ConnectionSide::Server);
        return Ok(Err(Error::PeerGone));
    }
    let client = reply.waiter.take();
    if let Some(client) = client {
        client.waiting_in.set(None);
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
        Some(or_return_error!(
            server.space.transferable(Handle::from_raw(transfer.handle))
        ))
    } else {
        None
    };
    server.registers.update(|frame| frame.rbx = 0);
    reply.keep_answer(words, handle_sent);
    close_connection(&server, handle, ConnectionSide::Server);
    Ok(Ok(()))
}

/// `IpcReplyWait`: the reply, then the call becomes `IpcWait` on the set.
pub fn reply_wait(registers: &SavedRegisters, arguments: [u64; 6]) -> BlockingResult {
    let words = [arguments[1], arguments[2], arguments[3], arguments[4]];
    // A client that has gone away does not stop the server from serving the next one.
    // (A reply that waits for its client unwinds with `Restart`; the client completes it
    // through the registers.)
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
    let set = or_return_error!(object(set, Rights::RECEIVE, KernelObject::to_port_set));
    let server = scheduler::current();
    or_return_error!(transfer::check_receive(&server, Check::Ends));
    while let Some((port, caller)) = set.take_caller() {
        // It waited in this port's queue, and leaves it now.
        caller.thread.waiting_in.set(None);
        if let Some(report) = caller.fault {
            return match open_fault(&caller.thread, report, &server, &port) {
                Ok(results) => {
                    registers.complete_system_call(0, &results);
                    Ok(Ok(()))
                }
                Err(error) => {
                    // Neither space can pay for the request: the fault stays first in line,
                    // and the keeper hears why it cannot have it.
                    port.enqueue(caller, true);
                    Ok(Err(error))
                }
            };
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
    set.servers.push_back(server.clone());
    let queue = set.wait_queue();
    drop(set);
    block_at_restart_point(server, queue)
}

/// `IpcReceive` (`IpcWait`'s stage while a request's bytes are moving): finish receiving
/// them.
pub fn receive(registers: &SavedRegisters, handle: u64) -> BlockingResult {
    receive_request_bytes(registers, handle, false)
}

/// `IpcReceive` and `IpcReceiveMore`: takes the request's bytes the client has for this
/// server's room, waiting for the client if it is not there. A request all in completes the
/// call at once; a client gone fails it with `PeerGone`, before anything else for
/// `IpcReceiveMore` (`more`), only while bytes are missing for `IpcReceive` (whose wait has
/// its request whole, whatever becomes of the client).
fn receive_request_bytes(registers: &SavedRegisters, handle: u64, more: bool) -> BlockingResult {
    let server = scheduler::current();
    let reply = or_return_error!(connection_named(&server, handle, ConnectionSide::Server));
    or_return_error!(transfer::check_receive(&server, Check::Bounds));
    let client_gone = reply
        .client_gone
        .load(core::sync::atomic::Ordering::Relaxed);
    let complete = !matches!(reply.state.get(), ReplyState::Request);
    if client_gone && (more || !complete) {
        close_connection(&server, handle, ConnectionSide::Server);
        return Ok(Err(Error::PeerGone));
    }
    if complete {
        registers.complete_system_call(0, &[]);
        return Ok(Ok(()));
    }
    let client = reply.waiter.take();
    let Some(client) = client else {
        return wait_for_peer(&reply, server, &reply.server);
    };
    client.waiting_in.set(None);
    pull_request(registers, reply, client, server)
}

/// `IpcSend`: words and a handle to a waiting server, at most once.
pub fn send(port: u64, words: [u64; MESSAGE_WORDS]) -> Result<(), Error> {
    let port = object(port, Rights::SEND, KernelObject::to_port)?;
    let sender = scheduler::current();
    let handle = sender.registers.transfer().handle;
    if handle != 0 {
        sender.space.transferable(Handle::from_raw(handle))?;
    }
    let set = port.set.lock().clone().ok_or(Error::NoReceiver)?;
    let server = set.servers.pop_front().ok_or(Error::NoReceiver)?;
    server.registers.update(|frame| frame.rbx = 0);
    if let Err(error) = transfer::move_handle(&sender, &server) {
        set.servers.push_front(server);
        return Err(error);
    }
    server.waiting_in.set(None);
    model::complete_blocked(&server, 0, &server_results(Handle::NONE, words, &port));
    Ok(())
}

/// Opens the request a keeper receives for `thread`'s exception: the server side of a reply
/// object whose answer may resume the thread, which the keeper's thread holds, and for a
/// thread's own keeper a handle to the thread (a region's keeper gets none: see
/// `FaultReport::region_address`). On error nothing has changed.
fn open_fault(
    thread: &Arc<Thread>,
    report: FaultReport,
    server: &Thread,
    port: &Port,
) -> Result<[u64; 6], Error> {
    // The faulting thread's own reply object serves, as for its calls (it is not in one:
    // or else it is in use, and the thread's space pays for another). A space out of quota
    // still gets its faults through: the keeper's space pays for the request then.
    let reply = Reply::for_client(thread, ReplyState::Pending, false)
        .or_else(|_| Reply::new(ReplyState::Pending, Some(&server.space)))?;
    let thread_rights = Rights::READ_STATE | Rights::WRITE_STATE | Rights::CONTROL;
    let thread_handle = if report.region_address.is_some() {
        Handle::NONE
    } else {
        server
            .space
            .insert_handle(KernelObject::Thread(thread.clone()), thread_rights)?
    };
    let sequence = thread
        .fault_sequence
        .load(core::sync::atomic::Ordering::Relaxed);
    *reply.faulted.lock() = Some((thread.clone(), sequence));
    hold_connection(server, ConnectionSide::Server, reply);
    // A fault carries no handle beyond the one to the thread, which travels in the words.
    server.registers.update(|frame| frame.rbx = 0);
    let message = FaultMessage {
        vector: report.vector.into(),
        error_code: report.error_code.into(),
        address: report.region_address.unwrap_or(report.address),
        rip: report.rip,
        thread: thread_handle.raw(),
    };
    Ok(server_results(Handle::CONNECTION, message.to_words(), port))
}

/// Sends a thread's CPU exception to its keeper: straight to a server waiting on the keeper's
/// set, or into the port's queue. The thread is already stopped as faulted. Whether the
/// keeper took the processor (the fast path: the faulted thread was running).
pub fn deliver_fault(thread: &Arc<Thread>, report: FaultReport, keeper: Arc<Port>) -> bool {
    if scheduler::is_current(thread) {
        // Before a hand-over to the keeper, on the faulting thread's own stack.
        scheduler::release_left_behind();
    }
    let server = keeper
        .set
        .lock()
        .as_ref()
        .and_then(|set| set.servers.pop_front());
    if let Some(server) = server {
        server.waiting_in.set(None);
        match open_fault(thread, report, &server, &keeper) {
            Ok(results) if super::fast_path::may_take_over_from_faulted(thread, &server) => {
                model::complete_at_restart_point(&server, 0, &results);
                scheduler::hand_over_to(&server);
                return true;
            }
            Ok(results) => model::complete_blocked_handing_over(&server, 0, &results),
            Err(error) => {
                // Neither space can pay for the request: the fault waits first in the port's
                // queue, and the keeper's wait ends with the reason (as a wait that finds it
                // there does).
                let caller = Caller {
                    thread: thread.clone(),
                    fault: Some(report),
                };
                keeper.enqueue(caller, true);
                model::complete_blocked(&server, error.code(), &[]);
            }
        }
        return false;
    }
    let caller = Caller {
        thread: thread.clone(),
        fault: Some(report),
    };
    keeper.enqueue(caller, false);
    false
}

/// `IpcDetach`: moves the connection the caller holds on a side into a handle of its space.
pub fn detach(side: u64) -> Result<u64, Error> {
    let side = ConnectionSide::from_raw(side).ok_or(Error::InvalidArgument)?;
    let thread = scheduler::current();
    let reply = thread
        .connection(side)
        .cloned()
        .ok_or(Error::InvalidState)?;
    let object = match side {
        ConnectionSide::Client => KernelObject::ReplyReceiver(reply),
        ConnectionSide::Server => KernelObject::ReplySender(reply),
    };
    let handle = thread.space.insert_handle(object, Rights::RECEIVE)?;
    // The handle holds the side now: the thread letting go does not close it.
    crate::ipc::release_connection(&thread, side);
    Ok(handle.raw())
}
