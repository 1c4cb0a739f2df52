//! Revocation in bounded steps: changing or destroying a region that many mappings show takes
//! every entry derived through them, however often the call is preempted and re-issued on the
//! way (the suite boots with `preemption=every-point`, so every step of it is a restart in the
//! partially preemptible configurations), and a call left half done by a thread that ends
//! instead of re-issuing it is finished by that end.

use super::handles::fail;
use super::memory::{
    PAGE, READ_WRITE, SOURCE, load_faults, load_in_thread, probe, probe_in, source,
    store_in_thread, window,
};
use super::wait_for;
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use runtime::abi::memory::MemoryRights;
use runtime::abi::state::register;
use runtime::abi::{Call, Error, Handle, Rights};
use runtime::arch::probe::{load_through_rdi, store_through_rdi};
use runtime::memory::{
    mapping_create, mapping_destroy, mapping_get_state, mapping_move, mapping_set_state,
    region_create, region_destroy, region_get_state, region_protect, region_resize,
};
use runtime::process::own_space;
use runtime::syscall::{handle_close, handle_grant, handle_info, space_destroy, thread_yield};
use runtime::thread::{Stack, Thread, spawn, spawn_in};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "revocation_a_region_of_many_mappings_is_narrowed_and_destroyed_whole",
        run: many_mappings,
    },
    Case {
        name: "revocation_a_region_shrunk_under_many_mappings_takes_their_pages",
        run: shrunk_under_many_mappings,
    },
    Case {
        name: "revocation_a_mapping_moved_takes_what_derives_from_its_old_range",
        run: moved_under_many_mappings,
    },
    Case {
        name: "revocation_a_mapping_move_moved_into_a_new_thread_ends_after_its_work",
        run: mapping_move_moved_in_its_call,
    },
    Case {
        name: "revocation_a_mapping_moved_onto_its_own_range_drops_its_stale_entries",
        run: moved_onto_its_own_range,
    },
    Case {
        name: "revocation_left_by_an_ended_thread_is_finished",
        run: left_by_an_ended_thread,
    },
    Case {
        name: "revocation_by_closing_a_regions_last_handle_left_by_an_ended_thread_is_finished",
        run: closed_by_an_ended_thread,
    },
    Case {
        name: "revocation_a_range_a_stopped_call_left_half_cleared_takes_a_new_mapping",
        run: new_mapping_over_a_half_cleared_range,
    },
    Case {
        name: "revocation_moved_in_its_last_stage_finishes_in_the_new_thread",
        run: moved_in_its_last_stage,
    },
    Case {
        name: "revocation_by_closing_moved_in_its_last_stage_ends_after_its_work",
        run: closing_moved_in_its_last_stage,
    },
    Case {
        name: "revocation_from_below_reaches_through_a_region_half_destroyed_above",
        run: through_a_half_destroyed_region,
    },
    Case {
        name: "revocation_from_below_reaches_through_a_region_half_shrunk_above",
        run: through_a_half_shrunk_region,
    },
    Case {
        name: "revocation_from_below_reaches_what_a_half_moved_mapping_left",
        run: through_a_half_moved_mapping,
    },
    Case {
        name: "revocation_from_below_reaches_what_a_half_moved_mapping_left_when_shrinking",
        run: shrunk_under_a_half_moved_mapping,
    },
    Case {
        name: "revocation_a_half_moved_mapping_moves_back_after_finishing_the_first_move",
        run: moved_back_after_a_half_done_move,
    },
];

/// Mappings of one region: more than a step visits, many times over.
const MAPPINGS: usize = 40;

/// Where the `index`th mapping shows the region.
fn address(index: usize) -> u64 {
    window(6) + index as u64 * 2 * PAGE
}

/// A region over the first source page, shown by `MAPPINGS` one-page mappings in this space,
/// each written through (so that each has a writable entry).
fn region_of_many_mappings() -> Result<(Handle, [Handle; MAPPINGS]), CaseFailure> {
    let region = region_create(source(), PAGE, READ_WRITE).map_err(fail)?;
    let mut mappings = [Handle::NONE; MAPPINGS];
    for (index, slot) in mappings.iter_mut().enumerate() {
        *slot = mapping_create(own_space(), address(index), region, 0, PAGE, READ_WRITE)
            .map_err(fail)?;
        store_through_rdi(address(index), index as u64 + 1);
        check_equal!(SOURCE.0[0].load(SeqCst), index as u64 + 1);
    }
    Ok((region, mappings))
}

