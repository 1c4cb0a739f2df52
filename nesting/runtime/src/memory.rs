//! Regions and mappings (see `kernel/abi/SPEC.md`): a [`region_create`] exports part of this
//! program's memory, a [`mapping_create`] shows a window of a region in a space (this one, or a
//! child's), and destroying either takes away what was shown through it, at every level above.

use crate::arch::syscall::call6;
use abi::memory::{Found, MappingState, MemoryRights, RegionState};
use abi::state::flags::HANDLES;
use abi::{Call, Error, Handle};

fn handle_of(status: u64, results: [u64; 6]) -> Result<Handle, Error> {
    Error::check(status).map(|()| Handle::from_raw(results[0]))
}

/// `RegionCreate`: exports `size` bytes at `address` (page-aligned) with at most `rights`.
pub fn region_create(address: u64, size: u64, rights: MemoryRights) -> Result<Handle, Error> {
    region_create_kept(address, size, rights, Handle::NONE)
}

/// `RegionCreate` with a keeper port (SEND), to which the faults on the region's holes go.
pub fn region_create_kept(
    address: u64,
    size: u64,
    rights: MemoryRights,
    keeper: Handle,
) -> Result<Handle, Error> {
    let (status, results) = call6(
        Call::RegionCreate,
        [address, size, rights.bits(), keeper.raw(), 0, 0],
    );
    handle_of(status, results)
}

/// `RegionDestroy`.
pub fn region_destroy(region: Handle) -> Result<(), Error> {
    let (status, _) = call6(Call::RegionDestroy, [region.raw(), 0, 0, 0, 0, 0]);
    Error::check(status)
}

/// `MappingCreate`: shows `size` bytes of `region`, from `offset` into it, at `address` of
/// `space`, with `rights`.
pub fn mapping_create(
    space: Handle,
    address: u64,
    region: Handle,
    offset: u64,
    size: u64,
    rights: MemoryRights,
) -> Result<Handle, Error> {
    let (status, results) = call6(
        Call::MappingCreate,
        [
            space.raw(),
            address,
            region.raw(),
            offset,
            size,
            rights.bits(),
        ],
    );
    handle_of(status, results)
}

/// `MappingDestroy`.
pub fn mapping_destroy(mapping: Handle) -> Result<(), Error> {
    let (status, _) = call6(Call::MappingDestroy, [mapping.raw(), 0, 0, 0, 0, 0]);
    Error::check(status)
}

/// `RegionProtect`.
pub fn region_protect(region: Handle, rights: MemoryRights) -> Result<(), Error> {
    let (status, _) = call6(
        Call::RegionProtect,
        [region.raw(), rights.bits(), 0, 0, 0, 0],
    );
    Error::check(status)
}

/// `MappingProtect`.
pub fn mapping_protect(mapping: Handle, rights: MemoryRights) -> Result<(), Error> {
    let (status, _) = call6(
        Call::MappingProtect,
        [mapping.raw(), rights.bits(), 0, 0, 0, 0],
    );
    Error::check(status)
}

/// A region or mapping `memory_search` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoundMemory {
    /// Which kind of object.
    pub kind: Found,
    /// A new handle to it (the caller closes it).
    pub handle: Handle,
    /// Its first address.
    pub start: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The rights it grants.
    pub rights: MemoryRights,
    /// For a mapping, its offset into its region.
    pub offset: u64,
}

/// `MemorySearch`: the first region or mapping of `space` ending after `address`, if any.
pub fn memory_search(space: Handle, address: u64) -> Result<Option<FoundMemory>, Error> {
    let (status, results) = call6(Call::MemorySearch, [space.raw(), address, 0, 0, 0, 0]);
    Error::check(status)?;
    let kind = Found::from_code(results[0]).ok_or(Error::InvalidArgument)?;
    if kind == Found::Nothing {
        return Ok(None);
    }
    Ok(Some(FoundMemory {
        kind,
        handle: Handle::from_raw(results[1]),
        start: results[2],
        size: results[3],
        rights: MemoryRights::from_bits_truncate(results[4]),
        offset: results[5],
    }))
}

/// `RegionResize`: the region now exports `size` bytes from its start.
pub fn region_resize(region: Handle, size: u64) -> Result<(), Error> {
    let (status, _) = call6(Call::RegionResize, [region.raw(), size, 0, 0, 0, 0]);
    Error::check(status)
}

/// `MappingMove`: the mapping now shows its memory at `address`.
pub fn mapping_move(mapping: Handle, address: u64) -> Result<(), Error> {
    let (status, _) = call6(Call::MappingMove, [mapping.raw(), address, 0, 0, 0, 0]);
    Error::check(status)
}

/// The flags of a state call that asks for handles, or does not.
fn state_flags(with_handles: bool) -> u64 {
    if with_handles { HANDLES } else { 0 }
}

/// `RegionGetState`: the region's range and rights, and with `with_handles` a new handle to its
/// keeper (the caller closes it; 0 if it has none).
pub fn region_get_state(region: Handle, with_handles: bool) -> Result<RegionState, Error> {
    let (status, results) = call6(
        Call::RegionGetState,
        [region.raw(), state_flags(with_handles), 0, 0, 0, 0],
    );
    Error::check(status)?;
    RegionState::from_results([results[0], results[1], results[2], results[3]])
        .ok_or(Error::InvalidArgument)
}

/// `RegionSetState`: the region's size, rights and keeper (`Handle::NONE` for none) become
/// `size`, `rights` and `keeper` together, or nothing changes.
pub fn region_set_state(
    region: Handle,
    size: u64,
    rights: MemoryRights,
    keeper: Handle,
) -> Result<(), Error> {
    let (status, _) = call6(
        Call::RegionSetState,
        [region.raw(), size, rights.bits(), keeper.raw(), 0, 0],
    );
    Error::check(status)
}

/// `MappingGetState`: where the mapping is, what it shows and its rights, and with
/// `with_handles` a new handle to its region (READ_STATE only; the caller closes it).
pub fn mapping_get_state(mapping: Handle, with_handles: bool) -> Result<MappingState, Error> {
    let (status, results) = call6(
        Call::MappingGetState,
        [mapping.raw(), state_flags(with_handles), 0, 0, 0, 0],
    );
    Error::check(status)?;
    MappingState::from_results(results).ok_or(Error::InvalidArgument)
}

/// `MappingSetState`: the mapping moves to `address` and grants `rights` together, or nothing
/// changes.
pub fn mapping_set_state(mapping: Handle, address: u64, rights: MemoryRights) -> Result<(), Error> {
    let (status, _) = call6(
        Call::MappingSetState,
        [mapping.raw(), address, rights.bits(), 0, 0, 0],
    );
    Error::check(status)
}
