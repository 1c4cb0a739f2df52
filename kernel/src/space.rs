//! Address spaces: a set of page tables and the frames the space's own pages occupy.

use crate::arch::paging::{AddressSpaceTables, MapError, UserRights};
use crate::arch::physical;
use crate::memory;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use spin::Mutex;

static NEXT_SPACE_ID: AtomicU64 = AtomicU64::new(1);

/// An address space.
pub struct Space {
    /// A number for logs and reports.
    pub id: u64,
    tables: Mutex<AddressSpaceTables>,
    /// Frames backing this space's pages, freed with it.
    frames: Mutex<Vec<u64>>,
}

impl Space {
    /// A space with an empty user half.
    pub fn new() -> Result<Arc<Space>, MapError> {
        let tables =
            AddressSpaceTables::new(memory::kernel_root_table(), &mut memory::table_frames())?;
        Ok(Arc::new(Space {
            id: NEXT_SPACE_ID.fetch_add(1, Relaxed),
            tables: Mutex::new(tables),
            frames: Mutex::new(Vec::new()),
        }))
    }

    /// Maps a fresh zeroed frame at `address` (page-aligned, user half) and returns the frame.
    pub fn map_zeroed_page(&self, address: u64, rights: UserRights) -> Result<u64, MapError> {
        let frame = memory::allocate_frame().ok_or(MapError::OutOfMemory)?;
        physical::zero_frame(frame);
        if let Err(error) =
            self.tables
                .lock()
                .map_user_page(address, frame, rights, &mut memory::table_frames())
        {
            memory::free_frame(frame);
            return Err(error);
        }
        self.frames.lock().push(frame);
        Ok(frame)
    }

    /// Makes this space the CPU's current one.
    pub fn activate(&self) {
        self.tables.lock().activate();
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        for &frame in self.frames.get_mut().iter() {
            memory::free_frame(frame);
        }
    }
}
