//! IPC between threads: calls and replies, one-way messages, a request dropped by its server,
//! handle checks, and the atomic contract at every IPC blocking point: a client waiting for a
//! server, a client waiting for its reply, and a waiting server can each be stopped and moved
//! into a new thread without a request being lost or served twice.

use super::handles::fail;
use super::{keep_moving, wait_for, wait_until_ended};
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::handle::ConnectionSide;
use runtime::abi::state::{Condition, register};
use runtime::abi::{Call, Error, Handle, Rights};
use runtime::ipc::{self, Words};
use runtime::process::own_space;
use runtime::syscall::{
    handle_close, handle_duplicate, thread_get_state_with_handles, thread_set_state_with_handles,
    thread_yield,
};
use runtime::thread::{Stack, Thread, spawn};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "ipc_calls_are_answered",
        run: calls_are_answered,
    },
    Case {
        name: "ipc_hands_the_processor_straight_to_the_server_and_back",
        run: hands_the_processor_over,
    },
    Case {
        name: "ipc_one_way_messages_reach_only_a_waiting_server",
        run: one_way_messages,
    },
    Case {
        name: "ipc_a_request_queued_while_the_server_answers_is_taken_next",
        run: queued_request_is_taken_next,
    },
    Case {
        name: "ipc_a_dropped_request_fails_with_peer_gone",
        run: dropped_request,
    },
    Case {
        name: "ipc_a_reply_to_a_vanished_client_fails_with_peer_gone",
        run: vanished_client,
    },
    Case {
        name: "ipc_handles_are_checked",
        run: handles_are_checked,
    },
    Case {
        name: "ipc_a_client_waiting_for_a_server_moves",
        run: client_waiting_for_server_moves,
    },
    Case {
        name: "ipc_a_client_waiting_for_its_reply_moves",
        run: client_waiting_for_reply_moves,
    },
    Case {
        name: "ipc_a_client_stopped_waiting_for_its_reply_takes_it_only_when_resumed",
        run: stopped_client_takes_its_reply_when_resumed,
    },
    Case {
        name: "ipc_servers_of_one_set_take_requests_in_turn_and_leave_it_when_stopped",
        run: servers_take_requests_in_turn,
    },
    Case {
        name: "ipc_a_waiting_server_moves",
        run: waiting_server_moves,
    },
    Case {
        name: "restart_torture_ipc_client_and_server",
        run: restart_torture_ipc,
    },
];

static SERVER_STACK: Stack<2048> = Stack::new();
static CLIENT_STACK: Stack<2048> = Stack::new();
static SERVED: AtomicU64 = AtomicU64::new(0);
static ONE_WAY: AtomicU64 = AtomicU64::new(0);
static BADGE: AtomicU64 = AtomicU64::new(0);
static HOLD: AtomicU64 = AtomicU64::new(0);
static PORT: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static FAILURES: AtomicU64 = AtomicU64::new(0);
static LAST_REPLY: AtomicU64 = AtomicU64::new(0);

/// The first word that tells the echo server to answer and exit.
const STOP: u64 = u64::MAX;

fn reset() {
    for value in [
        &SERVED,
        &ONE_WAY,
        &BADGE,
        &HOLD,
        &PORT,
        &DONE,
        &FAILURES,
        &LAST_REPLY,
    ] {
        value.store(0, SeqCst);
    }
}

fn plus_one(words: Words) -> Words {
    words.map(|word| word.wrapping_add(1))
}

/// Answers every request with its words plus one, counting them; answers `STOP` and exits.
/// While `HOLD` is set it waits before answering.
fn echo_server(set: u64) {
    let set = Handle::from_raw(set);
    let Ok(mut request) = ipc::wait(set) else {
        return;
    };
    loop {
        BADGE.store(request.badge, SeqCst);
        if request.reply == Handle::NONE {
            ONE_WAY.fetch_add(1, SeqCst);
            match ipc::wait(set) {
                Ok(next) => request = next,
                Err(_) => return,
            }
            continue;
        }
        SERVED.fetch_add(1, SeqCst);
        while HOLD.load(SeqCst) != 0 {
            thread_yield();
        }
        if request.words[0] == STOP {
            let _ = ipc::reply(request.reply, plus_one(request.words));
            return;
        }
        match ipc::reply_wait(request.reply, plus_one(request.words), set) {
            Ok(next) => request = next,
            Err(_) => return,
        }
    }
}

