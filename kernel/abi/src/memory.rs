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

/// A region's state, as `RegionGetState` reports it (in its result registers, in this order)
/// and, but for the start, which a region cannot change, as `RegionSetState` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionState {
    /// The first address it exports, in its own space.
    pub start: u64,
    /// How many bytes it exports.
    pub size: u64,
    /// The widest rights a mapping of it may grant.
    pub rights: MemoryRights,
    /// A handle, in the caller's table, to the port its holes fault to; 0 for none (or when
    /// the caller did not ask for handles).
    pub keeper: u64,
}

impl RegionState {
    /// The result registers.
    pub const fn to_results(self) -> [u64; 4] {
        [self.start, self.size, self.rights.bits(), self.keeper]
    }

    /// The state in result registers, if the rights are rights.
    pub fn from_results(results: [u64; 4]) -> Option<RegionState> {
        Some(RegionState {
            start: results[0],
            size: results[1],
            rights: MemoryRights::from_bits(results[2])?,
            keeper: results[3],
        })
    }
}

/// A mapping's state, as `MappingGetState` reports it (in its result registers, in this
/// order). `MappingSetState` changes where it is and its rights; what it shows (region, offset,
/// size) is its identity: another window is another mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappingState {
    /// Its first address, in the space that shows it.
    pub start: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The rights it grants now.
    pub rights: MemoryRights,
    /// The rights it was made with: the most `MappingProtect` may give it back.
    pub ceiling: MemoryRights,
    /// Its offset into its region.
    pub offset: u64,
    /// A handle, in the caller's table, to its region (READ_STATE only); 0 when the caller did
    /// not ask for handles.
    pub region: u64,
}

impl MappingState {
    /// The result registers.
    pub const fn to_results(self) -> [u64; 6] {
        [
            self.start,
            self.size,
            self.rights.bits(),
            self.ceiling.bits(),
            self.offset,
            self.region,
        ]
    }

    /// The state in result registers, if both rights are rights.
    pub fn from_results(results: [u64; 6]) -> Option<MappingState> {
        Some(MappingState {
            start: results[0],
            size: results[1],
            rights: MemoryRights::from_bits(results[2])?,
            ceiling: MemoryRights::from_bits(results[3])?,
            offset: results[4],
            region: results[5],
        })
    }
}

impl MemoryRights {
    /// The rights of a register value, or `None` if it has bits that are no right.
    pub fn from_register(value: u64) -> Option<MemoryRights> {
        MemoryRights::from_bits(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_registers() {
        let region = RegionState {
            start: 0x4000,
            size: 0x2000,
            rights: MemoryRights::READ | MemoryRights::EXECUTE,
            keeper: 0x1_0000_0007,
        };
        assert_eq!(RegionState::from_results(region.to_results()), Some(region));
        let mapping = MappingState {
            start: 0x8000,
            size: 0x1000,
            rights: MemoryRights::READ,
            ceiling: MemoryRights::READ | MemoryRights::WRITE,
            offset: 0x3000,
            region: 0x2_0000_0004,
        };
        assert_eq!(
            MappingState::from_results(mapping.to_results()),
            Some(mapping)
        );
    }

    #[test]
    fn states_with_unknown_rights_are_refused() {
        assert_eq!(RegionState::from_results([0, 0, 1 << 7, 0]), None);
        assert_eq!(MappingState::from_results([0, 0, 1, 1 << 9, 0, 0]), None);
    }
}
