//! The physical frame allocator: ranges of never-used RAM handed out in ascending order, and a
//! stack of returned frames linked through the frames themselves.

use crate::arch::physical::{self, FRAME_SIZE};

/// How many separate ranges of usable RAM are tracked.
const RANGE_CAPACITY: usize = 64;

/// Hands out 4 KiB frames of RAM.
pub struct FrameAllocator {
    /// Never-used `[start, end)` ranges, page-aligned, ascending.
    ranges: [(u64, u64); RANGE_CAPACITY],
    range_count: usize,
    /// Head of the list of returned frames (0: empty). Frame 0 is never handed out.
    returned: u64,
    free: u64,
}

impl FrameAllocator {
    /// An allocator over `usable` ranges minus the `reserved` ones.
    pub fn new(usable: impl Iterator<Item = (u64, u64)>, reserved: &[(u64, u64)]) -> Self {
        let mut allocator = FrameAllocator {
            ranges: [(0, 0); RANGE_CAPACITY],
            range_count: 0,
            returned: 0,
            free: 0,
        };
        for (start, end) in usable {
            allocator.add_range(
                start.next_multiple_of(FRAME_SIZE),
                end & !(FRAME_SIZE - 1),
                reserved,
            );
        }
        allocator.ranges[..allocator.range_count].sort_unstable();
        allocator
    }

    /// Adds `[start, end)` minus every reserved range that overlaps it.
    fn add_range(&mut self, start: u64, end: u64, reserved: &[(u64, u64)]) {
        if start >= end {
            return;
        }
        for &(hole_start, hole_end) in reserved {
            if hole_start < end && start < hole_end {
                self.add_range(start, hole_start & !(FRAME_SIZE - 1), reserved);
                self.add_range(hole_end.next_multiple_of(FRAME_SIZE), end, reserved);
                return;
            }
        }
        if self.range_count < RANGE_CAPACITY {
            self.ranges[self.range_count] = (start, end);
            self.range_count += 1;
            self.free += (end - start) / FRAME_SIZE;
        } else {
            log::warn!("memory map too fragmented: ignoring {start:#x}-{end:#x}");
        }
    }

    /// One frame, or `None` when RAM is exhausted.
    pub fn allocate(&mut self) -> Option<u64> {
        let frame = if self.returned != 0 {
            let frame = self.returned;
            self.returned = physical::read_frame_u64(frame, 0);
            frame
        } else {
            let range = self.ranges[..self.range_count]
                .iter_mut()
                .find(|(start, end)| start < end)?;
            let frame = range.0;
            range.0 += FRAME_SIZE;
            frame
        };
        self.free -= 1;
        Some(frame)
    }

    /// `size` bytes of physically contiguous never-used frames.
    pub fn allocate_contiguous(&mut self, size: u64) -> Option<u64> {
        let size = size.next_multiple_of(FRAME_SIZE);
        let range = self.ranges[..self.range_count]
            .iter_mut()
            .find(|(start, end)| end - start >= size)?;
        let start = range.0;
        range.0 += size;
        self.free -= size / FRAME_SIZE;
        Some(start)
    }

    /// Takes back a frame.
    pub fn free(&mut self, frame: u64) {
        physical::write_frame_u64(frame, 0, self.returned);
        self.returned = frame;
        self.free += 1;
    }

    /// How many frames are free.
    pub fn free_frames(&self) -> u64 {
        self.free
    }
}
