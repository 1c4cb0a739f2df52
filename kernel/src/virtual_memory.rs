//! Regions and mappings (DESIGN.md section 4): a region exports a range of one space's memory,
//! a mapping shows a window of a region in another space. The hardware page tables are only a
//! cache of this tree: a page fault in a mapping is resolved by walking down the chain to a
//! space where the page is present and installing an entry; destroying a region or a mapping
//! removes every entry derived from it, in every space above, which then fault and walk again.
//!
//! The arithmetic (ranges, windows, rights) lives in the host-tested `region` crate.

use crate::arch::lock::Lock;
use crate::arch::paging::UserRights;
use crate::invalidation::{self, Step};
use crate::ipc::Port;
use crate::space::Space;
use abi::Error;
use abi::memory::MemoryRights;
use alloc::sync::{Arc, Weak};
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use region::{PageRange, Window, chain_allows};

/// How many links a chain may have before a fault gives up on it (a chain that loops back on
/// itself is a hole, not a hang).
pub const CHAIN_LIMIT: usize = 32;

/// What a region or a mapping costs its creator's quota.
pub const OBJECT_COST: u64 =
    crate::memory::heap_cost(if size_of::<Region>() > size_of::<Mapping>() {
        size_of::<Region>()
    } else {
        size_of::<Mapping>()
    });

/// A range of one space's memory, exported to mappings.
pub struct Region {
    /// Its identity (`HandleInfo`): unique among every object made since boot.
    pub id: u64,
    /// The space whose memory it exports (weak: a space is not kept alive by what it exports;
    /// it destroys its regions when it goes).
    pub space: Weak<Space>,
    /// Where the exported addresses start.
    start: u64,
    /// How many bytes it exports (`RegionResize` changes it).
    size: AtomicU64,
    /// How many bytes from its start walks look at: its size, or more while the steps that
    /// remove what a shrink took away are pending (it stays findable there until then).
    extent: AtomicU64,
    /// How many shrinks still have steps pending.
    shrinks_pending: AtomicUsize,
    /// The widest rights a mapping of it may grant (`RegionProtect` changes them).
    rights: AtomicU64,
    /// Where faults on its holes go, if anywhere (weak: a region does not keep its keeper
    /// alive; a keeper that is gone leaves the faults to the faulting thread's keeper).
    /// `RegionSetState` replaces it.
    keeper: Lock<Option<Weak<Port>>>,
    /// The mappings of it, so that its destruction reaches them.
    pub mappings: Lock<Vec<Weak<Mapping>>>,
    /// Set once destroyed: its mappings are gone and no new one may be made.
    pub destroyed: AtomicBool,
    /// How many handles name it; the last one closed destroys it.
    pub handles: AtomicUsize,
    payer: Weak<Space>,
}

/// A window of a region shown in a space.
pub struct Mapping {
    /// Its identity (`HandleInfo`): unique among every object made since boot.
    pub id: u64,
    /// The space it shows the memory in.
    pub space: Weak<Space>,
    /// Where, from which region (its `rights` are those it was made with; `MappingMove`
    /// changes where).
    window: Lock<Window>,
    /// The window it showed before its last move, while the step that removes the entries
    /// made through it is pending: a revocation from below still reaches them through it.
    moved_from: Lock<Option<Window>>,
    /// The rights it grants now (`MappingProtect` changes them).
    rights: AtomicU64,
    /// The region it shows.
    pub region: Arc<Region>,
    /// Where it is in its region's list of mappings (kept up to date as others leave it, so
    /// that leaving takes one step, not a search).
    index_in_region: AtomicUsize,
    /// Set once destroyed.
    pub destroyed: AtomicBool,
    payer: Weak<Space>,
}

/// Why a page could not be found.
#[derive(Clone)]
pub enum Hole {
    /// A chain ended in a destroyed region or a space that is gone, or is too long.
    Unmapped,
    /// Nothing covers the address: no page, no mapping.
    Nothing,
    /// A link of the chain does not grant the access.
    Protection,
    /// The chain reached a region whose space has no page at `address` (an address of that
    /// space): the region's keeper, if it has one, is to supply it.
    Missing {
        /// The region's keeper port.
        keeper: Option<Arc<Port>>,
        /// The missing page, in the space the region exports.
        address: u64,
    },
}

