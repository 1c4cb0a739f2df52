//! IPC messages that carry bytes and handles: bytes travel both ways and stop at the
//! receiver's room, handles pass from space table to space table with their rights, bad
//! buffers and handles are refused before anything is sent, and the restart torture test moves
//! client and server into new threads while 4 KiB and 256 KiB transfers are under way.

use super::handles::fail;
use super::{keep_moving, wait_for, wait_until_ended};
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::state::register;
use runtime::abi::{Call, Error, Handle, Rights};
use runtime::arch::syscall::{TransferRegisters, call_with_transfer};
use runtime::ipc::{self, Incoming, Outgoing};
use runtime::synchronization::Mutex;
use runtime::syscall::{handle_close, handle_duplicate};
use runtime::thread::{Stack, Thread, spawn};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "ipc_bytes_travel_both_ways",
        run: bytes_travel_both_ways,
    },
    Case {
        name: "ipc_bytes_beyond_the_receivers_room_stay_with_the_sender",
        run: bytes_beyond_the_room,
    },
    Case {
        name: "ipc_handles_travel_with_requests_and_replies",
        run: handles_travel,
    },
    Case {
        name: "ipc_bad_buffers_and_handles_are_refused_before_sending",
        run: bad_transfers_are_refused,
    },
    Case {
        name: "ipc_a_receive_buffer_taken_away_fails_the_server_once",
        run: receive_buffer_taken_away,
    },
    Case {
        name: "ipc_closing_a_waiting_clients_reply_handle_wakes_it",
        run: reply_handle_closed_under_the_client,
    },
    Case {
        name: "restart_torture_ipc_4_kib_each_way",
        run: || restart_torture(4096, 40),
    },
    Case {
        name: "restart_torture_ipc_256_kib_each_way",
        run: || restart_torture(256 * 1024, 12),
    },
];

/// The largest message of these cases.
const MAXIMUM: usize = 256 * 1024;
/// Stacks that hold two message buffers each, and room to spare.
static CLIENT_STACK: Stack<{ (2 * MAXIMUM + 32 * 1024) / 8 }> = Stack::new();
static SERVER_STACK: Stack<{ (2 * MAXIMUM + 32 * 1024) / 8 }> = Stack::new();

static SIZE: AtomicU64 = AtomicU64::new(0);
static REPLY_BYTES: AtomicU64 = AtomicU64::new(0);
static ROUNDS: AtomicU64 = AtomicU64::new(0);
static SERVED: AtomicU64 = AtomicU64::new(0);
static PORT: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static FAILURES: AtomicU64 = AtomicU64::new(0);
static RECEIVED_HANDLE: AtomicU64 = AtomicU64::new(0);

/// The first word that tells a server to answer and exit.
const STOP: u64 = u64::MAX;
/// `REPLY_BYTES` value: answer with as many bytes as arrived.
const ECHO: u64 = u64::MAX;

fn reset() {
    for value in [
        &SIZE,
        &ROUNDS,
        &SERVED,
        &PORT,
        &DONE,
        &FAILURES,
        &RECEIVED_HANDLE,
    ] {
        value.store(0, SeqCst);
    }
    REPLY_BYTES.store(ECHO, SeqCst);
}

/// The bytes a client sends in `round`: a pattern that differs at every offset and round.
fn pattern(round: u64, index: usize) -> u8 {
    ((index as u64).wrapping_mul(131) ^ (index as u64 >> 9) ^ round.wrapping_mul(7)) as u8
}

