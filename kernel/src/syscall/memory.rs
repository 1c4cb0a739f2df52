//! Regions and mappings: `RegionCreate`, `RegionDestroy`, `MappingCreate`, `MappingDestroy`,
//! their changes and their states (the objects and the fault path live in
//! `crate::virtual_memory`).

use super::{object, object_in, wants_handles};
use crate::arch::frame::SavedRegisters;
use crate::invalidation::{self, Step};
use crate::model::Restart;
use crate::object::KernelObject;
use crate::scheduler;
use crate::space::{MemoryObject, Space};
use crate::virtual_memory::{Mapping, Region};
use crate::wait::{BlockingResult, or_return_error};
use abi::memory::{Found, MappingState, MemoryRights, RegionState};
use abi::{Call, Error, Rights};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use region::{PageRange, Window};

/// Rights of a new region handle.
const REGION_RIGHTS: Rights = Rights::MAP
    .union(Rights::CONTROL)
    .union(Rights::READ_STATE)
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);
/// Rights of a new mapping handle.
const MAPPING_RIGHTS: Rights = Rights::CONTROL
    .union(Rights::READ_STATE)
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);

/// The region a handle of the caller's names, if the handle has CONTROL.
fn region_of(handle: u64) -> Result<Arc<Region>, Error> {
    object(handle, Rights::CONTROL, KernelObject::to_region)
}

/// The mapping a handle of the caller's names, if the handle has CONTROL.
fn mapping_of(handle: u64) -> Result<Arc<Mapping>, Error> {
    object(handle, Rights::CONTROL, KernelObject::to_mapping)
}

fn memory_rights(value: u64) -> Result<MemoryRights, Error> {
    MemoryRights::from_register(value).ok_or(Error::InvalidArgument)
}

/// The keeper port a handle of the caller's names, or none for 0.
fn keeper_port(handle: u64) -> Result<Option<Arc<crate::ipc::Port>>, Error> {
    match handle {
        0 => Ok(None),
        handle => Ok(Some(object(handle, Rights::SEND, KernelObject::to_port)?)),
    }
}

/// `RegionCreate`.
pub fn region_create(address: u64, size: u64, rights: u64, keeper: u64) -> Result<u64, Error> {
    let range = PageRange::new(address, size)?;
    let rights = memory_rights(rights)?;
    let space = scheduler::current().space.clone();
    let keeper = keeper_port(keeper)?;
    let region = Region::create(&space, range, rights, keeper.as_ref())?;
    match space.insert_handle(KernelObject::Region(region.clone()), REGION_RIGHTS) {
        Ok(handle) => Ok(handle.raw()),
        Err(error) => {
            region.destroy();
            Err(error)
        }
    }
}

/// Moves the running call to its last stage, its change made, and works through `steps` on
/// `origin`'s list: re-issued when preempted, it only finishes the invalidation the change
/// queued (`InvalidationFinish`, on the handle still in `rdi`).
pub(super) fn finish_in_last_stage(
    registers: &SavedRegisters,
    origin: &Weak<Space>,
    steps: Vec<Step>,
) -> BlockingResult {
    registers.update(|frame| frame.rax = Call::InvalidationFinish.number());
    invalidation::finish_preemptibly(origin, steps)?;
    Ok(Ok(()))
}

/// `InvalidationFinish`: finishes what the running thread's last preempted call left, and the
/// invalidation work pending on the space whose memory the region or mapping shows or
/// exports. A handle that names neither (closed meanwhile: a `HandleClose` of a region's last
/// handle, whose work waits in the caller's own space's list) leads to the caller's own
/// space's list instead, so that the stage does not end before its work, even in a thread
/// that its state was moved into (which lacks the record of the thread it came from).
pub fn invalidation_finish(handle: u64) -> BlockingResult {
    invalidation::finish_left_work()?;
    let origin = object(handle, Rights::empty(), |object| match object {
        KernelObject::Region(region) => Ok(region.space.clone()),
        KernelObject::Mapping(mapping) => Ok(mapping.space.clone()),
        _ => Err(Error::WrongType),
    })
    .unwrap_or_else(|_| Arc::downgrade(&scheduler::current().space));
    invalidation::finish_preemptibly(&origin, Vec::new())?;
    Ok(Ok(()))
}

/// Makes a change to memory as the calls that change it do: finishes what the thread's last
/// preempted call left, makes the change (`change` gives the space whose list takes the work
/// and the first steps, or the call's error), moves the call to its last stage and works
/// through the steps, re-issued as that stage when preempted.
fn change_memory(
    registers: &SavedRegisters,
    change: impl FnOnce() -> Result<(Weak<Space>, Vec<Step>), Error>,
) -> BlockingResult {
    invalidation::finish_left_work()?;
    let (origin, steps) = or_return_error!(change());
    finish_in_last_stage(registers, &origin, steps)
}