impl Hole {
    /// [`keeper`](Self::keeper), taken out of the hole.
    pub fn into_keeper(self) -> Option<(Arc<Port>, u64)> {
        match self {
            Hole::Missing {
                keeper: Some(keeper),
                address,
            } => Some((keeper, address)),
            _ => None,
        }
    }

    /// The keeper that can fill this hole, and the address to give it.
    pub fn keeper(&self) -> Option<(Arc<Port>, u64)> {
        match self {
            Hole::Missing {
                keeper: Some(keeper),
                address,
            } => Some((keeper.clone(), *address)),
            _ => None,
        }
    }
}

fn memory_rights(rights: UserRights) -> MemoryRights {
    let mut memory = MemoryRights::READ;
    if rights.write {
        memory |= MemoryRights::WRITE;
    }
    if rights.execute {
        memory |= MemoryRights::EXECUTE;
    }
    memory
}

fn user_rights(rights: MemoryRights) -> UserRights {
    UserRights {
        write: rights.contains(MemoryRights::WRITE),
        execute: rights.contains(MemoryRights::EXECUTE),
    }
}

/// The frame holding `address` in `space` and the rights it may be used with, for an access
/// needing `needed`: from the page tables if the page is present, else by resolving the chain
/// of mappings below it, which installs the entry (so the next access needs no walk).
pub fn resolve(space: &Arc<Space>, address: u64, needed: MemoryRights) -> Result<u64, Hole> {
    let page = address & !0xfff;
    // The common case (a kernel copy through present pages) needs no walk: the entry at the
    // top, derived or not, is the answer.
    if let Some(found) = space.lookup(page) {
        return if memory_rights(found.rights).contains(needed) {
            Ok(found.frame)
        } else {
            Err(Hole::Protection)
        };
    }
    walk(space, page, needed)
}

/// [`resolve`] for an address the page tables of `space` are known not to map (a not-present
/// page fault, just taken): the walk starts below the top, without looking there first.
pub fn resolve_absent(space: &Arc<Space>, address: u64, needed: MemoryRights) -> Result<u64, Hole> {
    walk(space, address & !0xfff, needed)
}

/// Walks the chain from `page` of `top`, whose page tables do not map it, down to a present
/// page, link by link (a loop, not a recursion: only the top gets an entry, so nothing is
/// left to do on the way back up).
fn walk(top: &Arc<Space>, page: u64, needed: MemoryRights) -> Result<u64, Hole> {
    // The space the walk has reached below the top, the address there, what every link so
    // far grants, and the last link (whose region's keeper fills a hole found below it).
    let mut below: Option<Arc<Space>> = None;
    let mut address = page;
    let mut granted = MemoryRights::all();
    let mut last_link: Option<Arc<Mapping>> = None;
    for depth in 0..=CHAIN_LIMIT {
        let space = below.as_ref().unwrap_or(top);
        // Below the top, an entry the space holds is the answer only if it is the space's own
        // page: a derived entry there is walked through again, so that every derived entry was
        // made by a walk of at most `CHAIN_LIMIT` links, all of which invalidation reaches.
        let present = if depth > 0 {
            space
                .lookup(address)
                .filter(|found| !found.derived)
                .map(|found| (found.frame, found.rights))
        } else {
            None
        };
        if let Some((frame, rights)) = present.or_else(|| space.fill_from_ram(address)) {
            let rights = memory_rights(rights);
            if !rights.contains(needed) {
                return Err(Hole::Protection);
            }
            // The entry gets what every link grants; a later, wider access walks again and
            // fails or widens it. Only the space that made the access gets one: an entry below
            // the top would be derived, which walks pass through anyway.
            if depth > 0
                && top
                    .install(page, frame, user_rights(granted & rights))
                    .is_err()
            {
                return Err(Hole::Unmapped);
            }
            return Ok(frame);
        }
        let Some(mapping) = space.mapping_at(address) else {
            // Nothing at all: below the top, a hole of the last link's region, for its keeper.
            return Err(match last_link {
                Some(link) => Hole::Missing {
                    keeper: link.region.keeper(),
                    address,
                },
                None => Hole::Nothing,
            });
        };
        if depth == CHAIN_LIMIT {
            break;
        }
        let region = &mapping.region;
        let (mapping_rights, region_rights) = (mapping.rights(), region.rights());
        if !chain_allows([mapping_rights, region_rights], needed) {
            return Err(Hole::Protection);
        }
        if mapping.destroyed.load(Relaxed) || region.destroyed.load(Relaxed) {
            return Err(Hole::Unmapped);
        }
        let source_space = region.space.upgrade().ok_or(Hole::Unmapped)?;
        let source = mapping.window().source_of(address);
        if !region.exports(source) {
            // The region shrank below this part of the window.
            return Err(Hole::Unmapped);
        }
        granted &= mapping_rights & region_rights;
        address = source;
        below = Some(source_space);
        last_link = Some(mapping);
    }
    Err(Hole::Unmapped)
}

