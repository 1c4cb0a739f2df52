//! Address spaces: page tables, the frames of the space's own pages, its handle table and the
//! kernel-memory quota its objects are paid from.

use crate::arch::lock::Lock;
use crate::arch::paging::{
    AddressSpaceTables, MapError, TableFrameSource, TableRoot, UserPage, UserRights,
};
use crate::arch::physical::{self, FRAME_SIZE};
use crate::memory;
use crate::object::KernelObject;
use crate::thread::Thread;
use crate::virtual_memory::{self, Mapping, Region};
use abi::handle::HandleInfo;
use abi::memory::MemoryRights;
use abi::{Error, Handle, Rights};
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use capability::{HandleTable, Quota, SLOT_COST};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
use region::PageRange;

/// What a space costs the quota that pays for it, besides the quota it is granted: its own
/// bookkeeping and its root page table.
pub const SPACE_COST: u64 = memory::heap_cost(size_of::<Space>()) + FRAME_SIZE;

/// An address space.
pub struct Space {
    /// Its identity (`HandleInfo`, logs): unique among every object made since boot.
    pub id: u64,
    tables: Lock<AddressSpaceTables>,
    /// Where `tables` start (fixed for their life): what a switch to the space loads.
    root: TableRoot,
    /// Frames backing this space's pages, freed with it.
    frames: Lock<Vec<u64>>,
    handles: Lock<HandleTable<KernelObject>>,
    /// The regions exporting this space's memory, by start (they never overlap).
    regions: Lock<BTreeMap<u64, Arc<Region>>>,
    /// The mappings showing other memory in this space, by start (they never overlap).
    mappings: Lock<BTreeMap<u64, Arc<Mapping>>>,
    /// The mappings the last lookups found or made.
    recent_mappings: Lock<RecentMappings>,
    quota: Lock<Quota>,
    /// The space that paid for this one (`SPACE_COST` plus the quota), repaid on drop if it
    /// is still there. Weak, as every object's payer: a space's table holds the spaces it
    /// made, and a strong link back would keep both for good once the last outside handle
    /// went.
    payer: Option<Weak<Space>>,
    /// Its threads, so that destroying the space can end them.
    threads: Lock<Vec<Weak<Thread>>>,
    /// Set by `SpaceDestroy`: nothing new may be made in it.
    destroyed: AtomicBool,
    /// The invalidation work its memory's changes left to do (`crate::invalidation`).
    pub invalidations: crate::invalidation::Pending,
    /// The root program's RAM window (`abi::root`): pages there are the space's own, given a
    /// zeroed frame when first touched.
    ram: Option<PageRange>,
}

impl Space {
    /// The root program's space, with a quota from the kernel and a RAM window.
    pub fn new_root(quota: u64, ram: Option<PageRange>) -> Result<Arc<Space>, Error> {
        Space::build(quota, None, ram)
    }

    /// A space whose cost and quota are charged to `payer`.
    pub fn new_child(payer: &Arc<Space>, quota: u64) -> Result<Arc<Space>, Error> {
        let cost = SPACE_COST.checked_add(quota).ok_or(Error::QuotaExceeded)?;
        payer.charge(cost)?;
        Space::build(quota, Some(Arc::downgrade(payer)), None).inspect_err(|_| payer.release(cost))
    }

    fn build(
        quota: u64,
        payer: Option<Weak<Space>>,
        ram: Option<PageRange>,
    ) -> Result<Arc<Space>, Error> {
        let tables =
            AddressSpaceTables::new(memory::kernel_root_table(), &mut memory::table_frames())
                .map_err(|_| Error::OutOfMemory)?;
        Ok(Arc::new(Space {
            id: crate::object::new_object_id(),
            root: tables.root(),
            tables: Lock::new(tables),
            frames: Lock::new(Vec::new()),
            handles: Lock::new(HandleTable::new()),
            regions: Lock::new(BTreeMap::new()),
            mappings: Lock::new(BTreeMap::new()),
            recent_mappings: Lock::new(RecentMappings::default()),
            quota: Lock::new(Quota::new(quota)),
            payer,
            threads: Lock::new(Vec::new()),
            destroyed: AtomicBool::new(false),
            invalidations: crate::invalidation::Pending::default(),
            ram,
        }))
    }