/// A port with `badge`, in a new set.
fn port_in_new_set(badge: u64) -> Result<(Handle, Handle), CaseFailure> {
    let port = ipc::port_create(badge).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    Ok((port, set))
}

/// Waits until `thread` blocks (`what` names it in the failure), then stops it.
fn stop_once_blocked(thread: &Thread, what: &str) -> Result<(), CaseFailure> {
    let blocked = || matches!(thread.status(), Ok((Condition::Blocked, _, _)));
    check!(wait_for(blocked), "the {what} never blocked");
    check_equal!(thread.interrupt(), Ok(()));
    Ok(())
}

/// A port with `badge` in a new set, and a server on them.
fn endpoint(badge: u64) -> Result<(Handle, Handle, Thread), CaseFailure> {
    let (port, set) = port_in_new_set(badge)?;
    let server = spawn(&SERVER_STACK, echo_server, set.raw()).map_err(fail)?;
    Ok((port, set, server))
}

fn finish(port: Handle, set: Handle, server: &Thread) -> Result<(), CaseFailure> {
    HOLD.store(0, SeqCst);
    check_equal!(ipc::call(port, [STOP, 0, 0, 0]), Ok([0, 1, 1, 1]));
    check!(wait_until_ended(server), "the server never ended");
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_close(set), Ok(()));
    Ok(())
}

fn calls_are_answered() -> Result<(), CaseFailure> {
    reset();
    let (port, set, server) = endpoint(0xbad9e)?;
    check_equal!(server.resume(), Ok(()));
    for round in 0..10u64 {
        let words = [round, round + 1, round * 1000, u64::MAX - round];
        check_equal!(ipc::call(port, words), Ok(plus_one(words)));
    }
    check_equal!(SERVED.load(SeqCst), 10);
    check_equal!(BADGE.load(SeqCst), 0xbad9e);
    finish(port, set, &server)
}

fn one_way_messages() -> Result<(), CaseFailure> {
    reset();
    let (port, set, server) = endpoint(7)?;
    // Nobody waits yet: the message is dropped, and the sender is told.
    check_equal!(ipc::send(port, [1, 2, 3, 4]), Err(Error::NoReceiver));
    check_equal!(server.resume(), Ok(()));
    let blocked = || matches!(server.status(), Ok((Condition::Blocked, _, _)));
    check!(wait_for(blocked), "the server never waited");
    check_equal!(ipc::send(port, [1, 2, 3, 4]), Ok(()));
    check!(
        wait_for(|| ONE_WAY.load(SeqCst) == 1),
        "the message never arrived"
    );
    check_equal!(SERVED.load(SeqCst), 0);
    finish(port, set, &server)
}

fn drop_the_request(set: u64) {
    if ipc::wait(Handle::from_raw(set)).is_ok()
        && let Ok(request) = ipc::detach(ConnectionSide::Server)
    {
        let _ = handle_close(request);
    }
}

fn dropped_request() -> Result<(), CaseFailure> {
    let (port, set) = port_in_new_set(0)?;
    let server = spawn(&SERVER_STACK, drop_the_request, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    check_equal!(ipc::call(port, [1, 2, 3, 4]), Err(Error::PeerGone));
    check!(wait_until_ended(&server), "the server never ended");
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_close(set), Ok(()));
    Ok(())
}

