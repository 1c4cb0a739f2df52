//! Benchmarks, run as the root program under `-icount shift=0`, where the time-stamp counter
//! counts guest instructions. One line per benchmark:
//! `bench <name> median=<n> max=<n> min=<n> iterations=<n>`, instructions per operation with
//! the cost of reading the counter subtracted.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod footprint;
mod latency;
mod paging;
mod transfer;

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use runtime::abi::memory::MemoryRights;
use runtime::abi::{Handle, Rights};
use runtime::arch::counter::time_stamp;
use runtime::arch::entry::{image_end, image_start};
use runtime::ipc;
use runtime::memory::{mapping_create, region_create};
use runtime::println;
use runtime::synchronization::Mutex;
use runtime::syscall::thread_yield;
use runtime::syscall::{handle_grant, space_create};
use runtime::thread::{Stack, spawn, spawn_in};

const ITERATIONS: usize = 10_000;

/// Runs `operation` `ITERATIONS` times, timing each run; returns the sorted samples.
fn sample(samples: &mut [u64; ITERATIONS], mut operation: impl FnMut()) {
    for slot in samples.iter_mut() {
        let start = time_stamp();
        operation();
        *slot = time_stamp() - start;
    }
    samples.sort_unstable();
}

fn report(name: &str, samples: &[u64; ITERATIONS], overhead: u64) {
    let cost = |value: u64| value.saturating_sub(overhead);
    println!(
        "bench {name} median={} max={} min={} iterations={}",
        cost(samples[ITERATIONS / 2]),
        cost(samples[ITERATIONS - 1]),
        cost(samples[0]),
        ITERATIONS
    );
}

static PARTNER_STACK: Stack<1024> = Stack::new();
static STOP: AtomicU64 = AtomicU64::new(0);

/// The other half of the yield benchmark: gives the CPU straight back.
fn yield_until_stopped(_: u64) {
    while STOP.load(Relaxed) == 0 {
        thread_yield();
    }
}

/// One thread switch by `ThreadYield`: a round trip between two threads of one priority is two
/// yields and two switches, so each sample is half of one.
fn yield_switch(samples: &mut [u64; ITERATIONS]) -> Result<(), runtime::abi::Error> {
    let partner = spawn(&PARTNER_STACK, yield_until_stopped, 0)?;
    partner.resume()?;
    thread_yield();
    sample(samples, thread_yield);
    for sample in samples.iter_mut() {
        *sample /= 2;
    }
    STOP.store(1, Relaxed);
    thread_yield();
    Ok(())
}

static SERVER_STACK: Stack<1024> = Stack::new();

/// Answers every request with its own words, forever.
fn echo_server(set: u64) {
    let set = Handle::from_raw(set);
    let Ok(mut request) = ipc::wait(set) else {
        return;
    };
    while let Ok(next) = ipc::reply_wait(request.reply, request.words, set) {
        request = next;
    }
}

/// A port, and a server thread running `server` on its set in `space` (this one, or a child
/// that shows this program's image): returns the port.
fn start_server<const WORDS: usize>(
    space: Option<Handle>,
    stack: &'static Stack<WORDS>,
    server: fn(u64),
) -> Result<Handle, runtime::abi::Error> {
    let port = ipc::port_create(0)?;
    let set = ipc::port_set_create()?;
    ipc::port_set_add(set, port)?;
    let thread = match space {
        None => spawn(stack, server, set.raw())?,
        Some(child) => {
            let granted = handle_grant(child, set, Rights::RECEIVE)?;
            spawn_in(child, stack, server, granted.raw())?
        }
    };
    thread.resume()?;
    // The server runs until the program ends.
    core::mem::forget(thread);
    Ok(port)
}

/// An IPC round trip: a call carrying four words in registers, answered by a server in
/// `IpcReplyWait` in `space` (this one when `None`).
fn ipc_round_trip(
    samples: &mut [u64; ITERATIONS],
    space: Option<Handle>,
    stack: &'static Stack<1024>,
) -> Result<(), runtime::abi::Error> {
    let port = start_server(space, stack, echo_server)?;
    ipc::call(port, [1, 2, 3, 4])?;
    sample(samples, || {
        let _ = ipc::call(port, [1, 2, 3, 4]);
    });
    Ok(())
}

