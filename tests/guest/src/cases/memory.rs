//! Regions and mappings: a window shows its region's memory both ways, chains of depth 1, 2
//! and 5 reach the bottom and narrow rights on the way, destroying a link makes every level
//! above fault again, bad requests are refused with nothing changed, and a child space runs
//! this very program through a mapping of its image and talks to it over IPC, with handles and
//! memory of its own only.

use super::handles::fail;
use super::{wait_for, wait_until_ended};
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::memory::Found;
use runtime::abi::memory::MemoryRights;
use runtime::abi::root::BOOT_FILES_START;
use runtime::abi::state::Condition;
use runtime::abi::{Error, Handle, Rights};
use runtime::arch::entry::{image_end, image_start};
use runtime::arch::probe::{load_through_rdi, store_through_rdi};
use runtime::ipc::{self, Outgoing};
use runtime::memory::{
    mapping_create, mapping_destroy, mapping_move, mapping_protect, memory_search, region_create,
    region_destroy, region_protect, region_resize,
};
use runtime::process::{boot_files, own_space, ram};
use runtime::syscall::{handle_close, handle_duplicate, handle_grant, space_create, space_destroy};
use runtime::thread::{Stack, Thread, spawn, spawn_in};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "memory_a_window_shows_its_regions_memory_both_ways",
        run: window_shows_memory,
    },
    Case {
        name: "memory_chains_of_depth_1_2_and_5_reach_the_bottom_and_narrow_rights",
        run: chains,
    },
    Case {
        name: "memory_bad_requests_are_refused_and_change_nothing",
        run: bad_requests,
    },
    Case {
        name: "memory_a_child_space_runs_through_a_mapping_and_calls_across_spaces",
        run: child_space,
    },
    Case {
        name: "memory_page_tables_are_paid_from_the_spaces_quota",
        run: page_tables_are_paid,
    },
    Case {
        name: "memory_revoking_a_mapping_gives_back_the_page_tables_inside_it",
        run: revoked_tables_come_back,
    },
    Case {
        name: "memory_the_root_program_gets_ram_and_its_boot_files",
        run: ram_and_boot_files,
    },
    Case {
        name: "memory_protection_changes_take_effect_at_once_and_never_widen_a_chain",
        run: protection_changes,
    },
    Case {
        name: "memory_search_lists_a_spaces_regions_and_mappings_in_order",
        run: search_lists_memory,
    },
    Case {
        name: "memory_regions_resize_and_mappings_move",
        run: resize_and_move,
    },
    Case {
        name: "memory_huge_ranges_cost_what_is_mapped_not_their_size",
        run: huge_ranges,
    },
    Case {
        name: "memory_chains_longer_than_the_limit_fault_and_revocation_reaches_every_level",
        run: long_chains,
    },
];

pub(super) const PAGE: u64 = runtime::abi::memory::PAGE_SIZE;
const SOURCE_PAGES: u64 = 4;
pub(super) const READ_WRITE: MemoryRights = MemoryRights::READ.union(MemoryRights::WRITE);

/// Page-aligned memory of this program's own, shown through windows.
#[repr(C, align(4096))]
pub(super) struct Pages(pub(super) [AtomicU64; 512 * SOURCE_PAGES as usize]);
pub(super) static SOURCE: Pages = Pages([const { AtomicU64::new(0) }; 512 * SOURCE_PAGES as usize]);

pub(super) fn source() -> u64 {
    SOURCE.0.as_ptr() as u64
}

/// Where windows are shown: far from anything the program holds, one slot per level.
pub(super) fn window(level: u64) -> u64 {
    0x4000_0000_0000 + level * 0x1_0000_0000
}

static PROBE_STACK: Stack<1024> = Stack::new();
static LOADED: AtomicU64 = AtomicU64::new(0);

pub(super) fn load_in_thread(address: u64) {
    LOADED.store(load_through_rdi(address), SeqCst);
}

pub(super) fn store_in_thread(address: u64) {
    store_through_rdi(address, 0x5eed);
}

