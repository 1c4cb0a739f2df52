//! The states of regions and mappings: `RegionGetState` and `MappingGetState` read back what
//! was made and every change since, with handles to the objects they depend on when asked;
//! `RegionSetState` and `MappingSetState` change everything they are given, or nothing; a
//! region's new keeper gets its faults; and a space's memory, listed with `MemorySearch` and
//! read with the state calls (the regions told apart by `HandleInfo`'s identities), is rebuilt
//! as it was from what those calls report.

use super::handles::fail;
use super::memory::{
    PAGE, READ_WRITE, SOURCE, load_faults, load_in_thread, probe, source, store_in_thread, window,
};
use crate::{Case, CaseFailure, check, check_equal};
use core::sync::atomic::Ordering::SeqCst;
use runtime::abi::keeper::{FaultMessage, LEAVE_STOPPED};
use runtime::abi::memory::{Found, MappingState, MemoryRights, RegionState};
use runtime::abi::{Error, Handle};
use runtime::arch::probe::{load_through_rdi, store_through_rdi};
use runtime::ipc;
use runtime::memory::{
    mapping_create, mapping_destroy, mapping_get_state, mapping_move, mapping_protect,
    mapping_set_state, memory_search, region_create, region_create_kept, region_destroy,
    region_get_state, region_protect, region_resize, region_set_state,
};
use runtime::process::own_space;
use runtime::syscall::{handle_close, handle_info};
use runtime::thread::{Stack, spawn};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "memory_state_reads_back_what_was_made_and_every_change",
        run: states_read_back,
    },
    Case {
        name: "memory_state_set_state_changes_everything_or_nothing",
        run: set_state_is_all_or_nothing,
    },
    Case {
        name: "memory_state_a_regions_new_keeper_gets_its_faults",
        run: new_keeper_gets_faults,
    },
    Case {
        name: "memory_state_a_spaces_mappings_are_rebuilt_from_their_states",
        run: mappings_rebuilt_from_states,
    },
];

const READ: MemoryRights = MemoryRights::READ;