/// The step that removes the entries of `range` in `space` and what derives from them.
fn unmap_step(space: &Arc<Space>, range: PageRange) -> Step {
    Step::Unmap {
        space: Arc::downgrade(space),
        range,
        depth: 0,
    }
}

impl Region {
    /// Exports `range` of `space` with at most `rights`, charged to `space`.
    pub fn create(
        space: &Arc<Space>,
        range: PageRange,
        rights: MemoryRights,
        keeper: Option<&Arc<Port>>,
    ) -> Result<Arc<Region>, Error> {
        space.charge(OBJECT_COST)?;
        let region = Arc::new(Region {
            id: crate::object::new_object_id(),
            space: Arc::downgrade(space),
            start: range.start(),
            size: AtomicU64::new(range.size()),
            extent: AtomicU64::new(range.size()),
            shrinks_pending: AtomicUsize::new(0),
            rights: AtomicU64::new(rights.bits()),
            keeper: Lock::new(keeper.map(Arc::downgrade)),
            mappings: Lock::new(Vec::new()),
            destroyed: AtomicBool::new(false),
            handles: AtomicUsize::new(0),
            payer: Arc::downgrade(space),
        });
        if let Err(error) = space.add_region(region.clone()) {
            drop(region);
            return Err(error);
        }
        Ok(region)
    }

    /// The addresses it exports now.
    pub fn range(&self) -> PageRange {
        PageRange::new(self.start, self.size.load(Relaxed))
            .expect("a region's range was checked when made and when resized")
    }

    /// Whether it exports `address` (as `range().contains`, without rebuilding the range: the
    /// fault path asks at every link).
    pub fn exports(&self, address: u64) -> bool {
        address
            .checked_sub(self.start)
            .is_some_and(|offset| offset < self.size.load(Relaxed))
    }

    /// Grows or shrinks the region to `size` bytes from its start. Growing may not reach
    /// another region of the space; shrinking takes away (from every mapping of it, and what
    /// was derived from them) what it no longer exports: the work to queue on its space, if
    /// it shrank.
    pub fn resize(self: &Arc<Region>, size: u64) -> Result<Vec<Step>, Error> {
        let old = self.range();
        self.check_resize(size)?;
        let shrunk = self.set_size(size, old);
        Ok(shrunk.into_iter().chain(self.removed_since(old)).collect())
    }

    /// Makes it export `size` bytes instead of `old`. A shrink keeps it findable over its
    /// former extent until the steps that remove what it no longer exports are done: the step
    /// that ends that, to queue before them (so that it runs after them).
    fn set_size(self: &Arc<Region>, size: u64, old: PageRange) -> Option<Step> {
        self.size.store(size, Relaxed);
        if size >= old.size() {
            self.extent.fetch_max(size, Relaxed);
            return None;
        }
        self.shrinks_pending.fetch_add(1, Relaxed);
        Some(Step::Shrunk {
            region: Arc::downgrade(self),
        })
    }

    /// The steps of a shrink are done: with none pending any more, walks look at its size.
    pub fn shrink_done(&self) {
        if self.shrinks_pending.fetch_sub(1, Relaxed) == 1 {
            self.extent.store(self.size.load(Relaxed), Relaxed);
        }
    }

    /// The end of the addresses walks look at (see `extent`).
    pub fn extent_end(&self) -> u64 {
        self.start + self.extent.load(Relaxed)
    }

    /// The step that removes what its mappings derived from what it exported in `old` and
    /// exports no more, if anything.
    fn removed_since(self: &Arc<Region>, old: PageRange) -> Vec<Step> {
        let size = self.size.load(Relaxed);
        PageRange::new(self.start + size, old.size().saturating_sub(size))
            .map(|removed| self.above(removed))
            .into_iter()
            .collect()
    }

