//! A minimal pager: the keeper of regions whose holes it fills with zeroed pages of a pool of
//! memory it owns (DESIGN.md section 4: demand paging is a user-level policy). Tests and the
//! later pagers build on it.
//!
//! A fault request names the hole by its address in the space the region exports; the pager
//! zeroes a page of its pool, shows it at that address with a mapping of its pool's region,
//! and answers `RESUME`: the faulting thread retries and finds the page.

use crate::ipc::{self, Request};
use crate::memory::{mapping_create, mapping_destroy, region_create};
use crate::syscall::handle_close;
use abi::keeper::{FaultMessage, RESUME};
use abi::memory::MemoryRights;
use abi::{Error, Handle};
use core::sync::atomic::AtomicU64;

pub use abi::memory::PAGE_SIZE;

/// Page-aligned memory for a pager's pool, in a `static` (interior mutability: the pager
/// zeroes pages that other spaces then write through mappings).
#[repr(C, align(4096))]
pub struct PagePool<const PAGES: usize>([[AtomicU64; 512]; PAGES]);

impl<const PAGES: usize> PagePool<PAGES> {
    /// A pool of zeroed pages.
    pub const fn new() -> Self {
        PagePool([const { [const { AtomicU64::new(0) }; 512] }; PAGES])
    }

    /// The pages, as words.
    pub fn pages(&'static self) -> &'static [[AtomicU64; 512]] {
        &self.0
    }

    /// The address of the first page.
    pub fn address(&'static self) -> u64 {
        self.0.as_ptr() as u64
    }
}

impl<const PAGES: usize> Default for PagePool<PAGES> {
    fn default() -> Self {
        PagePool::new()
    }
}

/// A supplied page: where it is shown, and the mapping that shows it (destroying the mapping
/// takes the page back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Supplied {
    /// The hole's address in the region's space.
    pub address: u64,
    /// The mapping that fills it.
    pub mapping: Handle,
}

/// A keeper that fills holes with zeroed pages.
pub struct ZeroFillPager {
    space: Handle,
    pool: Handle,
    /// Whether the pool's region is the pager's own, closed (and so destroyed) with it.
    owns_region: bool,
    pool_offset: u64,
    pages: &'static [[AtomicU64; 512]],
    next: usize,
}

impl ZeroFillPager {
    /// A pager that fills the holes of regions of `space` (a handle with CREATE) from `pool`,
    /// exporting the pool as a region of its own.
    pub fn new<const PAGES: usize>(
        space: Handle,
        pool: &'static PagePool<PAGES>,
    ) -> Result<ZeroFillPager, Error> {
        let region = region_create(
            pool.0.as_ptr() as u64,
            PAGES as u64 * PAGE_SIZE,
            MemoryRights::READ | MemoryRights::WRITE,
        )?;
        let mut pager = ZeroFillPager::with_region(space, pool, region, 0);
        pager.owns_region = true;
        Ok(pager)
    }

    /// A pager whose pool lies `offset` bytes into `region`, a region of this program that
    /// already covers it (regions of one space never overlap).
    pub fn with_region<const PAGES: usize>(
        space: Handle,
        pool: &'static PagePool<PAGES>,
        region: Handle,
        offset: u64,
    ) -> ZeroFillPager {
        ZeroFillPager {
            space,
            pool: region,
            owns_region: false,
            pool_offset: offset,
            pages: &pool.0,
            next: 0,
        }
    }

    /// The pool's address, for [`with_region`](Self::with_region).
    pub fn pool_address<const PAGES: usize>(pool: &'static PagePool<PAGES>) -> u64 {
        pool.0.as_ptr() as u64
    }

    /// How many pages it has supplied.
    pub fn supplied(&self) -> usize {
        self.next
    }

    /// Fills the hole a fault request names and answers it: the page supplied, or `None` if
    /// the hole was filled already (a second fault for it, from a thread that was moved while
    /// its first fault waited).
    pub fn serve(&mut self, request: &Request) -> Result<Option<Supplied>, Error> {
        let fault = FaultMessage::from_words(request.words);
        let address = fault.address & !(PAGE_SIZE - 1);
        let page = self.pages.get(self.next).ok_or(Error::OutOfMemory)?;
        crate::arch::memory::zero_page(page);
        let supplied = match mapping_create(
            self.space,
            address,
            self.pool,
            self.pool_offset + self.next as u64 * PAGE_SIZE,
            PAGE_SIZE,
            MemoryRights::READ | MemoryRights::WRITE,
        ) {
            Ok(mapping) => {
                self.next += 1;
                Some(Supplied { address, mapping })
            }
            Err(Error::Overlaps) => None,
            Err(error) => return Err(error),
        };
        let answered = ipc::reply(request.reply, [RESUME, 0, 0, 0]);
        // A region's keeper gets no thread handle; a port that is also some thread's keeper
        // does, for that thread's own faults: let it go, after the answer.
        if fault.thread != 0 {
            let _ = handle_close(Handle::from_raw(fault.thread));
        }
        answered.map(|()| supplied)
    }

    /// Takes a supplied page back: the next access to it faults to the pager again.
    pub fn revoke(&self, supplied: Supplied) -> Result<(), Error> {
        mapping_destroy(supplied.mapping)?;
        handle_close(supplied.mapping)
    }
}

impl Drop for ZeroFillPager {
    /// A pool region of the pager's own goes with it, and with it every page it supplied.
    fn drop(&mut self) {
        if self.owns_region {
            let _ = handle_close(self.pool);
        }
    }
}