/// Answers each request with its bytes each plus one (as many as `REPLY_BYTES` says) and the
/// words `[bytes received, bytes of its answer that did not fit]` of the previous answer; a
/// request whose first word is `STOP` is answered, and the server exits.
fn byte_server(set: u64) {
    let set = Handle::from_raw(set);
    let mut incoming = [0u8; MAXIMUM];
    let mut outgoing = [0u8; MAXIMUM];
    let Ok(mut request) = ipc::wait_into(set, &mut incoming) else {
        return;
    };
    loop {
        SERVED.fetch_add(1, SeqCst);
        let received = request.incoming.bytes;
        for (out, byte) in outgoing.iter_mut().zip(&incoming[..received]) {
            *out = byte.wrapping_add(1);
        }
        let length = match REPLY_BYTES.load(SeqCst) {
            ECHO => received,
            bytes => bytes as usize,
        };
        let words = [received as u64, request.incoming.handle.raw(), 0, 0];
        let answer = Outgoing {
            bytes: &outgoing[..length],
            handle: Handle::NONE,
        };
        if request.words[0] == STOP {
            let _ = ipc::reply_with(request.reply, words, answer);
            return;
        }
        match ipc::reply_wait_with(request.reply, words, answer, set, &mut incoming) {
            Ok(next) => request = next,
            Err(_) => return,
        }
    }
}

/// A port in a new set with a byte server on them; the server is left stopped.
fn byte_endpoint() -> Result<(Handle, Handle, Thread), CaseFailure> {
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let server = spawn(&SERVER_STACK, byte_server, set.raw()).map_err(fail)?;
    Ok((port, set, server))
}

fn finish(port: Handle, set: Handle, server: &Thread) -> Result<(), CaseFailure> {
    check_equal!(
        ipc::call(port, [STOP, 0, 0, 0]).map(|words| words[0]),
        Ok(0)
    );
    check!(wait_until_ended(server), "the server never ended");
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_close(set), Ok(()));
    Ok(())
}

fn bytes_travel_both_ways() -> Result<(), CaseFailure> {
    reset();
    let (port, set, server) = byte_endpoint()?;
    check_equal!(server.resume(), Ok(()));
    // Sizes that start and end in the middle of pages, and span several.
    for (round, size) in [1usize, 64, 4095, 4097, 3 * 4096 + 5]
        .into_iter()
        .enumerate()
    {
        let round = round as u64;
        let send: [u8; 16 * 1024] = core::array::from_fn(|index| pattern(round, index));
        let mut receive = [0u8; 16 * 1024];
        let outgoing = Outgoing {
            bytes: &send[3..3 + size],
            handle: Handle::NONE,
        };
        let (words, incoming) =
            ipc::call_with(port, [round, 0, 0, 0], outgoing, &mut receive[7..]).map_err(fail)?;
        check_equal!(words[0], size as u64);
        check_equal!(
            incoming,
            Incoming {
                bytes: size,
                handle: Handle::NONE,
                unsent: 0
            }
        );
        let echoed = receive[7..7 + size]
            .iter()
            .zip(&send[3..3 + size])
            .all(|(back, sent)| *back == sent.wrapping_add(1));
        check!(
            echoed,
            "the {size}-byte answer differs from the request plus one"
        );
        check!(
            receive[..7]
                .iter()
                .chain(&receive[7 + size..])
                .all(|&byte| byte == 0),
            "bytes were written outside the received range"
        );
    }
    finish(port, set, &server)
}

fn bytes_beyond_the_room() -> Result<(), CaseFailure> {
    reset();
    let (port, set, server) = byte_endpoint()?;
    check_equal!(server.resume(), Ok(()));
    let send = [9u8; 300];
    let mut receive = [0u8; 20];
    // The server's room is MAXIMUM: all 300 arrive; its answer of 50 bytes meets a room of 20.
    REPLY_BYTES.store(50, SeqCst);
    let outgoing = Outgoing {
        bytes: &send,
        handle: Handle::NONE,
    };
    let (words, incoming) = ipc::call_with(port, [0; 4], outgoing, &mut receive).map_err(fail)?;
    check_equal!(words[0], 300);
    check_equal!(incoming.bytes, 20);
    check_equal!(incoming.unsent, 0);
    check!(
        receive.iter().all(|&byte| byte == 10),
        "wrong bytes: {receive:?}"
    );
    finish(port, set, &server)
}

