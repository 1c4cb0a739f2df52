//! Handles and spaces: `HandleClose`, `HandleDuplicate`, `HandleInfo`, `SpaceCreate`.

use crate::object::KernelObject;
use crate::scheduler;
use crate::space::Space;
use abi::{Error, Handle, Rights};

/// `HandleClose`.
pub fn close(handle: u64) -> Result<(), Error> {
    let space = scheduler::current().space.clone();
    space.close_handle(Handle::from_raw(handle))
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

/// `HandleGrant`.
pub fn grant(space: u64, handle: u64, rights: u64) -> Result<u64, Error> {
    let rights = rights_of(rights)?;
    let own = scheduler::current().space.clone();
    let target = super::object(space, Rights::CREATE, KernelObject::to_space)?;
    let (object, held) = own.transferable(Handle::from_raw(handle))?;
    if !held.contains(rights) {
        return Err(Error::MissingRights);
    }
    target.insert_handle(object, rights).map(Handle::raw)
}