    /// Pays `bytes` of kernel memory from this space's quota.
    pub fn charge(&self, bytes: u64) -> Result<(), Error> {
        self.quota.lock().charge(bytes)
    }

    /// Returns `bytes` to this space's quota.
    pub fn release(&self, bytes: u64) {
        self.quota.lock().release(bytes);
    }

    /// Adds a handle to `object` with `rights`, paying for a new slot if the table grows.
    pub fn insert_handle(&self, object: KernelObject, rights: Rights) -> Result<Handle, Error> {
        if self.is_destroyed() {
            return Err(Error::InvalidState);
        }
        let mut handles = self.handles.lock();
        if handles.needs_new_slot() {
            self.charge(SLOT_COST)?;
        }
        object.handle_opened();
        Ok(handles.insert(object, rights))
    }

    /// The object a handle names as the type `convert` accepts, if the handle carries
    /// `needed`. The type is checked first: a handle to the wrong kind of object is
    /// `WrongType` whatever its rights.
    #[inline]
    pub fn typed<T>(
        &self,
        handle: Handle,
        needed: Rights,
        convert: fn(&KernelObject) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let (typed, rights) = {
            let handles = self.handles.lock();
            let (object, rights) = handles.entry(handle)?;
            (convert(object)?, rights)
        };
        if rights.contains(needed) {
            Ok(typed)
        } else {
            Err(Error::MissingRights)
        }
    }

    /// Closes a handle. The object goes when its last reference does (after the table's lock
    /// is released, as dropping a space or thread may take other locks).
    pub fn close_handle(&self, handle: Handle) -> Result<(), Error> {
        let object = self.take_handle(handle)?;
        object.handle_closed();
        drop(object);
        Ok(())
    }

    /// Takes a handle out of the table, leaving what closing it does to the caller
    /// (`KernelObject::handle_closed`, or a preemptible equivalent).
    pub fn take_handle(&self, handle: Handle) -> Result<KernelObject, Error> {
        let (object, _) = self.handles.lock().remove(handle)?;
        Ok(object)
    }

    /// The object and rights of a handle a message is to carry; it must have `TRANSFER`.
    pub fn transferable(&self, handle: Handle) -> Result<(KernelObject, Rights), Error> {
        let handles = self.handles.lock();
        let (object, rights) = handles.entry(handle)?;
        if !rights.contains(Rights::TRANSFER) {
            return Err(Error::MissingRights);
        }
        Ok((object.clone(), rights))
    }

    /// What a handle names and the rights it carries (`HandleInfo`).
    pub fn describe(&self, handle: Handle) -> Result<HandleInfo, Error> {
        let handles = self.handles.lock();
        let (object, rights) = handles.entry(handle)?;
        Ok(HandleInfo {
            kind: object.kind(),
            rights,
            object: object.id(),
        })
    }

    /// Puts `object` into the table at exactly `handle` (its slot and generation), charging
    /// the slots the table grows by (see `HandleTable::placement_cost` for what is refused).
    pub fn place_handle(
        &self,
        handle: Handle,
        object: KernelObject,
        rights: Rights,
    ) -> Result<(), Error> {
        if self.is_destroyed() {
            return Err(Error::InvalidState);
        }
        let mut handles = self.handles.lock();
        let new_slots = handles.placement_cost(handle)? as u64;
        self.charge(new_slots * SLOT_COST)?;
        object.handle_opened();
        handles.insert_at(handle, object, rights)
    }

    /// The first live handle at slot `index` or after: its value, its object and its rights.
    pub fn next_handle(&self, index: u32) -> Option<(Handle, KernelObject, Rights)> {
        let handles = self.handles.lock();
        handles
            .next_live(index)
            .map(|(handle, object, rights)| (handle, object.clone(), rights))
    }

    /// Makes a second handle to the object of `handle` with `rights`.
    pub fn duplicate_handle(&self, handle: Handle, rights: Rights) -> Result<Handle, Error> {
        let object = self.handles.lock().duplicable(handle, rights)?;
        self.insert_handle(object, rights)
    }

