//! Regions and mappings: `RegionCreate`, `RegionDestroy`, `MappingCreate`, `MappingDestroy`
//! (the objects and the fault path live in `crate::virtual_memory`).

use super::object;
use crate::object::KernelObject;
use crate::scheduler;
use crate::space::MemoryObject;
use crate::virtual_memory::{Mapping, Region};
use abi::memory::{Found, MemoryRights};
use abi::{Error, Rights};
use alloc::sync::Arc;
use region::{PageRange, Window};

/// Rights of a new region handle.
const REGION_RIGHTS: Rights = Rights::MAP
    .union(Rights::CONTROL)
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);
/// Rights of a new mapping handle.
const MAPPING_RIGHTS: Rights = Rights::CONTROL
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);

/// The region a handle of the caller's names, if the handle has CONTROL.
fn region_of(handle: u64) -> Result<Arc<Region>, Error> {
    object(handle, Rights::CONTROL, KernelObject::into_region)
}

/// The mapping a handle of the caller's names, if the handle has CONTROL.
fn mapping_of(handle: u64) -> Result<Arc<Mapping>, Error> {
    object(handle, Rights::CONTROL, KernelObject::into_mapping)
}

fn memory_rights(value: u64) -> Result<MemoryRights, Error> {
    MemoryRights::from_register(value).ok_or(Error::InvalidArgument)
}

/// `RegionCreate`.
pub fn region_create(address: u64, size: u64, rights: u64, keeper: u64) -> Result<u64, Error> {
    let range = PageRange::new(address, size)?;
    let rights = memory_rights(rights)?;
    let space = scheduler::current().space.clone();
    let keeper = match keeper {
        0 => None,
        handle => Some(object(handle, Rights::SEND, KernelObject::into_port)?),
    };
    let region = Region::create(&space, range, rights, keeper.as_ref())?;
    match space.insert_handle(KernelObject::Region(region.clone()), REGION_RIGHTS) {
        Ok(handle) => Ok(handle.raw()),
        Err(error) => {
            region.destroy();
            Err(error)
        }
    }
}

/// `RegionDestroy`.
pub fn region_destroy(region: u64) -> Result<(), Error> {
    let region = region_of(region)?;
    region.destroy();
    Ok(())
}

/// `MappingCreate`.
pub fn mapping_create(arguments: [u64; 6]) -> Result<u64, Error> {
    let [space, address, region, offset, size, rights] = arguments;
    let own = scheduler::current().space.clone();
    let target = object(space, Rights::CREATE, KernelObject::into_space)?;
    let region = object(region, Rights::MAP, KernelObject::into_region)?;
    let rights = memory_rights(rights)?;
    let window = Window::new(
        address,
        size,
        region.range(),
        region.rights(),
        offset,
        rights,
    )?;
    let mapping = Mapping::create(&own, &target, region, window)?;
    match own.insert_handle(KernelObject::Mapping(mapping.clone()), MAPPING_RIGHTS) {
        Ok(handle) => Ok(handle.raw()),
        Err(error) => {
            mapping.destroy();
            Err(error)
        }
    }
}

/// `MappingDestroy`.
pub fn mapping_destroy(mapping: u64) -> Result<(), Error> {
    let mapping = mapping_of(mapping)?;
    mapping.destroy();
    Ok(())
}

/// `RegionProtect`.
pub fn region_protect(region: u64, rights: u64) -> Result<(), Error> {
    let region = region_of(region)?;
    region.protect(memory_rights(rights)?);
    Ok(())
}

/// `MappingProtect`.
pub fn mapping_protect(mapping: u64, rights: u64) -> Result<(), Error> {
    let mapping = mapping_of(mapping)?;
    mapping.protect(memory_rights(rights)?)
}

/// `MemorySearch`: what it found, a handle to it in the caller's table, its start, size and
/// rights, and for a mapping its offset into its region.
pub fn search(space: u64, address: u64) -> Result<[u64; 6], Error> {
    let own = scheduler::current().space.clone();
    let target = object(space, Rights::READ_STATE, KernelObject::into_space)?;
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

/// `RegionResize`.
pub fn region_resize(region: u64, size: u64) -> Result<(), Error> {
    region_of(region)?.resize(size)
}

/// `MappingMove`.
pub fn mapping_move(mapping: u64, address: u64) -> Result<(), Error> {
    mapping_of(mapping)?.move_to(address)
}
