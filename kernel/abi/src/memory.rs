//! Memory rights: what a region lets its mappings do with its memory, and what a mapping lets
//! the threads of its space do. Rights only narrow along a chain of mappings.

use bitflags::bitflags;

/// The size of a page: regions, mappings and their offsets are multiples of it.
pub const PAGE_SIZE: u64 = 4096;

bitflags! {
    /// Access rights to memory.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct MemoryRights: u64 {
        /// Loads.
        const READ = 1 << 0;
        /// Stores.
        const WRITE = 1 << 1;
        /// Instruction fetches.
        const EXECUTE = 1 << 2;
    }
}

/// What `MemorySearch` found (its first result).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Found {
    /// Nothing at or after the address.
    Nothing = 0,
    /// A region the space exports.
    Region = 1,
    /// A mapping shown in the space.
    Mapping = 2,
}

impl Found {
    /// The kind with this code.
    pub fn from_code(code: u64) -> Option<Found> {
        match code {
            0 => Some(Found::Nothing),
            1 => Some(Found::Region),
            2 => Some(Found::Mapping),
            _ => None,
        }
    }
}

impl MemoryRights {
    /// The rights of a register value, or `None` if it has bits that are no right.
    pub fn from_register(value: u64) -> Option<MemoryRights> {
        MemoryRights::from_bits(value)
    }
}
