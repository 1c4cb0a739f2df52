//! The moving parts of a connection between a client and the server that took its request:
//! opening it, moving a request's and a reply's handle and bytes between the two threads'
//! registers and spaces, which side waits for the other in the reply object, and how a
//! transfer stops (a preemption point, a hole a keeper must fill, a fault) with both threads
//! at restart points. The calls themselves are in `super::ipc`.

use super::object_in;
use crate::arch::frame::SavedRegisters;
use crate::ipc::{Port, Reply, ReplyState, ThreadSlot, hold_connection, release_connection};
use crate::model::{self, Restart};
use crate::object::KernelObject;
use crate::scheduler;
use crate::thread::{FaultReport, Thread};
use crate::transfer::{self, Interruption};
use crate::wait::{BlockingResult, WaitQueue, block_at_restart_point};
use abi::handle::ConnectionSide;
use abi::registers::MESSAGE_WORDS;
use abi::{Call, Error, Handle, Rights};
use alloc::sync::Arc;
use core::sync::atomic::Ordering::Relaxed;

/// The four words a client's registers carry.
pub(super) fn message_of(thread: &Thread) -> [u64; MESSAGE_WORDS] {
    thread.registers.message()
}

/// The connection `raw` names for `thread` on `side`: the one the thread holds
/// (`Handle::CONNECTION`; `PeerGone` if it holds none, as when its state was moved without
/// it), or a handle of its space with RECEIVE.
pub(super) fn connection_named(
    thread: &Thread,
    raw: u64,
    side: ConnectionSide,
) -> Result<Arc<Reply>, Error> {
    if raw == Handle::CONNECTION.raw() {
        return thread.connection(side).cloned().ok_or(Error::PeerGone);
    }
    let convert = match side {
        ConnectionSide::Client => KernelObject::to_reply_receiver,
        ConnectionSide::Server => KernelObject::to_reply_sender,
    };
    object_in(&thread.space, raw, Rights::RECEIVE, convert)
}

/// `thread` closes the connection `raw` names on `side`: lets go of the one it holds, or
/// closes the handle.
pub(super) fn close_connection(thread: &Thread, raw: u64, side: ConnectionSide) {
    if raw == Handle::CONNECTION.raw() {
        release_connection(thread, side);
    } else {
        let _ = thread.space.close_handle(Handle::from_raw(raw));
    }
}

/// `thread` closes the connection its registers name (in `rdi`) on `side`.
pub(super) fn close_named_connection(thread: &Thread, side: ConnectionSide) {
    close_connection(thread, handle_of(thread), side);
}

/// What a server's wait returns for a request or message on `port`.
pub(super) fn server_results(reply: Handle, words: [u64; MESSAGE_WORDS], port: &Port) -> [u64; 6] {
    [
        reply.raw(),
        words[0],
        words[1],
        words[2],
        words[3],
        port.badge,
    ]
}

/// Takes `client`'s request for `server`: opens their connection (each holds its side), moves
/// the handle the request carries, writes the server's results (`Handle::CONNECTION`, the
/// words, the badge) with
/// its call at the `IpcReceive` stage, and moves the client's call to its next stage:
/// `IpcAwaitReply` for `IpcCall`, `IpcSendMore` for `IpcConnect` (a streaming connection).
/// The request's bytes are still to move. On error nothing has changed.
pub(super) fn connect(client: &Thread, server: &Thread, port: &Port) -> Result<Arc<Reply>, Error> {
    let streaming = client.registers.system_call().0 == Call::IpcConnect.number();
    let bytes = client.registers.transfer().send_length != 0
        && server.registers.transfer().receive_length != 0;
    let state = if bytes || streaming {
        ReplyState::Request
    } else {
        ReplyState::Pending
    };
    let reply = Reply::for_client(client, state, streaming)?;
    server.registers.update(|frame| frame.rbx = 0);
    transfer::move_handle(client, server)?;
    hold_connection(client, ConnectionSide::Client, reply.clone());
    hold_connection(server, ConnectionSide::Server, reply.clone());
    let results = server_results(Handle::CONNECTION, message_of(client), port);
    server.registers.update(|frame| {
        frame.rax = Call::IpcReceive.number();
        [
            frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9,
        ] = results;
    });
    let next_stage = if streaming {
        Call::IpcSendMore
    } else {
        Call::IpcAwaitReply
    };
    client.registers.update(|frame| {
        frame.rax = next_stage.number();
        frame.rdi = Handle::CONNECTION.raw();
    });
    Ok(reply)
}

