//! Hardware page tables: the kernel's own mappings, built once at boot, and the user half of
//! each address space.
//!
//! Every address space shares the kernel half (PML4 entries 256 to 511), whose next-level
//! tables are all created at boot, so a mapping added to the kernel half later is seen by every
//! space. The kernel half holds the direct map of RAM, a window for device registers, and the
//! kernel image with per-section rights (text read-execute, rodata read-only, data
//! read-write; Intel SDM vol. 3A section 4.6).

use super::physical::{DIRECT_MAP_BASE, KERNEL_VIRTUAL_OFFSET};
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::mapper::{MapToError, MapperFlush};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageSize, PageTable, PageTableFlags, PhysFrame,
    Size2MiB, Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

/// Where device registers are mapped (uncached), one page per device.
pub const DEVICE_WINDOW_BASE: u64 = 0xffff_ff00_0000_0000;

/// A source of zeroed frames for page tables.
pub trait TableFrameSource {
    /// A fresh frame, or `None` when memory (or the caller's quota) is exhausted.
    fn table_frame(&mut self) -> Option<u64>;
}

/// Adapts a frame source to the `x86_64` crate, zeroing each frame through `offset` (0 while
/// the boot identity map is in use, the direct map afterwards).
struct Adapter<'a> {
    source: &'a mut dyn TableFrameSource,
    offset: u64,
}

// SAFETY: every frame handed out comes from the kernel's frame allocator, is unused, and is
// given to exactly one caller.
unsafe impl FrameAllocator<Size4KiB> for Adapter<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let frame = self.source.table_frame()?;
        // SAFETY: the frame is unused RAM reachable at `offset + frame`.
        unsafe { ((self.offset + frame) as *mut u8).write_bytes(0, Size4KiB::SIZE as usize) };
        Some(PhysFrame::containing_address(PhysAddr::new(frame)))
    }
}

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No frame for a page table.
    OutOfMemory,
    /// The page is already mapped.
    AlreadyMapped,
}

/// Views a root table through an offset: 0 during boot (identity map), the direct map later.
fn mapper(root: u64, offset: u64) -> OffsetPageTable<'static> {
    // SAFETY: `root` is a page-table frame owned by the caller's address space and reachable
    // at `offset + root`; the kernel runs on one CPU with interrupts off, so this is the only
    // live view of these tables while it exists.
    unsafe {
        OffsetPageTable::new(
            &mut *((offset + root) as *mut PageTable),
            VirtAddr::new(offset),
        )
    }
}

fn section_bounds() -> [(u64, u64, PageTableFlags); 3] {
    unsafe extern "C" {
        static __text_start: u8;
        static __text_end: u8;
        static __rodata_start: u8;
        static __rodata_end: u8;
        static __data_start: u8;
        static __data_end: u8;
    }
    let base = PageTableFlags::PRESENT | PageTableFlags::GLOBAL;
    [
        (
            &raw const __text_start as u64,
            &raw const __text_end as u64,
            base,
        ),
        (
            &raw const __rodata_start as u64,
            &raw const __rodata_end as u64,
            base | PageTableFlags::NO_EXECUTE,
        ),
        (
            &raw const __data_start as u64,
            &raw const __data_end as u64,
            base | PageTableFlags::WRITABLE | PageTableFlags::NO_EXECUTE,
        ),
    ]
}