    /// The step that removes what its mappings derived from `changed`.
    fn above(self: &Arc<Region>, changed: PageRange) -> Step {
        Step::Above {
            region: Arc::downgrade(self),
            changed,
            depth: 0,
            below: self.mappings.lock().len(),
        }
    }

    /// Whether the region may export `size` bytes from its start.
    fn check_resize(&self, size: u64) -> Result<(), Error> {
        if self.destroyed.load(Relaxed) {
            return Err(Error::InvalidState);
        }
        let new = PageRange::new(self.start, size)?;
        let space = self.space.upgrade().ok_or(Error::InvalidState)?;
        if size > self.range().size() && space.other_region_overlaps(&new, self) {
            return Err(Error::Overlaps);
        }
        Ok(())
    }

    /// Its keeper, if it has one that still exists.
    pub fn keeper(&self) -> Option<Arc<Port>> {
        self.keeper.lock().as_ref().and_then(Weak::upgrade)
    }

    /// Replaces its size, rights and keeper together (`RegionSetState`), or nothing when the
    /// size is refused. The entries derived through its mappings that the change makes wrong
    /// must go, to refill with the new rights from what it still exports: the work to queue on
    /// its space, if any.
    pub fn set_state(
        self: &Arc<Region>,
        size: u64,
        rights: MemoryRights,
        keeper: Option<&Arc<Port>>,
    ) -> Result<Vec<Step>, Error> {
        let old = self.range();
        self.check_resize(size)?;
        let shrunk = self.set_size(size, old);
        let former = self.rights.swap(rights.bits(), Relaxed);
        *self.keeper.lock() = keeper.map(Arc::downgrade);
        // New rights reach every entry derived through it; a smaller size, those it no longer
        // exports; a larger one or a new keeper, none.
        let work = if former != rights.bits() {
            vec![self.above(old)]
        } else {
            self.removed_since(old)
        };
        Ok(shrunk.into_iter().chain(work).collect())
    }

    /// The widest rights a mapping of it may grant.
    pub fn rights(&self) -> MemoryRights {
        MemoryRights::from_bits_truncate(self.rights.load(Relaxed))
    }

    /// Changes the region's rights; every entry derived through its mappings must go, to
    /// refill with the new rights: the work to queue on its space, if the rights changed.
    pub fn protect(self: &Arc<Region>, rights: MemoryRights) -> Vec<Step> {
        let former = self.rights.swap(rights.bits(), Relaxed);
        if former == rights.bits() {
            return Vec::new();
        }
        vec![self.above(self.range())]
    }

    /// One of its handles was closed: the last one destroys it, without preemption.
    pub fn handle_closed(self: &Arc<Region>) {
        invalidation::finish(self.handle_released());
    }

    /// One of its handles was closed: the work that destroys it, if that was the last one.
    pub fn handle_released(self: &Arc<Region>) -> Vec<Step> {
        if self.handles.fetch_sub(1, Relaxed) == 1 {
            self.begin_destroy()
        } else {
            Vec::new()
        }
    }

    /// Destroys the region, without preemption: every mapping of it goes, with every entry
    /// derived through them (nothing, if it was destroyed already: the call that did goes on
    /// with its work).
    pub fn destroy(self: &Arc<Region>) {
        invalidation::finish(self.begin_destroy());
    }

    /// Marks the region destroyed (no new mapping of it may be made, and fault walks end at
    /// it): the work that destroys its mappings and then takes it out of its space, to queue
    /// on its space; none if it was destroyed already.
    pub fn begin_destroy(self: &Arc<Region>) -> Vec<Step> {
        if self.destroyed.swap(true, Relaxed) {
            return Vec::new();
        }
        self.destroy_steps()
    }

    /// The steps that destroy its mappings and then take it out of its space, whether it was
    /// destroyed already or not (the steps that did it may wait on another space's list; doing
    /// them again is harmless): for a space that goes, which must not leave anything derived
    /// from its memory behind.
    pub fn destroy_steps(self: &Arc<Region>) -> Vec<Step> {
        self.destroyed.store(true, Relaxed);
        vec![
            Step::RemoveRegion {
                region: Arc::downgrade(self),
            },
            Step::DestroyMappings {
                region: Arc::downgrade(self),
                below: self.mappings.lock().len(),
            },
        ]
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Some(payer) = self.payer.upgrade() {
            payer.release(OBJECT_COST);
        }
    }
}