/// A child space that shows this program's image at the same addresses, so that a thread in it
/// runs this program's code on a stack of this program's memory, with handles of its own.
fn child_space() -> Result<Handle, runtime::abi::Error> {
    let child = space_create(1 << 20)?;
    let start = image_start();
    let end = image_end().next_multiple_of(4096);
    let image = region_create(start, end - start, MemoryRights::all())?;
    mapping_create(child, start, image, 0, end - start, MemoryRights::all())?;
    Ok(child)
}

static BYTE_SERVER_STACK: Stack<4096> = Stack::new();
static CHILD_SERVER_STACK: Stack<1024> = Stack::new();
static CHILD_BYTE_SERVER_STACK: Stack<4096> = Stack::new();

/// A page of bytes, page-aligned: a buffer of the byte benchmarks. (Where a stack happens to
/// put an unaligned one decides how many pages it spans, and each page a transfer touches
/// costs a translation on each side: the figures moved by hundreds of instructions with the
/// layout of the program.)
#[repr(C, align(4096))]
struct Page([u8; 4096]);

/// Answers every request with its own words and bytes, forever.
fn byte_echo_server(set: u64) {
    let set = Handle::from_raw(set);
    let mut incoming = Page([0u8; 4096]);
    let mut outgoing = Page([0u8; 4096]);
    let (incoming, outgoing) = (&mut incoming.0, &mut outgoing.0);
    let Ok(mut request) = ipc::wait_into(set, incoming) else {
        return;
    };
    loop {
        let length = request.incoming.bytes;
        outgoing[..length].copy_from_slice(&incoming[..length]);
        let answer = ipc::Outgoing {
            bytes: &outgoing[..length],
            handle: Handle::NONE,
        };
        match ipc::reply_wait_with(request.reply, request.words, answer, set, incoming) {
            Ok(next) => request = next,
            Err(_) => return,
        }
    }
}

/// IPC round trips carrying bytes each way besides the four words, one benchmark per size,
/// with the server in `space` (this one when `None`).
fn ipc_round_trips_with_bytes(
    samples: &mut [u64; ITERATIONS],
    overhead: u64,
    space: Option<Handle>,
    stack: &'static Stack<4096>,
    names: [&str; 2],
) -> Result<(), runtime::abi::Error> {
    let port = start_server(space, stack, byte_echo_server)?;
    let send = Page([0x5au8; 4096]);
    let mut receive = Page([0u8; 4096]);
    let (send, receive) = (&send.0, &mut receive.0);
    for (name, size) in [(names[0], 64), (names[1], 4096)] {
        let mut exchange = || {
            let outgoing = ipc::Outgoing {
                bytes: &send[..size],
                handle: Handle::NONE,
            };
            let _ = ipc::call_with(port, [1, 2, 3, 4], outgoing, &mut receive[..size]);
        };
        exchange();
        sample(samples, exchange);
        report(name, samples, overhead);
    }
    Ok(())
}

static MUTEX_PARTNER_STACK: Stack<1024> = Stack::new();
static MUTEX_HANDLE: AtomicU64 = AtomicU64::new(0);

/// The other half of the mutex benchmark: takes the mutex and hands it back, forever.
fn lock_and_hand_back(_: u64) {
    let mutex = core::mem::ManuallyDrop::new(Mutex::from_handle(Handle::from_raw(
        MUTEX_HANDLE.load(Relaxed),
    )));
    while mutex.lock().is_ok() && mutex.unlock().is_ok() {}
}

/// A mutex hand-off between two threads: the main thread holds the mutex while the partner
/// waits for it; an unlock hands it to the partner, whose unlock hands it back while the main
/// thread waits. Each sample (an unlock and a lock) is two hand-offs; half is reported.
fn mutex_hand_off(samples: &mut [u64; ITERATIONS]) -> Result<(), runtime::abi::Error> {
    let mutex = Mutex::new()?;
    MUTEX_HANDLE.store(mutex.handle().raw(), Relaxed);
    mutex.lock()?;
    let partner = spawn(&MUTEX_PARTNER_STACK, lock_and_hand_back, 0)?;
    partner.resume()?;
    thread_yield();
    sample(samples, || {
        let _ = mutex.unlock();
        let _ = mutex.lock();
    });
    for sample in samples.iter_mut() {
        *sample /= 2;
    }
    Ok(())
}

/// Reports sorted samples of any count.
fn report_samples(name: &str, samples: &[u64], overhead: u64) {
    let cost = |value: u64| value.saturating_sub(overhead);
    println!(
        "bench {name} median={} max={} min={} iterations={}",
        cost(samples[samples.len() / 2]),
        cost(samples[samples.len() - 1]),
        cost(samples[0]),
        samples.len()
    );
}