/// Builds the kernel's page tables while the boot identity map is active and switches to
/// them. The direct map covers the `[start, end)` ranges of `memory` (RAM, never device
/// holes, which must not be mapped cacheable), widened to 2 MiB pages; `devices` are physical
/// register pages mapped uncached, in order, into the device window. Returns the root table's
/// physical address.
pub fn build_kernel_tables(
    frames: &mut dyn TableFrameSource,
    memory: &mut dyn Iterator<Item = (u64, u64)>,
    devices: &[u64],
) -> u64 {
    let mut allocator = Adapter {
        source: frames,
        offset: 0,
    };
    let root = allocator
        .allocate_frame()
        .expect("no memory for the kernel page tables");
    let root = root.start_address().as_u64();
    let mut tables = mapper(root, 0);
    let direct = PageTableFlags::PRESENT
        | PageTableFlags::WRITABLE
        | PageTableFlags::NO_EXECUTE
        | PageTableFlags::GLOBAL;
    for (start, end) in memory {
        let first = start & !(Size2MiB::SIZE - 1);
        for physical in (first..end).step_by(Size2MiB::SIZE as usize) {
            let page =
                Page::<Size2MiB>::containing_address(VirtAddr::new(DIRECT_MAP_BASE + physical));
            let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(physical));
            // SAFETY: the direct map aliases RAM at a fixed offset; nothing in the kernel half
            // overlaps it.
            match unsafe { tables.map_to(page, frame, direct, &mut allocator) } {
                Ok(flush) => flush.ignore(),
                // Two ranges that share a 2 MiB page: the first one mapped it.
                Err(MapToError::PageAlreadyMapped(_)) => {}
                Err(error) => panic!("cannot build the direct map: {error:?}"),
            }
        }
    }
    for (start, end, flags) in section_bounds() {
        for virtual_address in (start..end).step_by(Size4KiB::SIZE as usize) {
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virtual_address));
            let frame = PhysFrame::containing_address(PhysAddr::new(
                virtual_address - KERNEL_VIRTUAL_OFFSET,
            ));
            // SAFETY: maps the kernel image onto its own physical frames.
            let flush = unsafe { tables.map_to(page, frame, flags, &mut allocator) };
            flush
                .map(MapperFlush::ignore)
                .expect("cannot map the kernel image");
        }
    }
    let device = direct | PageTableFlags::NO_CACHE | PageTableFlags::WRITE_THROUGH;
    for (index, &physical) in devices.iter().enumerate() {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(
            DEVICE_WINDOW_BASE + index as u64 * Size4KiB::SIZE,
        ));
        let frame = PhysFrame::containing_address(PhysAddr::new(physical));
        // SAFETY: device registers mapped uncached into the device window.
        let flush = unsafe { tables.map_to(page, frame, device, &mut allocator) };
        flush
            .map(MapperFlush::ignore)
            .expect("cannot map device registers");
    }
    // Create every kernel-half second-level table now, so later spaces share all of them.
    let root_table = tables.level_4_table_mut();
    for index in 256..512 {
        if root_table[index].is_unused() {
            let frame = allocator
                .allocate_frame()
                .expect("no memory for kernel page tables");
            root_table[index].set_frame(frame, PageTableFlags::PRESENT | PageTableFlags::WRITABLE);
        }
    }
    // SAFETY: the new tables map the running kernel (text, data, stacks: all in the image or
    // the direct map) exactly where it is now, so execution continues after the switch.
    unsafe {
        Cr3::write(
            PhysFrame::containing_address(PhysAddr::new(root)),
            Cr3Flags::empty(),
        )
    };
    root
}

/// The rights of a user page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRights {
    /// Writes allowed.
    pub write: bool,
    /// Instruction fetches allowed.
    pub execute: bool,
}

/// A user page as the page tables hold it.
#[derive(Clone, Copy, Debug)]
pub struct UserPage {
    /// The frame it maps.
    pub frame: u64,
    /// The rights every level of the tables grants it.
    pub rights: UserRights,
    /// Whether the entry was derived through a chain of mappings (not the space's own page).
    pub derived: bool,
}

/// The page tables of one address space.
pub struct AddressSpaceTables {
    root: u64,
}

impl AddressSpaceTables {
    /// New tables whose kernel half is the kernel's and whose user half is empty.
    pub fn new(kernel_root: u64, frames: &mut dyn TableFrameSource) -> Result<Self, MapError> {
        let root = Adapter {
            source: frames,
            offset: DIRECT_MAP_BASE,
        }
        .allocate_frame()
        .ok_or(MapError::OutOfMemory)?
        .start_address()
        .as_u64();
        for index in 256..512 {
            let entry = super::physical::read_frame_u64(kernel_root, index * 8);
            super::physical::write_frame_u64(root, index * 8, entry);
        }
        Ok(AddressSpaceTables { root })
    }

