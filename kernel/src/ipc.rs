//! IPC objects: ports (receive points with a badge), port sets (where servers wait), and reply
//! objects (one per request a server has taken: the connection between client and server).
//!
//! A request's whole state is always in objects and registers: a client waiting for a server
//! sits in the port's queue with its words in its own registers; a client whose request was
//! taken holds the client side of a reply object, the server that took it the server side.
//! A side is held by a thread (its connection, named `Handle::CONNECTION` in its registers;
//! `ThreadGetState` exports it as a handle) or by handles (`IpcDetach`), and closes when its
//! last holder lets go. Any of them can be stopped, moved into a new thread and resumed without
//! losing or duplicating a message.

use crate::arch::lock::{KernelCell, Lock};
use crate::object::KernelObject;
use crate::space::Space;
use crate::thread::{FaultReport, Thread};
use abi::Rights;
use abi::handle::ConnectionSide;
use abi::registers::MESSAGE_WORDS;
use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

/// What a port or port set costs its creator's quota.
pub const PORT_COST: u64 = crate::memory::heap_cost(if size_of::<Port>() > size_of::<PortSet>() {
    size_of::<Port>()
} else {
    size_of::<PortSet>()
});

/// A receive point.
pub struct Port {
    /// Its identity (`HandleInfo`): unique among every object made since boot.
    pub id: u64,
    /// The word receivers see with each message to this port.
    pub badge: u64,
    /// The set servers wait on for this port, once it is in one.
    pub set: Lock<Option<Arc<PortSet>>>,
    /// Requests waiting for a server, oldest first.
    pub callers: Lock<VecDeque<Caller>>,
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
    /// Its identity (`HandleInfo`): unique among every object made since boot.
    pub id: u64,
    /// The ports in the set.
    pub ports: Lock<Vec<Weak<Port>>>,
    /// Servers waiting for a request, longest-waiting first.
    pub servers: ServerQueue,
    /// Clear only when no request waits in any of its ports: set by every request queued in
    /// one (and by a port that joins with requests queued), cleared by a look that finds
    /// none. The IPC fast path's reply-and-wait reads it instead of looking at every port.
    callers_may_wait: AtomicBool,
    /// The set itself, weakly: what a server waiting on it records (`WaitQueue::PortSet`),
    /// copied where making one from the set would cost a compare-and-swap loop.
    itself: Weak<PortSet>,
    payer: Weak<Space>,
}

/// The servers waiting on a port set, longest-waiting first. The first is kept apart from the
/// rest, in a cell: a set usually has one server, which the IPC fast path takes and puts back
/// on every round trip, and taking it out of a cell is a move, where a locked ring buffer
/// costs the lock and a dozen instructions of index arithmetic each way.
#[derive(Default)]
pub struct ServerQueue {
    /// The longest-waiting server; empty only when `rest` is too.
    first: KernelCell<Option<Arc<Thread>>>,
    /// How many wait in `rest` (read without its lock).
    behind: KernelCell<usize>,
    /// The others, in the order they came.
    rest: Lock<VecDeque<Arc<Thread>>>,
}

impl ServerQueue {
    /// How many servers wait.
    pub fn len(&self) -> usize {
        usize::from(!self.first.is_none()) + self.behind.get()
    }

    /// Takes the longest-waiting server out.
    #[inline]
    pub fn pop_front(&self) -> Option<Arc<Thread>> {
        let first = self.first.take()?;
        if self.behind.get() != 0 {
            self.first.set(self.next_from_rest());
        }
        Some(first)
    }

    /// Puts a server back first in line (a path that took it declined).
    #[inline]
    pub fn push_front(&self, server: Arc<Thread>) {
        if let Some(former) = self.first.replace(Some(server)) {
            self.rest.lock().push_front(former);
            self.behind.set(self.behind.get() + 1);
        }
    }

    /// Queues a server behind the others.
    #[inline]
    pub fn push_back(&self, server: Arc<Thread>) {
        if self.first.is_none() {
            self.first.set(Some(server));
        } else {
            self.rest.lock().push_back(server);
            self.behind.set(self.behind.get() + 1);
        }
    }