/// Checks that every mapping is destroyed and shows its region no more (`after` says after
/// what, in the failure).
fn check_all_gone(mappings: &[Handle; MAPPINGS], after: &str) -> Result<(), CaseFailure> {
    for (index, &mapping) in mappings.iter().enumerate() {
        check!(
            load_faults(address(index))?,
            "mapping {index} still shows the region after {after}"
        );
        check_equal!(mapping_get_state(mapping, false), Err(Error::InvalidState));
    }
    Ok(())
}

/// Resumes `worker`, a thread of this one's priority that sets `STARTED` before its call, and
/// yields to it until it has (its call then runs until preempted, or to its end).
fn start_worker(worker: &Thread) -> Result<(), CaseFailure> {
    check_equal!(worker.resume(), Ok(()));
    check!(
        wait_for(|| {
            thread_yield();
            STARTED.load(SeqCst) == 1
        }),
        "the worker never started"
    );
    Ok(())
}

/// Closes the handles.
fn close_all(region: Handle, mappings: &[Handle; MAPPINGS]) -> Result<(), CaseFailure> {
    for &mapping in mappings {
        check_equal!(handle_close(mapping), Ok(()));
    }
    check_equal!(handle_close(region), Ok(()));
    Ok(())
}

/// Narrowing the region makes a store through every one of its mappings fault; widening it
/// again lets them all write; destroying it makes every one of them fault, and destroys every
/// mapping.
fn many_mappings() -> Result<(), CaseFailure> {
    let (region, mappings) = region_of_many_mappings()?;
    check_equal!(region_protect(region, MemoryRights::READ), Ok(()));
    for index in 0..MAPPINGS {
        check_equal!(
            probe(store_in_thread, address(index))?,
            Some((14, address(index)))
        );
        check_equal!(load_through_rdi(address(index)), MAPPINGS as u64);
    }
    check_equal!(region_protect(region, READ_WRITE), Ok(()));
    for index in 0..MAPPINGS {
        store_through_rdi(address(index), 100 + index as u64);
        check_equal!(SOURCE.0[0].load(SeqCst), 100 + index as u64);
    }
    check_equal!(region_destroy(region), Ok(()));
    check_all_gone(&mappings, "its destruction")?;
    close_all(region, &mappings)
}

/// Forty mappings show the second page of a two-page region; shrinking the region to one page
/// makes a load through every one of them fault, and growing it back shows the page again.
fn shrunk_under_many_mappings() -> Result<(), CaseFailure> {
    let region = region_create(source(), 2 * PAGE, READ_WRITE).map_err(fail)?;
    let mut mappings = [Handle::NONE; MAPPINGS];
    for (index, slot) in mappings.iter_mut().enumerate() {
        *slot = mapping_create(own_space(), address(index), region, PAGE, PAGE, READ_WRITE)
            .map_err(fail)?;
        store_through_rdi(address(index), 200 + index as u64);
        check_equal!(SOURCE.0[512].load(SeqCst), 200 + index as u64);
    }
    check_equal!(region_resize(region, PAGE), Ok(()));
    for index in 0..MAPPINGS {
        check!(
            load_faults(address(index))?,
            "mapping {index} still shows a page its region no longer exports"
        );
    }
    check_equal!(region_resize(region, 2 * PAGE), Ok(()));
    for index in 0..MAPPINGS {
        check_equal!(load_through_rdi(address(index)), 200 + MAPPINGS as u64 - 1);
    }
    check_equal!(region_destroy(region), Ok(()));
    close_all(region, &mappings)
}

/// Where the mapping that the next case moves shows the first source page, before and after.
fn moved_from() -> u64 {
    window(7)
}

fn moved_to() -> u64 {
    window(7) + 64 * PAGE
}

