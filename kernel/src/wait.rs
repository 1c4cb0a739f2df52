//! Blocking in a wait queue of a kernel object (a port, a port set, a reply, a mutex, a
//! condition variable), and leaving it when the thread is stopped.

use crate::ipc::{Port, PortSet, Reply};
use crate::model::{self, Restart, Wake};
use crate::scheduler;
use crate::synchronization::{Condition, KernelMutex};
use crate::thread::{RunState, Thread};
use abi::Error;
use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};

/// The outcome of a call that may block: `Err(Restart)` from a blocking point; `Ok(Ok(()))`
/// when the call (or a peer) wrote its results into the registers; `Ok(Err(error))` to return
/// an error.
pub type BlockingResult = Result<Result<(), Error>, Restart>;

/// The value of a `Result<T, Error>` inside a call that may block, or its error returned as the
/// call's outcome (`Ok(Err(error))`).
macro_rules! or_return_error {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(error) => return Ok(Err(error)),
        }
    };
}
pub(crate) use or_return_error;

/// The wait queue a blocked thread is in. The references are weak: a thread waiting on an
/// object does not keep it alive (the object holds the thread in its queue), so an object whose
/// last handle goes is destroyed, and its destruction fails or wakes its waiters.
#[derive(Clone)]
pub enum WaitQueue {
    /// A client waiting for a server to take its request.
    Port(Weak<Port>),
    /// A server waiting for a request.
    PortSet(Weak<PortSet>),
    /// A client waiting for its reply, or a server waiting for its client to move bytes.
    Reply(Weak<Reply>),
    /// A client waiting for its reply on the connection it holds itself
    /// (`Thread::client_connection`, which cannot change while it waits): the IPC fast path's
    /// wait, which needs no reference of its own to the reply object.
    OwnReply,
    /// A thread waiting for a mutex.
    Mutex(Weak<KernelMutex>),
    /// A thread waiting for a condition variable.
    Condition(Weak<Condition>),
}

/// Blocks the current thread, which the caller has put in `queue`'s list of waiters; what woke
/// it decides whether its registers already hold the results or the call is to be re-issued.
pub fn block_in(thread: Arc<Thread>, queue: WaitQueue) -> BlockingResult {
    thread.waiting_in.set(Some(queue));
    thread.set_run_state(RunState::Waiting);
    scheduler::request_switch();
    drop(thread);
    match model::block()? {
        Wake::Completed => Ok(Ok(())),
        Wake::NextStage | Wake::Look => Err(Restart),
    }
}

/// Blocks the current thread, which the caller has put in `queue`'s list of waiters, at its
/// restart point: its registers say everything about its call, and a peer completes it or
/// moves it to its next stage through them alone (the IPC waits; `model::block_at_restart_point`).
pub fn block_at_restart_point(thread: Arc<Thread>, queue: WaitQueue) -> BlockingResult {
    wait_at_restart_point(&thread, queue);
    scheduler::request_switch();
    Err(Restart)
}

/// Makes `thread` wait in `queue` (whose list of waiters the caller has put it in) at its
/// restart point, without switching: the caller hands the processor on itself (the fast
/// paths) or unwinds with `Restart` (`block_at_restart_point`).
pub fn wait_at_restart_point(thread: &Thread, queue: WaitQueue) {
    thread.waiting_in.set(Some(queue));
    thread.set_run_state(RunState::Waiting);
    let _ = model::block_at_restart_point(thread);
}

/// Takes a thread out of the wait queue it is blocked in (to stop it); whether it was in one.
pub fn withdraw(thread: &Arc<Thread>) -> bool {
    let Some(queue) = thread.waiting_in.take() else {
        return false;
    };
    let remove =
        |waiters: &mut VecDeque<Arc<Thread>>| waiters.retain(|other| !Arc::ptr_eq(other, thread));
    match queue {
        WaitQueue::Port(port) => {
            if let Some(port) = port.upgrade() {
                port.callers
                    .lock()
                    .retain(|caller| !Arc::ptr_eq(&caller.thread, thread));
            }
        }
        WaitQueue::PortSet(set) => {
            if let Some(set) = set.upgrade() {
                set.servers.remove(thread);
            }
        }
        WaitQueue::Reply(reply) => {
            if let Some(reply) = reply.upgrade() {
                leave_reply(&reply, thread);
            }
        }
        WaitQueue::OwnReply => {
            let reply = thread.client_connection.cloned();
            if let Some(reply) = reply {
                leave_reply(&reply, thread);
            }
        }
        WaitQueue::Mutex(mutex) => {
            if let Some(mutex) = mutex.upgrade() {
                remove(&mut mutex.waiters.lock());
            }
        }
        WaitQueue::Condition(condition) => {
            if let Some(condition) = condition.upgrade() {
                remove(&mut condition.waiters.lock());
            }
        }
    }
    true
}

/// Takes `thread` out of whichever of `reply`'s waiting slots holds it.
fn leave_reply(reply: &Reply, thread: &Arc<Thread>) {
    for slot in [&reply.waiter, &reply.server] {
        let occupant = slot.take();
        if !occupant
            .as_ref()
            .is_some_and(|other| Arc::ptr_eq(other, thread))
        {
            slot.set(occupant);
        }
    }
}

/// Fails the call of every thread left in a destroyed object's queue with `PeerGone`.
pub fn fail_waiters(waiters: impl IntoIterator<Item = Arc<Thread>>) {
    for waiter in waiters {
        waiter.waiting_in.set(None);
        model::complete_blocked(&waiter, Error::PeerGone.code(), &[]);
    }
}