    /// Takes `server` out, wherever it waits.
    pub fn remove(&self, server: &Arc<Thread>) {
        let first = self.first.inspect(|first| {
            first
                .as_ref()
                .is_some_and(|first| Arc::ptr_eq(first, server))
        });
        if first {
            drop(self.pop_front());
            return;
        }
        let mut rest = self.rest.lock();
        rest.retain(|other| !Arc::ptr_eq(other, server));
        self.behind.set(rest.len());
    }

    /// Takes every server out, longest-waiting first.
    pub fn take_all(&self) -> Vec<Arc<Thread>> {
        let rest = core::mem::take(&mut *self.rest.lock());
        self.behind.set(0);
        self.first.take().into_iter().chain(rest).collect()
    }

    /// The longest-waiting server of `rest`, taken out (to come first).
    #[cold]
    fn next_from_rest(&self) -> Option<Arc<Thread>> {
        let mut rest = self.rest.lock();
        let next = rest.pop_front();
        self.behind.set(rest.len());
        next
    }
}

/// One of a reply object's waiting slots: the thread that waits there, if one does.
pub type ThreadSlot = KernelCell<Option<Arc<Thread>>>;

/// Where a request and its reply stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyState {
    /// The request's bytes are still moving from the client to the server.
    Request,
    /// The server has the whole request and has not answered yet.
    Pending,
    /// The server answered (the answer waits in [`Reply::answer`] if the client was not
    /// there to take it).
    Answered,
    /// The server dropped the request without answering.
    Abandoned,
}

/// An answer waiting for its client: the words, and the handle it carries if any.
pub type Answer = ([u64; MESSAGE_WORDS], Option<(KernelObject, Rights)>);

/// The rendezvous of one request and its reply: the connection between a client and the
/// server that took its request. Whatever moves between them moves between their registers
/// (`abi::registers::transfer`); this object only says which phase they are in and which of
/// them waits for the other.
pub struct Reply {
    /// Its identity (`HandleInfo`): unique among every object made since boot.
    pub id: u64,
    /// Where the request and reply stand.
    pub state: KernelCell<ReplyState>,
    /// An answer given while the client was away, until it takes it.
    answer: Lock<Option<Answer>>,
    /// The client blocked in `IpcAwaitReply` on this connection, if it is.
    pub waiter: ThreadSlot,
    /// The server blocked on this connection, if it is: in `IpcReceive` while the request's
    /// bytes wait for the client, or in `IpcReply` / `IpcReplyWait` while the reply's bytes
    /// wait for it.
    pub server: ThreadSlot,
    /// Set when the client's side is gone: an answer would go nowhere.
    pub client_gone: AtomicBool,
    /// Set for a connection opened with `IpcConnect`: its request comes in chunks, and a chunk
    /// larger than the server's room waits for its next `IpcReceiveMore` instead of being cut.
    pub streaming: AtomicBool,
    /// Set while a streaming client may still send chunks (it has not reversed the connection
    /// with `IpcAwaitReply`).
    pub open: AtomicBool,
    /// For a fault sent to a keeper: the thread that faulted, and its fault sequence number
    /// then; a `RESUME` answer lets it run on if it is still stopped by that fault.
    pub faulted: Lock<Option<(Arc<Thread>, u64)>>,
    /// How many threads and handles hold the client side; it closes when the last lets go.
    client_holders: AtomicU32,
    /// How many threads and handles hold the server side.
    server_holders: AtomicU32,
    /// The space that paid for it, if one did.
    payer: Option<Weak<Space>>,
}

/// What a reply object costs the space that pays for it.
pub const REPLY_COST: u64 = crate::memory::heap_cost(size_of::<Reply>());

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(payer) = self.payer.as_ref().and_then(Weak::upgrade) {
            payer.release(REPLY_COST);
        }
    }
}

