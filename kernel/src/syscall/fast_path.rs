//! The IPC fast path (DESIGN.md section 10: "the fast path must stay a fast path"): a call and
//! a reply-and-wait that carry only the four words in registers, to a peer that waits at its
//! restart point, hand the processor straight to that peer: its registers get the message,
//! the caller's registers become its own restart point (the stage it waits in), and the CPU
//! returns to user mode as the peer, without a trip through the ready queues or a switch of
//! kernel stacks.
//!
//! Each shortcut has exactly the outcome of the general path in `super::ipc` (the same
//! connection objects and handles, the same registers on both sides). It only runs when
//! nothing could make a difference: no bytes or handles to move, no thread that outranks the
//! peer, no stop requested. When a condition fails it has changed nothing, and the general
//! path runs instead.

use super::connection::{handle_of, reply_results};
use super::object_in;
use crate::arch::frame::SavedRegisters;
use crate::ipc::{Reply, ReplyState};
use crate::model;
use crate::object::KernelObject;
use crate::scheduler;
use crate::thread::{RunState, Thread};
use crate::wait::WaitQueue;
use abi::handle::ConnectionSide;
use abi::keeper;
use abi::{Call, Handle, Rights};
use alloc::sync::Arc;
use core::sync::atomic::Ordering::Relaxed;

/// Whether the registers of the running thread carry only words: no handle, no bytes to send
/// or room to receive.
fn words_only(registers: &SavedRegisters) -> bool {
    let transfer = registers.transfer();
    transfer.handle == 0 && transfer.send_length == 0 && transfer.receive_length == 0
}

/// Whether the running thread may hand the processor to `peer` directly: it would run next
/// anyway (its priority is at least the running thread's, and nothing else is due), and it
/// waits with nothing on a kernel stack.
fn may_hand_over(current: &Thread, peer: &Thread) -> bool {
    peer.priority() >= current.priority()
        && model::blocked_at_restart_point(peer)
        && !current.stop_requested.load(Relaxed)
        && !scheduler::switch_pending()
}

/// Whether the keeper `server`, just given the fault of `faulted`, may have the processor
/// straight away: `faulted` is the running thread (the fault is its own, not one handed on
/// from a keeper that went away), the keeper waits at its restart point, and no ready thread
/// outranks it.
pub fn may_take_over_from_faulted(faulted: &Arc<Thread>, server: &Thread) -> bool {
    scheduler::is_current(faulted)
        && model::blocked_at_restart_point(server)
        && scheduler::nothing_outranks(server)
        && !scheduler::switch_pending()
}

/// Blocks the running thread at its restart point: its registers already name the stage it
/// waits in, and its `rip` goes back to the `syscall` instruction (as the system-call entry
/// does for a call that unwinds with `Restart`).
fn wait_at_restart_point(thread: &Arc<Thread>, queue: WaitQueue) {
    thread.registers.point_back_at_syscall();
    crate::wait::wait_at_restart_point(thread, queue);
}

/// `IpcCall` with words only, to a port whose set has a server waiting at its restart point:
/// the server gets the request, the client waits for the reply, and the processor goes to the
/// server. Whether it did.
// Kept out of the system-call entry (as is `reply_wait`): inlined, it would make the entry's
// prologue dearer for every other call (measured: the null call went from 84 to 90).
#[inline(never)]
pub fn call(registers: &SavedRegisters) -> bool {
    let (number, [port, ..]) = registers.system_call();
    if number != Call::IpcCall.number() || !words_only(registers) {
        return false;
    }
    let client = scheduler::current_releasing_left_behind();
    // Any error is left to the general path, which reports it.
    let Ok(port) = object_in(&client.space, port, Rights::SEND, KernelObject::to_port) else {
        return false;
    };
    // The port's set is looked at in place (nothing below takes the port's lock).
    let membership = port.set.lock();
    let Some(set) = membership.as_ref() else {
        return false;
    };
    // Taken from the set's queue at once; put back first in line if the fast path declines.
    let Some(server) = set.servers.pop_front() else {
        return false;
    };
    // A connection either thread still holds would close when the new one replaces it, and
    // closing one can wake threads and ask for a switch: the general path's business (as is
    // a client's first call, which makes the reply object it then keeps).
    let free = client.client_connection.is_none() && server.server_connection.is_none();
    let reply = if free && may_hand_over(&client, &server) {
        Reply::renewed_for_words(&client)
    } else {
        None
    };
    let Some(reply) = reply else {
        set.servers.push_front(server);
        return false;
    };
    drop(membership);
    // The connection opens as `connect` opens it for words only: each thread holds its side,
    // the server has the request (`Handle::CONNECTION`, the words, the badge, no handle), and
    // the client waits in `IpcAwaitReply` on the connection.
    client.client_connection.set(Some(reply.clone()));
    server.server_connection.set(Some(reply.clone()));
    let [first, second, third, fourth] = registers.message();
    let request = [
        Handle::CONNECTION.raw(),
        first,
        second,
        third,
        fourth,
        port.badge,
    ];
    server.registers.update(|frame| frame.rbx = 0);
    model::complete_at_restart_point(&server, 0, &request);
    server.waiting_in.set(None);
    registers.update(|frame| {
        frame.rax = Call::IpcAwaitReply.number();
        frame.rdi = Handle::CONNECTION.raw();
    });
    wait_at_restart_point(&client, WaitQueue::OwnReply);
    reply.waiter.set(Some(client));
    scheduler::hand_over_to(&server);
    true
}

