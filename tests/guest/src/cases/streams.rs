//! Streaming requests: a client opens a connection with a first chunk, sends more chunks of
//! any size, and reverses the connection with the last one; the server receives chunk by chunk
//! into a buffer of its own size, learns that the request is complete when a receive brings no
//! bytes, and answers. The restart torture test moves both sides while chunks stream.

use super::handles::fail;
use super::{keep_moving, wait_for, wait_until_ended};
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::handle::ConnectionSide;
use runtime::abi::{Error, Handle};
use runtime::ipc::{self, Outgoing};
use runtime::syscall::handle_close;
use runtime::thread::{Stack, spawn};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "ipc_a_request_streams_in_chunks_of_any_size",
        run: chunks_of_any_size,
    },
    Case {
        name: "ipc_a_plain_call_reads_as_a_complete_stream",
        run: plain_call_is_complete,
    },
    Case {
        name: "ipc_a_stream_whose_server_goes_fails_with_peer_gone",
        run: server_goes,
    },
    Case {
        name: "ipc_a_server_waiting_on_a_connection_its_sibling_closes_learns_peer_gone",
        run: sibling_closes,
    },
    Case {
        name: "restart_torture_ipc_streamed_in_chunks",
        run: torture,
    },
];

static SERVER_STACK: Stack<2048> = Stack::new();
static CLIENT_STACK: Stack<4096> = Stack::new();
static PORT: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static FAILURES: AtomicU64 = AtomicU64::new(0);
static SERVED: AtomicU64 = AtomicU64::new(0);

/// The order-sensitive checksum of a stream: every byte weighted by its place.
fn checksum(bytes: impl Iterator<Item = u8>, start: u64) -> u64 {
    bytes
        .enumerate()
        .map(|(index, byte)| byte as u64 * (start + index as u64 + 1))
        .fold(0, u64::wrapping_add)
}

/// Receives every request as a stream, in a 1,500-byte buffer, and answers
/// `[bytes, checksum, receives that brought bytes, first word]`. A request whose first word is
/// `u64::MAX` is answered and ends the server.
fn stream_server(set: u64) {
    let set = Handle::from_raw(set);
    let mut buffer = [0u8; 1500];
    loop {
        let Ok(request) = ipc::wait_into(set, &mut buffer) else {
            return;
        };
        SERVED.fetch_add(1, SeqCst);
        let mut total = request.incoming.bytes as u64;
        let mut sum = checksum(buffer[..total as usize].iter().copied(), 0);
        let mut receives = 1;
        loop {
            match ipc::receive_more(request.reply, &mut buffer) {
                Ok(0) => break,
                Ok(bytes) => {
                    sum = sum.wrapping_add(checksum(buffer[..bytes].iter().copied(), total));
                    total += bytes as u64;
                    receives += 1;
                }
                Err(_) => {
                    FAILURES.fetch_add(1, SeqCst);
                    break;
                }
            }
        }
        let words = [total, sum, receives, request.words[0]];
        if ipc::reply(request.reply, words).is_err() || request.words[0] == u64::MAX {
            return;
        }
    }
}

fn endpoint() -> Result<(Handle, Handle, runtime::thread::Thread), CaseFailure> {
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let server = spawn(&SERVER_STACK, stream_server, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    Ok((port, set, server))
}

fn finish(port: Handle, set: Handle, server: &runtime::thread::Thread) -> Result<(), CaseFailure> {
    check_equal!(
        ipc::call(port, [u64::MAX, 0, 0, 0]).map(|words| words[3]),
        Ok(u64::MAX)
    );
    check!(wait_until_ended(server), "the server never ended");
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_close(set), Ok(()));
    Ok(())
}

/// The bytes of chunk `chunk` of round `round`, `length` of them.
fn chunk_bytes(round: u64, chunk: u64, length: usize) -> impl Iterator<Item = u8> {
    (0..length).map(move |index| (index as u64 * 7 + chunk * 31 + round * 3) as u8)
}