    /// Gives a page of the RAM window its own zeroed frame, if `page` lies in the window; the
    /// frame and the rights it gets (everything: the root program may run code it loads).
    pub fn fill_from_ram(&self, page: u64) -> Option<(u64, UserRights)> {
        if !self.ram.is_some_and(|ram| ram.contains(page)) {
            return None;
        }
        let rights = UserRights {
            write: true,
            execute: true,
        };
        self.map_zeroed_page(page, rights)
            .ok()
            .map(|frame| (frame, rights))
    }

    /// Shows `[start, start + length)` of physical memory read-only at `address` (both
    /// page-aligned): memory the kernel keeps for good, such as the boot file system.
    pub fn show_physical(&self, address: u64, start: u64, length: u64) -> Result<(), MapError> {
        let rights = UserRights {
            write: false,
            execute: false,
        };
        for offset in (0..length).step_by(FRAME_SIZE as usize) {
            self.tables.lock().map_user_page(
                address + offset,
                start + offset,
                rights,
                false,
                &mut ChargedTableFrames(self),
            )?;
        }
        Ok(())
    }

    /// Maps a fresh zeroed frame at `address` (page-aligned, user half) and returns the frame.
    pub fn map_zeroed_page(&self, address: u64, rights: UserRights) -> Result<u64, MapError> {
        let frame = memory::allocate_frame().ok_or(MapError::OutOfMemory)?;
        physical::zero_frame(frame);
        if let Err(error) = self.tables.lock().map_user_page(
            address,
            frame,
            rights,
            false,
            &mut ChargedTableFrames(self),
        ) {
            memory::free_frame(frame);
            return Err(error);
        }
        self.frames.lock().push(frame);
        Ok(frame)
    }

    /// The page at `address` if the page tables have it.
    pub fn lookup(&self, address: u64) -> Option<UserPage> {
        self.tables.lock().lookup_user(address)
    }

    /// Enters a page derived through a mapping into the page tables.
    pub fn install(&self, page: u64, frame: u64, rights: UserRights) -> Result<(), MapError> {
        self.tables
            .lock()
            .map_user_page(page, frame, rights, true, &mut ChargedTableFrames(self))
    }

    /// Removes the derived entries of `range` from the page tables, at most about `budget` of
    /// them (see `AddressSpaceTables::unmap_user_range`); the tables that lay wholly inside it
    /// go too, and their quota comes back. Where to go on from if the budget ran out.
    pub fn unmap(&self, range: PageRange, budget: usize) -> Option<u64> {
        let mut freed = 0;
        let stopped =
            self.tables
                .lock()
                .unmap_user_range(range.start(), range.end(), budget, &mut |frame| {
                    memory::free_frame(frame);
                    freed += 1;
                });
        self.release(freed * FRAME_SIZE);
        stopped
    }

    /// The mapping covering `address`, if one does.
    pub fn mapping_at(&self, address: u64) -> Option<Arc<Mapping>> {
        let mut recent = self.recent_mappings.lock();
        if let Some(mapping) = recent.find(address) {
            return Some(mapping);
        }
        let found = self
            .mappings
            .lock()
            .range(..=address)
            .next_back()
            .map(|(_, mapping)| mapping)
            .filter(|mapping| mapping.window().range.contains(address))
            .cloned()?;
        let evicted = recent.remember(found.clone());
        drop(recent);
        drop(evicted);
        Some(found)
    }

    /// The region or mapping of this space that starts first among those ending after
    /// `address`.
    pub fn first_after(&self, address: u64) -> Option<MemoryObject> {
        let region =
            first_ending_after(&self.regions.lock(), address, |region| region.range().end());
        let mapping = first_ending_after(&self.mappings.lock(), address, |mapping| {
            mapping.window().range.end()
        });
        match (region, mapping) {
            (Some(region), Some(mapping))
                if mapping.window().range.start() < region.range().start() =>
            {
                Some(MemoryObject::Mapping(mapping))
            }
            (Some(region), _) => Some(MemoryObject::Region(region)),
            (None, Some(mapping)) => Some(MemoryObject::Mapping(mapping)),
            (None, None) => None,
        }
    }