impl Mapping {
    /// Shows `window` of `region` in `target`, charged to `payer`. The window's range must not
    /// overlap another mapping of `target` nor pages `target` holds itself.
    pub fn create(
        payer: &Arc<Space>,
        target: &Arc<Space>,
        region: Arc<Region>,
        window: Window,
    ) -> Result<Arc<Mapping>, Error> {
        if region.destroyed.load(Relaxed) {
            return Err(Error::InvalidState);
        }
        payer.charge(OBJECT_COST)?;
        let mapping = Arc::new(Mapping {
            id: crate::object::new_object_id(),
            space: Arc::downgrade(target),
            rights: AtomicU64::new(window.rights.bits()),
            window: Lock::new(window),
            moved_from: Lock::new(None),
            region: region.clone(),
            index_in_region: AtomicUsize::new(0),
            destroyed: AtomicBool::new(false),
            payer: Arc::downgrade(payer),
        });
        target.add_mapping(mapping.clone())?;
        let mut listed = region.mappings.lock();
        mapping.index_in_region.store(listed.len(), Relaxed);
        listed.push(Arc::downgrade(&mapping));
        drop(listed);
        Ok(mapping)
    }

    /// Whether it was destroyed.
    pub fn is_destroyed(&self) -> bool {
        self.destroyed.load(Relaxed)
    }

    /// Where it is and what it shows.
    pub fn window(&self) -> Window {
        *self.window.lock()
    }

    /// Shows the same memory at `address` instead: the new range must be free in its space,
    /// and the old range's entries, with what was derived from them, go: the work to queue on
    /// its space.
    pub fn move_to(self: &Arc<Mapping>, address: u64) -> Result<Vec<Step>, Error> {
        self.place(address, None)
    }

    /// The rights it grants now.
    pub fn rights(&self) -> MemoryRights {
        MemoryRights::from_bits_truncate(self.rights.load(Relaxed))
    }

    /// Changes the rights it grants, which may exceed neither its region's nor those it was
    /// made with; its entries must go, to refill with the new rights: the work to queue on its
    /// space, if the rights changed.
    pub fn protect(&self, rights: MemoryRights) -> Result<Vec<Step>, Error> {
        self.check_rights(rights)?;
        // Rights it has already need nothing (a re-issued call finds its change made).
        if self.rights.swap(rights.bits(), Relaxed) == rights.bits() {
            return Ok(Vec::new());
        }
        Ok(self
            .space
            .upgrade()
            .map(|space| unmap_step(&space, self.window().range))
            .into_iter()
            .collect())
    }

    fn check_rights(&self, rights: MemoryRights) -> Result<(), Error> {
        if !self.region.rights().contains(rights) || !self.window().rights.contains(rights) {
            return Err(Error::MissingRights);
        }
        Ok(())
    }

    /// Moves it to `address` and gives it `rights` together (`MappingSetState`), or changes
    /// nothing when either is refused: the new range must be free in its space, the rights
    /// within its region's and those it was made with. The old range's entries go, with what
    /// was derived from them: the work to queue on its space.
    pub fn set_state(
        self: &Arc<Mapping>,
        address: u64,
        rights: MemoryRights,
    ) -> Result<Vec<Step>, Error> {
        self.place(address, Some(rights))
    }

    /// [`set_state`](Self::set_state), or only the move without new rights (which the
    /// mapping keeps even where its region narrowed since).
    fn place(
        self: &Arc<Mapping>,
        address: u64,
        rights: Option<MemoryRights>,
    ) -> Result<Vec<Step>, Error> {
        if self.is_destroyed() {
            return Err(Error::InvalidState);
        }
        let space = self.space.upgrade().ok_or(Error::InvalidState)?;
        let old = self.window();
        let range = PageRange::new(address, old.range.size())?;
        if let Some(rights) = rights {
            self.check_rights(rights)?;
        }
        if range != old.range {
            // The work of its last move is done: the caller finished its space's list first
            // (and nothing ran since), so a mapping is never between more than two windows.
            // Were it not, the older window's entries would go here, at once, rather than be
            // left where no revocation reaches them.
            let older = self.moved_from.lock().take();
            if let Some(older) = older {
                invalidation::finish(vec![unmap_step(&space, older.range)]);
            }
            // Where the new range meets the old one, the entries are this mapping's own cache,
            // about to go: only the rest must be free. Until its step removes them, a thread
            // of the space may still reach the old layout there, as if it ran before the call
            // (which has not returned), and a revocation from below reaches them through the
            // old window.
            space.check_free_for_mapping(&range, self, Some(&old.range))?;
            space.refile_mapping(old.range.start(), range.start());
            *self.moved_from.lock() = Some(old);
            self.window.lock().range = range;
        }
        if let Some(rights) = rights {
            self.rights.store(rights.bits(), Relaxed);
        }
        // The step that forgets the old window runs after the unmap and all it queues (the
        // last step of the list runs first). For new rights alone the old window is the one
        // it shows, which it forgets only if it moved since.
        let moved = Step::MoveDone {
            mapping: Arc::downgrade(self),
            from: old,
        };
        Ok(vec![moved, unmap_step(&space, old.range)])
    }