/// Who a fast `IpcReplyWait` answers.
enum Answered {
    /// A client waiting for its reply.
    Client(Arc<Thread>),
    /// A thread stopped by a fault, which a `RESUME` answer lets retry.
    Faulted(Arc<Thread>),
}

/// `IpcReplyWait` with words only, answering a client that waits at its restart point (or
/// resuming, with `RESUME`, a thread stopped by a fault), on a port set with no request
/// queued: the client gets the answer (the faulted thread retries), the server waits on the
/// set, and the processor goes to the one answered. Whether it did.
#[inline(never)]
pub fn reply_wait(registers: &SavedRegisters) -> bool {
    let (_, [connection, ..]) = registers.system_call();
    // A connection held in a handle is the general path's.
    if connection != Handle::CONNECTION.raw() || !words_only(registers) {
        return false;
    }
    let server = scheduler::current_releasing_left_behind();
    // The server's side is taken out of its thread for the look (nothing below looks there),
    // and put back should the fast path decline.
    let Some(reply) = server.server_connection.take() else {
        return false;
    };
    let answered = answer_and_wait(registers, &server, &reply);
    if !answered {
        server.server_connection.set(Some(reply));
    }
    // Otherwise the server's reference goes here, after the hand-over: were it the last one,
    // the reply object's end would only give its quota back (it holds no thread, answer or
    // fault any more), which asks for no switch.
    answered
}

/// [`reply_wait`] once the server's connection is in hand: whether it answered.
#[inline(always)]
fn answer_and_wait(registers: &SavedRegisters, server: &Arc<Thread>, reply: &Reply) -> bool {
    let (_, [_, first, second, third, fourth, set_handle]) = registers.system_call();
    let Ok(set) = object_in(
        &server.space,
        set_handle,
        Rights::RECEIVE,
        KernelObject::to_port_set,
    ) else {
        return false;
    };
    // Words only: no receive buffer to check (`words_only`).
    if !set.nothing_queued() {
        return false;
    }
    let words = [first, second, third, fourth];
    let Some(answered) = answerable(server, reply, words) else {
        return false;
    };
    // From here on the fast path does not decline. The answer goes straight into the
    // registers of the one answered, and both sides of the connection close: the reply
    // object's state is never read again (a new connection resets it), so it is left as it is.
    let next = match answered {
        Answered::Client(client) => {
            client.waiting_in.set(None);
            // Both sides of the connection close. What closing them would do is done: the
            // client has its answer and waits no more, the server waits on nothing of it; the
            // reply object goes back to being the client's spare for its next call.
            reply.client_gone.store(true, Relaxed);
            drop(client.client_connection.take());
            reply.forget(ConnectionSide::Client);
            model::complete_at_restart_point(&client, 0, &reply_results(words));
            client
        }
        // The answer counts once: the fault's record goes with it.
        Answered::Faulted(thread) => {
            reply.faulted.lock().take();
            crate::trap::enter_answered_page(&thread);
            thread
        }
    };
    // The server's hold goes with the caller's reference, which it took out of the thread.
    reply.forget(ConnectionSide::Server);
    registers.update(|frame| {
        frame.rax = Call::IpcWait.number();
        frame.rdi = set_handle;
    });
    set.servers.push_back(server.clone());
    wait_at_restart_point(server, set.wait_queue());
    scheduler::hand_over_to(&next);
    true
}

/// Who a reply with `words` answers, if the fast path may answer: a plain call's client
/// waiting for the whole request's reply, or a thread still stopped by the fault the reply
/// is for, which `RESUME` lets retry. A client is taken out of the reply's waiting slot (the
/// caller answers it at once).
fn answerable(server: &Thread, reply: &Reply, words: [u64; 4]) -> Option<Answered> {
    // A side a handle also holds (exported with a thread's state, or listed) must stay open
    // after the answer, which only the general path does.
    if !reply.held_once(ConnectionSide::Server) {
        return None;
    }
    if reply.faulted.lock().is_some() {
        return resumable(server, reply, words);
    }
    if !matches!(reply.state.get(), ReplyState::Pending) || reply.client_gone.load(Relaxed) {
        return None;
    }
    let client = reply.waiter.take()?;
    // The client waits on the connection it holds (not on a handle, whose closing is the
    // general path's).
    let holds_it = handle_of(&client) == Handle::CONNECTION.raw()
        && reply.held_once(ConnectionSide::Client)
        && client.client_connection.inspect(|held| {
            held.as_ref()
                .is_some_and(|held| core::ptr::eq(&**held, reply))
        });
    if holds_it && may_hand_over(server, &client) {
        Some(Answered::Client(client))
    } else {
        reply.waiter.set(Some(client));
        None
    }
}

/// [`answerable`] for a reply to a fault: the thread that faulted, if the answer is `RESUME`
/// and it is still stopped by that fault.
#[cold]
fn resumable(server: &Thread, reply: &Reply, words: [u64; 4]) -> Option<Answered> {
    let (thread, sequence) = reply.faulted.lock().clone()?;
    let resumes = words[0] == keeper::RESUME
        && thread.fault_sequence.load(Relaxed) == sequence
        && matches!(thread.run_state(), RunState::Faulted(_));
    (resumes && may_hand_over(server, &thread)).then_some(Answered::Faulted(thread))
}
