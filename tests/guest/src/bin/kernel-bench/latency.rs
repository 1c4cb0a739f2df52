//! Preemption latency (DESIGN.md section 3): how long a high-priority thread woken by the
//! timer waits before it runs, while low-priority threads keep the kernel busy with the
//! longest operations a user can start. Each sample is the time stamp when the woken thread
//! runs minus the time stamp when the timer interrupt that woke it was raised (`SleepUntil`
//! returns that one), so it counts every instruction in between: the rest of a kernel
//! operation that cannot be preempted, the interrupt, the scheduler, the switch.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use runtime::abi::memory::{MemoryRights, PAGE_SIZE};
use runtime::abi::{Error, Handle, Rights};
use runtime::arch::counter::time_stamp;
use runtime::ipc::port_create;
use runtime::memory::{mapping_create, mapping_destroy, region_create};
use runtime::syscall::{
    clock_monotonic, handle_close, handle_grant, sleep_until_measured, space_create, space_destroy,
};
use runtime::thread::{Stack, Thread, spawn};

/// Wake-ups measured per load.
const SAMPLES: usize = 60;
/// The priority of the loads; the measuring thread keeps the root program's (16).
const LOAD_PRIORITY: u64 = 8;
/// Bytes of each IPC transfer of the first load.
const TRANSFER_BYTES: u64 = 4 << 20;
/// Pages of the mapping chain the second load revokes.
const CHAIN_PAGES: u64 = 1024;
/// Handles in the space the third and fourth loads end.
const DESTROYED_HANDLES: u64 = 4096;
/// Mappings of the region the fifth and sixth loads end.
const REGION_MAPPINGS: u64 = 1024;

static CLIENT_STACK: Stack<1024> = Stack::new();
static SERVER_STACK: Stack<1024> = Stack::new();
static LOADER_STACK: Stack<2048> = Stack::new();

/// Where the chain load maps its chain (two windows of `CHAIN_PAGES` pages).
static CHAIN_BASE: AtomicU64 = AtomicU64::new(0);

/// The measuring loop: sleeps to the next clock tick `SAMPLES` times; the latency of each
/// wake-up, sorted.
fn measure(samples: &mut [u64; SAMPLES]) -> Result<(), Error> {
    // One tick first, so that every sample starts from a wake-up on a tick boundary.
    sleep_until_measured(clock_monotonic() + 1)?;
    for slot in samples.iter_mut() {
        let raised = sleep_until_measured(clock_monotonic() + 1)?;
        *slot = time_stamp().saturating_sub(raised);
    }
    samples.sort_unstable();
    Ok(())
}

/// Runs `load` in low-priority threads while measuring, then stops them.
fn under_load(name: &str, threads: &[Thread], samples: &mut [u64; SAMPLES]) -> Result<(), Error> {
    for thread in threads {
        thread.set_priority(LOAD_PRIORITY)?;
        thread.resume()?;
    }
    let measured = measure(samples);
    for thread in threads {
        thread.interrupt()?;
        handle_close(thread.handle())?;
    }
    measured?;
    report_latency(name, samples);
    Ok(())
}

/// One result line: average, 99th percentile and maximum.
fn report_latency(name: &str, samples: &[u64; SAMPLES]) {
    let average = samples.iter().sum::<u64>() / SAMPLES as u64;
    let percentile_99 = samples[(SAMPLES * 99).div_ceil(100) - 1];
    runtime::println!(
        "latency {name} average={average} p99={percentile_99} max={} samples={SAMPLES}",
        samples[SAMPLES - 1]
    );
}

/// The first load: a client and a server moving 4 MiB per call between two RAM buffers.
fn transfers(samples: &mut [u64; SAMPLES]) -> Result<(), Error> {
    let pair = crate::transfer::TransferPair::new(TRANSFER_BYTES, &SERVER_STACK, LOAD_PRIORITY)?;
    let client = spawn(
        &CLIENT_STACK,
        crate::transfer::send_forever,
        pair.port().raw(),
    )?;
    let outcome = under_load("ipc_4_mib_transfer", &[client], samples);
    pair.close()?;
    outcome
}

/// Maps `pages` of `region` at `address` of this space.
fn window(address: u64, region: Handle, pages: u64) -> Result<Handle, Error> {
    let space = runtime::process::own_space();
    mapping_create(
        space,
        address,
        region,
        0,
        pages * PAGE_SIZE,
        MemoryRights::READ | MemoryRights::WRITE,
    )
}

/// Forever: builds a chain RAM -> first window -> second window, touches every page of the
/// second (so the kernel enters them all), and revokes the middle link, which makes the kernel
/// invalidate every entry derived through it.
fn chain_loader(_: u64) {
    let (ram, _) = runtime::process::ram();
    let base = CHAIN_BASE.load(Relaxed);
    let size = CHAIN_PAGES * PAGE_SIZE;
    let Ok(bottom) = region_create(ram, size, MemoryRights::READ | MemoryRights::WRITE) else {
        return;
    };
    loop {
        let Ok(middle) = window(base, bottom, CHAIN_PAGES) else {
            return;
        };
        let Ok(upper) = region_create(base, size, MemoryRights::READ | MemoryRights::WRITE) else {
            return;
        };
        let Ok(top) = window(base + size, upper, CHAIN_PAGES) else {
            return;
        };
        for page in 0..CHAIN_PAGES {
            runtime::arch::probe::load_through_rdi(base + size + page * PAGE_SIZE);
        }
        let _ = mapping_destroy(middle);
        let _ = mapping_destroy(top);
        for handle in [middle, top, upper] {
            let _ = runtime::memory::region_destroy(handle);
            let _ = handle_close(handle);
        }
    }
}