    /// The entries its move from window `from` left there are gone: only the window it shows
    /// reaches its entries now (unless it moved again since, from another window).
    pub fn move_done(&self, from: Window) {
        let mut moved_from = self.moved_from.lock();
        if *moved_from == Some(from) {
            *moved_from = None;
        }
    }

    /// The part of each window it may have entries through (the one it shows, and the one it
    /// showed before a move whose work is pending) that shows `changed`, a range of its
    /// region's space: what a revocation of `changed` must remove in its own space.
    pub fn affected_by(&self, changed: &PageRange) -> [Option<PageRange>; 2] {
        let moved_from = *self.moved_from.lock();
        [
            self.window().affected_by(changed),
            moved_from.and_then(|window| window.affected_by(changed)),
        ]
    }

    /// Destroys the mapping, without preemption: its entries go, with everything derived from
    /// them above.
    pub fn destroy(self: &Arc<Mapping>) {
        invalidation::finish(self.end());
    }

    /// Marks the mapping destroyed and takes it out of its space (fault walks no longer find
    /// it): the work that removes its entries and everything derived from them, and then takes
    /// it out of its region's list, to queue on its space; none if it was destroyed already.
    /// Until then, a revocation of the region's memory still reaches what derives through it.
    pub fn end(self: &Arc<Mapping>) -> Vec<Step> {
        if self.is_destroyed() {
            // Its steps may wait on another list: its entries are removed here too, so that
            // none outlives this call.
            return self.end_with_its_region().into_iter().flatten().collect();
        }
        let forget = Step::Forget {
            mapping: self.clone(),
        };
        [forget]
            .into_iter()
            .chain(self.end_with_its_region().into_iter().flatten())
            .collect()
    }

    /// [`end`](Self::end) for a mapping whose region is being destroyed, whose list goes
    /// whole once all its mappings' steps are done: the step that removes its entries (also
    /// for a mapping destroyed already, whose own steps may still wait elsewhere), if its
    /// space is still there.
    pub fn end_with_its_region(&self) -> [Option<Step>; 2] {
        let space = self.space.upgrade();
        if !self.destroyed.swap(true, Relaxed)
            && let Some(space) = &space
        {
            space.remove_mapping(self);
        }
        let Some(space) = space else {
            return [None, None];
        };
        // A move whose work is pending left entries in its old window too.
        let moved_from = *self.moved_from.lock();
        [Some(self.window()), moved_from]
            .map(|window| window.map(|window| unmap_step(&space, window.range)))
    }

    /// Takes the mapping, destroyed and with nothing derived through it any more, out of its
    /// region's list, in one step: the last mapping of the list takes its place. (Walks of
    /// the list go from the last index down, so a mapping moved down is only visited twice.)
    pub fn forget(&self) {
        let mut listed = self.region.mappings.lock();
        let index = self.index_in_region.load(Relaxed);
        // The list was emptied whole meanwhile (its region was destroyed), or this is not in it.
        if !listed
            .get(index)
            .is_some_and(|entry| core::ptr::eq(entry.as_ptr(), self))
        {
            return;
        }
        listed.swap_remove(index);
        let moved = listed.get(index).and_then(Weak::upgrade);
        drop(listed);
        if let Some(moved) = moved {
            moved.index_in_region.store(index, Relaxed);
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if let Some(payer) = self.payer.upgrade() {
            payer.release(OBJECT_COST);
        }
    }
}