    /// At most `limit` of the regions exporting part of `range` that start below `below`, from
    /// the last down (so that a walk over many goes on below the lowest start it was given).
    pub fn regions_overlapping_below(
        &self,
        range: &PageRange,
        below: u64,
        limit: usize,
    ) -> Vec<Arc<Region>> {
        let regions = self.regions.lock();
        let start = range.start();
        regions
            .range(..below.min(range.end()))
            .rev()
            .take_while(|(_, region)| region.extent_end() > start)
            .take(limit)
            .map(|(_, region)| region.clone())
            .collect()
    }

    /// Adds an exported region; regions of one space never overlap.
    pub fn add_region(&self, region: Arc<Region>) -> Result<(), Error> {
        let mut regions = self.regions.lock();
        let range = region.range();
        if overlapping(&regions, &range, |other| other.extent_end())
            .next()
            .is_some()
        {
            return Err(Error::Overlaps);
        }
        regions.insert(range.start(), region);
        Ok(())
    }

    /// Whether a region other than `region` overlaps `range` (for a region that grows).
    pub fn other_region_overlaps(&self, range: &PageRange, region: &Region) -> bool {
        overlapping(&self.regions.lock(), range, |other| other.extent_end())
            .any(|other| !core::ptr::eq(Arc::as_ptr(other), region))
    }

    /// Forgets a destroyed region.
    pub fn remove_region(&self, region: &Region) {
        let mut regions = self.regions.lock();
        let start = region.range().start();
        if regions
            .get(&start)
            .is_some_and(|other| core::ptr::eq(Arc::as_ptr(other), region))
        {
            let removed = regions.remove(&start);
            drop(regions);
            drop(removed);
        }
    }

    /// Adds a mapping; it may overlap neither another mapping nor a page the space holds
    /// itself.
    pub fn add_mapping(&self, mapping: Arc<Mapping>) -> Result<(), Error> {
        let range = mapping.window().range;
        self.check_free_for_mapping(&range, &mapping, None)?;
        self.mappings.lock().insert(range.start(), mapping.clone());
        // A new mapping is about to be walked: a keeper maps a page into a hole, and the
        // faulting thread's retry comes through it.
        let evicted = self.recent_mappings.lock().remember(mapping);
        drop(evicted);
        Ok(())
    }

    /// Whether `range` may hold `mapping` (new, or moving from `cached_by_it`): not in a
    /// destroyed space, not in the RAM window, meeting no other mapping and no page the space
    /// holds itself.
    pub fn check_free_for_mapping(
        &self,
        range: &PageRange,
        mapping: &Mapping,
        cached_by_it: Option<&PageRange>,
    ) -> Result<(), Error> {
        if self.is_destroyed() {
            return Err(Error::InvalidState);
        }
        if self.ram.is_some_and(|ram| ram.overlaps(range)) {
            return Err(Error::Overlaps);
        }
        let others_overlap = overlapping(&self.mappings.lock(), range, |other| {
            other.window().range.end()
        })
        .any(|other| !core::ptr::eq(Arc::as_ptr(other), mapping));
        // Entries in the range the mapping covers already are its own (nothing else could
        // enter any there since it was placed): only the rest of the range must hold none.
        let parts = match cached_by_it {
            Some(own) => range.without(own),
            None => [Some(*range), None],
        };
        let tables = self.tables.lock();
        let held = parts.into_iter().flatten().any(|part| {
            // A few pages are quickest looked up one by one; a larger range is walked by the
            // tables that exist.
            if part.size() <= 16 * FRAME_SIZE {
                part.pages().any(|page| tables.lookup_user(page).is_some())
            } else {
                tables.any_present(part.start(), part.end())
            }
        });
        drop(tables);
        if others_overlap || held {
            return Err(Error::Overlaps);
        }
        Ok(())
    }