/// Runs `probe(address)` in a thread of this space; `Ok(None)` if it finished, the fault's
/// vector and address if it faulted.
pub(super) fn probe(probe: fn(u64), address: u64) -> Result<Option<(u64, u64)>, CaseFailure> {
    probe_in(own_space(), probe, address)
}

/// [`probe`] in a thread of `space` (which shows this program's image).
pub(super) fn probe_in(
    space: Handle,
    probe: fn(u64),
    address: u64,
) -> Result<Option<(u64, u64)>, CaseFailure> {
    let thread = spawn_in(space, &PROBE_STACK, probe, address).map_err(fail)?;
    check_equal!(thread.resume(), Ok(()));
    let ended = || {
        matches!(
            thread.status(),
            Ok((Condition::Exited | Condition::Faulted, _, _))
        )
    };
    check!(wait_for(ended), "the probe thread never ended");
    match thread.status().map_err(fail)? {
        (Condition::Faulted, detail, fault_address) => Ok(Some((detail & 0xff, fault_address))),
        _ => Ok(None),
    }
}

/// Whether a load at `address` faults with a page fault there.
pub(super) fn load_faults(address: u64) -> Result<bool, CaseFailure> {
    Ok(probe(load_in_thread, address)? == Some((14, address)))
}

fn window_shows_memory() -> Result<(), CaseFailure> {
    let region = region_create(source(), SOURCE_PAGES * PAGE, READ_WRITE).map_err(fail)?;
    let whole = mapping_create(
        own_space(),
        window(1),
        region,
        0,
        SOURCE_PAGES * PAGE,
        READ_WRITE,
    )
    .map_err(fail)?;
    SOURCE.0[1].store(0x1234, SeqCst);
    check_equal!(load_through_rdi(window(1) + 8), 0x1234);
    store_through_rdi(window(1) + PAGE + 16, 77);
    check_equal!(SOURCE.0[512 + 2].load(SeqCst), 77);
    // A window of one page, two pages into the region.
    let part = mapping_create(
        own_space(),
        window(2),
        region,
        2 * PAGE,
        PAGE,
        MemoryRights::READ,
    )
    .map_err(fail)?;
    SOURCE.0[1024 + 5].store(0xabcd, SeqCst);
    check_equal!(load_through_rdi(window(2) + 40), 0xabcd);
    check!(
        load_faults(window(2) + PAGE)?,
        "the page past the window did not fault"
    );
    check_equal!(mapping_destroy(whole), Ok(()));
    check!(
        load_faults(window(1) + 8)?,
        "a destroyed mapping still shows memory"
    );
    check_equal!(load_through_rdi(window(2) + 40), 0xabcd);
    check_equal!(region_destroy(region), Ok(()));
    check!(
        load_faults(window(2) + 40)?,
        "a mapping of a destroyed region still shows memory"
    );
    check_equal!(SOURCE.0[1024 + 5].load(SeqCst), 0xabcd);
    for handle in [whole, part, region] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

/// Region `level - 1`'s window shown one level up, for `level` in 1..=5: level 0 is `SOURCE`.
fn build_chain(depth: u64) -> Result<[(Handle, Handle); 6], CaseFailure> {
    let mut links = [(Handle::NONE, Handle::NONE); 6];
    for level in 1..=depth {
        let below = if level == 1 {
            source()
        } else {
            window(level - 1)
        };
        let region = region_create(below, SOURCE_PAGES * PAGE, READ_WRITE).map_err(fail)?;
        let mapping = mapping_create(
            own_space(),
            window(level),
            region,
            0,
            SOURCE_PAGES * PAGE,
            READ_WRITE,
        )
        .map_err(fail)?;
        links[level as usize] = (region, mapping);
    }
    Ok(links)
}

fn tear_down(links: &[(Handle, Handle); 6]) -> Result<(), CaseFailure> {
    for &(region, mapping) in links.iter().skip(1).rev() {
        if region != Handle::NONE {
            let _ = mapping_destroy(mapping);
            let _ = region_destroy(region);
            check_equal!(handle_close(mapping), Ok(()));
            check_equal!(handle_close(region), Ok(()));
        }
    }
    Ok(())
}

fn chains() -> Result<(), CaseFailure> {
    for depth in [1u64, 2, 5] {
        let links = build_chain(depth)?;
        SOURCE.0[3].store(depth * 1000, SeqCst);
        check_equal!(load_through_rdi(window(depth) + 24), depth * 1000);
        store_through_rdi(window(depth) + 3 * PAGE, depth + 7);
        check_equal!(SOURCE.0[3 * 512].load(SeqCst), depth + 7);
        tear_down(&links)?;
        check!(
            load_faults(window(depth) + 24)?,
            "the top of a torn-down chain still shows memory"
        );
    }
    // Rights narrow along a chain and never widen.
    let links = build_chain(2)?;
    let read_only =
        region_create(window(2), SOURCE_PAGES * PAGE, MemoryRights::READ).map_err(fail)?;
    check_equal!(
        mapping_create(own_space(), window(9), read_only, 0, PAGE, READ_WRITE),
        Err(Error::MissingRights)
    );
    let narrow = mapping_create(
        own_space(),
        window(9),
        read_only,
        0,
        PAGE,
        MemoryRights::READ,
    )
    .map_err(fail)?;
    SOURCE.0[0].store(99, SeqCst);
    check_equal!(load_through_rdi(window(9)), 99);
    check_equal!(probe(store_in_thread, window(9))?, Some((14, window(9))));
    check_equal!(SOURCE.0[0].load(SeqCst), 99);
    check_equal!(mapping_destroy(narrow), Ok(()));
    check_equal!(region_destroy(read_only), Ok(()));
    check_equal!(handle_close(narrow), Ok(()));
    check_equal!(handle_close(read_only), Ok(()));
    tear_down(&links)?;
    // Revoking a middle link makes every level above it fault again, and only those.
    let links = build_chain(5)?;
    SOURCE.0[7].store(4242, SeqCst);
    for level in 1..=5 {
        check_equal!(load_through_rdi(window(level) + 56), 4242);
    }
    check_equal!(region_destroy(links[3].0), Ok(()));
    for level in 1..=5 {
        let faults = load_faults(window(level) + 56)?;
        check!(
            faults == (level >= 3),
            "level {level} after revoking level 3: faults={faults}"
        );
    }
    tear_down(&links)
}

fn bad_requests() -> Result<(), CaseFailure> {
    let size = SOURCE_PAGES * PAGE;
    check_equal!(
        region_create(source() + 8, size, READ_WRITE),
        Err(Error::InvalidArgument)
    );
    check_equal!(
        region_create(source(), 100, READ_WRITE),
        Err(Error::InvalidArgument)
    );
    check_equal!(
        region_create(source(), 0, READ_WRITE),
        Err(Error::InvalidArgument)
    );
    check_equal!(
        region_create(0xffff_8000_0000_0000, PAGE, READ_WRITE),
        Err(Error::BadAddress)
    );
    check_equal!(
        region_create(0x0000_8000_0000_0000, PAGE, READ_WRITE),
        Err(Error::BadAddress)
    );
    check_equal!(region_create(0, PAGE, READ_WRITE), Err(Error::BadAddress));
    let region = region_create(source(), size, READ_WRITE).map_err(fail)?;
    check_equal!(
        region_create(source() + PAGE, PAGE, READ_WRITE),
        Err(Error::Overlaps)
    );
    let map = |space, address, region, offset, size, rights| {
        mapping_create(space, address, region, offset, size, rights)
    };
    let own = own_space();
    check_equal!(
        map(own, window(1), region, PAGE, size, READ_WRITE),
        Err(Error::InvalidArgument)
    );
    check_equal!(
        map(own, window(1), region, 100, PAGE, READ_WRITE),
        Err(Error::InvalidArgument)
    );
    check_equal!(
        map(own, window(1), region, 0, PAGE, MemoryRights::all()),
        Err(Error::MissingRights)
    );
    check_equal!(
        map(own, source(), region, 0, PAGE, READ_WRITE),
        Err(Error::Overlaps)
    );
    check_equal!(
        map(own, 0xffff_8000_0000_0000, region, 0, PAGE, READ_WRITE),
        Err(Error::BadAddress)
    );
    let no_create = handle_duplicate(own, Rights::READ_STATE).map_err(fail)?;
    check_equal!(
        map(no_create, window(1), region, 0, PAGE, READ_WRITE),
        Err(Error::MissingRights)
    );
    let no_map = handle_duplicate(region, Rights::CONTROL).map_err(fail)?;
    check_equal!(
        map(own, window(1), no_map, 0, PAGE, READ_WRITE),
        Err(Error::MissingRights)
    );
    check_equal!(
        map(own, window(1), own, 0, PAGE, READ_WRITE),
        Err(Error::WrongType)
    );
    let mapping = map(own, window(1), region, 0, 2 * PAGE, READ_WRITE).map_err(fail)?;
    check_equal!(
        map(own, window(1) + PAGE, region, 0, PAGE, READ_WRITE),
        Err(Error::Overlaps)
    );
    check_equal!(region_destroy(region), Ok(()));
    check_equal!(
        map(own, window(3), region, 0, PAGE, READ_WRITE),
        Err(Error::InvalidState)
    );
    // Nothing those did shows anywhere.
    for address in [window(1), window(3), window(1) + 2 * PAGE] {
        check!(
            load_faults(address)?,
            "{address:#x} shows memory after refused requests"
        );
    }
    for handle in [mapping, region, no_create, no_map] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

static CHILD_STACK: Stack<4096> = Stack::new();
static SERVER_STACK: Stack<2048> = Stack::new();
static CHILD_RESULTS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
static PARENT_PORT: AtomicU64 = AtomicU64::new(0);

/// Answers calls with their words plus one and the sum of their bytes in the last word.
fn summing_server(set: u64) {
    let set = Handle::from_raw(set);
    let mut buffer = [0u8; 256];
    let Ok(mut request) = ipc::wait_into(set, &mut buffer) else {
        return;
    };
    loop {
        let sum = buffer[..request.incoming.bytes]
            .iter()
            .map(|&byte| byte as u64)
            .sum();
        let words = [request.words[0] + 1, request.words[1] + 1, 0, sum];
        match ipc::reply_wait_with(request.reply, words, Outgoing::NOTHING, set, &mut buffer) {
            Ok(next) => request = next,
            Err(_) => return,
        }
    }
}

/// Runs in the child space: calls the parent through the granted handle with bytes from its
/// own stack, tries the parent's raw handle value, then touches memory only the parent maps.
fn child_main(granted: u64) {
    let bytes: [u8; 100] = core::array::from_fn(|index| index as u8);
    let outgoing = Outgoing {
        bytes: &bytes,
        handle: Handle::NONE,
    };
    let answer = ipc::call_with(Handle::from_raw(granted), [10, 20, 0, 0], outgoing, &mut []);
    CHILD_RESULTS[0].store(
        answer.map_or(u64::MAX, |(words, _)| words[0] + words[1] + words[3]),
        SeqCst,
    );
    let foreign = ipc::call(Handle::from_raw(PARENT_PORT.load(SeqCst)), [0; 4]);
    CHILD_RESULTS[1].store(foreign.err().map_or(0, Error::code), SeqCst);
    CHILD_RESULTS[2].store(1, SeqCst);
    // The parent shows memory at window(7); this space does not: the child faults here.
    CHILD_RESULTS[3].store(load_through_rdi(window(7)), SeqCst);
}

/// A child space that shows this program's image at the same addresses, so that threads made
/// there with `spawn_in` run this program: the space, the image's region and its mapping.
pub(super) fn child_running_this_program() -> Result<(Handle, Handle, Handle), CaseFailure> {
    let child = space_create(512 * 1024).map_err(fail)?;
    let start = image_start();
    let end = image_end().next_multiple_of(PAGE);
    let image = region_create(start, end - start, MemoryRights::all()).map_err(fail)?;
    let shown =
        mapping_create(child, start, image, 0, end - start, MemoryRights::all()).map_err(fail)?;
    Ok((child, image, shown))
}

fn child_space() -> Result<(), CaseFailure> {
    let (child, image, shown) = child_running_this_program()?;
    let start = image_start();
    let port = ipc::port_create(5).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    ipc::port_set_add(set, port).map_err(fail)?;
    let server = spawn(&SERVER_STACK, summing_server, set.raw()).map_err(fail)?;
    check_equal!(server.resume(), Ok(()));
    let granted = handle_grant(child, port, Rights::SEND).map_err(fail)?;
    check!(
        granted != port,
        "the child's handle value equals the parent's: no test"
    );
    PARENT_PORT.store(port.raw(), SeqCst);
    // Memory the parent shows and the child does not.
    let parent_only = mapping_create(
        own_space(),
        window(7),
        image,
        source() - start,
        PAGE,
        READ_WRITE,
    )
    .map_err(fail)?;
    for result in &CHILD_RESULTS {
        result.store(0, SeqCst);
    }
    let child_thread: Thread =
        spawn_in(child, &CHILD_STACK, child_main, granted.raw()).map_err(fail)?;
    check_equal!(child_thread.resume(), Ok(()));
    let faulted = || matches!(child_thread.status(), Ok((Condition::Faulted, _, _)));
    check!(wait_for(faulted), "the child never reached its last step");
    check_equal!(CHILD_RESULTS[2].load(SeqCst), 1);
    // 11 + 21 + (0 + 1 + ... + 99)
    check_equal!(CHILD_RESULTS[0].load(SeqCst), 11 + 21 + 4950);
    check_equal!(CHILD_RESULTS[1].load(SeqCst), Error::BadHandle.code());
    check_equal!(
        child_thread.status(),
        Ok((Condition::Faulted, 14 | 4 << 32, window(7)))
    );
    drop(child_thread);
    check_equal!(ipc::call(port, [0, 0, 0, 0]).map(|words| words[0]), Ok(1));
    check_equal!(space_destroy(child), Ok(()));
    for handle in [parent_only, shown, image, port, set, child] {
        check_equal!(handle_close(handle), Ok(()));
    }
    // The server's set went with its last handle: its wait fails and it ends.
    check!(wait_until_ended(&server), "the server never ended");
    Ok(())
}

/// The largest quota a new space could get from this one right now: what is left of this
/// space's own quota, less the cost of a space (found by bisection).
pub(super) fn quota_left() -> Result<u64, CaseFailure> {
    let (mut low, mut high) = (0u64, 1u64 << 40);
    while low + 1 < high {
        let middle = low + (high - low) / 2;
        match space_create(middle) {
            Ok(space) => {
                check_equal!(handle_close(space), Ok(()));
                low = middle;
            }
            Err(Error::QuotaExceeded) => high = middle,
            Err(error) => return Err(fail(error)),
        }
    }
    Ok(low)
}

/// Touching pages of windows 512 GiB apart makes the kernel build a page-directory-pointer
/// table, a page directory and a page table for each (Intel SDM vol. 3A section 4.5): twelve
/// frames for four windows, paid from this space's quota.
fn page_tables_are_paid() -> Result<(), CaseFailure> {
    let region = region_create(source(), PAGE, READ_WRITE).map_err(fail)?;
    let before = quota_left()?;
    let mut mappings = [Handle::NONE; 4];
    for (index, mapping) in mappings.iter_mut().enumerate() {
        let address = 0x1000_0000_0000 + index as u64 * (512 << 30);
        *mapping =
            mapping_create(own_space(), address, region, 0, PAGE, READ_WRITE).map_err(fail)?;
        load_through_rdi(address);
    }
    let after = quota_left()?;
    let objects_and_slots = before - after;
    check!(
        objects_and_slots >= 12 * PAGE,
        "the quota went down by {objects_and_slots} bytes only"
    );
    for mapping in mappings {
        check_equal!(mapping_destroy(mapping), Ok(()));
        check_equal!(handle_close(mapping), Ok(()));
    }
    check_equal!(handle_close(region), Ok(()));
    Ok(())
}

/// Touching a 4 MiB window, 2 MiB-aligned, of RAM makes the kernel build two page tables
/// for it (besides the directories above, which reach far beyond it); destroying the mapping
/// takes them away whole and gives their frames back to the quota.
fn revoked_tables_come_back() -> Result<(), CaseFailure> {
    const SIZE: u64 = 4 << 20;
    let (ram_start, _) = ram();
    let region = region_create(ram_start, SIZE, READ_WRITE).map_err(fail)?;
    let address = 0x1800_0000_0000;
    let mapping =
        mapping_create(own_space(), address, region, 0, SIZE, READ_WRITE).map_err(fail)?;
    for page in (0..SIZE).step_by(PAGE as usize) {
        load_through_rdi(address + page);
    }
    let touched = quota_left()?;
    check_equal!(mapping_destroy(mapping), Ok(()));
    let revoked = quota_left()?;
    check_equal!(revoked - touched, 2 * PAGE);
    check_equal!(handle_close(mapping), Ok(()));
    check_equal!(handle_close(region), Ok(()));
    Ok(())
}

/// The root program's RAM window gives zeroed pages of its own on first touch and can be
/// handed on through regions; its boot files are there, read-only.
fn ram_and_boot_files() -> Result<(), CaseFailure> {
    let (start, size) = ram();
    check!(size >= 16 << 20, "a RAM window of {size} bytes only");
    for address in [start, start + size / 2, start + size - PAGE] {
        check_equal!(load_through_rdi(address + 8), 0);
        store_through_rdi(address + 8, address);
        check_equal!(load_through_rdi(address + 8), address);
    }
    // Handed on: a window of RAM shown elsewhere sees the same memory.
    let region = region_create(start, 4 * PAGE, READ_WRITE).map_err(fail)?;
    let shown =
        mapping_create(own_space(), window(6), region, 0, 4 * PAGE, READ_WRITE).map_err(fail)?;
    check_equal!(load_through_rdi(window(6) + 8), start);
    store_through_rdi(window(6) + PAGE, 77);
    check_equal!(load_through_rdi(start + PAGE), 77);
    check_equal!(
        mapping_create(own_space(), start + 8 * PAGE, region, 0, PAGE, READ_WRITE),
        Err(Error::Overlaps)
    );
    check_equal!(mapping_destroy(shown), Ok(()));
    check_equal!(handle_close(shown), Ok(()));
    check_equal!(handle_close(region), Ok(()));
    let files = boot_files();
    check!(
        files.starts_with(b"BOOTFS01"),
        "no boot file system at its address"
    );
    check_equal!(
        probe(store_in_thread, BOOT_FILES_START)?,
        Some((14, BOOT_FILES_START))
    );
    Ok(())
}

fn protection_changes() -> Result<(), CaseFailure> {
    let region = region_create(source(), 2 * PAGE, READ_WRITE).map_err(fail)?;
    let mapping =
        mapping_create(own_space(), window(1), region, 0, 2 * PAGE, READ_WRITE).map_err(fail)?;
    store_through_rdi(window(1), 5);
    check_equal!(mapping_protect(mapping, MemoryRights::READ), Ok(()));
    check_equal!(load_through_rdi(window(1)), 5);
    check_equal!(probe(store_in_thread, window(1))?, Some((14, window(1))));
    check_equal!(mapping_protect(mapping, READ_WRITE), Ok(()));
    store_through_rdi(window(1), 6);
    check_equal!(SOURCE.0[0].load(SeqCst), 6);
    // The region narrows every mapping of it; a mapping cannot widen past its region.
    check_equal!(region_protect(region, MemoryRights::READ), Ok(()));
    check_equal!(
        probe(store_in_thread, window(1) + PAGE)?,
        Some((14, window(1) + PAGE))
    );
    check_equal!(
        mapping_protect(mapping, READ_WRITE),
        Err(Error::MissingRights)
    );
    check_equal!(load_through_rdi(window(1)), 6);
    check_equal!(region_protect(region, READ_WRITE), Ok(()));
    store_through_rdi(window(1) + PAGE, 7);
    check_equal!(SOURCE.0[512].load(SeqCst), 7);
    // A mapping made read-only stays so, whoever holds it: neither its handle's holder nor
    // one who found it with a search can widen it.
    let narrow = mapping_create(own_space(), window(2), region, 0, PAGE, MemoryRights::READ)
        .map_err(fail)?;
    check_equal!(
        mapping_protect(narrow, READ_WRITE),
        Err(Error::MissingRights)
    );
    let found = memory_search(own_space(), window(2)).map_err(fail)?;
    let found = found.ok_or_else(|| fail(Error::InvalidState))?;
    check_equal!(found.start, window(2));
    check_equal!(
        mapping_protect(found.handle, MemoryRights::READ),
        Err(Error::MissingRights)
    );
    check_equal!(mapping_destroy(found.handle), Err(Error::MissingRights));
    check_equal!(handle_close(found.handle), Ok(()));
    check_equal!(mapping_destroy(narrow), Ok(()));
    check_equal!(handle_close(narrow), Ok(()));
    check_equal!(mapping_destroy(mapping), Ok(()));
    check_equal!(handle_close(mapping), Ok(()));
    check_equal!(handle_close(region), Ok(()));
    Ok(())
}

fn search_lists_memory() -> Result<(), CaseFailure> {
    let region = region_create(source(), 4 * PAGE, READ_WRITE).map_err(fail)?;
    let first = mapping_create(
        own_space(),
        window(2),
        region,
        PAGE,
        PAGE,
        MemoryRights::READ,
    )
    .map_err(fail)?;
    let second =
        mapping_create(own_space(), window(3), region, 0, 2 * PAGE, READ_WRITE).map_err(fail)?;
    let mut found = [(Found::Nothing, 0u64, 0u64, 0u64, 0u64); 4];
    let mut count = 0;
    let mut address = 0;
    while let Some(memory) = memory_search(own_space(), address).map_err(fail)? {
        check!(
            count < found.len(),
            "more memory objects than this test made"
        );
        found[count] = (
            memory.kind,
            memory.start,
            memory.size,
            memory.rights.bits(),
            memory.offset,
        );
        count += 1;
        address = memory.start + memory.size;
        check_equal!(handle_close(memory.handle), Ok(()));
    }
    check_equal!(count, 3);
    check_equal!(
        found[..3],
        [
            (Found::Region, source(), 4 * PAGE, READ_WRITE.bits(), 0),
            (
                Found::Mapping,
                window(2),
                PAGE,
                MemoryRights::READ.bits(),
                PAGE
            ),
            (Found::Mapping, window(3), 2 * PAGE, READ_WRITE.bits(), 0),
        ]
    );
    for mapping in [first, second] {
        check_equal!(mapping_destroy(mapping), Ok(()));
        check_equal!(handle_close(mapping), Ok(()));
    }
    check_equal!(handle_close(region), Ok(()));
    check_equal!(memory_search(own_space(), 0), Ok(None));
    Ok(())
}

fn resize_and_move() -> Result<(), CaseFailure> {
    let region = region_create(source(), 2 * PAGE, READ_WRITE).map_err(fail)?;
    let other = region_create(source() + 3 * PAGE, PAGE, READ_WRITE).map_err(fail)?;
    let mapping =
        mapping_create(own_space(), window(1), region, 0, 2 * PAGE, READ_WRITE).map_err(fail)?;
    SOURCE.0[512].store(11, SeqCst);
    check_equal!(load_through_rdi(window(1) + PAGE), 11);
    // Shrinking takes the second page away from the mapping; growing gives it back.
    check_equal!(region_resize(region, PAGE), Ok(()));
    check!(
        load_faults(window(1) + PAGE)?,
        "a page cut from the region still shows"
    );
    check_equal!(load_through_rdi(window(1)), SOURCE.0[0].load(SeqCst));
    check_equal!(region_resize(region, 2 * PAGE), Ok(()));
    check_equal!(load_through_rdi(window(1) + PAGE), 11);
    check_equal!(region_resize(region, 4 * PAGE), Err(Error::Overlaps));
    check_equal!(region_resize(region, 0), Err(Error::InvalidArgument));
    // Moving: the old range faults, the new one shows the same memory.
    check_equal!(mapping_move(mapping, window(4)), Ok(()));
    check!(
        load_faults(window(1) + PAGE)?,
        "a moved mapping still shows its old range"
    );
    check_equal!(load_through_rdi(window(4) + PAGE), 11);
    check_equal!(mapping_move(mapping, source()), Err(Error::Overlaps));
    check_equal!(
        mapping_move(mapping, window(4) + 1),
        Err(Error::InvalidArgument)
    );
    check_equal!(mapping_destroy(mapping), Ok(()));
    check_equal!(mapping_move(mapping, window(5)), Err(Error::InvalidState));
    for handle in [mapping, other, region] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

/// A region and a mapping of 16 TiB each: making, moving, protecting and destroying them
/// takes time in proportion to the pages that are there (a few), not to their size (four
/// billion pages); a kernel that walked every page would not finish within the boot's time.
fn huge_ranges() -> Result<(), CaseFailure> {
    let size = 1u64 << 44;
    let region = region_create(0x1000_0000_0000, size, READ_WRITE).map_err(fail)?;
    let mapping =
        mapping_create(own_space(), 0x2000_0000_0000, region, 0, size, READ_WRITE).map_err(fail)?;
    check!(
        load_faults(0x2000_0000_0000 + (size >> 1))?,
        "a hole read without fault"
    );
    check_equal!(mapping_protect(mapping, MemoryRights::READ), Ok(()));
    check_equal!(region_resize(region, size >> 1), Ok(()));
    check_equal!(mapping_move(mapping, 0x2800_0000_0000), Ok(()));
    check_equal!(mapping_destroy(mapping), Ok(()));
    check_equal!(handle_close(mapping), Ok(()));
    check_equal!(handle_close(region), Ok(()));
    Ok(())
}

/// A chain of 40 links: the levels up to 32 links from the bottom show the memory, those
/// beyond fault (a chain may have at most 32 links), and revoking the bottom link makes every
/// level fault, however the levels were touched.
fn long_chains() -> Result<(), CaseFailure> {
    const LEVELS: u64 = 40;
    const LIMIT: u64 = 32;
    let mut links = [(Handle::NONE, Handle::NONE); LEVELS as usize + 1];
    for level in 1..=LEVELS {
        let below = if level == 1 {
            source()
        } else {
            window(level - 1)
        };
        let region = region_create(below, PAGE, READ_WRITE).map_err(fail)?;
        let mapping = mapping_create(own_space(), window(level), region, 0, PAGE, READ_WRITE)
            .map_err(fail)?;
        links[level as usize] = (region, mapping);
    }
    SOURCE.0[9].store(0x1234_5678, SeqCst);
    for level in 1..=LEVELS {
        let address = window(level) + 72;
        if level <= LIMIT {
            check_equal!(load_through_rdi(address), 0x1234_5678);
        } else {
            check!(
                load_faults(address)?,
                "level {level} is beyond the chain limit but shows memory"
            );
        }
    }
    check_equal!(region_destroy(links[1].0), Ok(()));
    for level in 1..=LEVELS {
        check!(
            load_faults(window(level) + 72)?,
            "level {level} still shows memory after the bottom link went"
        );
    }
    for &(region, mapping) in links.iter().skip(1).rev() {
        let _ = mapping_destroy(mapping);
        check_equal!(handle_close(mapping), Ok(()));
        check_equal!(handle_close(region), Ok(()));
    }
    Ok(())
}