/// Receives a request with a handle to a port, calls that port with the request's words,
/// and answers with the answer's words and the handle that came with it.
fn relay_server(set: u64) {
    let Ok(request) = ipc::wait(Handle::from_raw(set)) else {
        return;
    };
    RECEIVED_HANDLE.store(request.incoming.handle.raw(), SeqCst);
    let Ok((words, incoming)) = ipc::call_with(
        request.incoming.handle,
        request.words,
        Outgoing::NOTHING,
        &mut [],
    ) else {
        FAILURES.fetch_add(1, SeqCst);
        return;
    };
    let answer = Outgoing {
        bytes: &[],
        handle: incoming.handle,
    };
    if ipc::reply_with(request.reply, words, answer).is_err() {
        FAILURES.fetch_add(1, SeqCst);
    }
    let _ = handle_close(request.incoming.handle);
    let _ = handle_close(incoming.handle);
}

/// Calls `PORT` passing the port handle in `argument` on; records the handle that comes back.
fn call_with_a_handle(argument: u64) {
    let outgoing = Outgoing {
        bytes: &[],
        handle: Handle::from_raw(argument),
    };
    match ipc::call_with(
        Handle::from_raw(PORT.load(SeqCst)),
        [5, 6, 7, 8],
        outgoing,
        &mut [],
    ) {
        Ok(([9, 10, 11, 12], incoming)) => {
            RECEIVED_HANDLE.store(incoming.handle.raw(), SeqCst);
        }
        _ => {
            FAILURES.fetch_add(1, SeqCst);
        }
    }
    DONE.store(1, SeqCst);
}

/// A client passes a port handle to a relay, which calls the port through it and passes the
/// handle in the answer back: each side gets a new handle to the same object.
fn handles_travel() -> Result<(), CaseFailure> {
    reset();
    let relay_port = ipc::port_create(1).map_err(fail)?;
    let relay_set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(relay_set, relay_port).map_err(fail)?;
    let service_port = ipc::port_create(77).map_err(fail)?;
    let service_set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(service_set, service_port).map_err(fail)?;
    PORT.store(relay_port.raw(), SeqCst);
    let relay = spawn(&SERVER_STACK, relay_server, relay_set.raw()).map_err(fail)?;
    check_equal!(relay.resume(), Ok(()));
    let client = spawn(&CLIENT_STACK, call_with_a_handle, service_port.raw()).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    // This thread is the service: the relay's call arrives through the passed handle.
    let request = ipc::wait(service_set).map_err(fail)?;
    check_equal!(request.badge, 77);
    check_equal!(request.words, [5, 6, 7, 8]);
    let passed = RECEIVED_HANDLE.load(SeqCst);
    check!(
        passed != 0 && passed != service_port.raw(),
        "the relay got {passed:#x}, not a handle of its own"
    );
    let mutex = Mutex::new().map_err(fail)?;
    let answer = Outgoing {
        bytes: &[],
        handle: mutex.handle(),
    };
    check_equal!(
        ipc::reply_with(request.reply, [9, 10, 11, 12], answer),
        Ok(0)
    );
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the client never returned"
    );
    check_equal!(FAILURES.load(SeqCst), 0);
    // The handle that came back names the same mutex: locked through one, busy through the
    // other.
    let returned = Mutex::from_handle(Handle::from_raw(RECEIVED_HANDLE.load(SeqCst)));
    check!(
        returned.handle() != mutex.handle(),
        "the same handle came back"
    );
    check_equal!(mutex.lock(), Ok(()));
    check_equal!(returned.try_lock(), Err(Error::WouldBlock));
    check_equal!(mutex.unlock(), Ok(()));
    check_equal!(returned.try_lock(), Ok(()));
    check_equal!(returned.unlock(), Ok(()));
    check!(wait_until_ended(&relay), "the relay never ended");
    check!(wait_until_ended(&client), "the client never ended");
    for handle in [relay_port, relay_set, service_port, service_set] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