fn states_read_back() -> Result<(), CaseFailure> {
    let port = ipc::port_create(7).map_err(fail)?;
    let region = region_create_kept(source(), 4 * PAGE, READ_WRITE, port).map_err(fail)?;
    let mapping =
        mapping_create(own_space(), window(1), region, PAGE, 2 * PAGE, READ).map_err(fail)?;
    check_equal!(
        region_get_state(region, false),
        Ok(RegionState {
            start: source(),
            size: 4 * PAGE,
            rights: READ_WRITE,
            keeper: 0,
        })
    );
    check_equal!(
        mapping_get_state(mapping, false),
        Ok(MappingState {
            start: window(1),
            size: 2 * PAGE,
            rights: READ,
            ceiling: READ,
            offset: PAGE,
            region: 0,
        })
    );
    // Asked for handles: a new reference to the keeper, which serves where a keeper is needed,
    // and a handle to the region that reads its state but can neither map nor change it.
    let with_keeper = region_get_state(region, true).map_err(fail)?;
    let keeper = Handle::from_raw(with_keeper.keeper);
    check!(
        keeper != Handle::NONE && keeper != port,
        "no new keeper handle: {with_keeper:?}"
    );
    check_equal!(
        region_set_state(region, 4 * PAGE, READ_WRITE, keeper),
        Ok(())
    );
    let with_region = mapping_get_state(mapping, true).map_err(fail)?;
    let found = Handle::from_raw(with_region.region);
    check!(found != Handle::NONE, "no region handle: {with_region:?}");
    check_equal!(
        region_get_state(found, false),
        region_get_state(region, false)
    );
    check_equal!(
        mapping_create(own_space(), window(2), found, 0, PAGE, READ),
        Err(Error::MissingRights)
    );
    check_equal!(
        region_set_state(found, PAGE, READ, Handle::NONE),
        Err(Error::MissingRights)
    );
    // Nor does it lead to the region's pager: the keeper comes only with CONTROL.
    check_equal!(region_get_state(found, true), Err(Error::MissingRights));
    // Every change shows in the state.
    check_equal!(region_resize(region, 3 * PAGE), Ok(()));
    check_equal!(region_protect(region, READ), Ok(()));
    check_equal!(mapping_move(mapping, window(2)), Ok(()));
    check_equal!(
        region_get_state(region, false).map(|state| (state.size, state.rights)),
        Ok((3 * PAGE, READ))
    );
    check_equal!(
        mapping_get_state(mapping, false).map(|state| state.start),
        Ok(window(2))
    );
    // Bad requests.
    check_equal!(region_get_state(mapping, false), Err(Error::WrongType));
    check_equal!(mapping_get_state(region, false), Err(Error::WrongType));
    check_equal!(
        region_get_state(Handle::new(4000, 1), false),
        Err(Error::BadHandle)
    );
    let (status, _) = runtime::arch::syscall::call6(
        runtime::abi::Call::RegionGetState,
        [region.raw(), 1 << 5, 0, 0, 0, 0],
    );
    check_equal!(status, Error::InvalidArgument.code());
    // Destroyed objects have no state.
    check_equal!(mapping_destroy(mapping), Ok(()));
    check_equal!(mapping_get_state(mapping, false), Err(Error::InvalidState));
    check_equal!(region_destroy(region), Ok(()));
    check_equal!(region_get_state(region, false), Err(Error::InvalidState));
    for handle in [mapping, region, found, keeper, port] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

fn set_state_is_all_or_nothing() -> Result<(), CaseFailure> {
    let region = region_create(source(), 2 * PAGE, READ_WRITE).map_err(fail)?;
    // A neighbour three pages on: the region may grow to three pages, not four.
    let neighbour = region_create(source() + 3 * PAGE, PAGE, READ_WRITE).map_err(fail)?;
    let mapping =
        mapping_create(own_space(), window(1), region, 0, 2 * PAGE, READ_WRITE).map_err(fail)?;
    let read_only = mapping_create(own_space(), window(2), region, 0, PAGE, READ).map_err(fail)?;
    SOURCE.0[0].store(11, SeqCst);
    check_equal!(load_through_rdi(window(1)), 11);
    // Refused: a size that reaches the neighbour, a keeper that is no port. Nothing changes,
    // not even the parts that were fine.
    check_equal!(
        region_set_state(region, 4 * PAGE, READ, Handle::NONE),
        Err(Error::Overlaps)
    );
    check_equal!(
        region_set_state(region, PAGE, READ, mapping),
        Err(Error::WrongType)
    );
    check_equal!(
        region_get_state(region, false).map(|state| (state.size, state.rights)),
        Ok((2 * PAGE, READ_WRITE))
    );
    store_through_rdi(window(1) + PAGE, 13);
    check_equal!(SOURCE.0[512].load(SeqCst), 13);
    // Accepted: one page, read-only, at once.
    check_equal!(region_set_state(region, PAGE, READ, Handle::NONE), Ok(()));
    check_equal!(load_through_rdi(window(1)), 11);
    check_equal!(probe(store_in_thread, window(1))?, Some((14, window(1))));
    check!(
        load_faults(window(1) + PAGE)?,
        "a page the region no longer exports is still shown"
    );
    check_equal!(
        region_set_state(region, 3 * PAGE, READ_WRITE, Handle::NONE),
        Ok(())
    );
    store_through_rdi(window(1) + PAGE, 14);
    check_equal!(SOURCE.0[512].load(SeqCst), 14);
    // Mappings: a move onto another mapping, rights beyond those it was made with.
    check_equal!(
        mapping_set_state(mapping, window(2), READ),
        Err(Error::Overlaps)
    );
    check_equal!(
        mapping_get_state(mapping, false).map(|state| (state.start, state.rights)),
        Ok((window(1), READ_WRITE))
    );
    store_through_rdi(window(1), 12);
    check_equal!(
        mapping_set_state(read_only, window(3), READ_WRITE),
        Err(Error::MissingRights)
    );
    check_equal!(load_through_rdi(window(2)), 12);
    check!(load_faults(window(3))?, "a refused move moved the mapping");
    // Accepted: moved and narrowed at once; then widened again in place.
    check_equal!(mapping_set_state(mapping, window(3), READ), Ok(()));
    check_equal!(load_through_rdi(window(3)), 12);
    check_equal!(probe(store_in_thread, window(3))?, Some((14, window(3))));
    check!(
        load_faults(window(1))?,
        "the old place of a moved mapping still shows memory"
    );
    check_equal!(mapping_set_state(mapping, window(3), READ_WRITE), Ok(()));
    store_through_rdi(window(3) + 8, 15);
    check_equal!(SOURCE.0[1].load(SeqCst), 15);
    // A slide onto part of its own old range, both of whose pages were touched (so entered in
    // the page tables): those entries are the mapping's own, not pages the space holds.
    check_equal!(load_through_rdi(window(3) + PAGE), 14);
    check_equal!(
        mapping_set_state(mapping, window(3) + PAGE, READ_WRITE),
        Ok(())
    );
    check_equal!(load_through_rdi(window(3) + PAGE + 8), 15);
    check_equal!(load_through_rdi(window(3) + 2 * PAGE), 14);
    for handle in [mapping, read_only] {
        check_equal!(mapping_destroy(handle), Ok(()));
        check_equal!(handle_close(handle), Ok(()));
    }
    for handle in [region, neighbour] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

/// An empty range, far from anything else, for a region whose every page is a hole.
const HOLES: u64 = 0x6a00_0000_0000;

static FAULTING_STACK: Stack<1024> = Stack::new();

fn new_keeper_gets_faults() -> Result<(), CaseFailure> {
    let old_keeper = ipc::port_create(1).map_err(fail)?;
    let new_keeper = ipc::port_create(2).map_err(fail)?;
    let set = ipc::port_set_create().map_err(fail)?;
    for port in [old_keeper, new_keeper] {
        ipc::port_set_add(set, port).map_err(fail)?;
    }
    let holes = region_create_kept(HOLES, PAGE, READ_WRITE, old_keeper).map_err(fail)?;
    let shown = mapping_create(own_space(), window(1), holes, 0, PAGE, READ).map_err(fail)?;
    check_equal!(
        region_set_state(holes, PAGE, READ_WRITE, new_keeper),
        Ok(())
    );
    let thread = spawn(&FAULTING_STACK, load_in_thread, window(1)).map_err(fail)?;
    check_equal!(thread.resume(), Ok(()));
    // Both keepers wait on this one set: the badge says which one the fault went to.
    let request = ipc::wait(set).map_err(fail)?;
    let fault = FaultMessage::from_words(request.words);
    check_equal!(request.badge, 2);
    check_equal!(fault.address, HOLES);
    check_equal!(fault.thread, 0);
    check_equal!(ipc::reply(request.reply, [LEAVE_STOPPED, 0, 0, 0]), Ok(()));
    drop(thread);
    for handle in [shown, holes, old_keeper, new_keeper, set] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

/// One mapping as a checkpoint records it: its state, and which of the checkpointer's own
/// regions it shows.
#[derive(Clone, Copy)]
struct Saved {
    state: MappingState,
    region: Handle,
}

fn mappings_rebuilt_from_states() -> Result<(), CaseFailure> {
    // Two regions over the source pages, and three mappings of them at windows 1 to 3.
    let low = region_create(source(), 2 * PAGE, READ_WRITE).map_err(fail)?;
    let high = region_create(source() + 2 * PAGE, 2 * PAGE, READ).map_err(fail)?;
    let made = [
        mapping_create(own_space(), window(1), low, PAGE, PAGE, READ_WRITE).map_err(fail)?,
        mapping_create(own_space(), window(2), high, 0, 2 * PAGE, READ).map_err(fail)?,
        mapping_create(own_space(), window(3), low, 0, 2 * PAGE, READ_WRITE).map_err(fail)?,
    ];
    // Narrower than it was made: the state keeps both.
    check_equal!(mapping_protect(made[2], READ), Ok(()));
    for (index, word) in SOURCE.0.iter().enumerate().step_by(512) {
        word.store(0x100 + index as u64, SeqCst);
    }
    let before = [
        load_through_rdi(window(1)),
        load_through_rdi(window(2) + PAGE),
        load_through_rdi(window(3)),
    ];
    // The checkpoint: list the windows with MemorySearch, read each mapping's state, and tell
    // which region it shows by the region's state.
    let mut saved: [Option<Saved>; 3] = [None; 3];
    let mut address = window(1);
    let mut count = 0;
    while let Some(found) = memory_search(own_space(), address).map_err(fail)? {
        if found.start >= window(4) {
            check_equal!(handle_close(found.handle), Ok(()));
            break;
        }
        address = found.start + found.size;
        if found.kind != Found::Mapping {
            check_equal!(handle_close(found.handle), Ok(()));
            continue;
        }
        let state = mapping_get_state(found.handle, true).map_err(fail)?;
        // Which of its own regions the mapping shows: the one with the same identity.
        let shown = handle_info(Handle::from_raw(state.region)).map_err(fail)?;
        let region = [low, high]
            .into_iter()
            .find(|&own| handle_info(own).map(|info| info.object) == Ok(shown.object))
            .ok_or_else(|| fail(Error::InvalidState))?;
        check!(count < saved.len(), "more mappings than were made");
        saved[count] = Some(Saved { state, region });
        count += 1;
        check_equal!(handle_close(Handle::from_raw(state.region)), Ok(()));
        check_equal!(handle_close(found.handle), Ok(()));
    }
    check_equal!(count, 3);
    // Gone, then rebuilt from the checkpoint alone.
    for mapping in made {
        check_equal!(mapping_destroy(mapping), Ok(()));
        check_equal!(handle_close(mapping), Ok(()));
    }
    check!(
        load_faults(window(1))?,
        "a destroyed mapping still shows memory"
    );
    let mut rebuilt = [Handle::NONE; 3];
    for (slot, saved) in rebuilt.iter_mut().zip(saved.iter().flatten()) {
        let state = saved.state;
        let mapping = mapping_create(
            own_space(),
            state.start,
            saved.region,
            state.offset,
            state.size,
            state.ceiling,
        )
        .map_err(fail)?;
        check_equal!(mapping_protect(mapping, state.rights), Ok(()));
        check_equal!(
            mapping_get_state(mapping, false),
            Ok(MappingState { region: 0, ..state })
        );
        *slot = mapping;
    }
    check_equal!(
        [
            load_through_rdi(window(1)),
            load_through_rdi(window(2) + PAGE),
            load_through_rdi(window(3)),
        ],
        before
    );
    check_equal!(probe(store_in_thread, window(3))?, Some((14, window(3))));
    for mapping in rebuilt {
        check_equal!(mapping_destroy(mapping), Ok(()));
        check_equal!(handle_close(mapping), Ok(()));
    }
    for region in [low, high] {
        check_equal!(handle_close(region), Ok(()));
    }
    Ok(())
}
