//! Benchmarks of the memory path: a fault resolved by a user-level keeper that supplies a
//! zeroed page, a fault refilled from a present page below without IPC, and revoking and
//! refaulting a 1 MiB mapping.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use runtime::abi::keeper::{FaultMessage, RESUME};
use runtime::abi::memory::MemoryRights;
use runtime::abi::{Error, Handle};
use runtime::arch::counter::time_stamp;
use runtime::arch::probe::load_through_rdi;
use runtime::ipc;
use runtime::memory::{mapping_create, mapping_destroy, region_create, region_create_kept};
use runtime::pager::{PAGE_SIZE, PagePool};
use runtime::process::own_space;
use runtime::syscall::handle_close;
use runtime::thread::{Stack, spawn};

/// Samples per memory benchmark.
pub const SAMPLES: usize = 1000;

const POOL_PAGES: usize = 256;
const READ_WRITE: MemoryRights = MemoryRights::READ.union(MemoryRights::WRITE);
/// The empty range the keeper's region covers, and where this thread sees it.
const HOLES: u64 = 0x6000_0000_0000;
const SHOWN: u64 = 0x6100_0000_0000;

static POOL: PagePool<POOL_PAGES> = PagePool::new();
static KEEPER_STACK: Stack<2048> = Stack::new();
static KEEPER_SET: AtomicU64 = AtomicU64::new(0);
static POOL_REGION: AtomicU64 = AtomicU64::new(0);
/// The mapping the keeper made for the last fault, for the benchmark to take back.
static LAST_SUPPLIED: AtomicU64 = AtomicU64::new(0);

/// A keeper that fills each hole with a zeroed page of the pool (cycling through it) and
/// answers `RESUME`, forever.
fn zero_fill_keeper(_: u64) {
    let set = Handle::from_raw(KEEPER_SET.load(Relaxed));
    let pool = Handle::from_raw(POOL_REGION.load(Relaxed));
    let mut next = 0usize;
    let Ok(mut request) = ipc::wait(set) else {
        return;
    };
    loop {
        let fault = FaultMessage::from_words(request.words);
        let index = next % POOL_PAGES;
        next += 1;
        runtime::arch::memory::zero_page(&POOL.pages()[index]);
        if let Ok(mapping) = mapping_create(
            own_space(),
            fault.address & !(PAGE_SIZE - 1),
            pool,
            index as u64 * PAGE_SIZE,
            PAGE_SIZE,
            READ_WRITE,
        ) {
            LAST_SUPPLIED.store(mapping.raw(), Relaxed);
        }
        match ipc::reply_wait(request.reply, [RESUME, 0, 0, 0], set) {
            Ok(next_request) => request = next_request,
            Err(_) => return,
        }
    }
}

/// Takes back the page the keeper supplied last.
fn revoke_last() {
    let mapping = Handle::from_raw(LAST_SUPPLIED.swap(0, Relaxed));
    let _ = mapping_destroy(mapping);
    let _ = handle_close(mapping);
}

/// Per sample: a load at a hole, from the faulting instruction to its retry completing, with
/// the keeper (another thread) zeroing a page and mapping it in; the page is taken back
/// between samples.
pub fn zero_fill_fault(samples: &mut [u64; SAMPLES]) -> Result<(), Error> {
    let port = ipc::port_create(0)?;
    let set = ipc::port_set_create()?;
    ipc::port_set_add(set, port)?;
    KEEPER_SET.store(set.raw(), Relaxed);
    let pool = region_create(POOL.address(), POOL_PAGES as u64 * PAGE_SIZE, READ_WRITE)?;
    POOL_REGION.store(pool.raw(), Relaxed);
    let holes = region_create_kept(HOLES, PAGE_SIZE, READ_WRITE, port)?;
    let shown = mapping_create(own_space(), SHOWN, holes, 0, PAGE_SIZE, READ_WRITE)?;
    let keeper = spawn(&KEEPER_STACK, zero_fill_keeper, 0)?;
    keeper.resume()?;
    core::mem::forget(keeper);
    load_through_rdi(SHOWN);
    revoke_last();
    for slot in samples.iter_mut() {
        let start = time_stamp();
        load_through_rdi(SHOWN);
        *slot = time_stamp() - start;
        revoke_last();
    }
    samples.sort_unstable();
    // Regions go with their last handle; the keeper's wait fails with its set, and it ends.
    for handle in [shown, holes, pool, port, set] {
        handle_close(handle)?;
    }
    Ok(())
}

/// A region over 1 MiB of present memory, shown at a window.
const WINDOW: u64 = 0x6200_0000_0000;
const WINDOW_PAGES: u64 = 256;
static PRESENT: PagePool<{ WINDOW_PAGES as usize }> = PagePool::new();

/// The region over `PRESENT`, made once (the last benchmark closes it).
fn present_region() -> Result<Handle, Error> {
    static REGION: AtomicU64 = AtomicU64::new(0);
    if let Some(region) = Some(REGION.load(Relaxed)).filter(|&raw| raw != 0) {
        return Ok(Handle::from_raw(region));
    }
    let region = region_create(PRESENT.address(), WINDOW_PAGES * PAGE_SIZE, READ_WRITE)?;
    REGION.store(region.raw(), Relaxed);
    Ok(region)
}

/// Shows all of `PRESENT` at `WINDOW`.
fn map_window(region: Handle) -> Result<Handle, Error> {
    mapping_create(
        own_space(),
        WINDOW,
        region,
        0,
        WINDOW_PAGES * PAGE_SIZE,
        READ_WRITE,
    )
}

/// Takes a mapping away for good.
fn unmap(mapping: Handle) -> Result<(), Error> {
    mapping_destroy(mapping)?;
    handle_close(mapping)
}

/// Per sample: a first load at a page of a fresh mapping of present memory, resolved by the
/// kernel from the page below without IPC (a refill). The mapping is made anew, untimed, each
/// time its pages are used up.
pub fn refill_fault(samples: &mut [u64; SAMPLES]) -> Result<(), Error> {
    let region = present_region()?;
    let mut mapping = Handle::NONE;
    for (index, slot) in samples.iter_mut().enumerate() {
        let page = index as u64 % WINDOW_PAGES;
        if page == 0 {
            if mapping != Handle::NONE {
                unmap(mapping)?;
            }
            mapping = map_window(region)?;
        }
        let start = time_stamp();
        load_through_rdi(WINDOW + page * PAGE_SIZE);
        *slot = time_stamp() - start;
    }
    unmap(mapping)?;
    samples.sort_unstable();
    Ok(())
}

/// Per sample: destroying a 1 MiB mapping whose 256 pages are all entered, making it again,
/// and touching every page (256 refills).
pub fn revoke_and_refault_one_mebibyte(samples: &mut [u64]) -> Result<(), Error> {
    let region = present_region()?;
    let touch = || {
        for page in 0..WINDOW_PAGES {
            load_through_rdi(WINDOW + page * PAGE_SIZE);
        }
    };
    let mut mapping = map_window(region)?;
    touch();
    for slot in samples.iter_mut() {
        let start = time_stamp();
        mapping_destroy(mapping)?;
        let next = map_window(region)?;
        touch();
        *slot = time_stamp() - start;
        handle_close(mapping)?;
        mapping = next;
    }
    unmap(mapping)?;
    handle_close(region)?;
    samples.sort_unstable();
    Ok(())
}