/// `IpcCall` to `port` with raw transfer registers; the status.
fn raw_call(port: Handle, transfer: TransferRegisters) -> u64 {
    let mut transfer = transfer;
    call_with_transfer(Call::IpcCall, [port.raw(), 1, 2, 3, 4, 0], &mut transfer).0
}

fn bad_transfers_are_refused() -> Result<(), CaseFailure> {
    reset();
    let (port, set, server) = byte_endpoint()?;
    check_equal!(server.resume(), Ok(()));
    let buffer = [0u8; 64];
    let good = buffer.as_ptr() as u64;
    let code = byte_server as *const () as u64;
    let send = |address: u64, length: u64| TransferRegisters {
        send_address: address,
        send_length: length,
        ..TransferRegisters::default()
    };
    let receive = |address: u64, length: u64| TransferRegisters {
        receive_address: address,
        receive_length: length,
        ..TransferRegisters::default()
    };
    let bad_address = Error::BadAddress.code();
    check_equal!(raw_call(port, send(0xffff_8000_0000_0000, 16)), bad_address);
    check_equal!(raw_call(port, send(0x0000_8000_0000_0000, 16)), bad_address);
    check_equal!(raw_call(port, send(0x3000_0000_0000, 16)), bad_address);
    check_equal!(raw_call(port, send(good, u64::MAX)), Error::TooLong.code());
    let too_long = runtime::abi::registers::transfer::LENGTH_MAX + 1;
    check_equal!(raw_call(port, send(good, too_long)), Error::TooLong.code());
    check_equal!(raw_call(port, send(0, 16)), bad_address);
    // Receive buffers must be writable: code is not.
    check_equal!(raw_call(port, receive(code, 16)), bad_address);
    check_equal!(raw_call(port, receive(0x3000_0000_0000, 1)), bad_address);
    let handle = |raw: u64| TransferRegisters {
        handle: raw,
        ..TransferRegisters::default()
    };
    check_equal!(
        raw_call(port, handle(Handle::new(4000, 1).raw())),
        Error::BadHandle.code()
    );
    let no_transfer = handle_duplicate(port, Rights::SEND).map_err(fail)?;
    check_equal!(
        raw_call(port, handle(no_transfer.raw())),
        Error::MissingRights.code()
    );
    check_equal!(handle_close(no_transfer), Ok(()));
    // None of those reached the server; a good call does, with its bytes.
    check_equal!(SERVED.load(SeqCst), 0);
    check_equal!(raw_call(port, send(good, 64)), 0);
    check_equal!(SERVED.load(SeqCst), 1);
    // A server's own bad buffer fails its wait at once.
    let mut transfer = receive(code, 16);
    let (status, _) = call_with_transfer(Call::IpcWait, [set.raw(), 0, 0, 0, 0, 0], &mut transfer);
    check_equal!(status, bad_address);
    finish(port, set, &server)
}