fn handles_are_checked() -> Result<(), CaseFailure> {
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    check_equal!(ipc::call(set, [0; 4]), Err(Error::WrongType));
    check_equal!(ipc::wait(port).err(), Some(Error::WrongType));
    check_equal!(ipc::send(own_space(), [0; 4]), Err(Error::WrongType));
    check_equal!(ipc::reply(port, [0; 4]), Err(Error::WrongType));
    check_equal!(
        ipc::reply(Handle::new(4000, 1), [0; 4]),
        Err(Error::BadHandle)
    );
    let receive_only = handle_duplicate(port, Rights::RECEIVE).map_err(fail)?;
    check_equal!(ipc::call(receive_only, [0; 4]), Err(Error::MissingRights));
    let send_only = handle_duplicate(port, Rights::SEND).map_err(fail)?;
    check_equal!(ipc::port_set_add(set, send_only), Err(Error::MissingRights));
    check_equal!(ipc::port_set_add(set, port), Ok(()));
    check_equal!(ipc::port_set_add(set, port), Err(Error::InvalidState));
    for handle in [port, set, receive_only, send_only] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

static SECOND_CLIENT_STACK: Stack<2048> = Stack::new();
static ANSWERED: AtomicU64 = AtomicU64::new(0);

/// Calls the port in `PORT` with `argument`, and counts a right answer.
fn call_and_count(argument: u64) {
    let port = Handle::from_raw(PORT.load(SeqCst));
    if ipc::call(port, [argument, 0, 0, 0]).is_ok_and(|reply| reply[0] == argument + 1) {
        ANSWERED.fetch_add(1, SeqCst);
    } else {
        FAILURES.fetch_add(1, SeqCst);
    }
}

/// While the server holds a first client's request, a second client's call waits in the
/// port's queue. The server's answer to the first (a reply-and-wait with words only, which the
/// fast path may take) must take the queued request next rather than wait on the set, where
/// nothing would ever wake it for a request that is already there.
fn queued_request_is_taken_next() -> Result<(), CaseFailure> {
    reset();
    ANSWERED.store(0, SeqCst);
    HOLD.store(1, SeqCst);
    let (port, set, server) = endpoint(0)?;
    PORT.store(port.raw(), SeqCst);
    check_equal!(server.resume(), Ok(()));
    let first = spawn(&CLIENT_STACK, call_and_count, 10).map_err(fail)?;
    check_equal!(first.resume(), Ok(()));
    check!(
        wait_for(|| SERVED.load(SeqCst) == 1),
        "the server never took the first request"
    );
    let second = spawn(&SECOND_CLIENT_STACK, call_and_count, 20).map_err(fail)?;
    check_equal!(second.resume(), Ok(()));
    check!(
        wait_for(|| ipc::port_state(port).is_ok_and(|state| state.queued == 1)),
        "the second request never waited in the port"
    );
    // The server, let go, answers at once: this thread yields to it (a sleep could leave a
    // wake-up pending that sends the answer down the general path).
    HOLD.store(0, SeqCst);
    check!(
        wait_for(|| {
            thread_yield();
            ANSWERED.load(SeqCst) == 2
        }),
        "{} of two calls answered: a request waiting in the port was left there",
        ANSWERED.load(SeqCst)
    );
    check_equal!((SERVED.load(SeqCst), FAILURES.load(SeqCst)), (2, 0));
    check!(wait_until_ended(&first), "the first client never ended");
    check!(wait_until_ended(&second), "the second client never ended");
    finish(port, set, &server)
}

/// Calls the port in `PORT` with `argument` and records the reply's first word.
fn call_once(argument: u64) {
    match ipc::call(Handle::from_raw(PORT.load(SeqCst)), [argument, 0, 0, 0]) {
        Ok(reply) => LAST_REPLY.store(reply[0], SeqCst),
        Err(_) => {
            FAILURES.fetch_add(1, SeqCst);
        }
    }
    DONE.store(1, SeqCst);
}

/// Stops `thread` once it is blocked, checks its registers name `call`, and moves it into a
/// new thread, which it returns (stopped).
fn move_blocked(thread: Thread, call: Call) -> Result<Thread, CaseFailure> {
    stop_once_blocked(&thread, "thread")?;
    let (state, moved) = thread.move_to_new_thread(own_space()).map_err(fail)?;
    check_equal!(state.registers[register::RAX], call.number());
    Ok(moved)
}

fn client_waiting_for_server_moves() -> Result<(), CaseFailure> {
    reset();
    let (port, set, server) = endpoint(0)?;
    PORT.store(port.raw(), SeqCst);
    let client = spawn(&CLIENT_STACK, call_once, 41).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    let client = move_blocked(client, Call::IpcCall)?;
    check_equal!(client.resume(), Ok(()));
    check_equal!(server.resume(), Ok(()));
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the moved client never finished"
    );
    check_equal!((LAST_REPLY.load(SeqCst), FAILURES.load(SeqCst)), (42, 0));
    check_equal!(SERVED.load(SeqCst), 1);
    check!(wait_until_ended(&client), "the client never ended");
    finish(port, set, &server)
}