    /// Forgets a destroyed mapping.
    pub fn remove_mapping(&self, mapping: &Mapping) {
        let forgotten = self.recent_mappings.lock().forget(mapping);
        drop(forgotten);
        let mut mappings = self.mappings.lock();
        let start = mapping.window().range.start();
        if mappings
            .get(&start)
            .is_some_and(|other| core::ptr::eq(Arc::as_ptr(other), mapping))
        {
            let removed = mappings.remove(&start);
            drop(mappings);
            drop(removed);
        }
    }

    /// Files a mapping that moved from `old_start` under its new start.
    pub fn refile_mapping(&self, old_start: u64, new_start: u64) {
        let mut mappings = self.mappings.lock();
        if let Some(mapping) = mappings.remove(&old_start) {
            mappings.insert(new_start, mapping);
        }
    }

    /// The physical address a user access at `address` reaches in this space, if the page
    /// is mapped with the rights the access needs, resolving a mapping's chain if its entry is
    /// not in the page tables yet.
    pub fn translate(self: &Arc<Space>, address: u64, write: bool) -> Option<u64> {
        let needed = if write {
            MemoryRights::READ | MemoryRights::WRITE
        } else {
            MemoryRights::READ
        };
        virtual_memory::resolve(self, address, needed)
            .ok()
            .map(|frame| frame | (address & 0xfff))
    }

    /// Whether `SpaceDestroy` destroyed it.
    pub fn is_destroyed(&self) -> bool {
        self.destroyed.load(Relaxed)
    }

    /// Records a new thread of this space; fails once the space is destroyed.
    pub fn add_thread(&self, thread: &Arc<Thread>) -> Result<(), Error> {
        if self.is_destroyed() {
            return Err(Error::InvalidState);
        }
        let mut threads = self.threads.lock();
        threads.retain(|other| other.strong_count() > 0);
        threads.push(Arc::downgrade(thread));
        Ok(())
    }

    /// Destroys one piece of the space's contents; whether nothing is left. The pieces go in
    /// order: its threads (`end` is called for each), every handle of its table, its regions,
    /// its mappings; that breaks the reference cycles a space's own handles may form (a handle
    /// to one of its own threads, a reply object naming one). The space is marked destroyed
    /// at the first step, so nothing new comes in and the steps end. The space itself goes
    /// when the last reference does.
    pub fn destroy_step(&self, end: impl Fn(&Arc<Thread>)) -> bool {
        // From here on nothing new comes in (no thread, handle, region or mapping), so what
        // is left only shrinks.
        self.destroyed.store(true, Relaxed);
        // The invalidations its regions' and mappings' destruction queued go a step at a time.
        if self.invalidations.step() {
            return false;
        }
        let thread = self.threads.lock().pop();
        if let Some(thread) = thread {
            if let Some(thread) = thread.upgrade() {
                end(&thread);
            }
            return false;
        }
        let step = self.handles.lock().take_last();
        if let Some(object) = step {
            // (Outside the table's lock: closing may reach other objects.) A region whose last
            // handle this was is destroyed in steps, as the rest.
            match object {
                Some(KernelObject::Region(region)) => self.queue(region.handle_released()),
                Some(object) => object.handle_closed(),
                None => {}
            }
            return false;
        }
        // A region stays in the map until the steps that destroy it are done (they take it
        // out, and this space's own list runs them before anything else here). One destroyed
        // already may have its steps on another space's list: they are queued here again.
        let region = self
            .regions
            .lock()
            .first_key_value()
            .map(|(_, region)| region.clone());
        if let Some(region) = region {
            self.queue(region.destroy_steps());
            return false;
        }
        let hints = self.recent_mappings.lock().clear();
        drop(hints);
        let mapping = self.mappings.lock().pop_first();
        if let Some((_, mapping)) = mapping {
            self.queue(mapping.end());
            return false;
        }
        true
    }

    /// Adds invalidation work to its list (the last step runs first).
    fn queue(&self, steps: Vec<crate::invalidation::Step>) {
        for step in steps {
            self.invalidations.push(step);
        }
    }

    /// Makes this space the CPU's current one.
    pub fn activate(&self) {
        crate::arch::paging::activate(self.root);
    }
}