/// Calls `PORT` `ROUNDS` times, each with `SIZE` bytes of the round's pattern, and checks
/// that every answer is the request plus one, byte for byte.
fn exchange_in_rounds(_: u64) {
    let port = Handle::from_raw(PORT.load(SeqCst));
    let size = SIZE.load(SeqCst) as usize;
    let mut send = [0u8; MAXIMUM];
    let mut receive = [0u8; MAXIMUM];
    for round in 0..ROUNDS.load(SeqCst) {
        for (index, byte) in send[..size].iter_mut().enumerate() {
            *byte = pattern(round, index);
        }
        receive[..size].fill(0);
        let outgoing = Outgoing {
            bytes: &send[..size],
            handle: Handle::NONE,
        };
        // The controller gets a turn before and after every call, whatever the kernel's
        // preemption: without preemption points a transfer cannot be caught in mid-copy, and
        // these are the moments left (a server waiting for a request, a client between calls).
        runtime::syscall::thread_yield();
        let outcome = ipc::call_with(port, [round, 0, 0, 0], outgoing, &mut receive[..size]);
        runtime::syscall::thread_yield();
        let correct = match outcome {
            Ok((words, incoming)) => {
                words[0] == size as u64
                    && incoming.bytes == size
                    && incoming.unsent == 0
                    && receive[..size]
                        .iter()
                        .zip(&send[..size])
                        .all(|(back, sent)| *back == sent.wrapping_add(1))
            }
            Err(_) => false,
        };
        if !correct {
            FAILURES.fetch_add(1, SeqCst);
        }
    }
    DONE.store(1, SeqCst);
}

/// Whether a stopped thread's registers show it in the middle of moving bytes.
fn mid_transfer(registers: &[u64]) -> bool {
    let call = registers[register::RAX];
    (call == Call::IpcReceive.number())
        || (call == Call::IpcAwaitReply.number() && registers[register::R13] != 0)
        || (call == Call::IpcReplyWait.number() && registers[register::R13] != 0)
}

/// The restart torture test with `size` bytes each way: a client exchanges messages with a
/// byte server in rounds while the controller keeps moving one or the other into a new thread;
/// every answer is exactly right and every request is served once.
fn restart_torture(size: usize, rounds: u64) -> Result<(), CaseFailure> {
    reset();
    SIZE.store(size as u64, SeqCst);
    ROUNDS.store(rounds, SeqCst);
    let (port, set, mut server) = byte_endpoint()?;
    PORT.store(port.raw(), SeqCst);
    check_equal!(server.resume(), Ok(()));
    let mut client = spawn(&CLIENT_STACK, exchange_in_rounds, 0).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    let mut mid_transfer_moves = 0u64;
    let done = || DONE.load(SeqCst) != 0;
    let moves = keep_moving(&mut client, &mut server, done, 5000, |moved| {
        if mid_transfer(&moved.state.registers) {
            mid_transfer_moves += 1;
        }
    })?;
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the client never finished"
    );
    check_equal!(FAILURES.load(SeqCst), 0);
    check_equal!(SERVED.load(SeqCst), rounds);
    check!(moves >= 20, "only {moves} moves: the test proved little");
    runtime::println!("  {size} bytes: {moves} moves, {mid_transfer_moves} in mid-transfer");
    check!(wait_until_ended(&client), "the client never ended");
    finish(port, set, &server)
}

static SERVER_STATUS: AtomicU64 = AtomicU64::new(0);
static WINDOW_PAGES: runtime::pager::PagePool<1> = runtime::pager::PagePool::new();
const RECEIVE_WINDOW: u64 = 0x5a00_0000_0000;

/// Waits with its receive buffer in a window that will be gone when the request comes; records
/// the status, then drops the request.
fn receive_into_a_window(set: u64) {
    let mut transfer = TransferRegisters {
        receive_address: RECEIVE_WINDOW,
        receive_length: 64,
        ..TransferRegisters::default()
    };
    let (status, results) = call_with_transfer(Call::IpcWait, [set, 0, 0, 0, 0, 0], &mut transfer);
    SERVER_STATUS.store(status, SeqCst);
    let _ = handle_close(Handle::from_raw(results[0]));
}

