//! Demand paging by a user-level keeper: a zero-fill pager serves a child that touches 1,000
//! pages in random order, then takes back half of them, and the child faults again on exactly
//! those; and IPC bytes copied into holes fault to the keeper in the middle of the transfer,
//! which then finishes.

use super::handles::fail;
use super::memory::child_running_this_program;
use super::{keep_moving, wait_for, wait_until_ended};
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::keeper::FaultMessage;
use runtime::abi::memory::MemoryRights;
use runtime::abi::{Call, Handle, Rights};
use runtime::arch::entry::image_start;
use runtime::arch::probe::{load_through_rdi, store_through_rdi};
use runtime::arch::syscall::{TransferRegisters, call_with_transfer};
use runtime::ipc::{self, Outgoing};
use runtime::memory::{mapping_create, mapping_destroy, region_create_kept, region_destroy};
use runtime::pager::{PAGE_SIZE, PagePool, Supplied, ZeroFillPager};
use runtime::process::own_space;
use runtime::syscall::{handle_close, handle_grant, space_destroy};
use runtime::thread::{Stack, spawn, spawn_in};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "pager_zero_fill_serves_a_child_1000_pages_and_refaults_exactly_the_revoked_half",
        run: zero_fill_child,
    },
    Case {
        name: "pager_ipc_bytes_copied_into_holes_fault_to_the_keeper_and_arrive",
        run: ipc_into_holes,
    },
    Case {
        name: "restart_torture_ipc_through_holes_in_both_spaces_served_by_a_keeper",
        run: torture_through_holes,
    },
    Case {
        name: "pager_a_keeper_answering_garbage_or_twice_leaves_the_thread_stopped",
        run: garbage_answers,
    },
    Case {
        name: "pager_the_faults_a_gone_keeper_held_go_to_the_threads_keeper_with_the_thread",
        run: gone_keeper,
    },
    Case {
        name: "pager_a_thread_whose_last_handle_goes_while_its_pager_works_runs_on",
        run: detached_waiter,
    },
];

const PAGES: u64 = 1000;
/// The empty range of this space the pager's region covers.
const HOLES: u64 = 0x6000_0000_0000;
/// Where the child sees that region.
const SHOWN: u64 = 0x6100_0000_0000;
/// The first word of the call that tells the pager loop a round is over.
const DONE: u64 = u64::MAX;

static POOL: PagePool<1600> = PagePool::new();
static CHILD_STACK: Stack<2048> = Stack::new();
static ROUND: AtomicU64 = AtomicU64::new(0);
static WRONG: AtomicU64 = AtomicU64::new(0);
/// The mapping filling each page, by page index.
static FILLED: [AtomicU64; PAGES as usize] = [const { AtomicU64::new(0) }; PAGES as usize];

/// In the child: touches every page in an order that differs by round, checking what it finds
/// (a fresh page reads 0, a page kept from round 1 reads what round 1 wrote), then tells the
/// pager the round is over through the port handle `port`.
fn touch_pages(port: u64) {
    let round = ROUND.load(SeqCst);
    for step in 0..PAGES {
        let index = (step * 7919 + round * 13) % PAGES;
        let address = SHOWN + index * PAGE_SIZE + 8;
        let expected = if round == 2 && index % 2 == 1 {
            index + 1
        } else {
            0
        };
        if load_through_rdi(address) != expected {
            WRONG.fetch_add(1, SeqCst);
        }
        store_through_rdi(address, index + 1);
    }
    let _ = ipc::call(Handle::from_raw(port), [DONE, 0, 0, 0]);
}

/// Serves faults until the round's `DONE` call; the number of faults, each page's index
/// recorded with the mapping that filled it.
fn serve_round(pager: &mut ZeroFillPager, set: Handle) -> Result<u64, CaseFailure> {
    let mut faults = 0;
    loop {
        let request = ipc::wait(set).map_err(fail)?;
        if request.words[0] == DONE {
            check_equal!(ipc::reply(request.reply, [0; 4]), Ok(()));
            return Ok(faults);
        }
        let address = FaultMessage::from_words(request.words).address;
        check!(
            (HOLES..HOLES + PAGES * PAGE_SIZE).contains(&address),
            "a fault at {address:#x}, outside the region"
        );
        let Some(supplied) = pager.serve(&request).map_err(fail)? else {
            continue;
        };
        let index = (supplied.address - HOLES) / PAGE_SIZE;
        check_equal!(
            FILLED[index as usize].swap(supplied.mapping.raw(), SeqCst),
            0
        );
        faults += 1;
    }
}