impl Port {
    /// Puts a request in the port's queue, first in line or last, and records in its thread
    /// that it waits there.
    pub fn enqueue(self: &Arc<Port>, caller: Caller, first: bool) {
        caller
            .thread
            .waiting_in
            .set(Some(crate::wait::WaitQueue::Port(Arc::downgrade(self))));
        self.queue_caller(caller, first);
    }

    /// Puts a request in the port's queue, first in line or last (every request queued goes
    /// through here: its set learns that requests may wait).
    pub fn queue_caller(&self, caller: Caller, first: bool) {
        let mut callers = self.callers.lock();
        if first {
            callers.push_front(caller);
        } else {
            callers.push_back(caller);
        }
        drop(callers);
        if let Some(set) = self.set.lock().as_ref() {
            set.callers_may_wait.store(true, Relaxed);
        }
    }

    /// A port charged to `payer`'s quota.
    pub fn new(payer: &Arc<Space>, badge: u64) -> Result<Arc<Port>, abi::Error> {
        payer.charge(PORT_COST)?;
        Ok(Arc::new(Port {
            id: crate::object::new_object_id(),
            badge,
            set: Lock::new(None),
            callers: Lock::new(VecDeque::new()),
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
            fault.thread.waiting_in.set(None);
            // A keeper that is gone leaves its faults to the faulting threads' own keepers
            // (the thread stays stopped if it has none).
            let keeper = fault.thread.keeper.lock().as_ref().and_then(Weak::upgrade);
            if let (Some(keeper), Some(report)) = (keeper, fault.fault) {
                // The thread's keeper gets the thread handle a region's keeper did not, and the
                // address the thread faulted at.
                let report = crate::thread::FaultReport {
                    region_address: None,
                    ..report
                };
                crate::syscall::ipc::deliver_fault(&fault.thread, report, keeper);
            }
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
        Ok(Arc::new_cyclic(|itself| PortSet {
            id: crate::object::new_object_id(),
            ports: Lock::new(Vec::new()),
            servers: ServerQueue::default(),
            callers_may_wait: AtomicBool::new(false),
            itself: itself.clone(),
            payer: Arc::downgrade(payer),
        }))
    }

    /// Where a server that waits on the set is recorded as waiting.
    #[inline]
    pub fn wait_queue(&self) -> crate::wait::WaitQueue {
        crate::wait::WaitQueue::PortSet(self.itself.clone())
    }

    /// Adds `port` to the set (the caller made the set its port's).
    pub fn add(&self, port: &Arc<Port>) {
        let mut ports = self.ports.lock();
        // Ports destroyed since leave only a dead entry; clear those as the set grows.
        ports.retain(|entry| entry.strong_count() > 0);
        ports.push(Arc::downgrade(port));
        drop(ports);
        if !port.callers.lock().is_empty() {
            self.callers_may_wait.store(true, Relaxed);
        }
    }

    /// Whether no request waits on any port of the set: at a glance when none was queued
    /// since the last look found none, else by looking at every port.
    #[inline]
    pub fn nothing_queued(&self) -> bool {
        !self.callers_may_wait.load(Relaxed) || self.no_port_has_callers()
    }

    /// Looks at every port of the set: whether none has a request waiting (then the set
    /// remembers that none may wait).
    #[cold]
    fn no_port_has_callers(&self) -> bool {
        let empty = self
            .ports
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .all(|port| port.callers.lock().is_empty());
        if empty {
            self.callers_may_wait.store(false, Relaxed);
        }
        empty
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
        crate::wait::fail_waiters(self.servers.take_all());
        if let Some(payer) = self.payer.upgrade() {
            payer.release(PORT_COST);
        }
    }
}

impl Reply {
    /// A connection in `state` (`Request` while request bytes remain, else `Pending`), paid
    /// for by `payer`, if any.
    pub fn new(state: ReplyState, payer: Option<&Arc<Space>>) -> Result<Arc<Reply>, abi::Error> {
        if let Some(payer) = payer {
            payer.charge(REPLY_COST)?;
        }
        Ok(Arc::new(Reply {
            id: crate::object::new_object_id(),
            state: KernelCell::new(state),
            answer: Lock::new(None),
            waiter: ThreadSlot::new(None),
            server: ThreadSlot::new(None),
            client_gone: AtomicBool::new(false),
            streaming: AtomicBool::new(false),
            open: AtomicBool::new(false),
            faulted: Lock::new(None),
            client_holders: AtomicU32::new(0),
            server_holders: AtomicU32::new(0),
            payer: payer.map(Arc::downgrade),
        }))
    }
}

impl Reply {
    /// A reply object for a new connection of `client`, in `state`: the one the client used
    /// last, if nothing else can reach it any more (no handle, no waiter), else a new one,
    /// which the client then keeps for next time (its space pays for it from then on, as for
    /// any other). Reusing it keeps the heap out of the IPC path.
    pub fn for_client(
        client: &Thread,
        state: ReplyState,
        streaming: bool,
    ) -> Result<Arc<Reply>, abi::Error> {
        if let Some(reply) = Reply::kept_by(client) {
            reply.renew(state, streaming);
            return Ok(reply);
        }
        let reply = Reply::new(state, Some(&client.space))?;
        reply.reset(streaming);
        if client.reply_cache.is_none() {
            client.reply_cache.set(Some(reply.clone()));
        }
        // Otherwise the kept one is still in use (its connection lives on, moved to another
        // thread or left open): this one, paid from the client's quota, serves this call.
        Ok(reply)
    }

    /// The reply object `client` kept from its last call, ready for the connection of a
    /// words-only call (`Pending`, each side held once: by the client and by the server that
    /// takes the request), if nothing else can reach it any more; `None` otherwise (the first
    /// call, or a connection that lives on), for [`for_client`](Self::for_client) to handle.
    /// The IPC fast path's share of `for_client` and two `hold_connection`s.
    #[inline]
    pub fn renewed_for_words(client: &Thread) -> Option<Arc<Reply>> {
        let reply = Reply::kept_by(client)?;
        reply.renew(ReplyState::Pending, false);
        reply.client_holders.store(1, Relaxed);
        reply.server_holders.store(1, Relaxed);
        Some(reply)
    }

    /// The reply object `client` kept from its last call, if nothing else can reach it any
    /// more (no handle, no waiter, no connection).
    #[inline]
    fn kept_by(client: &Thread) -> Option<Arc<Reply>> {
        client.reply_cache.inspect(|kept| {
            kept.as_ref()
                .filter(|kept| Arc::strong_count(kept) == 1 && Arc::weak_count(kept) == 0)
                .cloned()
        })
    }

    /// Makes a reply object that nothing but its client's cache holds any more ready for a
    /// new connection in `state`.
    #[inline]
    fn renew(&self, state: ReplyState, streaming: bool) {
        // An answer nobody took (rare: its client's side closing drops it) is only ever kept
        // in the `Answered` phase.
        if self.state.get() == ReplyState::Answered {
            self.drop_unclaimed_answer();
        }
        self.state.set(state);
        self.reset(streaming);
    }

    /// Drops the answer kept for a client that never took it (outside the lock: it may carry
    /// a handle's object).
    #[cold]
    fn drop_unclaimed_answer(&self) {
        let answer = self.answer.lock().take();
        drop(answer);
    }

    /// Makes a reply object that nothing holds any more ready for a new connection.
    fn reset(&self, streaming: bool) {
        self.client_gone.store(false, Relaxed);
        self.client_holders.store(0, Relaxed);
        self.server_holders.store(0, Relaxed);
        self.streaming.store(streaming, Relaxed);
        self.open.store(streaming, Relaxed);
    }

    /// The server answers with `words` and `handle` while the client is away: the answer
    /// waits for it.
    pub fn keep_answer(&self, words: [u64; MESSAGE_WORDS], handle: Option<(KernelObject, Rights)>) {
        *self.answer.lock() = Some((words, handle));
        self.state.set(ReplyState::Answered);
    }

    /// Takes the answer waiting for the client, if there is one; the reply is over
    /// (`Abandoned`) afterwards either way.
    pub fn take_answer(&self) -> Option<Answer> {
        let former = self.state.replace(ReplyState::Abandoned);
        let answer = self.answer.lock().take();
        if former == ReplyState::Answered {
            answer
        } else {
            None
        }
    }

    /// The count of holders of `side`.
    fn holders(&self, side: ConnectionSide) -> &AtomicU32 {
        match side {
            ConnectionSide::Client => &self.client_holders,
            ConnectionSide::Server => &self.server_holders,
        }
    }

    /// One more thread or handle holds `side`.
    pub fn hold(&self, side: ConnectionSide) {
        self.holders(side).fetch_add(1, Relaxed);
    }

    /// A holder of `side` let go: the side closes with the last one.
    pub fn release(self: &Arc<Reply>, side: ConnectionSide) {
        if self.holders(side).fetch_sub(1, Relaxed) != 1 {
            return;
        }
        match side {
            ConnectionSide::Client => self.client_side_closed(),
            ConnectionSide::Server => self.server_side_closed(),
        }
    }

    /// The one holder of `side` lets go without its closing actions, for a caller that has
    /// done what they would do (the IPC fast path, which answers and closes both sides at
    /// once, and only when [`held_once`](Self::held_once)).
    pub fn forget(&self, side: ConnectionSide) {
        self.holders(side).fetch_sub(1, Relaxed);
    }

    /// Whether `side` has exactly one holder (its thread: no handle to it was made).
    pub fn held_once(&self, side: ConnectionSide) -> bool {
        self.holders(side).load(Relaxed) == 1
    }

    /// The client's side of this reply object closed (once the reply was delivered, or by the
    /// client, or with its thread or space): a server waiting to move bytes to or from the
    /// client learns `PeerGone`.
    fn client_side_closed(&self) {
        self.client_gone.store(true, Relaxed);
        if let Some(server) = self.server.take() {
            crate::syscall::ipc::release_server(&server, Err(abi::Error::PeerGone));
        }
        // A client thread still waiting on the closed handle (another thread of its space
        // closed it) would wait for nothing.
        if let Some(waiter) = self.waiter.take() {
            crate::wait::fail_waiters([waiter]);
        }
        // An answer nobody will take goes now: the handle it carries could name the client's
        // own thread, which holds this reply object (a cycle that would keep both).
        let unanswered = self.answer.lock().take();
        drop(unanswered);
    }

    /// The server's side closed: if it had not answered, the client learns `PeerGone`; a
    /// fault left unanswered leaves its thread stopped; a server thread still waiting on the
    /// connection (another thread of its space closed the handle) learns `PeerGone` too.
    fn server_side_closed(self: &Arc<Reply>) {
        self.faulted.lock().take();
        if matches!(self.state.get(), ReplyState::Request | ReplyState::Pending) {
            self.state.set(ReplyState::Abandoned);
            crate::syscall::ipc::deliver_reply(self);
        }
        // A server thread still waiting on the closed handle (another thread of its space
        // closed it) would wait for nothing.
        if let Some(server) = self.server.take() {
            crate::syscall::ipc::release_server(&server, Err(abi::Error::PeerGone));
        }
    }
}

/// Gives `thread` `reply`'s `side` to hold as its own connection; the one it held there before
/// is let go (and closes, if nothing else holds it).
pub fn hold_connection(thread: &Thread, side: ConnectionSide, reply: Arc<Reply>) {
    reply.hold(side);
    let former = thread.connection(side).replace(Some(reply));
    if let Some(former) = former {
        former.release(side);
    }
}

/// `thread` lets go of the connection it holds on `side`, if any.
pub fn release_connection(thread: &Thread, side: ConnectionSide) {
    let former = thread.connection(side).take();
    if let Some(former) = former {
        former.release(side);
    }
}

/// `thread` lets go of both its connections (it ended).
pub fn release_connections(thread: &Thread) {
    release_connection(thread, ConnectionSide::Client);
    release_connection(thread, ConnectionSide::Server);
}