/// A server's receive buffer is taken away while it waits: the copy fails its call (once),
/// and the client learns `PeerGone` when the server drops the request.
fn receive_buffer_taken_away() -> Result<(), CaseFailure> {
    use runtime::abi::memory::MemoryRights;
    use runtime::memory::{mapping_create, mapping_destroy, region_create};
    reset();
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let rights = MemoryRights::READ | MemoryRights::WRITE;
    let region = region_create(WINDOW_PAGES.address(), 4096, rights).map_err(fail)?;
    let window = mapping_create(
        runtime::process::own_space(),
        RECEIVE_WINDOW,
        region,
        0,
        4096,
        rights,
    )
    .map_err(fail)?;
    let server = spawn(&SERVER_STACK, receive_into_a_window, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    let blocked = || {
        matches!(
            server.status(),
            Ok((runtime::abi::state::Condition::Blocked, _, _))
        )
    };
    check!(wait_for(blocked), "the server never waited");
    check_equal!(mapping_destroy(window), Ok(()));
    let bytes = [7u8; 64];
    let outgoing = Outgoing {
        bytes: &bytes,
        handle: Handle::NONE,
    };
    check_equal!(
        ipc::call_with(port, [0; 4], outgoing, &mut []).err(),
        Some(Error::PeerGone)
    );
    check!(wait_until_ended(&server), "the server never ended");
    check_equal!(SERVER_STATUS.load(SeqCst), Error::BadAddress.code());
    for handle in [window, region, port, set] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

static HOLD: AtomicU64 = AtomicU64::new(0);

/// Takes one request and answers it only once `HOLD` is cleared.
fn hold_one_request(set: u64) {
    if let Ok(request) = ipc::wait(Handle::from_raw(set)) {
        SERVED.fetch_add(1, SeqCst);
        while HOLD.load(SeqCst) != 0 {
            runtime::syscall::thread_yield();
        }
        let _ = ipc::reply(request.reply, [0; 4]);
    }
}

fn call_and_record(port: u64) {
    let outcome = ipc::call(Handle::from_raw(port), [0; 4]);
    SERVER_STATUS.store(outcome.err().map_or(0, Error::code), SeqCst);
    DONE.store(1, SeqCst);
}

/// A client waits for its reply on a handle (its state was moved onto a handle to its
/// connection instead of the connection it held), and another thread of its space closes that
/// handle: the client's call ends with `PeerGone` instead of waiting for nothing.
fn reply_handle_closed_under_the_client() -> Result<(), CaseFailure> {
    use runtime::abi::state::{Condition, register};
    use runtime::syscall::{thread_get_state_with_handles, thread_set_state_with_handles};
    reset();
    SERVER_STATUS.store(0, SeqCst);
    HOLD.store(1, SeqCst);
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let server = spawn(&SERVER_STACK, hold_one_request, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    let client = spawn(&CLIENT_STACK, call_and_record, port.raw()).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    let blocked = || matches!(client.status(), Ok((Condition::Blocked, _, _)));
    check!(
        wait_for(|| SERVED.load(SeqCst) == 1 && blocked()),
        "the client never waited for its reply"
    );
    check_equal!(client.interrupt(), Ok(()));
    let mut state = thread_get_state_with_handles(client.handle()).map_err(fail)?;
    check_equal!(state.registers[register::RAX], Call::IpcAwaitReply.number());
    check_equal!(state.registers[register::RDI], Handle::CONNECTION.raw());
    let connection = state.client_connection;
    check!(connection != 0, "the state named no connection");
    // The thread lets go of its connection; the handle holds it, and the call names it.
    state.client_connection = 0;
    state.registers[register::RDI] = connection;
    check_equal!(
        thread_set_state_with_handles(client.handle(), &state),
        Ok(())
    );
    check_equal!(client.resume(), Ok(()));
    check!(wait_for(blocked), "the client never waited again");
    check_equal!(SERVER_STATUS.load(SeqCst), 0);
    check_equal!(handle_close(Handle::from_raw(connection)), Ok(()));
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the client still waits for nothing"
    );
    check_equal!(SERVER_STATUS.load(SeqCst), Error::PeerGone.code());
    HOLD.store(0, SeqCst);
    check!(wait_until_ended(&client), "the client never ended");
    check!(wait_until_ended(&server), "the server never ended");
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_close(set), Ok(()));
    Ok(())
}