/// A mapping shows the first source page; this space exports that page of its as a second
/// region, which forty mappings show, each written through. Moving the first mapping away
/// takes every entry derived through the second region (each of the forty faults: nothing is
/// under it any more); moving it back with `MappingSetState`, read-only, shows the page
/// through them again, for loads only.
fn moved_under_many_mappings() -> Result<(), CaseFailure> {
    let shown = ShownUnderMany::new()?;
    let moved = shown.moved;
    check_equal!(mapping_move(moved, moved_to()), Ok(()));
    shown.check_moved_away()?;
    let last = ShownUnderMany::LAST;
    check_equal!(
        mapping_set_state(moved, moved_from(), MemoryRights::READ),
        Ok(())
    );
    check!(
        load_faults(moved_to())?,
        "the range moved from still shows the page"
    );
    for index in 0..MAPPINGS {
        check_equal!(load_through_rdi(address(index)), last);
        check_equal!(
            probe(store_in_thread, address(index))?,
            Some((14, address(index)))
        );
    }
    shown.close()
}

/// A mapping of the first source page, a region this space exports over it, and forty
/// mappings of that region, each written through (the last wrote `LAST`).
struct ShownUnderMany {
    region: Handle,
    moved: Handle,
    above: Handle,
    mappings: [Handle; MAPPINGS],
}

impl ShownUnderMany {
    const LAST: u64 = 300 + MAPPINGS as u64 - 1;

    fn new() -> Result<ShownUnderMany, CaseFailure> {
        let region = region_create(source(), PAGE, READ_WRITE).map_err(fail)?;
        let moved =
            mapping_create(own_space(), moved_from(), region, 0, PAGE, READ_WRITE).map_err(fail)?;
        let above = region_create(moved_from(), PAGE, READ_WRITE).map_err(fail)?;
        let mut mappings = [Handle::NONE; MAPPINGS];
        for (index, slot) in mappings.iter_mut().enumerate() {
            *slot = mapping_create(own_space(), address(index), above, 0, PAGE, READ_WRITE)
                .map_err(fail)?;
            store_through_rdi(address(index), 300 + index as u64);
            check_equal!(SOURCE.0[0].load(SeqCst), 300 + index as u64);
        }
        Ok(ShownUnderMany {
            region,
            moved,
            above,
            mappings,
        })
    }

    /// Checks that the mapping shows the page at `moved_to()` only, and that none of the forty
    /// shows it any more.
    fn check_moved_away(&self) -> Result<(), CaseFailure> {
        for index in 0..MAPPINGS {
            check!(
                load_faults(address(index))?,
                "mapping {index} still shows the page the moved mapping showed under it"
            );
        }
        check!(
            load_faults(moved_from())?,
            "the old range still shows the page"
        );
        check_equal!(load_through_rdi(moved_to()), Self::LAST);
        Ok(())
    }

    fn close(self) -> Result<(), CaseFailure> {
        for &mapping in &self.mappings {
            check_equal!(mapping_destroy(mapping), Ok(()));
        }
        check_equal!(region_destroy(self.above), Ok(()));
        check_equal!(mapping_destroy(self.moved), Ok(()));
        check_equal!(region_destroy(self.region), Ok(()));
        close_all(self.above, &self.mappings)?;
        check_equal!(handle_close(self.moved), Ok(()));
        check_equal!(handle_close(self.region), Ok(()));
        Ok(())
    }
}

fn move_away(mapping: u64) {
    worker_call(|| mapping_move(Handle::from_raw(mapping), moved_to()));
}

/// A worker moving a mapping under forty is stopped in its call and its state moved into a new
/// thread, resumed while the old one stands stopped: the move is made once, and by the time the
/// moved call has returned nothing derived from the old range is left.
fn mapping_move_moved_in_its_call() -> Result<(), CaseFailure> {
    let shown = ShownUnderMany::new()?;
    let (worker, moved) = call_moved_to_a_new_thread(move_away, shown.moved.raw())?;
    check_equal!(
        mapping_get_state(shown.moved, false).map(|state| state.start),
        Ok(moved_to())
    );
    shown.check_moved_away()?;
    drop(moved);
    drop(worker);
    shown.close()
}