/// The second load: revoking a 4 MiB mapping whose pages are entered two links up.
fn revocations(samples: &mut [u64; SAMPLES]) -> Result<(), Error> {
    // Far above the image and the RAM window, 8 MiB aligned.
    CHAIN_BASE.store(0x5000_0000_0000, Relaxed);
    let loader = spawn(&LOADER_STACK, chain_loader, 0)?;
    under_load("revoke_4_mib_chain", &[loader], samples)
}

/// Forever: fills a new space's handle table with `DESTROYED_HANDLES` handles and ends the
/// space: with `SpaceDestroy`, or by closing its last handle (`ending`).
fn space_loader(ending: u64) {
    let Ok(port) = port_create(0) else {
        return;
    };
    loop {
        let Ok(space) = space_create(1 << 20) else {
            return;
        };
        for _ in 0..DESTROYED_HANDLES {
            if handle_grant(space, port, Rights::SEND).is_err() {
                break;
            }
        }
        if ending == BY_DESTROYING {
            let _ = space_destroy(space);
        }
        let _ = handle_close(space);
    }
}

/// How the space and mappings loads end each space or region they make.
const BY_DESTROYING: u64 = 0;
const BY_CLOSING_ITS_LAST_HANDLE: u64 = 1;

/// The third load: destroying a space that holds thousands of handles.
fn space_destructions(samples: &mut [u64; SAMPLES]) -> Result<(), Error> {
    let loader = spawn(&LOADER_STACK, space_loader, BY_DESTROYING)?;
    under_load("destroy_space_4096_handles", &[loader], samples)
}

/// The fourth load: the same space ended by closing its last handle.
fn space_closings(samples: &mut [u64; SAMPLES]) -> Result<(), Error> {
    let loader = spawn(&LOADER_STACK, space_loader, BY_CLOSING_ITS_LAST_HANDLE)?;
    under_load("close_space_4096_handles", &[loader], samples)
}

/// Forever: shows one page of RAM through `REGION_MAPPINGS` one-page mappings of one region,
/// touches every one (so the kernel enters them all) and ends the region, which takes every
/// mapping and entry with it: with `RegionDestroy`, or by closing its last handle (`ending`).
/// Each way has a page and a range of addresses of its own, so that one load may start while
/// the other's last region is still there.
fn mappings_loader(ending: u64) {
    // The pages after the chain load's region, which that load leaves behind.
    let (ram, _) = runtime::process::ram();
    let page = ram + (CHAIN_PAGES + ending) * PAGE_SIZE;
    let base = 0x5800_0000_0000 + ending * 0x0100_0000_0000;
    let space = runtime::process::own_space();
    let mut mappings = [Handle::NONE; REGION_MAPPINGS as usize];
    loop {
        let Ok(region) = region_create(page, PAGE_SIZE, MemoryRights::READ | MemoryRights::WRITE)
        else {
            return;
        };
        for (index, slot) in mappings.iter_mut().enumerate() {
            let address = base + index as u64 * PAGE_SIZE;
            let Ok(mapping) =
                mapping_create(space, address, region, 0, PAGE_SIZE, MemoryRights::READ)
            else {
                return;
            };
            *slot = mapping;
            runtime::arch::probe::load_through_rdi(address);
        }
        if ending == BY_DESTROYING {
            let _ = runtime::memory::region_destroy(region);
        }
        let _ = handle_close(region);
        for mapping in mappings {
            let _ = handle_close(mapping);
        }
    }
}

/// The fifth load: destroying a region that a thousand mappings show.
fn region_destructions(samples: &mut [u64; SAMPLES]) -> Result<(), Error> {
    let loader = spawn(&LOADER_STACK, mappings_loader, BY_DESTROYING)?;
    under_load("destroy_region_1024_mappings", &[loader], samples)
}

/// The sixth load: the same region ended by closing its last handle.
fn region_closings(samples: &mut [u64; SAMPLES]) -> Result<(), Error> {
    let loader = spawn(&LOADER_STACK, mappings_loader, BY_CLOSING_ITS_LAST_HANDLE)?;
    under_load("close_region_1024_mappings", &[loader], samples)
}

/// Every latency benchmark: idle, then under each load.
pub fn latency_benchmarks() -> Result<(), Error> {
    let mut samples = [0u64; SAMPLES];
    measure(&mut samples)?;
    report_latency("idle", &samples);
    transfers(&mut samples)?;
    revocations(&mut samples)?;
    space_destructions(&mut samples)?;
    space_closings(&mut samples)?;
    region_destructions(&mut samples)?;
    region_closings(&mut samples)
}