/// The memory benchmarks.
fn paging_benchmarks(overhead: u64) -> Result<(), runtime::abi::Error> {
    let mut samples = [0u64; paging::SAMPLES];
    paging::zero_fill_fault(&mut samples)?;
    report_samples("page_fault_zero_fill_by_user_keeper", &samples, overhead);
    paging::refill_fault(&mut samples)?;
    report_samples("page_fault_refill_without_ipc", &samples, overhead);
    let mut rounds = [0u64; 20];
    paging::revoke_and_refault_one_mebibyte(&mut rounds)?;
    report_samples("revoke_and_refault_1_mib", &rounds, overhead);
    Ok(())
}

/// Reports the 1 MiB call of `transfer::one_mebibyte_calls`.
fn one_mebibyte_call() -> Result<(), runtime::abi::Error> {
    let mut rounds = [0u64; 20];
    transfer::one_mebibyte_calls(&mut rounds)?;
    report_samples("ipc_call_1_mib", &rounds, 0);
    Ok(())
}

/// With the argument `restart` (the boot with `preemption=every-point`), only the benchmark
/// whose restarts are priced; otherwise every benchmark.
fn main(arguments: &str) -> i32 {
    if arguments.trim() == "restart" {
        if let Err(error) = one_mebibyte_call() {
            println!("bench-note ipc_call_1_mib could not run: {error}");
            return 1;
        }
        return 0;
    }
    let mut samples = [0u64; ITERATIONS];
    sample(&mut samples, || {});
    let overhead = samples[ITERATIONS / 2];
    println!("bench-note counter overhead {overhead} instructions (subtracted)");
    sample(&mut samples, || {
        let _ = runtime::syscall::null();
    });
    report("null_call", &samples, overhead);
    if let Err(error) = yield_switch(&mut samples) {
        println!("bench-note yield_switch could not run: {error}");
        return 1;
    }
    report("yield_switch", &samples, overhead / 2);
    if let Err(error) = ipc_round_trip(&mut samples, None, &SERVER_STACK) {
        println!("bench-note ipc_round_trip could not run: {error}");
        return 1;
    }
    report("ipc_round_trip_same_space", &samples, overhead);
    let names = [
        "ipc_round_trip_64_bytes_same_space",
        "ipc_round_trip_4_kib_same_space",
    ];
    if let Err(error) =
        ipc_round_trips_with_bytes(&mut samples, overhead, None, &BYTE_SERVER_STACK, names)
    {
        println!("bench-note ipc_round_trips_with_bytes could not run: {error}");
        return 1;
    }
    // Before the child space: its region covers the whole image, and regions of one space
    // never overlap.
    if let Err(error) = paging_benchmarks(overhead) {
        println!("bench-note the memory benchmarks could not run: {error}");
        return 1;
    }
    let child = match child_space() {
        Ok(child) => child,
        Err(error) => {
            println!("bench-note child_space could not be made: {error}");
            return 1;
        }
    };
    if let Err(error) = ipc_round_trip(&mut samples, Some(child), &CHILD_SERVER_STACK) {
        println!("bench-note ipc_round_trip (cross space) could not run: {error}");
        return 1;
    }
    report("ipc_round_trip_cross_space", &samples, overhead);
    let names = [
        "ipc_round_trip_64_bytes_cross_space",
        "ipc_round_trip_4_kib_cross_space",
    ];
    if let Err(error) = ipc_round_trips_with_bytes(
        &mut samples,
        overhead,
        Some(child),
        &CHILD_BYTE_SERVER_STACK,
        names,
    ) {
        println!("bench-note ipc_round_trips_with_bytes (cross space) could not run: {error}");
        return 1;
    }
    if let Err(error) = mutex_hand_off(&mut samples) {
        println!("bench-note mutex_hand_off could not run: {error}");
        return 1;
    }
    report("mutex_hand_off", &samples, overhead / 2);
    if let Err(error) = one_mebibyte_call() {
        println!("bench-note ipc_call_1_mib could not run: {error}");
        return 1;
    }
    if let Err(error) = footprint::threads_blocked_in_ipc() {
        println!("bench-note threads_blocked_in_ipc could not run: {error}");
        return 1;
    }
    if let Err(error) = latency::latency_benchmarks() {
        println!("bench-note the latency benchmarks could not run: {error}");
        return 1;
    }

    0
}

runtime::main!(main);
