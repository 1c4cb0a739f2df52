//! Blocking in a wait queue of a kernel object (a port, a port set, a reply, a mutex, a
//! condition variable), and leaving it when the thread is stopped.

use crate::ipc::{Port, PortSet, Reply};
use crate::model::{self, Restart, Wake};
use crate::scheduler;
use crate::synchronization::{Condition, KernelMutex};
use crate::thread::{RunState, Thread};
use abi::Error;
use alloc::collections::VecDeque;
use alloc::sync::Arc;

/// The outcome of a call that may block: `Err(Restart)` from a blocking point; `Ok(Ok(()))`
/// when the call (or a peer) wrote its results into the registers; `Ok(Err(error))` to return
/// an error.
pub type BlockingResult = Result<Result<(), Error>, Restart>;

/// The wait queue a blocked thread is in.
#[derive(Clone)]
pub enum WaitQueue {
    /// A client waiting for a server to take its request.
    Port(Arc<Port>),
    /// A server waiting for a request.
    PortSet(Arc<PortSet>),
    /// A client waiting for its reply.
    Reply(Arc<Reply>),
    /// A thread waiting for a mutex.
    Mutex(Arc<KernelMutex>),
    /// A thread waiting for a condition variable.
    Condition(Arc<Condition>),
}

/// Blocks the current thread, which the caller has put in `queue`'s list of waiters; what woke
/// it decides whether its registers already hold the results or the call is to be re-issued.
pub fn block_in(thread: Arc<Thread>, queue: WaitQueue) -> BlockingResult {
    *thread.waiting_in.lock() = Some(queue);
    thread.set_run_state(RunState::Waiting);
    scheduler::request_switch();
    drop(thread);
    match model::block()? {
        Wake::Completed => Ok(Ok(())),
        Wake::NextStage | Wake::Look => Err(Restart),
    }
}

/// Takes a thread out of the wait queue it is blocked in (to stop it); whether it was in one.
pub fn withdraw(thread: &Arc<Thread>) -> bool {
    let Some(queue) = thread.waiting_in.lock().take() else {
        return false;
    };
    let remove =
        |waiters: &mut VecDeque<Arc<Thread>>| waiters.retain(|other| !Arc::ptr_eq(other, thread));
    match queue {
        WaitQueue::Port(port) => port
            .callers
            .lock()
            .retain(|caller| !Arc::ptr_eq(&caller.thread, thread)),
        WaitQueue::PortSet(set) => remove(&mut set.servers.lock()),
        WaitQueue::Reply(reply) => {
            reply.waiter.lock().take();
        }
        WaitQueue::Mutex(mutex) => remove(&mut mutex.waiters.lock()),
        WaitQueue::Condition(condition) => remove(&mut condition.waiters.lock()),
    }
    true
}