/// Puts `thread`, which is not running, back in one of a connection's waiting slots.
pub(super) fn wait_on(reply: &Arc<Reply>, slot: &ThreadSlot, thread: Arc<Thread>) {
    thread
        .waiting_in
        .set(Some(WaitQueue::Reply(Arc::downgrade(reply))));
    slot.set(Some(thread));
}

/// Copies bytes from `sender` to `receiver` (one running, the other `blocked` and out of every
/// queue) through preemption points: at each, the blocked one goes back to `slot`, where
/// others can find it (to stop it, say), while the operation is preempted; when it goes on in
/// place (full preemption), it takes the blocked one back, if it still waits there.
fn copy_through_preemption(
    reply: &Arc<Reply>,
    sender: &Arc<Thread>,
    receiver: &Arc<Thread>,
    blocked: &Arc<Thread>,
    slot: &ThreadSlot,
) -> Result<Result<(), Interruption>, Stop> {
    loop {
        match transfer::copy_bytes(sender, receiver) {
            Err(Interruption::Preempted) => {
                wait_on(reply, slot, blocked.clone());
                model::preempt_here().map_err(|Restart| Stop::Restart)?;
                // While this thread was away, either side may have closed the connection, or
                // the blocked one moved: the stage then starts over from the registers, and
                // finds out.
                if reply.client_gone.load(Relaxed)
                    || matches!(reply.state.get(), ReplyState::Abandoned)
                {
                    return Err(Stop::Restart);
                }
                let occupant = slot.take();
                if !occupant
                    .as_ref()
                    .is_some_and(|other| Arc::ptr_eq(other, blocked))
                {
                    slot.set(occupant);
                    return Err(Stop::Restart);
                }
                blocked.waiting_in.set(None);
            }
            outcome => return Ok(outcome),
        }
    }
}

