//! Handles and quotas: every call checks a handle's liveness, type and rights; closed handles
//! stay dead even when their slot is reused; rights never widen; kernel memory is paid from a
//! quota and returned when the object goes.

use crate::{Case, CaseFailure, check, check_equal};
use runtime::abi::{Error, Handle, Rights};
use runtime::process::{first_thread, own_space};
use runtime::syscall::{
    handle_close, handle_duplicate, handle_duplicate_raw, space_create, thread_get_state,
    thread_interrupt, thread_resume, thread_set_priority,
};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "the_program_starts_with_its_own_handles",
        run: own_handles,
    },
    Case {
        name: "closed_handles_stay_dead_when_the_slot_is_reused",
        run: closed_handles_stay_dead,
    },
    Case {
        name: "garbage_handles_are_refused",
        run: garbage_handles_are_refused,
    },
    Case {
        name: "a_handle_of_the_wrong_type_is_refused",
        run: wrong_type_is_refused,
    },
    Case {
        name: "rights_are_checked_and_never_widened",
        run: rights_are_checked,
    },
    Case {
        name: "space_quotas_are_charged_and_returned",
        run: space_quotas,
    },
    Case {
        name: "creating_and_closing_spaces_leaks_nothing",
        run: spaces_leak_nothing,
    },
    Case {
        name: "handle_info_tells_kind_rights_and_identity",
        run: handle_information,
    },
];

fn own_handles() -> Result<(), CaseFailure> {
    check!(own_space() != Handle::NONE, "no space handle at start");
    check!(first_thread() != Handle::NONE, "no thread handle at start");
    check!(
        own_space() != first_thread(),
        "the two start handles are the same"
    );
    // The running thread is not stopped, so its state cannot be read.
    check_equal!(
        thread_get_state(first_thread()).err(),
        Some(Error::InvalidState)
    );
    Ok(())
}

fn closed_handles_stay_dead() -> Result<(), CaseFailure> {
    let duplicate = handle_duplicate(own_space(), Rights::READ_STATE).map_err(fail)?;
    check_equal!(handle_close(duplicate), Ok(()));
    check_equal!(handle_close(duplicate), Err(Error::BadHandle));
    // The freed slot is reused, with a new generation.
    let reused = handle_duplicate(own_space(), Rights::READ_STATE).map_err(fail)?;
    check_equal!(reused.index(), duplicate.index());
    check!(reused != duplicate, "the reused slot kept its generation");
    check_equal!(handle_close(duplicate), Err(Error::BadHandle));
    check_equal!(thread_resume(duplicate), Err(Error::BadHandle));
    check_equal!(handle_close(reused), Ok(()));
    Ok(())
}

fn garbage_handles_are_refused() -> Result<(), CaseFailure> {
    let stale_generation = Handle::new(own_space().index(), own_space().generation() + 1);
    for handle in [
        Handle::NONE,
        Handle::from_raw(u64::MAX),
        Handle::new(9999, 1),
        stale_generation,
    ] {
        check_equal!(handle_close(handle), Err(Error::BadHandle));
        check_equal!(thread_resume(handle), Err(Error::BadHandle));
        check_equal!(thread_interrupt(handle), Err(Error::BadHandle));
        check_equal!(thread_get_state(handle).err(), Some(Error::BadHandle));
        check_equal!(
            handle_duplicate(handle, Rights::empty()).err(),
            Some(Error::BadHandle)
        );
    }
    Ok(())
}

fn wrong_type_is_refused() -> Result<(), CaseFailure> {
    check_equal!(thread_resume(own_space()), Err(Error::WrongType));
    check_equal!(thread_get_state(own_space()).err(), Some(Error::WrongType));
    let state = runtime::abi::state::ThreadState::default();
    check_equal!(
        runtime::syscall::thread_create(first_thread(), &state).err(),
        Some(Error::WrongType)
    );
    Ok(())
}

fn rights_are_checked() -> Result<(), CaseFailure> {
    let read_only = handle_duplicate(first_thread(), Rights::READ_STATE).map_err(fail)?;
    check_equal!(thread_resume(read_only), Err(Error::MissingRights));
    check_equal!(thread_interrupt(read_only), Err(Error::MissingRights));
    check_equal!(thread_set_priority(read_only, 1), Err(Error::MissingRights));
    // Without DUPLICATE, no duplicate at all; with it, never more rights than the original.
    check_equal!(
        handle_duplicate(read_only, Rights::READ_STATE).err(),
        Some(Error::MissingRights)
    );
    let limited =
        handle_duplicate(own_space(), Rights::DUPLICATE | Rights::READ_STATE).map_err(fail)?;
    check_equal!(
        handle_duplicate(limited, Rights::CREATE).err(),
        Some(Error::MissingRights)
    );
    check_equal!(
        handle_duplicate_raw(limited, 1 << 31).err(),
        Some(Error::InvalidArgument)
    );
    check_equal!(
        handle_duplicate_raw(limited, u64::MAX).err(),
        Some(Error::InvalidArgument)
    );
    let state = runtime::abi::state::ThreadState::default();
    check_equal!(
        runtime::syscall::thread_create(limited, &state).err(),
        Some(Error::MissingRights)
    );
    check_equal!(handle_close(read_only), Ok(()));
    check_equal!(handle_close(limited), Ok(()));
    Ok(())
}

