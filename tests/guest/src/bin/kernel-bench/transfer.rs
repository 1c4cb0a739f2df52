//! Long IPC transfers between two RAM buffers: the heaviest load of the latency benchmark, and
//! the restartable operation whose restarts the restart-overhead benchmark prices (a 1 MiB
//! transfer, uninterrupted or stopped at every preemption point).

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use runtime::abi::registers::PRIORITY_ROOT;
use runtime::abi::registers::transfer::Transfer;
use runtime::abi::{Call, Error, Handle};
use runtime::arch::counter::time_stamp;
use runtime::arch::syscall::call_with_transfer;
use runtime::ipc::{port_create, port_set_add, port_set_create};
use runtime::syscall::handle_close;
use runtime::thread::{Stack, Thread, spawn};

/// Where the client's bytes are (the server's room follows them), and how many per call.
static SOURCE: AtomicU64 = AtomicU64::new(0);
static LENGTH: AtomicU64 = AtomicU64::new(0);

/// A server taking transfers of a fixed length into RAM, and the port it serves.
pub struct TransferPair {
    port: Handle,
    set: Handle,
    server: Thread,
}

impl TransferPair {
    /// A server for calls carrying `length` bytes from the top of the RAM window, running on
    /// `stack` at `priority`.
    pub fn new(
        length: u64,
        stack: &'static Stack<1024>,
        priority: u64,
    ) -> Result<TransferPair, Error> {
        let (ram, size) = runtime::process::ram();
        if size < 2 * length {
            return Err(Error::OutOfMemory);
        }
        SOURCE.store(ram + size - 2 * length, Relaxed);
        LENGTH.store(length, Relaxed);
        let port = port_create(0)?;
        let set = port_set_create()?;
        port_set_add(set, port)?;
        let server = spawn(stack, serve, set.raw())?;
        server.set_priority(priority)?;
        server.resume()?;
        Ok(TransferPair { port, set, server })
    }

    /// The port to call.
    pub fn port(&self) -> Handle {
        self.port
    }

    /// Stops the server and closes the port.
    pub fn close(self) -> Result<(), Error> {
        self.server.interrupt()?;
        handle_close(self.port)?;
        handle_close(self.set)
    }
}

/// One call to `port` carrying the bytes.
pub fn send_once(port: u64) {
    let mut transfer = Transfer {
        send_address: SOURCE.load(Relaxed),
        send_length: LENGTH.load(Relaxed),
        ..Transfer::default()
    };
    call_with_transfer(Call::IpcCall, [port, 0, 0, 0, 0, 0], &mut transfer);
}

/// Calls `port` with the bytes, forever.
pub fn send_forever(port: u64) {
    loop {
        send_once(port);
    }
}

/// Takes the bytes of every request into the room after them, and answers with words only.
fn serve(set: u64) {
    let room = || Transfer {
        receive_address: SOURCE.load(Relaxed) + LENGTH.load(Relaxed),
        receive_length: LENGTH.load(Relaxed),
        ..Transfer::default()
    };
    let (_, results) = call_with_transfer(Call::IpcWait, [set, 0, 0, 0, 0, 0], &mut room());
    let mut reply = results[0];
    loop {
        let arguments = [reply, 0, 0, 0, 0, set];
        let (_, results) = call_with_transfer(Call::IpcReplyWait, arguments, &mut room());
        reply = results[0];
    }
}

static SERVER_STACK: Stack<1024> = Stack::new();

/// The cost of one call carrying 1 MiB to a server in the same space, `samples.len()` times,
/// sorted. Under `preemption=every-point` every page of it is a restart.
pub fn one_mebibyte_calls(samples: &mut [u64]) -> Result<(), Error> {
    let pair = TransferPair::new(1 << 20, &SERVER_STACK, PRIORITY_ROOT)?;
    let port = pair.port().raw();
    // Once untimed: the pages of both buffers are entered on the first pass.
    send_once(port);
    for slot in samples.iter_mut() {
        let start = time_stamp();
        send_once(port);
        *slot = time_stamp() - start;
    }
    samples.sort_unstable();
    pair.close()
}