/// The items of `map` (keyed by their start, never overlapping one another) that overlap
/// `range`: they are the last ones starting before its end, back to the first that ends after
/// its start.
fn overlapping<'a, T>(
    map: &'a BTreeMap<u64, Arc<T>>,
    range: &PageRange,
    end_of: impl Fn(&T) -> u64 + 'a,
) -> impl Iterator<Item = &'a Arc<T>> {
    let start = range.start();
    map.range(..range.end())
        .rev()
        .take_while(move |(_, item)| end_of(item) > start)
        .map(|(_, item)| item)
}

/// The item of `map` (keyed by start, never overlapping) that starts first among those ending
/// after `address`: the one holding `address`, or else the first starting beyond it.
fn first_ending_after<T>(
    map: &BTreeMap<u64, Arc<T>>,
    address: u64,
    end_of: impl Fn(&T) -> u64,
) -> Option<Arc<T>> {
    let holding = map
        .range(..=address)
        .next_back()
        .filter(|(_, item)| end_of(item) > address);
    holding
        .or_else(|| map.range(address.saturating_add(1)..).next())
        .map(|(_, item)| item.clone())
}

/// A region a space exports or a mapping it shows.
pub enum MemoryObject {
    /// A region.
    Region(Arc<Region>),
    /// A mapping.
    Mapping(Arc<Mapping>),
}

/// Page-table frames for a space, paid from its quota (they stay until the space goes, and the
/// quota with them).
struct ChargedTableFrames<'a>(&'a Space);

impl TableFrameSource for ChargedTableFrames<'_> {
    fn table_frame(&mut self) -> Option<u64> {
        self.0.charge(FRAME_SIZE).ok()?;
        let frame = memory::allocate_frame();
        if frame.is_none() {
            self.0.release(FRAME_SIZE);
        }
        frame
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        // What other spaces derived from this one's memory goes before the memory does: first
        // what a preempted call left half done, then everything its regions exported.
        self.invalidations.take_all().finish();
        let regions = core::mem::take(self.regions.get_mut());
        for region in regions.values() {
            crate::invalidation::finish(region.destroy_steps());
        }
        drop(regions);
        let mappings = core::mem::take(self.mappings.get_mut());
        for mapping in mappings.values() {
            mapping.destroy();
        }
        drop(mappings);
        for &frame in self.frames.get_mut().iter() {
            memory::free_frame(frame);
        }
        self.tables.get_mut().release(&mut memory::free_frame);
        // Objects the table still names are released after the table itself is emptied.
        let objects = self.handles.get_mut().drain();
        for object in &objects {
            object.handle_closed();
        }
        drop(objects);
        if let Some(payer) = self.payer.as_ref().and_then(Weak::upgrade) {
            payer.release(SPACE_COST + self.quota.get_mut().limit());
        }
    }
}

/// The mappings a space's last lookups found or made, most recent first: faults come in runs
/// over the same mappings, and a fault on a hole walks two (the window it was made through,
/// and the page its keeper has just mapped below). Values taken out are returned, to be
/// dropped once the lock is let go.
#[derive(Default)]
struct RecentMappings([Option<Arc<Mapping>>; 2]);

impl RecentMappings {
    /// The live one covering `address`, if any.
    fn find(&self, address: u64) -> Option<Arc<Mapping>> {
        self.0
            .iter()
            .flatten()
            .find(|mapping| !mapping.is_destroyed() && mapping.window().range.contains(address))
            .cloned()
    }

    /// Puts `mapping` first; returns the one that fell out.
    fn remember(&mut self, mapping: Arc<Mapping>) -> Option<Arc<Mapping>> {
        let evicted = self.0[1].take();
        self.0[1] = self.0[0].replace(mapping);
        evicted
    }

    /// Forgets `mapping`, returning it if it was here.
    fn forget(&mut self, mapping: &Mapping) -> Option<Arc<Mapping>> {
        self.0
            .iter_mut()
            .find(|slot| {
                slot.as_ref()
                    .is_some_and(|other| core::ptr::eq(Arc::as_ptr(other), mapping))
            })
            .and_then(Option::take)
    }

    /// Forgets them all.
    fn clear(&mut self) -> [Option<Arc<Mapping>>; 2] {
        core::mem::take(&mut self.0)
    }
}