fn client_waiting_for_reply_moves() -> Result<(), CaseFailure> {
    reset();
    HOLD.store(1, SeqCst);
    let (port, set, server) = endpoint(0)?;
    PORT.store(port.raw(), SeqCst);
    check_equal!(server.resume(), Ok(()));
    let client = spawn(&CLIENT_STACK, call_once, 99).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    check!(
        wait_for(|| SERVED.load(SeqCst) == 1),
        "the server never took the request"
    );
    // The server holds the request: the client waits in stage 2, on its reply handle.
    let client = move_blocked(client, Call::IpcAwaitReply)?;
    check_equal!(client.resume(), Ok(()));
    HOLD.store(0, SeqCst);
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the moved client never finished"
    );
    check_equal!((LAST_REPLY.load(SeqCst), FAILURES.load(SeqCst)), (100, 0));
    check_equal!(SERVED.load(SeqCst), 1);
    check!(wait_until_ended(&client), "the client never ended");
    finish(port, set, &server)
}

/// Calls once (a thread's first call makes the reply object the fast path reuses), then
/// has the server hold its next request, and calls the port in `PORT` with `argument`.
fn call_then_call_held(argument: u64) {
    let port = Handle::from_raw(PORT.load(SeqCst));
    if ipc::call(port, [0; 4]) != Ok([1; 4]) {
        FAILURES.fetch_add(1, SeqCst);
    }
    HOLD.store(1, SeqCst);
    call_once(argument);
}

/// A client stopped while it waits for its reply (a words-only call, which the fast path
/// made) leaves the reply's waiting slot: the server's answer waits for it, and it takes the
/// answer only once resumed. (A stopped client left in the slot would be answered, and run,
/// while stopped.)
fn stopped_client_takes_its_reply_when_resumed() -> Result<(), CaseFailure> {
    reset();
    let (port, set, server) = endpoint(0)?;
    PORT.store(port.raw(), SeqCst);
    check_equal!(server.resume(), Ok(()));
    let client = spawn(&CLIENT_STACK, call_then_call_held, 7).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    check!(
        wait_for(|| SERVED.load(SeqCst) == 2),
        "the server never took the second request"
    );
    stop_once_blocked(&client, "client")?;
    // The server answers and goes back to waiting on its set.
    HOLD.store(0, SeqCst);
    let server_waits = || matches!(server.status(), Ok((Condition::Blocked, _, _)));
    check!(
        wait_for(server_waits),
        "the server never went back to waiting"
    );
    for _ in 0..10 {
        thread_yield();
    }
    check!(
        matches!(client.status(), Ok((Condition::Stopped, _, _))),
        "the stopped client is {:?} after the answer",
        client.status()
    );
    check_equal!(DONE.load(SeqCst), 0);
    check_equal!(client.resume(), Ok(()));
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the resumed client never took its answer"
    );
    check_equal!((LAST_REPLY.load(SeqCst), FAILURES.load(SeqCst)), (8, 0));
    check!(wait_until_ended(&client), "the client never ended");
    finish(port, set, &server)
}

static TURN_STACKS: [Stack<1024>; 3] = [Stack::new(), Stack::new(), Stack::new()];
static NEXT_SERVER: AtomicU64 = AtomicU64::new(0);

/// A server that answers every request with its own number (taken in the order the servers
/// start), until its set goes.
fn answer_with_own_number(set: u64) {
    let me = NEXT_SERVER.fetch_add(1, SeqCst);
    let set = Handle::from_raw(set);
    let Ok(mut request) = ipc::wait(set) else {
        return;
    };
    while let Ok(next) = ipc::reply_wait(request.reply, [me, 0, 0, 0], set) {
        request = next;
    }
}

