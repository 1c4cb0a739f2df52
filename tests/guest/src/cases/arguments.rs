//! The documented errors of the calls that manage handles across spaces, memory objects and
//! the IPC receive stage: each bad handle, wrong type, missing right and bad argument is
//! refused with its error and changes nothing.

use super::handles::fail;
use crate::{Case, CaseFailure, check_equal};
use runtime::abi::memory::MemoryRights;
use runtime::abi::{Call, Error, Handle, Rights};
use runtime::arch::syscall::call3;
use runtime::ipc;
use runtime::memory::{
    mapping_create, mapping_destroy, mapping_move, mapping_protect, memory_search, region_create,
    region_destroy, region_protect, region_resize,
};
use runtime::process::own_space;
use runtime::syscall::{handle_close, handle_duplicate, handle_grant, space_create, space_destroy};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "handle_grant_and_space_destroy_check_their_arguments",
        run: grant_and_destroy,
    },
    Case {
        name: "memory_calls_check_their_handles_and_rights",
        run: memory_calls,
    },
    Case {
        name: "ipc_receive_checks_its_reply_handle",
        run: receive_stage,
    },
];

const STALE: Handle = Handle::new(4000, 1);

fn grant_and_destroy() -> Result<(), CaseFailure> {
    let child = space_create(64 * 1024).map_err(fail)?;
    let port = ipc::port_create(0).map_err(fail)?;
    check_equal!(
        handle_grant(STALE, port, Rights::SEND),
        Err(Error::BadHandle)
    );
    check_equal!(
        handle_grant(child, STALE, Rights::SEND),
        Err(Error::BadHandle)
    );
    check_equal!(
        handle_grant(port, port, Rights::SEND),
        Err(Error::WrongType)
    );
    let no_create = handle_duplicate(child, Rights::CONTROL).map_err(fail)?;
    check_equal!(
        handle_grant(no_create, port, Rights::SEND),
        Err(Error::MissingRights)
    );
    let no_transfer = handle_duplicate(port, Rights::SEND).map_err(fail)?;
    check_equal!(
        handle_grant(child, no_transfer, Rights::SEND),
        Err(Error::MissingRights)
    );
    // Rights beyond the original's are refused; unknown bits are no rights.
    check_equal!(
        handle_grant(child, port, Rights::SEND | Rights::CREATE),
        Err(Error::MissingRights)
    );
    let raw = call3(Call::HandleGrant, child.raw(), port.raw(), 1 << 31);
    check_equal!(Error::check(raw.status), Err(Error::InvalidArgument));
    check_equal!(space_destroy(own_space()), Err(Error::InvalidState));
    check_equal!(space_destroy(port), Err(Error::WrongType));
    check_equal!(space_destroy(no_create), Ok(()));
    // Nothing new in a destroyed space.
    check_equal!(
        handle_grant(child, port, Rights::SEND),
        Err(Error::InvalidState)
    );
    check_equal!(space_destroy(child), Ok(()));
    for handle in [no_create, no_transfer, port, child] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

fn memory_calls() -> Result<(), CaseFailure> {
    let page = runtime::pager::PAGE_SIZE;
    let read = MemoryRights::READ;
    let address = 0x5800_0000_0000;
    let region = region_create(address, 2 * page, read).map_err(fail)?;
    let mapping =
        mapping_create(own_space(), address + (1 << 32), region, 0, page, read).map_err(fail)?;
    let port = ipc::port_create(0).map_err(fail)?;
    let weak_region = handle_duplicate(region, Rights::MAP).map_err(fail)?;
    let weak_mapping = handle_duplicate(mapping, Rights::DUPLICATE).map_err(fail)?;
    for call in [region_protect, mapping_protect] {
        check_equal!(call(STALE, read), Err(Error::BadHandle));
        check_equal!(call(port, read), Err(Error::WrongType));
    }
    check_equal!(region_protect(weak_region, read), Err(Error::MissingRights));
    check_equal!(
        mapping_protect(weak_mapping, read),
        Err(Error::MissingRights)
    );
    check_equal!(mapping_protect(region, read), Err(Error::WrongType));
    check_equal!(region_protect(mapping, read), Err(Error::WrongType));
    let raw = call3(Call::RegionProtect, region.raw(), 1 << 5, 0);
    check_equal!(Error::check(raw.status), Err(Error::InvalidArgument));
    check_equal!(region_resize(STALE, page), Err(Error::BadHandle));
    check_equal!(region_resize(weak_region, page), Err(Error::MissingRights));
    check_equal!(region_resize(region, page + 1), Err(Error::InvalidArgument));
    check_equal!(mapping_move(STALE, address), Err(Error::BadHandle));
    check_equal!(
        mapping_move(weak_mapping, address),
        Err(Error::MissingRights)
    );
    check_equal!(
        mapping_move(mapping, 0xffff_8000_0000_0000),
        Err(Error::BadAddress)
    );
    check_equal!(memory_search(STALE, 0).err(), Some(Error::BadHandle));
    check_equal!(memory_search(port, 0).err(), Some(Error::WrongType));
    let no_read = handle_duplicate(own_space(), Rights::CREATE).map_err(fail)?;
    check_equal!(memory_search(no_read, 0).err(), Some(Error::MissingRights));
    check_equal!(region_destroy(weak_region), Err(Error::MissingRights));
    check_equal!(mapping_destroy(weak_mapping), Err(Error::MissingRights));
    // Nothing changed: the region keeps its size and rights, the mapping its place.
    let found = memory_search(own_space(), address).map_err(fail)?;
    let found = found.ok_or_else(|| fail(Error::InvalidState))?;
    check_equal!(
        (found.start, found.size, found.rights),
        (address, 2 * page, read)
    );
    check_equal!(handle_close(found.handle), Ok(()));
    check_equal!(mapping_destroy(mapping), Ok(()));
    for handle in [weak_region, weak_mapping, no_read, mapping, region, port] {
        check_equal!(handle_close(handle), Ok(()));
    }
    Ok(())
}

fn receive_stage() -> Result<(), CaseFailure> {
    let port = ipc::port_create(0).map_err(fail)?;
    let stale = call3(Call::IpcReceive, STALE.raw(), 0, 0);
    check_equal!(Error::check(stale.status), Err(Error::BadHandle));
    let wrong = call3(Call::IpcReceive, port.raw(), 0, 0);
    check_equal!(Error::check(wrong.status), Err(Error::WrongType));
    check_equal!(handle_close(port), Ok(()));
    Ok(())
}