    /// Maps one user page onto a frame, making the tables it needs from `frames`. The tables
    /// on the way grant everything (present, writable, user); the last entry alone carries the
    /// page's rights (Intel SDM vol. 3A section 4.6 combines them). An entry that goes from not
    /// present to present needs no TLB flush (section 4.10.4.3).
    /// A `derived` entry (made by resolving a chain of mappings, marked with a bit the CPU
    /// ignores) may replace a derived entry already there; any other entry there is an error.
    pub fn map_user_page(
        &mut self,
        virtual_address: u64,
        frame: u64,
        rights: UserRights,
        derived: bool,
        frames: &mut dyn TableFrameSource,
    ) -> Result<(), MapError> {
        assert!(virtual_address < abi::registers::USER_ADDRESS_LIMIT);
        let mut table = self.root;
        for level in [4u32, 3, 2] {
            let index = table_index(virtual_address, level);
            let entry = read_entry(table, index);
            table = if entry & ENTRY_PRESENT == 0 {
                let next = frames.table_frame().ok_or(MapError::OutOfMemory)?;
                super::physical::zero_frame(next);
                write_entry(
                    table,
                    index,
                    next | ENTRY_PRESENT | ENTRY_WRITABLE | ENTRY_USER,
                );
                next
            } else if entry & ENTRY_LARGE != 0 {
                // The user half never holds large pages; this one is taken.
                return Err(MapError::AlreadyMapped);
            } else {
                entry & ENTRY_ADDRESS
            };
        }
        let index = table_index(virtual_address, 1);
        let existing = read_entry(table, index);
        let replacing = existing & ENTRY_PRESENT != 0;
        if replacing && !(derived && existing & ENTRY_DERIVED != 0) {
            return Err(MapError::AlreadyMapped);
        }
        let mut entry = frame | ENTRY_PRESENT | ENTRY_USER;
        if derived {
            entry |= ENTRY_DERIVED;
        }
        if rights.write {
            entry |= ENTRY_WRITABLE;
        }
        if !rights.execute {
            entry |= ENTRY_NO_EXECUTE;
        }
        write_entry(table, index, entry);
        if replacing && Cr3::read().0.start_address().as_u64() == self.root {
            // The entry changed in place (its rights may have narrowed): the old one may be
            // cached (Intel SDM vol. 3A section 4.10.4.1).
            x86_64::instructions::tlb::flush(VirtAddr::new(virtual_address));
        }
        Ok(())
    }

    /// Gives back every page-table frame of the user half, and the root table, through
    /// `free`. The frames the user pages map are the space's own business, freed separately.
    /// Called when the space goes, which cannot be while the CPU uses these tables (the thread
    /// that last ran in the space keeps it alive until the next space is loaded).
    pub fn release(&mut self, free: &mut dyn FnMut(u64)) {
        for index in 0..256 {
            let entry = super::physical::read_frame_u64(self.root, index * 8);
            if let Some(table) = next_table(entry) {
                release_tree(table, 3, free);
            }
        }
        free(self.root);
    }

    /// The frame and rights of the user page at `virtual_address`, walking the tables in
    /// software (Intel SDM vol. 3A section 4.5): `None` unless every level is present and
    /// user-accessible. A page is writable only if every level allows writes and executable
    /// only if no level forbids it (section 4.6). The kernel reaches user memory of any space
    /// through this and the direct map, with exactly the rights that space's threads have.
    pub fn lookup_user(&self, virtual_address: u64) -> Option<UserPage> {
        if virtual_address >= abi::registers::USER_ADDRESS_LIMIT {
            return None;
        }
        let mut rights = UserRights {
            write: true,
            execute: true,
        };
        let mut table = self.root;
        // Level 4 (PML4) down to level 1 (page table); levels 3 and 2 may map 1 GiB and 2 MiB
        // pages directly.
        for level in (1..=4u32).rev() {
            let entry = read_entry(table, table_index(virtual_address, level));
            if entry & (ENTRY_PRESENT | ENTRY_USER) != ENTRY_PRESENT | ENTRY_USER {
                return None;
            }
            rights.write &= entry & ENTRY_WRITABLE != 0;
            rights.execute &= entry & ENTRY_NO_EXECUTE == 0;
            if level == 1 || (level <= 3 && entry & ENTRY_LARGE != 0) {
                let page_mask = (1u64 << (12 + 9 * (level - 1))) - 1;
                let frame = (entry & ENTRY_ADDRESS & !page_mask) | (virtual_address & page_mask);
                return Some(UserPage {
                    frame: frame & !0xfff,
                    rights,
                    derived: entry & ENTRY_DERIVED != 0,
                });
            }
            table = entry & ENTRY_ADDRESS;
        }
        None
    }