fn chunks_of_any_size() -> Result<(), CaseFailure> {
    FAILURES.store(0, SeqCst);
    let (port, set, server) = endpoint()?;
    let lengths = [10usize, 5000, 3, 0, 1500, 7];
    let chunks: [[u8; 5000]; 6] = core::array::from_fn(|chunk| {
        let mut bytes = [0u8; 5000];
        for (slot, byte) in bytes
            .iter_mut()
            .zip(chunk_bytes(0, chunk as u64, lengths[chunk]))
        {
            *slot = byte;
        }
        bytes
    });
    let first = Outgoing {
        bytes: &chunks[0][..lengths[0]],
        handle: Handle::NONE,
    };
    let connection = ipc::connect(port, [42, 0, 0, 0], first).map_err(fail)?;
    for chunk in 1..5 {
        check_equal!(
            ipc::send_more(connection, &chunks[chunk][..lengths[chunk]]),
            Ok(())
        );
    }
    let (words, _) =
        ipc::finish_call(connection, &chunks[5][..lengths[5]], &mut []).map_err(fail)?;
    let all = (0..6).flat_map(|chunk| chunks[chunk][..lengths[chunk]].iter().copied());
    let expected_sum = checksum(all, 0);
    let total: usize = lengths.iter().sum();
    check_equal!(words[0], total as u64);
    check_equal!(words[1], expected_sum);
    check_equal!(words[3], 42);
    // 10 + 5000 + 3 + 1500 + 7 bytes through a 1,500-byte buffer: the 5,000-byte chunk alone
    // takes four receives.
    check!(words[2] >= 7, "only {} receives", words[2]);
    check_equal!(FAILURES.load(SeqCst), 0);
    // The connection is gone with the reply.
    check_equal!(ipc::send_more(connection, &[1]), Err(Error::PeerGone));
    finish(port, set, &server)
}

fn plain_call_is_complete() -> Result<(), CaseFailure> {
    FAILURES.store(0, SeqCst);
    let (port, set, server) = endpoint()?;
    let bytes = [5u8; 100];
    let outgoing = Outgoing {
        bytes: &bytes,
        handle: Handle::NONE,
    };
    let (words, _) = ipc::call_with(port, [1, 0, 0, 0], outgoing, &mut []).map_err(fail)?;
    check_equal!(words[..3], [100, checksum(bytes.iter().copied(), 0), 1]);
    check_equal!(ipc::send_more(port, &[1]), Err(Error::WrongType));
    check_equal!(FAILURES.load(SeqCst), 0);
    finish(port, set, &server)
}

/// Takes one streaming request, receives its first chunk, then drops it.
fn drop_after_first_chunk(set: u64) {
    let mut buffer = [0u8; 16];
    if ipc::wait_into(Handle::from_raw(set), &mut buffer).is_ok()
        && let Ok(request) = ipc::detach(ConnectionSide::Server)
    {
        let _ = handle_close(request);
    }
}

fn server_goes() -> Result<(), CaseFailure> {
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let server = spawn(&SERVER_STACK, drop_after_first_chunk, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    let connection = ipc::connect(port, [0; 4], Outgoing::NOTHING).map_err(fail)?;
    check_equal!(ipc::send_more(connection, &[9u8; 64]), Err(Error::PeerGone));
    check!(wait_until_ended(&server), "the server never ended");
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_close(set), Ok(()));
    Ok(())
}

const ROUNDS: u64 = 4;
const CHUNKS: u64 = 24;
const CHUNK: usize = 2000;

