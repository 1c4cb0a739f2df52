//! IPC: ports, port sets, calls and replies, one-way messages (see `kernel/abi/SPEC.md`).
//!
//! A client [`call`]s a port with four words and gets four back; a server [`wait`]s on a port
//! set, gets a [`Request`] and answers it with [`reply`] (or [`reply_wait`], which also waits
//! for the next one). A message may also carry bytes, copied by the kernel straight from the
//! sender's memory into the receiver's buffer, and a handle ([`call_with`], [`wait_into`],
//! [`reply_with`], [`reply_wait_with`]). Everything a conversation is in the middle of lives in
//! registers and in the connection each thread holds (named `Handle::CONNECTION`), so either
//! side can be stopped and moved into a new thread at any moment, even halfway through a
//! transfer (`ThreadGetState` with `HANDLES` hands out the connections with the state). A
//! request too large for one buffer streams in chunks: [`connect`], [`send_more`],
//! [`finish_call`] on the client's side, [`receive_more`] on the server's. A server that
//! answers a request later, after taking others, or from another thread, [`detach`]es it
//! into a handle first.

use crate::arch::syscall::{TransferRegisters, call_with_transfer, call_words};
use abi::registers::MESSAGE_WORDS;
use abi::{Call, Error, Handle};

/// Four words, the payload of every message.
pub type Words = [u64; MESSAGE_WORDS];

/// What a message carries besides its words: bytes to send and a handle to pass on (with
/// `TRANSFER`; the receiver gets a new handle with the same rights, the sender keeps its own).
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    /// Bytes to copy into the receiver's buffer.
    pub bytes: &'a [u8],
    /// A handle to pass on, or `Handle::NONE`.
    pub handle: Handle,
}

impl Outgoing<'_> {
    /// Neither bytes nor a handle.
    pub const NOTHING: Outgoing<'static> = Outgoing {
        bytes: &[],
        handle: Handle::NONE,
    };
}

/// What arrived besides the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Incoming {
    /// How many bytes were written at the start of the receive buffer.
    pub bytes: usize,
    /// The handle that came with the message (now the receiver's), or `Handle::NONE`.
    pub handle: Handle,
    /// How many of this side's own outgoing bytes did not fit the peer's buffer.
    pub unsent: usize,
}

impl Incoming {
    /// Nothing besides the words.
    pub const NONE: Incoming = Incoming {
        bytes: 0,
        handle: Handle::NONE,
        unsent: 0,
    };
}

/// What a server's wait returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// What to answer with: `Handle::CONNECTION` (the connection the waiting thread now
    /// holds), or `Handle::NONE` for a one-way message.
    pub reply: Handle,
    /// The words sent.
    pub words: Words,
    /// The badge of the port it came to.
    pub badge: u64,
    /// The bytes and handle that came with it.
    pub incoming: Incoming,
}

/// The transfer registers for sending `outgoing` and receiving into `receive`.
fn registers_for(outgoing: Outgoing<'_>, receive: &mut [u8]) -> TransferRegisters {
    TransferRegisters {
        handle: outgoing.handle.raw(),
        send_address: outgoing.bytes.as_ptr() as u64,
        send_length: outgoing.bytes.len() as u64,
        receive_address: receive.as_mut_ptr() as u64,
        receive_length: receive.len() as u64,
    }
}

/// What the transfer registers say arrived, against the room there was.
fn incoming(transfer: TransferRegisters, room: usize) -> Incoming {
    Incoming {
        bytes: room - transfer.receive_length as usize,
        handle: Handle::from_raw(transfer.handle),
        unsent: transfer.send_length as usize,
    }
}

/// Issues an IPC call with a transfer; the status, the results and what arrived.
fn transfer_call(
    call: Call,
    arguments: [u64; 6],
    outgoing: Outgoing<'_>,
    receive: &mut [u8],
) -> (u64, [u64; 6], Incoming) {
    let room = receive.len();
    let mut transfer = registers_for(outgoing, receive);
    let (status, results) = call_with_transfer(call, arguments, &mut transfer);
    (status, results, incoming(transfer, room))
}

#[inline]
fn request(status: u64, results: [u64; 6], incoming: Incoming) -> Result<Request, Error> {
    Error::check(status)?;
    Ok(Request {
        reply: Handle::from_raw(results[0]),
        words: [results[1], results[2], results[3], results[4]],
        badge: results[5],
        incoming,
    })
}

/// `PortCreate`: a port whose messages carry `badge`.
pub fn port_create(badge: u64) -> Result<Handle, Error> {
    let (status, results) = crate::arch::syscall::call6(Call::PortCreate, [badge, 0, 0, 0, 0, 0]);
    Error::check(status).map(|()| Handle::from_raw(results[0]))
}

