//! Handles and spaces: `HandleClose`, `HandleDuplicate`, `HandleInfo`, `HandleGrant`,
//! `HandleList`, `SpaceCreate`.

use crate::arch::frame::SavedRegisters;
use crate::invalidation::{self, Step};
use crate::object::KernelObject;
use crate::scheduler;
use crate::space::Space;
use crate::wait::{BlockingResult, or_return_error};
use abi::{Error, Handle, Rights};
use alloc::sync::Arc;
use alloc::vec::Vec;

/// `HandleClose`. Closing a region's last handle destroys the region, as `RegionDestroy`
/// does: the region goes at once, and its mappings, with what derives from them, in bounded
/// steps with preemption points between them. The steps wait in the list of the caller's own
/// space (whose handle caused them), and the call moves to its last stage,
/// `InvalidationFinish`, whose handle (this one, closed) names nothing any more, which leads
/// it to that list. Closing the last reference to a space (no thread runs in it, no other
/// handle names it) hands the space to that list the same way: its contents go a piece at a
/// time, as `SpaceDestroy` takes them, and the space with the last piece, so that its end is
/// not one long stretch of kernel code. The handle is gone at once in both cases: the call
/// has taken effect before its first preemption point.
pub fn close(registers: &SavedRegisters, handle: u64) -> BlockingResult {
    invalidation::finish_left_work()?;
    let space = scheduler::current().space.clone();
    let object = or_return_error!(space.take_handle(Handle::from_raw(handle)));
    // What closing the last handle to a region, or the last reference to a space (the
    // table's: no thread runs in it, no other handle names it), leaves to do.
    let steps = match &object {
        KernelObject::Region(region) => region.handle_released(),
        KernelObject::Space(target) if Arc::strong_count(target) == 1 => {
            alloc::vec![Step::DestroySpace {
                space: target.clone()
            }]
        }
        _ => Vec::new(),
    };
    if !steps.is_empty() {
        let origin = Arc::downgrade(&space);
        drop((object, space));
        return super::memory::finish_in_last_stage(registers, &origin, steps);
    }
    drop(space);
    match object {
        KernelObject::Thread(thread) => close_thread(registers, thread),
        // `handle_released` above did what closing a region's handle does.
        KernelObject::Region(_) => Ok(Ok(())),
        object => {
            object.handle_closed();
            Ok(Ok(()))
        }
    }
}

/// `HandleClose` of a thread handle. A thread whose last handle goes while it is stopped ends;
/// the invalidation work that a call of its left half done (it was stopped in the call) would
/// be finished by its end in one go, so this call takes that work over and finishes it in
/// steps, as its last stage (`InvalidationFinish`, whose closed handle leads to the thread's
/// record of it when preempted).
fn close_thread(registers: &SavedRegisters, thread: Arc<crate::thread::Thread>) -> BlockingResult {
    let left = thread.unfinished_invalidation.lock().take();
    super::threads::thread_handle_closed(&thread);
    let Some(origin) = left else {
        return Ok(Ok(()));
    };
    if !thread.has_ended() {
        // It lives on (another handle names it, or it was not stopped): the work stays its
        // own, for its re-issued call.
        *thread.unfinished_invalidation.lock() = Some(origin);
        return Ok(Ok(()));
    }
    drop(thread);
    super::memory::finish_in_last_stage(registers, &origin, Vec::new())
}

/// Rights from a register: `InvalidArgument` if it has bits that are no right.
fn rights_of(value: u64) -> Result<Rights, Error> {
    u32::try_from(value)
        .ok()
        .and_then(Rights::from_bits)
        .ok_or(Error::InvalidArgument)
}

/// `HandleDuplicate`.
pub fn duplicate(handle: u64, rights: u64) -> Result<u64, Error> {
    let rights = rights_of(rights)?;
    let space = scheduler::current().space.clone();
    space
        .duplicate_handle(Handle::from_raw(handle), rights)
        .map(Handle::raw)
}

/// `HandleInfo`: the kind, rights and identity of what a handle names.
pub fn info(handle: u64) -> Result<[u64; 3], Error> {
    let info = scheduler::current()
        .space
        .describe(Handle::from_raw(handle))?;
    Ok(info.to_results())
}

/// `SpaceCreate`.
pub fn create_space(quota: u64) -> Result<u64, Error> {
    let space = scheduler::current().space.clone();
    let child = Space::new_child(&space, quota)?;
    space
        .insert_handle(KernelObject::Space(child), Rights::all())
        .map(Handle::raw)
}

/// `HandleGrant`: into any free slot (`at` 0), or at exactly the handle value `at`.
pub fn grant(space: u64, handle: u64, rights: u64, at: u64) -> Result<u64, Error> {
    let rights = rights_of(rights)?;
    let own = scheduler::current().space.clone();
    let target = super::object(space, Rights::CREATE, KernelObject::to_space)?;
    let (object, held) = own.transferable(Handle::from_raw(handle))?;
    if !held.contains(rights) {
        return Err(Error::MissingRights);
    }
    if at == 0 {
        return target.insert_handle(object, rights).map(Handle::raw);
    }
    target.place_handle(Handle::from_raw(at), object, rights)?;
    Ok(at)
}

/// `HandleList`: the first live handle of a space at slot `index` or after, and with
/// `flags::HANDLES` a copy of it in the caller's table.
pub fn list(space: u64, index: u64, flags: u64) -> Result<[u64; 5], Error> {
    let copy = super::wants_handles(flags)?;
    // Taking a space's capabilities is controlling it; reading what they are is not.
    let needed = if copy {
        Rights::READ_STATE | Rights::CONTROL
    } else {
        Rights::READ_STATE
    };
    let listed = super::object(space, needed, KernelObject::to_space)?;
    let index = u32::try_from(index).map_err(|_| Error::InvalidArgument)?;
    let Some((handle, object, rights)) = listed.next_handle(index) else {
        return Ok([0; 5]);
    };
    let [kind, rights_bits, identity] = abi::handle::HandleInfo {
        kind: object.kind(),
        rights,
        object: object.id(),
    }
    .to_results();
    let copied = if copy {
        // The copy can be granted on (into a space being rebuilt) even if the original
        // could not: the manager that controls a space may move what it holds.
        let copy_rights = rights | Rights::TRANSFER | Rights::DUPLICATE;
        let own = scheduler::current().space.clone();
        own.insert_handle(object, copy_rights)?.raw()
    } else {
        0
    };
    Ok([handle.raw(), kind, rights_bits, identity, copied])
}
