//! IPC: ports, port sets, calls and replies, one-way messages (see `kernel/abi/SPEC.md`).
//!
//! A client [`call`]s a port with four words and gets four back; a server [`wait`]s on a port
//! set, gets a [`Request`] and answers it with [`reply`] (or [`reply_wait`], which also waits
//! for the next one). Everything a conversation is in the middle of lives in registers and
//! handles, so either side can be stopped and moved into a new thread at any moment.

use crate::arch::syscall::call6;
use abi::registers::MESSAGE_WORDS;
use abi::{Call, Error, Handle};

/// Four words, the payload of every message.
pub type Words = [u64; MESSAGE_WORDS];

/// What a server's wait returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The handle to answer with, or `Handle::NONE` for a one-way message.
    pub reply: Handle,
    /// The words sent.
    pub words: Words,
    /// The badge of the port it came to.
    pub badge: u64,
}

fn request(status: u64, results: [u64; 6]) -> Result<Request, Error> {
    Error::check(status)?;
    Ok(Request {
        reply: Handle::from_raw(results[0]),
        words: [results[1], results[2], results[3], results[4]],
        badge: results[5],
    })
}

/// `PortCreate`: a port whose messages carry `badge`.
pub fn port_create(badge: u64) -> Result<Handle, Error> {
    let (status, results) = call6(Call::PortCreate, [badge, 0, 0, 0, 0, 0]);
    Error::check(status).map(|()| Handle::from_raw(results[0]))
}

/// `PortSetCreate`.
pub fn port_set_create() -> Result<Handle, Error> {
    let (status, results) = call6(Call::PortSetCreate, [0; 6]);
    Error::check(status).map(|()| Handle::from_raw(results[0]))
}

/// `PortSetAdd`.
pub fn port_set_add(set: Handle, port: Handle) -> Result<(), Error> {
    let (status, _) = call6(Call::PortSetAdd, [set.raw(), port.raw(), 0, 0, 0, 0]);
    Error::check(status)
}

/// `IpcCall`: sends `words` to `port` and returns the reply's words.
pub fn call(port: Handle, words: Words) -> Result<Words, Error> {
    let [a, b, c, d] = words;
    let (status, results) = call6(Call::IpcCall, [port.raw(), a, b, c, d, 0]);
    Error::check(status).map(|()| [results[1], results[2], results[3], results[4]])
}

/// `IpcWait`: the next request on any port of `set`.
pub fn wait(set: Handle) -> Result<Request, Error> {
    let (status, results) = call6(Call::IpcWait, [set.raw(), 0, 0, 0, 0, 0]);
    request(status, results)
}

/// `IpcReply`: answers a request.
pub fn reply(reply: Handle, words: Words) -> Result<(), Error> {
    let [a, b, c, d] = words;
    let (status, _) = call6(Call::IpcReply, [reply.raw(), a, b, c, d, 0]);
    Error::check(status)
}

/// `IpcReplyWait`: answers a request, then waits for the next one on `set`.
pub fn reply_wait(reply: Handle, words: Words, set: Handle) -> Result<Request, Error> {
    let [a, b, c, d] = words;
    let (status, results) = call6(Call::IpcReplyWait, [reply.raw(), a, b, c, d, set.raw()]);
    request(status, results)
}

/// `IpcSend`: delivers `words` to a server waiting on the port's set, if one is.
pub fn send(port: Handle, words: Words) -> Result<(), Error> {
    let [a, b, c, d] = words;
    let (status, _) = call6(Call::IpcSend, [port.raw(), a, b, c, d, 0]);
    Error::check(status)
}