    /// Removes the user pages of `[start, end)` (page-aligned) from the tables, leaving the
    /// frames they mapped alone (their owner frees them), and flushes them from the TLB if
    /// these tables are loaded (Intel SDM vol. 3A section 4.10.4.1). A page table or page
    /// directory that lies wholly inside the range goes with everything under it, its frames
    /// handed to `free`: removing a range then costs what its tables do, not what its pages do
    /// (a 2 MiB table, one entry).
    ///
    /// The work is bounded: every page entry removed costs one of `budget`, every table 512.
    /// When the budget runs out first, the address to go on from (the rest of the range is
    /// untouched); `None` once the whole range is done.
    pub fn unmap_user_range(
        &mut self,
        start: u64,
        end: u64,
        budget: usize,
        free: &mut dyn FnMut(u64),
    ) -> Option<u64> {
        assert!(start.is_multiple_of(4096) && end.is_multiple_of(4096));
        assert!(end <= abi::registers::USER_ADDRESS_LIMIT);
        if start >= end {
            return None;
        }
        let loaded = Cr3::read().0.start_address().as_u64() == self.root;
        let mut walk = Unmapping {
            loaded,
            budget,
            detached: false,
            free,
        };
        let stopped = walk.range(self.root, 4, 0, start, end);
        if walk.detached && loaded {
            // The pages under a detached table were not flushed one by one; reloading CR3
            // flushes every non-global translation and the paging-structure caches.
            x86_64::instructions::tlb::flush_all();
        }
        stopped
    }

    /// Whether any user page of `[start, end)` (page-aligned) is present. Like every walk
    /// over a range, it visits only the tables that exist, so its cost follows what is
    /// mapped, not the size of the range.
    pub fn any_present(&self, start: u64, end: u64) -> bool {
        let mut found = false;
        visit_pages(self.root, 4, 0, start, end, &mut |_, _, _| {
            found = true;
            false
        });
        found
    }

    /// Where these tables start, to make them the CPU's current ones with [`activate`]
    /// (the root never moves while the tables live).
    pub fn root(&self) -> TableRoot {
        TableRoot(self.root)
    }
}

/// The root of an address space's tables, for [`activate`]; only tables hand one out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableRoot(u64);

/// Makes the tables that start at `root` the CPU's current ones, unless they are already:
/// loading `CR3` flushes the TLB's entries of the user half (Intel SDM vol. 3A section
/// 4.10.4.1). A switch between threads does this, so it is kept to two register moves and a
/// compare (the tables' lock is not needed: the root never moves).
#[inline]
pub fn activate(root: TableRoot) {
    let current: u64;
    // SAFETY: reading `CR3` has no side effect.
    unsafe { core::arch::asm!("mov {}, cr3", out(reg) current, options(nomem, nostack)) };
    // Bits 12 and up hold the root's frame; the low bits are flags, all 0 here (no PCID).
    if current & !0xfff != root.0 {
        // SAFETY: `root` came from live tables, whose kernel half is the kernel's, so the
        // kernel keeps running; the flags are 0 (write-back caching, no PCID).
        unsafe { core::arch::asm!("mov cr3, {}", in(reg) root.0, options(nostack)) };
    }
}

/// Page-table entry bits (Intel SDM vol. 3A section 4.5, table 4-19 and its neighbours).
const ENTRY_PRESENT: u64 = 1 << 0;
const ENTRY_WRITABLE: u64 = 1 << 1;
const ENTRY_USER: u64 = 1 << 2;
const ENTRY_LARGE: u64 = 1 << 7;
/// One of the bits the CPU ignores in a page entry (bits 9 to 11): the kernel marks the
/// entries it derived through a chain of mappings with it.
const ENTRY_DERIVED: u64 = 1 << 9;
const ENTRY_NO_EXECUTE: u64 = 1 << 63;
const ENTRY_ADDRESS: u64 = 0x000f_ffff_ffff_f000;

/// The index into the table at `level` (4: PML4 down to 1: page table) that `address` uses.
fn table_index(address: u64, level: u32) -> usize {
    ((address >> (12 + 9 * (level - 1))) & 0x1ff) as usize
}

/// The entry at `index` of the page table in frame `table`.
fn read_entry(table: u64, index: usize) -> u64 {
    // SAFETY: `table` is a page-table frame of an address space (its root, or the address an
    // entry of it holds), which is RAM under the direct map; `index` comes from
    // `table_index`, below 512, so the read stays inside the frame and is aligned.
    unsafe {
        (super::physical::direct_map(table) as *const u64)
            .add(index & 0x1ff)
            .read()
    }
}

/// Writes the entry at `index` of the page table in frame `table`.
fn write_entry(table: u64, index: usize, entry: u64) {
    // SAFETY: as in `read_entry`; the table belongs to the address space being changed, whose
    // owner holds it exclusively (it is behind the space's lock).
    unsafe {
        (super::physical::direct_map(table) as *mut u64)
            .add(index & 0x1ff)
            .write(entry)
    }
}