fn space_quotas() -> Result<(), CaseFailure> {
    // More than the root program's whole quota.
    check_equal!(space_create(1 << 40).err(), Some(Error::QuotaExceeded));
    check_equal!(space_create(u64::MAX).err(), Some(Error::QuotaExceeded));
    // Two-thirds of it, ten times over: only possible if closing a space gives it back.
    for _ in 0..10 {
        let space = space_create(8 << 20).map_err(fail)?;
        check_equal!(handle_close(space), Ok(()));
    }
    // A space too poor for a thread refuses to create one, and nothing is left behind.
    let poor = space_create(64).map_err(fail)?;
    let state = runtime::abi::state::ThreadState::default();
    check_equal!(
        runtime::syscall::thread_create(poor, &state).err(),
        Some(Error::QuotaExceeded)
    );
    check_equal!(handle_close(poor), Ok(()));
    Ok(())
}

/// More spaces than the machine has page frames (128 MiB of RAM is 32,768 frames): each
/// space's page tables must go back when it does, or creation fails with `OutOfMemory`.
fn spaces_leak_nothing() -> Result<(), CaseFailure> {
    for round in 0..40_000u64 {
        let space = space_create(4096).map_err(|error| {
            CaseFailure(crate::heapless_message::Message::format(format_args!(
                "space {round}: {error}"
            )))
        })?;
        check_equal!(handle_close(space), Ok(()));
    }
    Ok(())
}

/// Turns an unexpected error into a case failure.
pub fn fail(error: Error) -> CaseFailure {
    CaseFailure(crate::heapless_message::Message::format(format_args!(
        "unexpected error {error}"
    )))
}

/// `HandleInfo`: every handle to one object shows the same identity (with its own rights), other
/// objects never show it, not even those made after it is gone, and a mapping's region handle
/// names the very region it was made from.
fn handle_information() -> Result<(), CaseFailure> {
    use runtime::abi::handle::{HandleInfo, ObjectKind};
    use runtime::syscall::handle_info;
    let port = runtime::ipc::port_create(5).map_err(fail)?;
    let info = handle_info(port).map_err(fail)?;
    check_equal!(info.kind, ObjectKind::Port);
    let copy = handle_duplicate(port, Rights::SEND).map_err(fail)?;
    check_equal!(
        handle_info(copy),
        Ok(HandleInfo {
            kind: ObjectKind::Port,
            rights: Rights::SEND,
            object: info.object,
        })
    );
    let other = runtime::ipc::port_create(5).map_err(fail)?;
    let other_info = handle_info(other).map_err(fail)?;
    check!(
        other_info.object != info.object,
        "two ports share the identity {}",
        info.object
    );
    check_equal!(
        handle_info(own_space()).map(|info| info.kind),
        Ok(ObjectKind::Space)
    );
    check_equal!(
        handle_info(first_thread()).map(|info| info.kind),
        Ok(ObjectKind::Thread)
    );
    check!(
        handle_info(own_space()).map(|info| info.object)
            != handle_info(first_thread()).map(|info| info.object),
        "a space and a thread share an identity"
    );
    // A mapping's state names its region: the same object as the region's own handle.
    let pages = super::memory::source();
    let region =
        runtime::memory::region_create(pages, 4096, runtime::abi::memory::MemoryRights::READ)
            .map_err(fail)?;
    let mapping = runtime::memory::mapping_create(
        own_space(),
        super::memory::window(1),
        region,
        0,
        4096,
        runtime::abi::memory::MemoryRights::READ,
    )
    .map_err(fail)?;
    let shown = runtime::memory::mapping_get_state(mapping, true).map_err(fail)?;
    let shown_region = Handle::from_raw(shown.region);
    check_equal!(
        handle_info(shown_region).map(|info| (info.kind, info.rights, info.object)),
        handle_info(region).map(|info| (ObjectKind::Region, Rights::READ_STATE, info.object))
    );
    check_equal!(runtime::memory::mapping_destroy(mapping), Ok(()));
    for handle in [shown_region, mapping, region, copy, other] {
        check_equal!(handle_close(handle), Ok(()));
    }
    // Gone objects keep their identity to themselves.
    check_equal!(handle_close(port), Ok(()));
    check_equal!(handle_info(port).err(), Some(Error::BadHandle));
    let later = runtime::ipc::port_create(5).map_err(fail)?;
    let later_info = handle_info(later).map_err(fail)?;
    check!(
        later_info.object != info.object && later_info.object != other_info.object,
        "a new port took a gone port's identity"
    );
    check_equal!(handle_close(later), Ok(()));
    Ok(())
}