/// A two-page mapping, both pages loaded through (their entries are in the page tables),
/// moves up by one page, onto half of its own range: the move is allowed (the entries there
/// are its own), and the page that now shows its first page does not show its second one
/// through an entry left from before.
fn moved_onto_its_own_range() -> Result<(), CaseFailure> {
    SOURCE.0[0].store(0xf1, SeqCst);
    SOURCE.0[512].store(0xf2, SeqCst);
    let start = window(8);
    let region = region_create(source(), 2 * PAGE, READ_WRITE).map_err(fail)?;
    let mapping =
        mapping_create(own_space(), start, region, 0, 2 * PAGE, READ_WRITE).map_err(fail)?;
    check_equal!(load_through_rdi(start), 0xf1);
    check_equal!(load_through_rdi(start + PAGE), 0xf2);
    check_equal!(mapping_move(mapping, start + PAGE), Ok(()));
    check!(
        load_faults(start)?,
        "the page left behind still shows memory"
    );
    check_equal!(load_through_rdi(start + PAGE), 0xf1);
    check_equal!(load_through_rdi(start + 2 * PAGE), 0xf2);
    check_equal!(mapping_destroy(mapping), Ok(()));
    check_equal!(region_destroy(region), Ok(()));
    check_equal!(handle_close(mapping), Ok(()));
    check_equal!(handle_close(region), Ok(()));
    Ok(())
}

static WORKER_STACK: Stack<1024> = Stack::new();
static STARTED: AtomicU64 = AtomicU64::new(0);
static FINISHED: AtomicU64 = AtomicU64::new(0);

/// A worker's call: marks the worker started, makes `call`, and records how it ended in
/// `FINISHED` (1 done, 2 failed).
fn worker_call(call: impl FnOnce() -> Result<(), Error>) {
    STARTED.store(1, SeqCst);
    FINISHED.store(if call().is_ok() { 1 } else { 2 }, SeqCst);
}

fn destroy_region(region: u64) {
    worker_call(|| region_destroy(Handle::from_raw(region)));
}

/// A worker destroys the region; where the kernel preempts the call between two steps, the
/// worker is stopped there and ended (its last handle closed) instead of going on. Either way,
/// afterwards no mapping of the region shows it any more: the end finished the work.
fn left_by_an_ended_thread() -> Result<(), CaseFailure> {
    ended_in_its_last_stage(
        destroy_region,
        "RegionDestroy",
        |region| region_get_state(region, false) == Err(Error::InvalidState),
        region_destroy,
    )
}

fn close_region(region: u64) {
    worker_call(|| handle_close(Handle::from_raw(region)));
}

/// As above, with a worker that closes the region's last handle, which destroys the region
/// as `RegionDestroy` does, in steps. Stopped between two, its registers name the last stage
/// on a handle that names nothing any more; its end still finds the work it left, through its
/// record, and finishes it.
fn closed_by_an_ended_thread() -> Result<(), CaseFailure> {
    ended_in_its_last_stage(
        close_region,
        "HandleClose",
        |region| handle_info(region) == Err(Error::BadHandle),
        handle_close,
    )
}

/// The two cases above: a worker runs `work` (`call`, which ends the region) on a region of
/// many mappings and is stopped, then ended; `ended` says whether its change is made, and
/// `end_here` makes it when the worker was stopped before its call began.
fn ended_in_its_last_stage(
    work: fn(u64),
    call: &str,
    ended: fn(Handle) -> bool,
    end_here: fn(Handle) -> Result<(), Error>,
) -> Result<(), CaseFailure> {
    STARTED.store(0, SeqCst);
    FINISHED.store(0, SeqCst);
    let (region, mappings) = region_of_many_mappings()?;
    let worker = spawn(&WORKER_STACK, work, region.raw()).map_err(fail)?;
    start_worker(&worker)?;
    // Stopped in the middle of its call: its registers name its last stage (the change is
    // made: the region is destroyed already, while some of its mappings may still have their
    // entries).
    let stopped = match worker.interrupt() {
        Ok(()) => true,
        Err(Error::InvalidState) => false,
        Err(error) => return Err(fail(error)),
    };
    let in_call = stopped
        && FINISHED.load(SeqCst) == 0
        && worker
            .state()
            .is_ok_and(|state| state.registers[register::RAX] == Call::InvalidationFinish.number())
        && ended(region);
    if in_call {
        let last = address(MAPPINGS - 1);
        let stale = probe(store_in_thread, last)? != Some((14, last));
        runtime::println!(
            "  stopped in {call}'s last stage; last mapping's entry still there: {stale}"
        );
    }
    // Ends the stopped worker.
    drop(worker);
    if !ended(region) {
        // It was stopped before its call began (or between the call and the kernel entry):
        // nothing was left half done, so the region is ended here.
        check_equal!(end_here(region), Ok(()));
    }
    check_all_gone(&mappings, "the worker's end")?;
    check!(FINISHED.load(SeqCst) != 2, "the worker's call failed");
    for &mapping in &mappings {
        check_equal!(handle_close(mapping), Ok(()));
    }
    if handle_info(region).is_ok() {
        check_equal!(handle_close(region), Ok(()));
    }
    Ok(())
}