/// Calls `visit(table, index, address)` for every present page entry of the user range
/// `[start, end)` under the table `table` at `level`, whose first address is `base`, skipping
/// the subtrees that are not there; stops when `visit` returns `false`. Returns whether the
/// walk went to its end.
fn visit_pages<F: FnMut(u64, usize, u64) -> bool>(
    table: u64,
    level: u32,
    base: u64,
    start: u64,
    end: u64,
    visit: &mut F,
) -> bool {
    let span = 1u64 << (12 + 9 * (level - 1));
    let first = (start.max(base) - base) / span;
    let last = (end - 1 - base) / span;
    for index in first..=last.min(511) {
        let address = base + index * span;
        // The kernel half (entries 256 and up of the root) is never a user page.
        if level == 4 && index >= 256 {
            break;
        }
        let entry = read_entry(table, index as usize);
        if entry & ENTRY_PRESENT == 0 {
            continue;
        }
        let going_on = if level == 1 {
            visit(table, index as usize, address)
        } else if entry & ENTRY_LARGE != 0 {
            true
        } else {
            visit_pages(entry & ENTRY_ADDRESS, level - 1, address, start, end, visit)
        };
        if !going_on {
            return false;
        }
    }
    true
}

/// The virtual address of a mapped device's registers.
pub fn device_address(index: usize) -> u64 {
    DEVICE_WINDOW_BASE + index as u64 * Size4KiB::SIZE
}

/// The frame of the next-level table an entry points to: present and not a large page (Intel
/// SDM vol. 3A section 4.5: bit 0 present, bit 7 page size).
fn next_table(entry: u64) -> Option<u64> {
    (entry & 1 != 0 && entry & (1 << 7) == 0).then_some(entry & 0x000f_ffff_ffff_f000)
}

/// A bounded removal of user entries (`AddressSpaceTables::unmap_user_range`).
struct Unmapping<'a> {
    /// Whether the tables are the CPU's current ones (removed pages must be flushed).
    loaded: bool,
    /// The work left: one per page entry, 512 per table.
    budget: usize,
    /// Whether a whole table was detached (the TLB is flushed at the end).
    detached: bool,
    free: &'a mut dyn FnMut(u64),
}

impl Unmapping<'_> {
    /// Removes the present entries of `[start, end)` under `table` at `level` (first address
    /// `base`): page entries one by one, page tables and page directories wholly inside the
    /// range at once with their subtrees. The address to go on from if the budget ran out.
    fn range(&mut self, table: u64, level: u32, base: u64, start: u64, end: u64) -> Option<u64> {
        let span = 1u64 << (12 + 9 * (level - 1));
        let first = (start.max(base) - base) / span;
        let last = ((end - 1 - base) / span).min(511);
        for index in first..=last {
            // The kernel half (entries 256 and up of the root) is never a user page.
            if level == 4 && index >= 256 {
                break;
            }
            let address = base + index * span;
            let entry = read_entry(table, index as usize);
            if entry & ENTRY_PRESENT == 0 {
                continue;
            }
            if self.budget == 0 {
                return Some(address.max(start));
            }
            if level == 1 {
                write_entry(table, index as usize, 0);
                if self.loaded {
                    x86_64::instructions::tlb::flush(VirtAddr::new(address));
                }
                self.budget -= 1;
                continue;
            }
            let Some(child) = next_table(entry) else {
                continue;
            };
            // A page directory pointer table (level 3) holds up to 262,144 tables: it is
            // never detached whole, so that one step stays short.
            if start <= address && address + span <= end && level <= 3 {
                write_entry(table, index as usize, 0);
                release_tree(child, level as u8 - 1, self.free);
                self.detached = true;
                self.budget = self.budget.saturating_sub(512);
            } else if let Some(stopped) = self.range(child, level - 1, address, start, end) {
                return Some(stopped);
            }
        }
        None
    }
}

/// Frees the table at `level` (3: PDPT, 2: PD, 1: PT) and the tables below it; page tables'
/// entries map data frames, which are not freed here.
fn release_tree(table: u64, level: u8, free: &mut dyn FnMut(u64)) {
    if level > 1 {
        for index in 0..512 {
            let entry = super::physical::read_frame_u64(table, index * 8);
            if let Some(child) = next_table(entry) {
                release_tree(child, level - 1, free);
            }
        }
    }
    free(table);
}