/// `RegionDestroy`: the region goes at once; its mappings, and what derives from them, go
/// in bounded steps with preemption points between them (`crate::invalidation`).
pub fn region_destroy(registers: &SavedRegisters, region: u64) -> BlockingResult {
    change_memory(registers, || {
        let region = region_of(region)?;
        Ok((region.space.clone(), region.begin_destroy()))
    })
}

/// `MappingCreate`. Entries that a call left to remove in the target space (a mapping
/// destroyed or moved there by a thread stopped half way) would make their range look taken:
/// that work is finished first. Preempted, the call is re-issued as it is: nothing is made
/// yet.
pub fn mapping_create(arguments: [u64; 6]) -> Result<Result<u64, Error>, Restart> {
    let caller = scheduler::current();
    let target = or_return_error!(object_in(
        &caller.space,
        arguments[0],
        Rights::CREATE,
        KernelObject::to_space
    ));
    invalidation::finish_pending(&target)?;
    Ok(create_mapping(&caller.space, &target, arguments))
}

/// `MappingCreate` into `target` once its pending work is done.
fn create_mapping(
    own: &Arc<Space>,
    target: &Arc<Space>,
    arguments: [u64; 6],
) -> Result<u64, Error> {
    let [_, address, region, offset, size, rights] = arguments;
    let region = object_in(own, region, Rights::MAP, KernelObject::to_region)?;
    let rights = memory_rights(rights)?;
    let window = Window::new(
        address,
        size,
        region.range(),
        region.rights(),
        offset,
        rights,
    )?;
    let mapping = Mapping::create(own, target, region, window)?;
    match own.insert_handle(KernelObject::Mapping(mapping.clone()), MAPPING_RIGHTS) {
        Ok(handle) => Ok(handle.raw()),
        Err(error) => {
            mapping.destroy();
            Err(error)
        }
    }
}

/// `MappingDestroy`, in bounded steps as `RegionDestroy`.
pub fn mapping_destroy(registers: &SavedRegisters, mapping: u64) -> BlockingResult {
    change_memory(registers, || {
        let mapping = mapping_of(mapping)?;
        Ok((mapping.space.clone(), mapping.end()))
    })
}

/// `RegionProtect`: the rights change at once; the entries derived with the old ones go in
/// bounded steps, as for `RegionDestroy`.
pub fn region_protect(registers: &SavedRegisters, region: u64, rights: u64) -> BlockingResult {
    change_memory(registers, || {
        let region = region_of(region)?;
        let rights = memory_rights(rights)?;
        Ok((region.space.clone(), region.protect(rights)))
    })
}

/// `MappingProtect`, in bounded steps as `RegionProtect`.
pub fn mapping_protect(registers: &SavedRegisters, mapping: u64, rights: u64) -> BlockingResult {
    change_memory(registers, || {
        let mapping = mapping_of(mapping)?;
        let rights = memory_rights(rights)?;
        Ok((mapping.space.clone(), mapping.protect(rights)?))
    })
}

/// `MemorySearch`: what it found, a handle to it in the caller's table, its start, size and
/// rights, and for a mapping its offset into its region.
pub fn search(space: u64, address: u64) -> Result<[u64; 6], Error> {
    let own = scheduler::current().space.clone();
    let target = object(space, Rights::READ_STATE, KernelObject::to_space)?;
    let Some(found) = target.first_after(address) else {
        return Ok([Found::Nothing as u64, 0, 0, 0, 0, 0]);
    };
    // The handle names what was found, for identity and state only: reading a space's memory
    // map must not give control of objects its creators kept for themselves.
    let (kind, range, rights, offset, object) = match found {
        MemoryObject::Region(region) => (
            Found::Region,
            region.range(),
            region.rights(),
            0,
            KernelObject::Region(region),
        ),
        MemoryObject::Mapping(mapping) => {
            let window = mapping.window();
            (
                Found::Mapping,
                window.range,
                mapping.rights(),
                window.offset,
                KernelObject::Mapping(mapping),
            )
        }
    };
    let handle = own.insert_handle(object, Rights::READ_STATE)?;
    Ok([
        kind as u64,
        handle.raw(),
        range.start(),
        range.size(),
        rights.bits(),
        offset,
    ])
}