/// The number of the server that answers a call to `port`.
fn answering_server(port: Handle) -> Result<u64, Error> {
    ipc::call(port, [0; 4]).map(|words| words[0])
}

/// Three servers wait on one set: requests go to the longest-waiting one, so they take turns
/// (each answer sends its server to the back); a stopped server leaves the queue from the
/// middle, and the others go on taking turns; the set's destruction fails the waits of the
/// rest, which then end (their next wait names a closed handle).
fn servers_take_requests_in_turn() -> Result<(), CaseFailure> {
    reset();
    NEXT_SERVER.store(0, SeqCst);
    let (port, set) = port_in_new_set(0)?;
    let mut servers = [const { None }; 3];
    for (waiting, (stack, slot)) in TURN_STACKS.iter().zip(servers.iter_mut()).enumerate() {
        let server = spawn(stack, answer_with_own_number, set.raw()).map_err(fail)?;
        check_equal!(server.resume(), Ok(()));
        let queued = || ipc::port_set_state(set) == Ok((1, waiting as u64 + 1));
        check!(wait_for(queued), "server {waiting} never waited on the set");
        *slot = Some(server);
    }
    let [Some(first), Some(second), Some(third)] = servers else {
        return Err(fail(Error::InvalidState));
    };
    for round in 0..6 {
        check_equal!(answering_server(port), Ok(round % 3));
    }
    check_equal!(second.interrupt(), Ok(()));
    check_equal!(ipc::port_set_state(set), Ok((1, 2)));
    for expected in [0, 2, 0, 2] {
        check_equal!(answering_server(port), Ok(expected));
    }
    // The port holds its set: the set goes with the last of the two.
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_close(set), Ok(()));
    check!(wait_until_ended(&first), "the first server never ended");
    check!(wait_until_ended(&third), "the third server never ended");
    check!(
        matches!(second.status(), Ok((Condition::Stopped, _, _))),
        "the stopped server is {:?}",
        second.status()
    );
    Ok(())
}

fn waiting_server_moves() -> Result<(), CaseFailure> {
    reset();
    let (port, set, server) = endpoint(5)?;
    check_equal!(server.resume(), Ok(()));
    let server = move_blocked(server, Call::IpcWait)?;
    check_equal!(server.resume(), Ok(()));
    check_equal!(ipc::call(port, [1, 1, 1, 1]), Ok([2, 2, 2, 2]));
    check_equal!(SERVED.load(SeqCst), 1);
    finish(port, set, &server)
}

const TORTURE_CALLS: u64 = 40;

fn call_in_rounds(_: u64) {
    let port = Handle::from_raw(PORT.load(SeqCst));
    for round in 0..TORTURE_CALLS {
        let words = [round, round * 3, !round, 17];
        if ipc::call(port, words) != Ok(plus_one(words)) {
            FAILURES.fetch_add(1, SeqCst);
        }
        // A call hands the processor to the server and back, so the controller runs only
        // when the client gives way.
        thread_yield();
    }
    DONE.store(1, SeqCst);
}

/// A client calls an echo server in rounds while the controller keeps stopping one or the
/// other, at varying moments, and moving it into a new thread: every call gets exactly its
/// own answer, and the server serves each request exactly once.
fn restart_torture_ipc() -> Result<(), CaseFailure> {
    reset();
    let (port, set, mut server) = endpoint(0)?;
    PORT.store(port.raw(), SeqCst);
    check_equal!(server.resume(), Ok(()));
    let mut client = spawn(&CLIENT_STACK, call_in_rounds, 0).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    let done = || DONE.load(SeqCst) != 0;
    let moves = keep_moving(&mut client, &mut server, done, 3000, |_| {})?;
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the client never finished"
    );
    check_equal!(FAILURES.load(SeqCst), 0);
    check_equal!(SERVED.load(SeqCst), TORTURE_CALLS);
    check!(moves >= 20, "only {moves} moves: the test proved little");
    check!(wait_until_ended(&client), "the client never ended");
    finish(port, set, &server)
}