/// Moves the request's bytes from `client` to `server`, one of which is the running thread
/// and the other blocked and taken out of every queue, until the client's chunk is through or
/// the server's room is full: `Ok` with whether the chunk is through. The request phase ends
/// when a client that no longer streams has nothing more to send (or, for a plain call, when
/// the server's room is full: the rest is not sent). Otherwise [`Stop`] says what the running
/// side does: a preemption, or a hole a keeper fills, puts the blocked one back in its slot
/// and stops the running one for a re-issue; a fault with no keeper fails the call of the side
/// whose memory it is.
pub(super) fn move_request(
    reply: &Arc<Reply>,
    client: &Arc<Thread>,
    server: &Arc<Thread>,
    client_is_running: bool,
) -> Result<bool, Stop> {
    let (blocked, slot) = if client_is_running {
        (server, &reply.server)
    } else {
        (client, &reply.waiter)
    };
    match copy_through_preemption(reply, client, server, blocked, slot)? {
        Ok(()) => {
            let chunk_done = client.registers.transfer().send_length == 0;
            let streaming = reply.streaming.load(Relaxed);
            // Only the request phase moves on: a connection closed meanwhile stays closed.
            if matches!(reply.state.get(), ReplyState::Request)
                && !reply.open.load(Relaxed)
                && (chunk_done || !streaming)
            {
                reply.state.set(ReplyState::Pending);
            }
            Ok(chunk_done)
        }
        Err(interruption) => {
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
pub(super) fn keeper_for(
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
pub(super) fn stop_running_for_keeper(keeper: Arc<Port>, address: u64, write: bool) {
    // Page-fault error code bits (Intel SDM vol. 3A section 4.7): a user-mode access, a write.
    let error_code = 1 << 2 | if write { 1 << 1 } else { 0 };
    let thread = scheduler::current();
    let report = FaultReport {
        vector: 14,
        error_code,
        in_place: false,
        rip: thread.registers.instruction_pointer() - abi::registers::SYSCALL_INSTRUCTION_LENGTH,
        address,
        region_address: Some(address),
    };
    crate::trap::stop_for_keeper(&thread, report, keeper);
}

/// Why the running thread's part of a transfer stopped.
pub(super) enum Stop {
    /// Preempted: re-issue the call from the registers.
    Restart,
    /// Its own memory failed: the call returns this error.
    Fail(Error),
    /// The peer went away from the transfer: wait for it.
    Wait,
}

/// The client's results for a reply of `words`: 0 where its connection was named (the
/// connection is closed), and the words.
pub(super) fn reply_results(words: [u64; MESSAGE_WORDS]) -> [u64; 5] {
    [0, words[0], words[1], words[2], words[3]]
}

/// The connection handle in a thread's `rdi` (its call is at a stage that names one).
pub(super) fn handle_of(thread: &Thread) -> u64 {
    thread.registers.first_argument()
}

/// Puts the handle an answer left in the reply object (if any) into the client's space, and
/// its value into the client's `rbx`.
pub(super) fn take_answer(
    client: &Thread,
    handle: Option<(KernelObject, Rights)>,
) -> Result<(), Error> {
    let received = match handle {
        Some((object, rights)) => client.space.insert_handle(object, rights)?.raw(),
        None => 0,
    };
    client.registers.update(|frame| frame.rbx = received);
    Ok(())
}

/// Blocks the running thread in `slot`, one of `reply`'s: the client's, or the server's.
pub(super) fn wait_for_peer(
    reply: &Arc<Reply>,
    thread: Arc<Thread>,
    slot: &ThreadSlot,
) -> BlockingResult {
    let occupant = slot.take();
    if occupant.is_some() {
        // Another thread already waits here (a copy of this one's state).
        slot.set(occupant);
        return Ok(Err(Error::InvalidState));
    }
    slot.set(Some(thread.clone()));
    let queue = WaitQueue::Reply(Arc::downgrade(reply));
    block_at_restart_point(thread, queue)
}

/// Moves the reply from `server` to `client` (one running, the other blocked and out of every
/// queue): its handle, its bytes, then its words, which complete the client's call and the
/// server's reply.
pub(super) fn move_reply(
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
    match copy_through_preemption(reply, server, client, blocked, slot)? {
        Ok(()) => {}
        // (Preemption is handled while copying; should it come back, re-issue the stage.)
        Err(Interruption::Preempted) => return Err(Stop::Restart),
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
    // The answer goes straight into the client's registers.
    reply.state.set(ReplyState::Answered);
    close_named_connection(client, ConnectionSide::Client);
    if server_is_running {
        close_named_connection(server, ConnectionSide::Server);
        model::complete_blocked_handing_over(client, 0, &reply_results(words));
    } else {
        client
            .registers
            .complete_system_call(0, &reply_results(words));
        release_server(server, Ok(()));
    }
    Ok(())
}

/// Ends the call of a server blocked on a connection (in `IpcReceive`, `IpcReply` or
/// `IpcReplyWait`) with an outcome; `IpcReplyWait` that answered (or whose client vanished:
/// that does not stop a server) moves on to its `IpcWait` stage instead. The connection is
/// closed when the answer went out or the client is gone; after any other failure it stays,
/// so that the server can try again.
pub fn release_server(server: &Arc<Thread>, outcome: Result<(), Error>) {
    server.waiting_in.set(None);
    let (call, [handle, ..]) = server.registers.system_call();
    let answering = call != Call::IpcReceive.number();
    let over = matches!(outcome, Err(Error::PeerGone)) || (answering && outcome.is_ok());
    if over {
        close_connection(server, handle, ConnectionSide::Server);
    }
    if over && call == Call::IpcReplyWait.number() {
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
    let Some(client) = reply.waiter.take() else {
        return;
    };
    client.waiting_in.set(None);
    let outcome = match reply.take_answer() {
        Some((words, handle)) => take_answer(&client, handle).map(|()| reply_results(words)),
        None => Err(Error::PeerGone),
    };
    close_named_connection(&client, ConnectionSide::Client);
    match outcome {
        Ok(results) => model::complete_blocked(&client, 0, &results),
        Err(error) => model::complete_blocked(&client, error.code(), &[]),
    }
}

/// The running server takes a request's bytes from `client` (blocked, out of every queue)
/// until the client's chunk is through or its own room is full, and completes its own call.
/// The client's `IpcSendMore` (or `IpcConnect`) completes with its chunk; otherwise it goes on
/// waiting, for more room or for its reply, without having to run first. A pause or a
/// keeper's fault re-issues the server's stage.
pub(super) fn pull_request(
    registers: &SavedRegisters,
    reply: Arc<Reply>,
    client: Arc<Thread>,
    server: Arc<Thread>,
) -> BlockingResult {
    let mut chunk_done = false;
    if matches!(reply.state.get(), ReplyState::Request) {
        match move_request(&reply, &client, &server, false) {
            Ok(done) => chunk_done = done,
            Err(Stop::Restart) => return Err(Restart),
            Err(Stop::Fail(error)) => return Ok(Err(error)),
            Err(Stop::Wait) => return wait_for_peer(&reply, server, &reply.server),
        }
    }
    let sending = client.registers.system_call().0 == Call::IpcSendMore.number();
    if chunk_done && sending {
        model::complete_blocked(&client, 0, &[]);
    } else {
        wait_on(&reply, &reply.waiter, client);
    }
    registers.complete_system_call(0, &[]);
    Ok(Ok(()))
}