/// Pages of the big mapping of the next case: two page tables' worth, which its destruction
/// removes in two steps.
const BIG_PAGES: u64 = 1024;

fn destroy_mapping(mapping: u64) {
    worker_call(|| mapping_destroy(Handle::from_raw(mapping)));
}

/// A worker destroys a mapping of 1,024 pages, all entered, and is stopped between two steps
/// of its call (under partial preemption): half of the entries are still there. A new mapping
/// over the same range must still be made: it finishes the work pending on the space first,
/// rather than taking the entries left for a page the space holds itself (`Overlaps`).
fn new_mapping_over_a_half_cleared_range() -> Result<(), CaseFailure> {
    STARTED.store(0, SeqCst);
    FINISHED.store(0, SeqCst);
    let (ram, size) = runtime::process::ram();
    let bytes = BIG_PAGES * PAGE;
    check!(
        size >= 8 * 1024 * 1024 + bytes,
        "the RAM window is too small: {size} bytes"
    );
    let region = region_create(ram + 8 * 1024 * 1024, bytes, READ_WRITE).map_err(fail)?;
    // Two whole page tables (2 MiB-aligned).
    let at = window(12);
    let big = mapping_create(own_space(), at, region, 0, bytes, READ_WRITE).map_err(fail)?;
    for page in 0..BIG_PAGES {
        store_through_rdi(at + page * PAGE, page);
    }
    let worker = spawn(&WORKER_STACK, destroy_mapping, big.raw()).map_err(fail)?;
    start_worker(&worker)?;
    let stopped = worker.interrupt().is_ok();
    if stopped && FINISHED.load(SeqCst) == 0 {
        let last = at + bytes - PAGE;
        runtime::println!(
            "  stopped in MappingDestroy; last page's entry still there: {}",
            !load_faults(last)?
        );
    }
    let again = mapping_create(own_space(), at, region, 0, bytes, READ_WRITE).map_err(fail)?;
    check_equal!(load_through_rdi(at + bytes - PAGE), BIG_PAGES - 1);
    check_equal!(mapping_destroy(again), Ok(()));
    drop(worker);
    if mapping_get_state(big, false).is_ok() {
        // Stopped before its call began.
        check_equal!(mapping_destroy(big), Ok(()));
    }
    check!(FINISHED.load(SeqCst) != 2, "the worker's call failed");
    check_equal!(region_destroy(region), Ok(()));
    for handle in [again, big, region] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

/// As above, but the stopped worker is moved into a new thread, which goes on: its registers
/// name the last stage (`InvalidationFinish`), which finishes the work and does not destroy
/// anything twice; the call returns success in the new thread.
fn moved_in_its_last_stage() -> Result<(), CaseFailure> {
    STARTED.store(0, SeqCst);
    FINISHED.store(0, SeqCst);
    let (region, mappings) = region_of_many_mappings()?;
    let worker = spawn(&WORKER_STACK, destroy_region, region.raw()).map_err(fail)?;
    start_worker(&worker)?;
    let worker = match worker.interrupt() {
        Ok(()) => {
            let (state, moved) = worker.move_to_new_thread(own_space()).map_err(fail)?;
            if FINISHED.load(SeqCst) == 0 {
                runtime::println!("  moved in stage {}", state.registers[register::RAX]);
            }
            drop(worker);
            check_equal!(moved.resume(), Ok(()));
            moved
        }
        Err(Error::InvalidState) => worker,
        Err(error) => return Err(fail(error)),
    };
    check!(
        wait_for(|| FINISHED.load(SeqCst) != 0),
        "the moved worker never finished"
    );
    check_equal!(FINISHED.load(SeqCst), 1);
    drop(worker);
    check_all_gone(&mappings, "the moved call")?;
    close_all(region, &mappings)
}

static CHILD_STACK: Stack<1024> = Stack::new();
static CHILD_WORKER_STACK: Stack<1024> = Stack::new();
/// The region the child exports (its handle in the child's table), or a failure marker.
static EXPORTED: AtomicU64 = AtomicU64::new(0);
const EXPORT_FAILED: u64 = u64::MAX;

/// Where the parent shows its page in the child.
fn shown_in_child() -> u64 {
    window(9)
}

/// Runs in the child: exports the page the parent shows it as a region, shows that region
/// through `MAPPINGS` mappings of its own space (`own` is a handle to it), and touches each.
fn export_and_show(own: u64) {
    let own = Handle::from_raw(own);
    let Ok(region) = region_create(shown_in_child(), PAGE, READ_WRITE) else {
        EXPORTED.store(EXPORT_FAILED, SeqCst);
        return;
    };
    for index in 0..MAPPINGS {
        if mapping_create(own, address(index), region, 0, PAGE, READ_WRITE).is_err() {
            EXPORTED.store(EXPORT_FAILED, SeqCst);
            return;
        }
        load_through_rdi(address(index));
    }
    EXPORTED.store(region.raw(), SeqCst);
}

/// Whether a load at `address` in a thread of `space` faults there.
fn load_faults_in(space: Handle, address: u64) -> Result<bool, CaseFailure> {
    Ok(probe_in(space, load_in_thread, address)? == Some((14, address)))
}

/// In `child` (which runs this program): `export` exports memory the parent shows it and
/// shows it through `MAPPINGS` mappings of the child's own, then a worker runs `work` on the
/// exported region and is stopped for good between two steps of its call. `revoke` then runs
/// here: if `revoked`, its call must reach every entry derived through the child's region,
/// whatever the child's stopped call left, so that every one of the child's mappings faults;
/// otherwise every one must show the memory again.
fn revoke_under_a_stopped_child(
    child: Handle,
    export: fn(u64),
    work: fn(u64),
    revoke: impl FnOnce() -> Result<(), CaseFailure>,
    revoked: bool,
) -> Result<(), CaseFailure> {
    STARTED.store(0, SeqCst);
    FINISHED.store(0, SeqCst);
    EXPORTED.store(0, SeqCst);
    let own = handle_grant(child, child, Rights::CREATE).map_err(fail)?;
    let exporter = spawn_in(child, &CHILD_STACK, export, own.raw()).map_err(fail)?;
    check_equal!(exporter.resume(), Ok(()));
    check!(
        wait_for(|| EXPORTED.load(SeqCst) != 0),
        "the child never exported its region"
    );
    let exported = EXPORTED.load(SeqCst);
    check!(exported != EXPORT_FAILED, "the child could not export");
    for index in 0..MAPPINGS {
        check!(
            !load_faults_in(child, address(index))?,
            "the child's mapping {index} does not show the page"
        );
    }
    let worker = spawn_in(child, &CHILD_WORKER_STACK, work, exported).map_err(fail)?;
    start_worker(&worker)?;
    let stopped = worker.interrupt().is_ok();
    runtime::println!(
        "  child's call stopped half done: {}",
        stopped && FINISHED.load(SeqCst) == 0
    );
    check!(FINISHED.load(SeqCst) != 2, "the child's call failed");
    // The worker stays stopped: its work waits in the child's list, which the parent's call
    // does not run.
    revoke()?;
    for index in 0..MAPPINGS {
        check!(
            load_faults_in(child, address(index))? == revoked,
            "the child's mapping {index} shows the parent's memory: {}, expected {}",
            !revoked,
            revoked
        );
    }
    drop(worker);
    drop(exporter);
    Ok(())
}

/// Runs `work(argument)` in a worker, stops it (in its call, where the kernel preempts it),
/// moves its state into a new thread and resumes that while the old one stands stopped, and
/// waits for the call to end there, successfully. The old worker, and the new one if the call
/// was caught.
fn call_moved_to_a_new_thread(
    work: fn(u64),
    argument: u64,
) -> Result<(Thread, Option<Thread>), CaseFailure> {
    STARTED.store(0, SeqCst);
    FINISHED.store(0, SeqCst);
    let worker = spawn(&WORKER_STACK, work, argument).map_err(fail)?;
    start_worker(&worker)?;
    let moved = match worker.interrupt() {
        Ok(()) => {
            let (state, moved) = worker.move_to_new_thread(own_space()).map_err(fail)?;
            if FINISHED.load(SeqCst) == 0 {
                runtime::println!("  moved in stage {}", state.registers[register::RAX]);
            }
            check_equal!(moved.resume(), Ok(()));
            Some(moved)
        }
        Err(Error::InvalidState) => None,
        Err(error) => return Err(fail(error)),
    };
    check!(
        wait_for(|| FINISHED.load(SeqCst) != 0),
        "the moved worker never finished"
    );
    check_equal!(FINISHED.load(SeqCst), 1);
    Ok((worker, moved))
}

/// A worker closing the region's last handle is stopped and its state moved into a new
/// thread, which is resumed while the old one still stands stopped (with its record of the
/// work it left). The moved call's last stage names a closed handle: it must still finish the
/// work before it returns, so that every mapping faults by the time the call has returned.
fn closing_moved_in_its_last_stage() -> Result<(), CaseFailure> {
    let (region, mappings) = region_of_many_mappings()?;
    let (worker, moved) = call_moved_to_a_new_thread(close_region, region.raw())?;
    check_all_gone(&mappings, "the moved call returned")?;
    drop(moved);
    drop(worker);
    for &mapping in &mappings {
        check_equal!(handle_close(mapping), Ok(()));
    }
    Ok(())
}

/// The parent shows a page in a child; the child exports it as a region and shows that
/// through forty mappings of its own; a thread of the child starts destroying the region and
/// is stopped for good between two steps. The parent then destroys its own region: its call
/// must reach every entry derived through the child's region, half destroyed as it is.
fn through_a_half_destroyed_region() -> Result<(), CaseFailure> {
    let (child, image, shown) = super::memory::child_running_this_program()?;
    // A page of the RAM window (the program's image is all one region now, the child's).
    let (ram, _) = runtime::process::ram();
    let below = region_create(ram + 3 * 1024 * 1024, PAGE, READ_WRITE).map_err(fail)?;
    let in_child =
        mapping_create(child, shown_in_child(), below, 0, PAGE, READ_WRITE).map_err(fail)?;
    revoke_under_a_stopped_child(
        child,
        export_and_show,
        destroy_region,
        || {
            check_equal!(region_destroy(below), Ok(()));
            Ok(())
        },
        true,
    )?;
    check_equal!(space_destroy(child), Ok(()));
    for handle in [in_child, below, shown, image, child] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

/// Runs in the child: exports the two pages the parent shows it as one region, shows the
/// second page of that region through `MAPPINGS` mappings of its own space (`own`), and
/// touches each.
fn export_two_and_show_second(own: u64) {
    let own = Handle::from_raw(own);
    let Ok(region) = region_create(shown_in_child(), 2 * PAGE, READ_WRITE) else {
        EXPORTED.store(EXPORT_FAILED, SeqCst);
        return;
    };
    for index in 0..MAPPINGS {
        if mapping_create(own, address(index), region, PAGE, PAGE, READ_WRITE).is_err() {
            EXPORTED.store(EXPORT_FAILED, SeqCst);
            return;
        }
        load_through_rdi(address(index));
    }
    EXPORTED.store(region.raw(), SeqCst);
}

fn shrink_region(region: u64) {
    worker_call(|| region_resize(Handle::from_raw(region), PAGE));
}

/// As above, with a shrink: the parent shows two pages in the child, from two regions of its
/// own; the child exports both as one region and shows its second page through forty
/// mappings; a thread of the child starts shrinking that region to its first page and is
/// stopped for good between two steps. The parent then destroys the region behind the second
/// page: its call must reach the child's mappings through the region that no longer exports
/// that page, but whose shrink has not removed their entries yet.
fn through_a_half_shrunk_region() -> Result<(), CaseFailure> {
    let (child, image, shown) = super::memory::child_running_this_program()?;
    let (ram, _) = runtime::process::ram();
    let first = region_create(ram + 3 * 1024 * 1024, PAGE, READ_WRITE).map_err(fail)?;
    let second = region_create(ram + 3 * 1024 * 1024 + PAGE, PAGE, READ_WRITE).map_err(fail)?;
    let first_shown =
        mapping_create(child, shown_in_child(), first, 0, PAGE, READ_WRITE).map_err(fail)?;
    let second_shown = mapping_create(child, shown_in_child() + PAGE, second, 0, PAGE, READ_WRITE)
        .map_err(fail)?;
    revoke_under_a_stopped_child(
        child,
        export_two_and_show_second,
        shrink_region,
        || {
            check_equal!(region_destroy(second), Ok(()));
            Ok(())
        },
        true,
    )?;
    check_equal!(space_destroy(child), Ok(()));
    for handle in [
        first_shown,
        second_shown,
        first,
        second,
        shown,
        image,
        child,
    ] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

/// The parent's mapping in the child, granted to the child for the next case.
static MOVED: AtomicU64 = AtomicU64::new(0);

/// Runs in a thread of the child: moves the mapping that shows the parent's page (in `MOVED`)
/// away from the range the child exports.
fn move_shown_mapping(_: u64) {
    worker_call(|| mapping_move(Handle::from_raw(MOVED.load(SeqCst)), window(11)));
}

/// The parent shows a page in a child; the child exports it as a region and shows that
/// through forty mappings of its own; a thread of the child moves the parent's mapping away
/// and is stopped for good between two steps, with entries of the forty still derived from
/// the page through the mapping's old window. The parent then destroys its own region: its
/// call must reach them through that old window (the mapping's new one shows nothing the
/// child exports).
fn through_a_half_moved_mapping() -> Result<(), CaseFailure> {
    under_a_half_moved_mapping(
        |below, _| {
            check_equal!(region_destroy(below), Ok(()));
            Ok(())
        },
        true,
    )
}

/// As above, but the parent shrinks its region instead (two pages, the child shown the second
/// one), which reaches mappings through each one's windows rather than destroying them.
fn shrunk_under_a_half_moved_mapping() -> Result<(), CaseFailure> {
    under_a_half_moved_mapping(
        |below, _| {
            check_equal!(region_resize(below, PAGE), Ok(()));
            Ok(())
        },
        true,
    )
}

/// The parent moves its mapping back, with new rights, while the child's move of it is
/// stopped half done: the move first finishes the work the child's left, then shows the page
/// where the child exports it again, so that the child's forty mappings show it again.
fn moved_back_after_a_half_done_move() -> Result<(), CaseFailure> {
    under_a_half_moved_mapping(
        |_, in_child| {
            check_equal!(
                mapping_get_state(in_child, false).map(|state| state.start),
                Ok(window(11))
            );
            check_equal!(
                mapping_set_state(in_child, shown_in_child(), MemoryRights::READ),
                Ok(())
            );
            check_equal!(
                mapping_get_state(in_child, false).map(|state| (state.start, state.rights)),
                Ok((shown_in_child(), MemoryRights::READ))
            );
            Ok(())
        },
        false,
    )
}

/// The scaffold of the cases above: the parent's region (two pages of RAM) shows its second
/// page in the child, and after the child's move of that mapping stops half done, `revoke`
/// runs with the region and the mapping; `revoked` says whether the child's mappings must
/// fault afterwards.
fn under_a_half_moved_mapping(
    revoke: impl FnOnce(Handle, Handle) -> Result<(), CaseFailure>,
    revoked: bool,
) -> Result<(), CaseFailure> {
    let (child, image, shown) = super::memory::child_running_this_program()?;
    let (ram, _) = runtime::process::ram();
    let below = region_create(ram + 3 * 1024 * 1024, 2 * PAGE, READ_WRITE).map_err(fail)?;
    let in_child =
        mapping_create(child, shown_in_child(), below, PAGE, PAGE, READ_WRITE).map_err(fail)?;
    let granted = handle_grant(child, in_child, Rights::CONTROL).map_err(fail)?;
    MOVED.store(granted.raw(), SeqCst);
    revoke_under_a_stopped_child(
        child,
        export_and_show,
        move_shown_mapping,
        || revoke(below, in_child),
        revoked,
    )?;
    check_equal!(space_destroy(child), Ok(()));
    for handle in [in_child, below, shown, image, child] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}
