//! IPC objects: ports (receive points with a badge), port sets (where servers wait), and reply
//! objects (one per request a server has taken, named by a handle on each side).
//!
//! A request's whole state is always in objects and registers, never hidden in a thread: a
//! client waiting for a server sits in the port's queue with its words in its own registers; a
//! client whose request was taken waits on a reply object named by a handle in its `rdi`; a
//! server holds the other side of that reply object as a handle. Any of them can be stopped,
//! moved into a new thread and resumed without losing or duplicating a message.

use crate::space::Space;
use crate::thread::{FaultReport, Thread};
use abi::registers::MESSAGE_WORDS;
use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use spin::Mutex;

/// What a port or port set costs its creator's quota.
pub const PORT_COST: u64 = crate::memory::heap_cost(if size_of::<Port>() > size_of::<PortSet>() {
    size_of::<Port>()
} else {
    size_of::<PortSet>()
});

/// A receive point.
pub struct Port {
    /// The word receivers see with each message to this port.
    pub badge: u64,
    /// The set servers wait on for this port, once it is in one.
    pub set: Mutex<Option<Arc<PortSet>>>,
    /// Requests waiting for a server, oldest first.
    pub callers: Mutex<VecDeque<Caller>>,
    payer: Weak<Space>,
}

/// A request waiting in a port's queue: a client's call (its words in its registers), or a
/// thread's CPU exception sent to its keeper.
pub struct Caller {
    /// The client, or the thread that faulted.
    pub thread: Arc<Thread>,
    /// The exception, for a fault sent to a keeper.
    pub fault: Option<FaultReport>,
}

/// A group of ports that server threads wait on together.
pub struct PortSet {
    /// The ports in the set.
    pub ports: Mutex<Vec<Weak<Port>>>,
    /// Servers waiting for a request, longest-waiting first.
    pub servers: Mutex<VecDeque<Arc<Thread>>>,
    payer: Weak<Space>,
}

/// Where a reply stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyState {
    /// The server has not answered yet.
    Pending,
    /// The server answered with these words.
    Answered([u64; MESSAGE_WORDS]),
    /// The server dropped the request without answering.
    Abandoned,
}

/// The rendezvous of one request and its reply.
pub struct Reply {
    /// Where the reply stands.
    pub state: Mutex<ReplyState>,
    /// The client blocked waiting for it, if it is.
    pub waiter: Mutex<Option<Arc<Thread>>>,
    /// For a fault sent to a keeper: the thread that faulted, and its fault sequence number
    /// then; a `RESUME` answer lets it run on if it is still stopped by that fault.
    pub faulted: Mutex<Option<(Arc<Thread>, u64)>>,
}

/// The server's side of a reply object. When the last handle to it goes without an answer
/// (closed, or the server's space destroyed), the client learns `PeerGone`.
pub struct ReplySender(pub Arc<Reply>);

impl Port {
    /// A port charged to `payer`'s quota.
    pub fn new(payer: &Arc<Space>, badge: u64) -> Result<Arc<Port>, abi::Error> {
        payer.charge(PORT_COST)?;
        Ok(Arc::new(Port {
            badge,
            set: Mutex::new(None),
            callers: Mutex::new(VecDeque::new()),
            payer: Arc::downgrade(payer),
        }))
    }
}

impl Drop for Port {
    /// A destroyed port fails the calls waiting in its queue with `PeerGone`; a fault waiting
    /// for a keeper that is gone leaves its thread stopped.
    fn drop(&mut self) {
        let callers: alloc::vec::Vec<Caller> = self.callers.get_mut().drain(..).collect();
        let (faults, calls): (alloc::vec::Vec<_>, alloc::vec::Vec<_>) = callers
            .into_iter()
            .partition(|caller| caller.fault.is_some());
        for fault in faults {
            *fault.thread.waiting_in.lock() = None;
        }
        crate::wait::fail_waiters(calls.into_iter().map(|caller| caller.thread));
        if let Some(payer) = self.payer.upgrade() {
            payer.release(PORT_COST);
        }
    }
}

impl PortSet {
    /// An empty port set charged to `payer`'s quota.
    pub fn new(payer: &Arc<Space>) -> Result<Arc<PortSet>, abi::Error> {
        payer.charge(PORT_COST)?;
        Ok(Arc::new(PortSet {
            ports: Mutex::new(Vec::new()),
            servers: Mutex::new(VecDeque::new()),
            payer: Arc::downgrade(payer),
        }))
    }

    /// The oldest request waiting on any port of the set, taken out of its queue, with the
    /// port it waited on.
    pub fn take_caller(&self) -> Option<(Arc<Port>, Caller)> {
        let ports = self.ports.lock();
        ports.iter().filter_map(Weak::upgrade).find_map(|port| {
            let caller = port.callers.lock().pop_front()?;
            Some((port, caller))
        })
    }
}

impl Drop for PortSet {
    /// A destroyed port set fails the waits of the servers waiting on it with `PeerGone`.
    fn drop(&mut self) {
        crate::wait::fail_waiters(
            self.servers
                .get_mut()
                .drain(..)
                .collect::<alloc::vec::Vec<_>>(),
        );
        if let Some(payer) = self.payer.upgrade() {
            payer.release(PORT_COST);
        }
    }
}

impl Reply {
    /// A reply nobody has answered.
    pub fn new() -> Arc<Reply> {
        Arc::new(Reply {
            state: Mutex::new(ReplyState::Pending),
            waiter: Mutex::new(None),
            faulted: Mutex::new(None),
        })
    }
}

impl Drop for ReplySender {
    fn drop(&mut self) {
        // A fault left unanswered leaves its thread stopped.
        self.0.faulted.lock().take();
        let mut state = self.0.state.lock();
        if *state == ReplyState::Pending {
            *state = ReplyState::Abandoned;
            drop(state);
            crate::syscall::ipc::deliver_reply(&self.0);
        }
    }
}