/// Streams `ROUNDS` requests of `CHUNKS` chunks and checks every answer.
fn stream_rounds(_: u64) {
    let port = Handle::from_raw(PORT.load(SeqCst));
    let mut buffer = [0u8; CHUNK];
    for round in 0..ROUNDS {
        let fill = |buffer: &mut [u8; CHUNK], chunk: u64| {
            for (slot, byte) in buffer.iter_mut().zip(chunk_bytes(round, chunk, CHUNK)) {
                *slot = byte;
            }
        };
        fill(&mut buffer, 0);
        let first = Outgoing {
            bytes: &buffer,
            handle: Handle::NONE,
        };
        let Ok(connection) = ipc::connect(port, [round, 0, 0, 0], first) else {
            FAILURES.fetch_add(1, SeqCst);
            continue;
        };
        for chunk in 1..CHUNKS {
            fill(&mut buffer, chunk);
            if ipc::send_more(connection, &buffer).is_err() {
                FAILURES.fetch_add(1, SeqCst);
            }
        }
        let expected = (0..CHUNKS).flat_map(|chunk| chunk_bytes(round, chunk, CHUNK));
        let expected = [CHUNKS * CHUNK as u64, checksum(expected, 0)];
        match ipc::finish_call(connection, &[], &mut []) {
            Ok((words, _)) if words[..2] == expected && words[3] == round => {}
            _ => {
                FAILURES.fetch_add(1, SeqCst);
            }
        }
    }
    DONE.store(1, SeqCst);
}

fn torture() -> Result<(), CaseFailure> {
    FAILURES.store(0, SeqCst);
    DONE.store(0, SeqCst);
    SERVED.store(0, SeqCst);
    let (port, set, mut server) = endpoint()?;
    PORT.store(port.raw(), SeqCst);
    let mut client = spawn(&CLIENT_STACK, stream_rounds, 0).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    let done = || DONE.load(SeqCst) != 0;
    let moves = keep_moving(&mut client, &mut server, done, 20_000, |_| {})?;
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the client never finished"
    );
    check_equal!(FAILURES.load(SeqCst), 0);
    check_equal!(SERVED.load(SeqCst), ROUNDS);
    check!(moves >= 20, "only {moves} moves: the test proved little");
    runtime::println!("  streamed: {moves} moves");
    check!(wait_until_ended(&client), "the client never ended");
    finish(port, set, &server)
}

/// The connection the waiting server holds, and what its wait for more returned.
static HELD: AtomicU64 = AtomicU64::new(0);
static WAIT_OUTCOME: AtomicU64 = AtomicU64::new(0);
const WAITING: u64 = u64::MAX;

/// Takes one request and waits for more of it (the client sends none for now).
fn wait_for_more(set: u64) {
    let mut room = [0u8; 64];
    if ipc::wait_into(Handle::from_raw(set), &mut room).is_err() {
        return;
    }
    // Held in a handle, so that a sibling can close it.
    let Ok(connection) = ipc::detach(ConnectionSide::Server) else {
        return;
    };
    HELD.store(connection.raw(), SeqCst);
    let outcome = ipc::receive_more(connection, &mut room);
    WAIT_OUTCOME.store(outcome.err().map_or(0, Error::code), SeqCst);
}

/// A server waits for more of a stream; another thread of its space closes the connection it
/// waits on: the wait ends with `PeerGone` (it would wait for nothing otherwise), and the
/// client's next chunk fails with `PeerGone` too.
fn sibling_closes() -> Result<(), CaseFailure> {
    HELD.store(0, SeqCst);
    WAIT_OUTCOME.store(WAITING, SeqCst);
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let server = spawn(&SERVER_STACK, wait_for_more, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    let first = Outgoing {
        bytes: &[5u8; 16],
        handle: Handle::NONE,
    };
    let connection = ipc::connect(port, [0; 4], first).map_err(fail)?;
    let blocked = || {
        matches!(
            server.status(),
            Ok((runtime::abi::state::Condition::Blocked, _, _))
        ) && HELD.load(SeqCst) != 0
    };
    check!(wait_for(blocked), "the server never waited for more");
    check_equal!(WAIT_OUTCOME.load(SeqCst), WAITING);
    // This thread is the server's sibling: the connection's handle is in its table too.
    check_equal!(handle_close(Handle::from_raw(HELD.load(SeqCst))), Ok(()));
    check!(
        wait_for(|| WAIT_OUTCOME.load(SeqCst) != WAITING),
        "the server still waits on a closed connection"
    );
    check_equal!(WAIT_OUTCOME.load(SeqCst), Error::PeerGone.code());
    check_equal!(ipc::send_more(connection, &[6u8; 16]), Err(Error::PeerGone));
    check!(wait_until_ended(&server), "the server never ended");
    for handle in [port, set] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}
