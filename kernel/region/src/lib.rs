//! The arithmetic of regions and mappings (DESIGN.md section 4), apart from the kernel so that
//! it is tested on the host: page-aligned ranges, the rights a chain of mappings narrows to,
//! where an address of a mapping lands in the space its region exports, and which part of a
//! mapping a change to its region's memory touches.
#![no_std]
#![forbid(unsafe_code)]

use abi::Error;
use abi::memory::MemoryRights;
use abi::registers::{NULL_GUARD_END, USER_ADDRESS_LIMIT};

pub use abi::memory::PAGE_SIZE;

/// A non-empty, page-aligned range of user addresses, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRange {
    start: u64,
    end: u64,
}

impl PageRange {
    /// The range of `size` bytes at `start`, which must both be page-aligned, non-empty, above
    /// the null guard and wholly in the user half.
    pub fn new(start: u64, size: u64) -> Result<PageRange, Error> {
        if !start.is_multiple_of(PAGE_SIZE) || !size.is_multiple_of(PAGE_SIZE) || size == 0 {
            return Err(Error::InvalidArgument);
        }
        let end = start.checked_add(size).ok_or(Error::BadAddress)?;
        if start < NULL_GUARD_END || end > USER_ADDRESS_LIMIT {
            return Err(Error::BadAddress);
        }
        Ok(PageRange { start, end })
    }

    /// The first address.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The first address past the range.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The size in bytes.
    pub fn size(&self) -> u64 {
        self.end - self.start
    }

    /// Whether `address` lies in the range.
    pub fn contains(&self, address: u64) -> bool {
        self.start <= address && address < self.end
    }

    /// Whether the two ranges share an address.
    pub fn overlaps(&self, other: &PageRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The addresses both ranges share, if any.
    pub fn intersection(&self, other: &PageRange) -> Option<PageRange> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (start < end).then_some(PageRange { start, end })
    }

    /// The parts before `address` and from it on, each `None` where empty (`address` is a
    /// page boundary; outside the range, one part is the whole range).
    pub fn split_at(&self, address: u64) -> (Option<PageRange>, Option<PageRange>) {
        let at = address.clamp(self.start, self.end);
        let before = (self.start < at).then_some(PageRange {
            start: self.start,
            end: at,
        });
        let after = (at < self.end).then_some(PageRange {
            start: at,
            end: self.end,
        });
        (before, after)
    }

    /// The parts of this range outside `other`: the one before it and the one after it, each
    /// `None` where empty (the whole range, once, when they do not meet).
    pub fn without(&self, other: &PageRange) -> [Option<PageRange>; 2] {
        let (before, rest) = self.split_at(other.start);
        let after = rest.and_then(|rest| rest.split_at(other.end).1);
        [before, after]
    }

    /// The start of every page, in order.
    pub fn pages(&self) -> impl Iterator<Item = u64> {
        (self.start..self.end).step_by(PAGE_SIZE as usize)
    }
}

/// Where a mapping takes its memory from: a window of a region's range, `offset` bytes into
/// it, shown at `range` of the mapping's space with at most `rights`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The addresses the mapping covers in its own space.
    pub range: PageRange,
    /// The region's range in the space it exports.
    pub region: PageRange,
    /// How far into the region the window starts.
    pub offset: u64,
    /// The rights the mapping grants.
    pub rights: MemoryRights,
}

impl Window {
    /// A window of `size` bytes at `address`, `offset` bytes into `region` (exported with
    /// `region_rights`), granting `rights`: the window must lie inside the region, and its
    /// rights are never wider than the region's.
    pub fn new(
        address: u64,
        size: u64,
        region: PageRange,
        region_rights: MemoryRights,
        offset: u64,
        rights: MemoryRights,
    ) -> Result<Window, Error> {
        let range = PageRange::new(address, size)?;
        if !offset.is_multiple_of(PAGE_SIZE) {
            return Err(Error::InvalidArgument);
        }
        let fits = offset
            .checked_add(size)
            .is_some_and(|end| end <= region.size());
        if !fits {
            return Err(Error::InvalidArgument);
        }
        if !region_rights.contains(rights) {
            return Err(Error::MissingRights);
        }
        Ok(Window {
            range,
            region,
            offset,
            rights,
        })
    }

    /// Where `address` (inside the window) lands in the region's space.
    pub fn source_of(&self, address: u64) -> u64 {
        debug_assert!(self.range.contains(address));
        self.region.start() + self.offset + (address - self.range.start())
    }

    /// The region's addresses this window shows.
    pub fn source_range(&self) -> PageRange {
        let start = self.region.start() + self.offset;
        PageRange {
            start,
            end: start + self.range.size(),
        }
    }

    /// The part of this window that shows `changed`, a range of the region's space whose
    /// memory changed: what must be invalidated in the window's own space.
    pub fn affected_by(&self, changed: &PageRange) -> Option<PageRange> {
        let source = self.source_range().intersection(changed)?;
        let start = self.range.start() + (source.start() - self.source_range().start());
        Some(PageRange {
            start,
            end: start + source.size(),
        })
    }
}

/// Whether an access with `needed` rights is allowed by every one of `grants` (the rights of
/// each link of a chain: rights only ever narrow along it).
pub fn chain_allows(grants: impl IntoIterator<Item = MemoryRights>, needed: MemoryRights) -> bool {
    grants.into_iter().all(|granted| granted.contains(needed))
}

#[cfg(test)]
mod tests;