/// `PortSetCreate`.
pub fn port_set_create() -> Result<Handle, Error> {
    let (status, results) = crate::arch::syscall::call6(Call::PortSetCreate, [0; 6]);
    Error::check(status).map(|()| Handle::from_raw(results[0]))
}

/// `PortSetAdd`.
pub fn port_set_add(set: Handle, port: Handle) -> Result<(), Error> {
    let (status, _) =
        crate::arch::syscall::call6(Call::PortSetAdd, [set.raw(), port.raw(), 0, 0, 0, 0]);
    Error::check(status)
}

/// What `PortGetState` reads of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortState {
    /// The word receivers see with each message.
    pub badge: u64,
    /// The identity (`HandleInfo`) of its set, or 0 for none.
    pub set: u64,
    /// How many requests wait in its queue.
    pub queued: u64,
}

/// `PortGetState` (needs RECEIVE).
pub fn port_state(port: Handle) -> Result<PortState, Error> {
    let (status, results) =
        crate::arch::syscall::call6(Call::PortGetState, [port.raw(), 0, 0, 0, 0, 0]);
    Error::check(status)?;
    Ok(PortState {
        badge: results[0],
        set: results[1],
        queued: results[2],
    })
}

/// `PortSetGetState` (needs RECEIVE): how many live ports the set has, and how many servers
/// wait on it.
pub fn port_set_state(set: Handle) -> Result<(u64, u64), Error> {
    let (status, results) =
        crate::arch::syscall::call6(Call::PortSetGetState, [set.raw(), 0, 0, 0, 0, 0]);
    Error::check(status).map(|()| (results[0], results[1]))
}

/// `IpcCall`: sends `words` to `port` and returns the reply's words.
// Inlined, as is `reply_wait`: the round trip of words is the fast path, and a call through a
// function of its own would save and restore the registers the stub clobbers on every use.
#[inline]
pub fn call(port: Handle, words: Words) -> Result<Words, Error> {
    let [a, b, c, d] = words;
    let (status, results, _) = call_words(Call::IpcCall, [port.raw(), a, b, c, d, 0]);
    Error::check(status)?;
    Ok([results[1], results[2], results[3], results[4]])
}

/// `IpcCall` with bytes and a handle each way: the reply's bytes land in `receive`.
pub fn call_with(
    port: Handle,
    words: Words,
    outgoing: Outgoing<'_>,
    receive: &mut [u8],
) -> Result<(Words, Incoming), Error> {
    let [a, b, c, d] = words;
    let (status, results, incoming) = transfer_call(
        Call::IpcCall,
        [port.raw(), a, b, c, d, 0],
        outgoing,
        receive,
    );
    Error::check(status)?;
    Ok(([results[1], results[2], results[3], results[4]], incoming))
}

/// `IpcConnect`: opens a streaming connection to `port`, sending `words` and a first chunk
/// (with a handle, if any); returns the connection (`Handle::CONNECTION`: the calling thread
/// holds it) once the chunk has moved. Send more with [`send_more`], then reverse with
/// [`finish_call`].
pub fn connect(port: Handle, words: Words, outgoing: Outgoing<'_>) -> Result<Handle, Error> {
    let [a, b, c, d] = words;
    let (status, results, _) = transfer_call(
        Call::IpcConnect,
        [port.raw(), a, b, c, d, 0],
        outgoing,
        &mut [],
    );
    Error::check(status).map(|()| Handle::from_raw(results[0]))
}

/// `IpcSendMore`: sends the next chunk on a connection; returns once all of it has moved.
pub fn send_more(connection: Handle, bytes: &[u8]) -> Result<(), Error> {
    let outgoing = Outgoing {
        bytes,
        handle: Handle::NONE,
    };
    let (status, _, _) = transfer_call(
        Call::IpcSendMore,
        [connection.raw(), 0, 0, 0, 0, 0],
        outgoing,
        &mut [],
    );
    Error::check(status)
}

/// `IpcAwaitReply` on a connection: sends the last chunk, reverses the connection and waits
/// for the reply, whose bytes land in `receive`.
pub fn finish_call(
    connection: Handle,
    last: &[u8],
    receive: &mut [u8],
) -> Result<(Words, Incoming), Error> {
    let outgoing = Outgoing {
        bytes: last,
        handle: Handle::NONE,
    };
    let (status, results, incoming) = transfer_call(
        Call::IpcAwaitReply,
        [connection.raw(), 0, 0, 0, 0, 0],
        outgoing,
        receive,
    );
    Error::check(status)?;
    Ok(([results[1], results[2], results[3], results[4]], incoming))
}