/// `RegionResize`, in bounded steps as `RegionProtect` when it shrinks.
pub fn region_resize(registers: &SavedRegisters, region: u64, size: u64) -> BlockingResult {
    change_memory(registers, || {
        let region = region_of(region)?;
        Ok((region.space.clone(), region.resize(size)?))
    })
}

/// Finishes the work pending on the list of the space a mapping is in, before it moves: its
/// last move's work, if that is still there, so that a mapping is never between more than
/// two windows (and a range its last move left is free again). Preempted, the move is
/// re-issued as it is: nothing is changed yet.
fn finish_before_moving(mapping: u64) -> BlockingResult {
    invalidation::finish_left_work()?;
    let space = or_return_error!(mapping_of(mapping)).space.upgrade();
    if let Some(space) = space {
        invalidation::finish_pending(&space)?;
    }
    Ok(Ok(()))
}

/// `MappingMove`: the mapping moves at once; the entries of its old range, and what derives
/// from them, go in bounded steps as for `RegionDestroy`. Until they are gone, a revocation
/// from below reaches them through the old window, which the mapping keeps meanwhile.
pub fn mapping_move(registers: &SavedRegisters, mapping: u64, address: u64) -> BlockingResult {
    or_return_error!(finish_before_moving(mapping)?);
    change_memory(registers, || {
        let mapping = mapping_of(mapping)?;
        Ok((mapping.space.clone(), mapping.move_to(address)?))
    })
}

/// `RegionGetState`: its range, rights and (for `flags::HANDLES`, with a handle that also
/// carries CONTROL) a new handle to its keeper (SEND, DUPLICATE, TRANSFER). Reading a region's
/// state must not give a send right to its pager: READ_STATE handles to regions go to whoever
/// may read a space's memory map (`MemorySearch`).
pub fn region_get_state(region: u64, flags: u64) -> Result<[u64; 4], Error> {
    let export = wants_handles(flags)?;
    let needed = if export {
        Rights::READ_STATE | Rights::CONTROL
    } else {
        Rights::READ_STATE
    };
    let region = object(region, needed, KernelObject::to_region)?;
    if region.destroyed.load(core::sync::atomic::Ordering::Relaxed) {
        return Err(Error::InvalidState);
    }
    let keeper = match region.keeper() {
        Some(port) if export => {
            let rights = Rights::SEND | Rights::DUPLICATE | Rights::TRANSFER;
            let own = scheduler::current().space.clone();
            own.insert_handle(KernelObject::Port(port), rights)?.raw()
        }
        _ => 0,
    };
    let range = region.range();
    Ok(RegionState {
        start: range.start(),
        size: range.size(),
        rights: region.rights(),
        keeper,
    }
    .to_results())
}

/// `RegionSetState`, in bounded steps as `RegionProtect` when it narrows or shrinks.
pub fn region_set_state(
    registers: &SavedRegisters,
    region: u64,
    size: u64,
    rights: u64,
    keeper: u64,
) -> BlockingResult {
    change_memory(registers, || {
        let region = region_of(region)?;
        let rights = memory_rights(rights)?;
        let keeper = keeper_port(keeper)?;
        let steps = region.set_state(size, rights, keeper.as_ref())?;
        Ok((region.space.clone(), steps))
    })
}

/// `MappingGetState`: where it is, what it shows, its rights and (for `flags::HANDLES`) a new
/// handle to its region with READ_STATE only, as `MemorySearch` gives: reading a mapping's
/// state must not give the power to map its region anew.
pub fn mapping_get_state(mapping: u64, flags: u64) -> Result<[u64; 6], Error> {
    let export = wants_handles(flags)?;
    let mapping = object(mapping, Rights::READ_STATE, KernelObject::to_mapping)?;
    if mapping.is_destroyed() {
        return Err(Error::InvalidState);
    }
    let region = if export {
        let own = scheduler::current().space.clone();
        let region = KernelObject::Region(mapping.region.clone());
        own.insert_handle(region, Rights::READ_STATE)?.raw()
    } else {
        0
    };
    let window = mapping.window();
    Ok(MappingState {
        start: window.range.start(),
        size: window.range.size(),
        rights: mapping.rights(),
        ceiling: window.rights,
        offset: window.offset,
        region,
    }
    .to_results())
}

/// `MappingSetState`, in bounded steps as `MappingMove`.
pub fn mapping_set_state(
    registers: &SavedRegisters,
    mapping: u64,
    address: u64,
    rights: u64,
) -> BlockingResult {
    or_return_error!(finish_before_moving(mapping)?);
    change_memory(registers, || {
        let mapping = mapping_of(mapping)?;
        let rights = memory_rights(rights)?;
        Ok((mapping.space.clone(), mapping.set_state(address, rights)?))
    })
}