/// Takes one request and waits for `HOLD` to clear before answering it, recording the
/// outcome of the answer in `LAST_REPLY` (1 for `Ok`, 2 for `PeerGone`).
fn answer_late(set: u64) {
    if let Ok(request) = ipc::wait(Handle::from_raw(set)) {
        SERVED.fetch_add(1, SeqCst);
        while HOLD.load(SeqCst) != 0 {
            thread_yield();
        }
        let outcome = ipc::reply(request.reply, [0; 4]);
        LAST_REPLY.store(
            if outcome == Err(Error::PeerGone) {
                2
            } else {
                1
            },
            SeqCst,
        );
    }
}

/// The death of a peer is an error on both sides: the client's side of a pending reply goes
/// (the client's state is replaced by one without its connection), so the server's answer
/// fails with `PeerGone`, and so does the client's re-issued wait.
fn vanished_client() -> Result<(), CaseFailure> {
    reset();
    HOLD.store(1, SeqCst);
    let (port, set) = port_in_new_set(0)?;
    PORT.store(port.raw(), SeqCst);
    let server = spawn(&SERVER_STACK, answer_late, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    let client = spawn(&CLIENT_STACK, call_once, 1).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    check!(
        wait_for(|| SERVED.load(SeqCst) == 1),
        "the server never took the request"
    );
    stop_once_blocked(&client, "client waiting for its reply")?;
    let mut state = thread_get_state_with_handles(client.handle()).map_err(fail)?;
    check_equal!(state.registers[register::RAX], Call::IpcAwaitReply.number());
    check!(
        state.client_connection != 0,
        "the state named no connection"
    );
    // The handle the state brought is not what keeps the connection open: the thread is.
    check_equal!(
        handle_close(Handle::from_raw(state.client_connection)),
        Ok(())
    );
    state.client_connection = 0;
    check_equal!(
        thread_set_state_with_handles(client.handle(), &state),
        Ok(())
    );
    HOLD.store(0, SeqCst);
    check!(
        wait_for(|| LAST_REPLY.load(SeqCst) != 0),
        "the server never answered"
    );
    check_equal!(LAST_REPLY.load(SeqCst), 2);
    check!(wait_until_ended(&server), "the server never ended");
    check_equal!(client.resume(), Ok(()));
    check!(
        wait_for(|| DONE.load(SeqCst) == 1),
        "the client never returned"
    );
    check_equal!(FAILURES.load(SeqCst), 1);
    check!(wait_until_ended(&client), "the client never ended");
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_close(set), Ok(()));
    Ok(())
}

static SPINNER_STACK: Stack<1024> = Stack::new();
static SPINS: AtomicU64 = AtomicU64::new(0);

fn count_forever(_: u64) {
    loop {
        SPINS.fetch_add(1, SeqCst);
    }
}

/// With another thread of the same priority ready all along, a call runs the server at once
/// and the reply runs the client at once: the other thread does not get the processor in
/// between (DESIGN.md section 5: IPC hands the processor from caller to callee).
fn hands_the_processor_over() -> Result<(), CaseFailure> {
    reset();
    let (port, set, server) = endpoint(0)?;
    check_equal!(server.resume(), Ok(()));
    check_equal!(ipc::call(port, [1, 0, 0, 0]), Ok([2, 1, 1, 1]));
    let spinner = spawn(&SPINNER_STACK, count_forever, 0).map_err(fail)?;
    check_equal!(spinner.resume(), Ok(()));
    thread_yield();
    let mut direct = 0;
    for round in 0..50u64 {
        let before = SPINS.load(SeqCst);
        check_equal!(
            ipc::call(port, [round, 0, 0, 0]).map(|words| words[0]),
            Ok(round + 1)
        );
        if SPINS.load(SeqCst) == before {
            direct += 1;
        }
    }
    check_equal!(spinner.interrupt(), Ok(()));
    check!(
        SPINS.load(SeqCst) > 0,
        "the other thread never ran: no test"
    );
    check!(
        direct >= 45,
        "only {direct} of 50 calls went straight to the server and back"
    );
    finish(port, set, &server)
}