/// `IpcReceiveMore`: the next chunk of a request into `receive`; how many bytes arrived, 0
/// once the client has reversed the connection (the request is complete).
pub fn receive_more(reply: Handle, receive: &mut [u8]) -> Result<usize, Error> {
    let (status, _, incoming) = transfer_call(
        Call::IpcReceiveMore,
        [reply.raw(), 0, 0, 0, 0, 0],
        Outgoing::NOTHING,
        receive,
    );
    Error::check(status).map(|()| incoming.bytes)
}

/// `IpcWait`: the next request on any port of `set` (its words and handle; bytes sent with it
/// find no room). A request whose client vanished is skipped, as in [`wait_into`].
pub fn wait(set: Handle) -> Result<Request, Error> {
    loop {
        let (status, results, handle) = call_words(Call::IpcWait, [set.raw(), 0, 0, 0, 0, 0]);
        match words_request(status, results, handle) {
            Err(Error::PeerGone) => continue,
            outcome => return outcome,
        }
    }
}

/// The request a words-only wait returned, with the handle that came with it.
#[inline]
fn words_request(status: u64, results: [u64; 6], handle: u64) -> Result<Request, Error> {
    let incoming = Incoming {
        handle: Handle::from_raw(handle),
        ..Incoming::NONE
    };
    request(status, results, incoming)
}

/// `IpcWait` with a buffer for the request's bytes. A request whose client vanished while its
/// bytes were still moving (`PeerGone`; the kernel closed the connection) is skipped.
pub fn wait_into(set: Handle, receive: &mut [u8]) -> Result<Request, Error> {
    loop {
        let (status, results, incoming) = transfer_call(
            Call::IpcWait,
            [set.raw(), 0, 0, 0, 0, 0],
            Outgoing::NOTHING,
            receive,
        );
        match request(status, results, incoming) {
            Err(Error::PeerGone) => continue,
            outcome => return outcome,
        }
    }
}

/// `IpcReply`: answers a request.
pub fn reply(reply: Handle, words: Words) -> Result<(), Error> {
    let [a, b, c, d] = words;
    let (status, _, _) = call_words(Call::IpcReply, [reply.raw(), a, b, c, d, 0]);
    Error::check(status)
}

/// `IpcReply` with bytes and a handle; how many bytes did not fit the client's buffer.
pub fn reply_with(reply: Handle, words: Words, outgoing: Outgoing<'_>) -> Result<usize, Error> {
    let [a, b, c, d] = words;
    let (status, _, incoming) = transfer_call(
        Call::IpcReply,
        [reply.raw(), a, b, c, d, 0],
        outgoing,
        &mut [],
    );
    Error::check(status).map(|()| incoming.unsent)
}

/// `IpcReplyWait`: answers a request, then waits for the next one on `set` (words only, as
/// [`wait`]).
#[inline]
pub fn reply_wait(reply: Handle, words: Words, set: Handle) -> Result<Request, Error> {
    let [a, b, c, d] = words;
    let (status, results, handle) =
        call_words(Call::IpcReplyWait, [reply.raw(), a, b, c, d, set.raw()]);
    match words_request(status, results, handle) {
        Err(Error::PeerGone) => wait(set),
        outcome => outcome,
    }
}

/// `IpcReplyWait` with bytes and a handle in the answer and a buffer for the next request.
pub fn reply_wait_with(
    reply: Handle,
    words: Words,
    outgoing: Outgoing<'_>,
    set: Handle,
    receive: &mut [u8],
) -> Result<Request, Error> {
    let [a, b, c, d] = words;
    let (status, results, incoming) = transfer_call(
        Call::IpcReplyWait,
        [reply.raw(), a, b, c, d, set.raw()],
        outgoing,
        receive,
    );
    match request(status, results, incoming) {
        Err(Error::PeerGone) => wait_into(set, receive),
        outcome => outcome,
    }
}

/// `IpcSend`: delivers `words` to a server waiting on the port's set, if one is.
pub fn send(port: Handle, words: Words) -> Result<(), Error> {
    send_handle(port, words, Handle::NONE)
}

/// `IpcSend` passing a handle on as well.
pub fn send_handle(port: Handle, words: Words, handle: Handle) -> Result<(), Error> {
    let [a, b, c, d] = words;
    let outgoing = Outgoing { bytes: &[], handle };
    let (status, _, _) = transfer_call(
        Call::IpcSend,
        [port.raw(), a, b, c, d, 0],
        outgoing,
        &mut [],
    );
    Error::check(status)
}

/// `IpcDetach`: moves the connection the calling thread holds on `side` into a handle of its
/// space, which any of its threads may answer (or close) later. A thread holds one connection
/// per side: its next call, or its next wait, replaces (and so closes) the one it holds.
pub fn detach(side: abi::handle::ConnectionSide) -> Result<Handle, Error> {
    let (status, results) =
        crate::arch::syscall::call6(Call::IpcDetach, [side as u64, 0, 0, 0, 0, 0]);
    Error::check(status).map(|()| Handle::from_raw(results[0]))
}