fn zero_fill_child() -> Result<(), CaseFailure> {
    let (child, image, image_shown) = child_running_this_program()?;
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let read_write = MemoryRights::READ | MemoryRights::WRITE;
    let region = region_create_kept(HOLES, PAGES * PAGE_SIZE, read_write, port).map_err(fail)?;
    let shown =
        mapping_create(child, SHOWN, region, 0, PAGES * PAGE_SIZE, read_write).map_err(fail)?;
    let granted = handle_grant(child, port, Rights::SEND).map_err(fail)?;
    // The image's region covers the pool too: the pager shows its pages through it.
    let offset = ZeroFillPager::pool_address(&POOL) - image_start();
    let mut pager = ZeroFillPager::with_region(own_space(), &POOL, image, offset);
    WRONG.store(0, SeqCst);
    for round in 1..=2 {
        ROUND.store(round, SeqCst);
        let toucher = spawn_in(child, &CHILD_STACK, touch_pages, granted.raw()).map_err(fail)?;
        check_equal!(toucher.resume(), Ok(()));
        let faults = serve_round(&mut pager, set)?;
        check!(
            wait_until_ended(&toucher),
            "the child never ended round {round}"
        );
        check_equal!(WRONG.load(SeqCst), 0);
        if round == 1 {
            check_equal!(faults, PAGES);
            // Take back the even pages; the child will find the odd ones as it left them.
            for index in (0..PAGES).step_by(2) {
                let mapping = Handle::from_raw(FILLED[index as usize].swap(0, SeqCst));
                let page = Supplied {
                    address: HOLES + index * PAGE_SIZE,
                    mapping,
                };
                pager.revoke(page).map_err(fail)?;
            }
        } else {
            check_equal!(faults, PAGES / 2);
            let refilled = (0..PAGES)
                .filter(|&index| FILLED[index as usize].load(SeqCst) != 0 && index % 2 == 0);
            check_equal!(refilled.count() as u64, PAGES / 2);
        }
    }
    check_equal!(pager.supplied() as u64, PAGES + PAGES / 2);
    check_equal!(region_destroy(region), Ok(()));
    for slot in &FILLED {
        let mapping = Handle::from_raw(slot.swap(0, SeqCst));
        if mapping != Handle::NONE {
            let _ = mapping_destroy(mapping);
            check_equal!(handle_close(mapping), Ok(()));
        }
    }
    check_equal!(space_destroy(child), Ok(()));
    for handle in [shown, region, port, set, image_shown, image, child] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

const BYTES: u64 = 20_000;
const HOLES_FOR_IPC: u64 = 0x6200_0000_0000;
const SHOWN_FOR_IPC: u64 = 0x6300_0000_0000;
static SERVER_STACK: Stack<2048> = Stack::new();
static CLIENT_STACK: Stack<8192> = Stack::new();
static RECEIVED: AtomicU64 = AtomicU64::new(0);
static PORTS: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

fn pattern(index: usize) -> u8 {
    (index * 37 + index / 4096) as u8
}

/// Receives one request into the holes, answers it, and records how many bytes arrived.
fn receive_into_holes(set: u64) {
    let mut transfer = TransferRegisters {
        receive_address: SHOWN_FOR_IPC + 100,
        receive_length: BYTES,
        ..TransferRegisters::default()
    };
    let (status, results) = call_with_transfer(Call::IpcWait, [set, 0, 0, 0, 0, 0], &mut transfer);
    if status == 0 {
        RECEIVED.store(BYTES - transfer.receive_length, SeqCst);
        let _ = ipc::reply(Handle::from_raw(results[0]), [0; 4]);
    }
}

/// Sends the pattern to the receiving server, then tells the pager loop it is done.
fn send_pattern(_: u64) {
    let bytes: [u8; BYTES as usize] = core::array::from_fn(pattern);
    let outgoing = Outgoing {
        bytes: &bytes,
        handle: Handle::NONE,
    };
    let _ = ipc::call_with(
        Handle::from_raw(PORTS[0].load(SeqCst)),
        [0; 4],
        outgoing,
        &mut [],
    );
    let _ = ipc::call(Handle::from_raw(PORTS[1].load(SeqCst)), [DONE, 0, 0, 0]);
}

fn ipc_into_holes() -> Result<(), CaseFailure> {
    let read_write = MemoryRights::READ | MemoryRights::WRITE;
    let keeper_port = ipc::port_create(0).map_err(fail)?;
    let keeper_set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(keeper_set, keeper_port).map_err(fail)?;
    let region =
        region_create_kept(HOLES_FOR_IPC, 8 * PAGE_SIZE, read_write, keeper_port).map_err(fail)?;
    let shown = mapping_create(
        own_space(),
        SHOWN_FOR_IPC,
        region,
        0,
        8 * PAGE_SIZE,
        read_write,
    )
    .map_err(fail)?;
    let service_port = ipc::port_create(0).map_err(fail)?;
    let service_set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(service_set, service_port).map_err(fail)?;
    PORTS[0].store(service_port.raw(), SeqCst);
    PORTS[1].store(keeper_port.raw(), SeqCst);
    RECEIVED.store(0, SeqCst);
    let server = spawn(&SERVER_STACK, receive_into_holes, service_set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    let client = spawn(&CLIENT_STACK, send_pattern, 0).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    let mut pager = ZeroFillPager::new(own_space(), &POOL_FOR_IPC).map_err(fail)?;
    let mut supplied = [Handle::NONE; 8];
    loop {
        let request = ipc::wait(keeper_set).map_err(fail)?;
        if request.words[0] == DONE {
            check_equal!(ipc::reply(request.reply, [0; 4]), Ok(()));
            break;
        }
        let Some(page) = pager.serve(&request).map_err(fail)? else {
            continue;
        };
        supplied[((page.address - HOLES_FOR_IPC) / PAGE_SIZE) as usize] = page.mapping;
    }
    check!(
        wait_for(|| RECEIVED.load(SeqCst) != 0),
        "the server never got the request"
    );
    check_equal!(RECEIVED.load(SeqCst), BYTES);
    // 20,000 bytes from offset 100 touch pages 0 to 4.
    check_equal!(pager.supplied(), 5);
    for index in (0..BYTES as usize).step_by(997) {
        let word = load_through_rdi(SHOWN_FOR_IPC + 100 + index as u64);
        check_equal!(word as u8, pattern(index));
    }
    check!(wait_until_ended(&client), "the client never ended");
    check!(wait_until_ended(&server), "the server never ended");
    check_equal!(region_destroy(region), Ok(()));
    for mapping in supplied
        .into_iter()
        .filter(|&mapping| mapping != Handle::NONE)
    {
        let _ = mapping_destroy(mapping);
        check_equal!(handle_close(mapping), Ok(()));
    }
    for handle in [
        shown,
        region,
        keeper_port,
        keeper_set,
        service_port,
        service_set,
    ] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

static POOL_FOR_IPC: PagePool<8> = PagePool::new();

/// The restart torture test through holes: a client sends bytes from a window whose pages are
/// holes (the odd ones it filled with a pattern first, the even ones stay holes until the copy
/// reaches them) to a server that receives into a window of holes; a zero-fill keeper serves
/// every fault, in the middle of the copies, while the controller keeps moving client and
/// server into new threads. Every request arrives byte for byte.
const TORTURE_ROUNDS: u64 = 8;
const TORTURE_BYTES: u64 = 6 * PAGE_SIZE + 300;
const ROUND_PAGES: u64 = 8;
const SEND_HOLES: u64 = 0x6400_0000_0000;
const SEND_WINDOW: u64 = 0x6500_0000_0000;
const RECEIVE_HOLES: u64 = 0x6600_0000_0000;
const RECEIVE_WINDOW: u64 = 0x6700_0000_0000;
static TORTURE_POOL: PagePool<256> = PagePool::new();
static KEEPER_STACK: Stack<2048> = Stack::new();
static TORTURE_CLIENT_STACK: Stack<2048> = Stack::new();
static TORTURE_SERVER_STACK: Stack<2048> = Stack::new();
static TORTURE: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
/// Indices into `TORTURE`.
const KEEPER_SET: usize = 0;
const SERVICE_PORT: usize = 1;
const FAILED_ROUNDS: usize = 2;
const FINISHED: usize = 3;
const SERVED: usize = 4;

/// The byte at `offset` of the client's bytes in `round`: the pattern on the pages it filled
/// (odd pages of its window), zero on the holes a keeper fills on the way.
fn expected_byte(round: u64, offset: u64) -> u8 {
    let address = send_base(round) + offset;
    if ((address - SEND_WINDOW) / PAGE_SIZE) % 2 == 1 {
        (offset * 131 + round) as u8
    } else {
        0
    }
}

fn send_base(round: u64) -> u64 {
    SEND_WINDOW + round * ROUND_PAGES * PAGE_SIZE + 100
}

fn receive_base(round: u64) -> u64 {
    RECEIVE_WINDOW + round * ROUND_PAGES * PAGE_SIZE + 50
}

/// Serves every fault of both regions until its set goes.
fn keep(_: u64) {
    let Ok(mut pager) = ZeroFillPager::new(own_space(), &TORTURE_POOL) else {
        return;
    };
    let set = Handle::from_raw(TORTURE[KEEPER_SET].load(SeqCst));
    while let Ok(request) = ipc::wait(set) {
        // A slow keeper: the fault hands it the processor, and it gives way before serving,
        // so that the controller finds threads stopped by their faults.
        runtime::syscall::thread_yield();
        if pager.serve(&request).is_err() {
            return;
        }
    }
}

/// Receives each round's bytes into the holes, checks every byte, answers `[bytes, wrong]`.
fn check_rounds(set: u64) {
    for round in 0..TORTURE_ROUNDS {
        let mut transfer = TransferRegisters {
            receive_address: receive_base(round),
            receive_length: TORTURE_BYTES,
            ..TransferRegisters::default()
        };
        let (status, results) =
            call_with_transfer(Call::IpcWait, [set, 0, 0, 0, 0, 0], &mut transfer);
        if status != 0 {
            return;
        }
        TORTURE[SERVED].fetch_add(1, SeqCst);
        let received = TORTURE_BYTES - transfer.receive_length;
        let wrong = (0..received)
            .filter(|&offset| {
                load_through_rdi(receive_base(round) + offset) as u8 != expected_byte(round, offset)
            })
            .count() as u64;
        let _ = ipc::reply(Handle::from_raw(results[0]), [received, wrong, 0, 0]);
    }
}

/// Fills the odd pages of each round's window with the pattern and sends the round's bytes.
fn send_rounds(_: u64) {
    let port = Handle::from_raw(TORTURE[SERVICE_PORT].load(SeqCst));
    for round in 0..TORTURE_ROUNDS {
        for offset in 0..TORTURE_BYTES {
            let address = send_base(round) + offset;
            if ((address - SEND_WINDOW) / PAGE_SIZE) % 2 == 1 && address.is_multiple_of(8) {
                let word = u64::from_le_bytes(core::array::from_fn(|byte| {
                    expected_byte(round, offset + byte as u64)
                }));
                store_through_rdi(address, word);
            }
        }
        let mut transfer = TransferRegisters {
            send_address: send_base(round),
            send_length: TORTURE_BYTES,
            ..TransferRegisters::default()
        };
        let (status, results) = call_with_transfer(
            Call::IpcCall,
            [port.raw(), round, 0, 0, 0, 0],
            &mut transfer,
        );
        if status != 0 || results[1..3] != [TORTURE_BYTES, 0] {
            runtime::println!(
                "  round {round}: status {status}, answer {:?}",
                &results[1..3]
            );
            TORTURE[FAILED_ROUNDS].fetch_add(1, SeqCst);
        }
    }
    TORTURE[FINISHED].store(1, SeqCst);
}

fn torture_through_holes() -> Result<(), CaseFailure> {
    for value in &TORTURE {
        value.store(0, SeqCst);
    }
    let read_write = MemoryRights::READ | MemoryRights::WRITE;
    let keeper_port = ipc::port_create(0).map_err(fail)?;
    let keeper_set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(keeper_set, keeper_port).map_err(fail)?;
    TORTURE[KEEPER_SET].store(keeper_set.raw(), SeqCst);
    let size = TORTURE_ROUNDS * ROUND_PAGES * PAGE_SIZE;
    let mut windows = [Handle::NONE; 4];
    for (index, (holes, window)) in [(SEND_HOLES, SEND_WINDOW), (RECEIVE_HOLES, RECEIVE_WINDOW)]
        .into_iter()
        .enumerate()
    {
        let region = region_create_kept(holes, size, read_write, keeper_port).map_err(fail)?;
        let mapping =
            mapping_create(own_space(), window, region, 0, size, read_write).map_err(fail)?;
        windows[2 * index] = region;
        windows[2 * index + 1] = mapping;
    }
    let service_port = ipc::port_create(0).map_err(fail)?;
    let service_set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(service_set, service_port).map_err(fail)?;
    TORTURE[SERVICE_PORT].store(service_port.raw(), SeqCst);
    let keeper = spawn(&KEEPER_STACK, keep, 0).map_err(fail)?;
    check_equal!(keeper.resume(), Ok(()));
    let mut server = spawn(&TORTURE_SERVER_STACK, check_rounds, service_set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    let mut client = spawn(&TORTURE_CLIENT_STACK, send_rounds, 0).map_err(fail)?;
    check_equal!(client.resume(), Ok(()));
    let mut faulted_moves = 0u64;
    let done = || TORTURE[FINISHED].load(SeqCst) != 0;
    let moves = keep_moving(&mut client, &mut server, done, 20_000, |moved| {
        if moved.faulted {
            faulted_moves += 1;
        }
    })?;
    check!(
        wait_for(|| TORTURE[FINISHED].load(SeqCst) == 1),
        "the client never finished"
    );
    check_equal!(TORTURE[FAILED_ROUNDS].load(SeqCst), 0);
    check_equal!(TORTURE[SERVED].load(SeqCst), TORTURE_ROUNDS);
    check!(moves >= 20, "only {moves} moves: the test proved little");
    check!(
        faulted_moves > 0,
        "no move caught a thread stopped by a fault"
    );
    runtime::println!("  {moves} moves, {faulted_moves} of threads stopped by a fault");
    check!(wait_until_ended(&client), "the client never ended");
    check!(wait_until_ended(&server), "the server never ended");
    // The regions go with their handles; the keeper's wait fails with its set, and it ends.
    for handle in windows {
        check_equal!(handle_close(handle), Ok(()));
    }
    for handle in [keeper_port, keeper_set, service_port, service_set] {
        check_equal!(handle_close(handle), Ok(()));
    }
    check!(wait_until_ended(&keeper), "the keeper never ended");
    Ok(())
}

static GARBAGE_STACK: Stack<1024> = Stack::new();
static GARBAGE_POOL: PagePool<2> = PagePool::new();
const GARBAGE_HOLES: u64 = 0x6800_0000_0000;
const GARBAGE_WINDOW: u64 = 0x6900_0000_0000;

fn load_once(address: u64) {
    RECEIVED.store(load_through_rdi(address) + 1, SeqCst);
}

/// A keeper's answer that is not `RESUME`, or a second answer, changes nothing: the thread
/// stays stopped by its fault until someone who holds it resumes it, when it retries.
fn garbage_answers() -> Result<(), CaseFailure> {
    let read_write = MemoryRights::READ | MemoryRights::WRITE;
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let region = region_create_kept(GARBAGE_HOLES, PAGE_SIZE, read_write, port).map_err(fail)?;
    let shown = mapping_create(
        own_space(),
        GARBAGE_WINDOW,
        region,
        0,
        PAGE_SIZE,
        read_write,
    )
    .map_err(fail)?;
    RECEIVED.store(0, SeqCst);
    let thread = spawn(&GARBAGE_STACK, load_once, GARBAGE_WINDOW).map_err(fail)?;
    check_equal!(thread.resume(), Ok(()));
    let request = ipc::wait(set).map_err(fail)?;
    let fault = FaultMessage::from_words(request.words);
    check_equal!((fault.vector, fault.address), (14, GARBAGE_HOLES));
    check_equal!(ipc::reply(request.reply, [0xdead, 1, 2, 3]), Ok(()));
    // The answer closed the connection: the second finds none.
    check_equal!(
        ipc::reply(request.reply, [0, 0, 0, 0]),
        Err(runtime::abi::Error::PeerGone)
    );
    // A region's keeper supplies memory; it gets no handle to the thread that touched it.
    check_equal!(fault.thread, 0);
    let faulted = || {
        matches!(
            thread.status(),
            Ok((runtime::abi::state::Condition::Faulted, _, _))
        )
    };
    check!(faulted(), "a garbage answer resumed the thread");
    // Its holder takes it from the keeper and resumes it; it faults again, and this time the
    // keeper fills the hole.
    check_equal!(thread.interrupt(), Ok(()));
    check_equal!(thread.resume(), Ok(()));
    let mut pager = ZeroFillPager::new(own_space(), &GARBAGE_POOL).map_err(fail)?;
    let request = ipc::wait(set).map_err(fail)?;
    let supplied = pager.serve(&request).map_err(fail)?;
    check!(supplied.is_some(), "the hole was already filled");
    check!(
        wait_until_ended(&thread),
        "the thread never finished its load"
    );
    check_equal!(RECEIVED.load(SeqCst), 1);
    drop(pager);
    for handle in [shown, region, port, set] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

static ORPHAN_STACK: Stack<1024> = Stack::new();
const ORPHAN_HOLES: u64 = 0x6b00_0000_0000;
const ORPHAN_WINDOW: u64 = 0x6c00_0000_0000;

/// A region's keeper that goes away with a fault queued: the fault goes to the thread's own
/// keeper, which (unlike the region's) gets a handle to the thread.
fn gone_keeper() -> Result<(), CaseFailure> {
    let read_write = MemoryRights::READ | MemoryRights::WRITE;
    let pager_port = ipc::port_create(1).map_err(fail)?;
    let pager_set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(pager_set, pager_port).map_err(fail)?;
    let thread_keeper = ipc::port_create(2).map_err(fail)?;
    let keeper_set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(keeper_set, thread_keeper).map_err(fail)?;
    let region =
        region_create_kept(ORPHAN_HOLES, PAGE_SIZE, read_write, pager_port).map_err(fail)?;
    let shown = mapping_create(own_space(), ORPHAN_WINDOW, region, 0, PAGE_SIZE, read_write)
        .map_err(fail)?;
    let thread = spawn(&ORPHAN_STACK, load_once, ORPHAN_WINDOW).map_err(fail)?;
    check_equal!(thread.set_keeper(Some(thread_keeper)), Ok(()));
    check_equal!(thread.resume(), Ok(()));
    // Nobody serves the pager's set: the fault waits in its port, until the port goes.
    let queued = || {
        matches!(
            thread.status(),
            Ok((runtime::abi::state::Condition::Faulted, _, _))
        )
    };
    check!(wait_for(queued), "the thread never faulted");
    check_equal!(handle_close(pager_port), Ok(()));
    let request = ipc::wait(keeper_set).map_err(fail)?;
    let fault = FaultMessage::from_words(request.words);
    check_equal!(request.badge, 2);
    check_equal!(fault.vector, 14);
    check!(
        fault.thread != 0,
        "the thread's keeper got no thread handle"
    );
    let handed = runtime::thread::Thread::from_handle(Handle::from_raw(fault.thread));
    check!(
        handed.state().is_ok(),
        "the thread handle the keeper got does not read the thread's state"
    );
    check_equal!(
        ipc::reply(
            request.reply,
            [runtime::abi::keeper::LEAVE_STOPPED, 0, 0, 0]
        ),
        Ok(())
    );
    drop(handed);
    drop(thread);
    for handle in [shown, region, pager_set, thread_keeper, keeper_set] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

static DETACHED_STACK: Stack<1024> = Stack::new();
static DETACHED_POOL: PagePool<2> = PagePool::new();
static DETACHED_DONE: AtomicU64 = AtomicU64::new(0);
const DETACHED_HOLES: u64 = 0x6d00_0000_0000;
const DETACHED_WINDOW: u64 = 0x6e00_0000_0000;

fn load_then_mark(address: u64) {
    let _ = load_through_rdi(address);
    DETACHED_DONE.store(1, SeqCst);
}

/// A thread waiting for its pager is waiting, as in a call, not stopped for good: closing its
/// last handle meanwhile (a detached thread) does not end it, and the pager's answer lets it
/// run on. (Its pager holds no handle to it.)
fn detached_waiter() -> Result<(), CaseFailure> {
    let read_write = MemoryRights::READ | MemoryRights::WRITE;
    let port = ipc::port_create(0).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let region = region_create_kept(DETACHED_HOLES, PAGE_SIZE, read_write, port).map_err(fail)?;
    let shown = mapping_create(
        own_space(),
        DETACHED_WINDOW,
        region,
        0,
        PAGE_SIZE,
        read_write,
    )
    .map_err(fail)?;
    DETACHED_DONE.store(0, SeqCst);
    let thread = spawn(&DETACHED_STACK, load_then_mark, DETACHED_WINDOW).map_err(fail)?;
    check_equal!(thread.resume(), Ok(()));
    let request = ipc::wait(set).map_err(fail)?;
    drop(thread);
    let mut pager = ZeroFillPager::new(own_space(), &DETACHED_POOL).map_err(fail)?;
    let supplied = pager.serve(&request).map_err(fail)?;
    check!(supplied.is_some(), "the hole was already filled");
    check!(
        wait_for(|| DETACHED_DONE.load(SeqCst) == 1),
        "the thread was ended while it waited for its pager"
    );
    drop(pager);
    for handle in [shown, region, port, set] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}
