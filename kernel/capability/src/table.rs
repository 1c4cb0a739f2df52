//! The handle table of one space: slots holding an object reference and the rights it carries.
//!
//! A handle is a slot index plus that slot's generation; closing a slot bumps its generation,
//! so an old handle to a reused slot is refused as stale rather than naming the new object.
//! Slot 0 is never used, so the raw value 0 is never a valid handle.
//!
//! A restored space gets its handles back at their former values ([`HandleTable::insert_at`]):
//! a program keeps handle values in its memory. A slot placed that way may still sit in the
//! free list; `insert` skips it when it meets it, so placing costs no walk of the list.

use crate::segmented::SegmentedVec;
use abi::{Error, Handle, Rights};
use alloc::vec::Vec;

/// Kernel memory one slot costs its space's quota (charged when the table grows by a slot):
/// a slot takes at most 32 bytes, and the table may hold room for twice as many as it uses.
pub const SLOT_COST: u64 = 64;

/// How far past the table's end a placed handle may lie: a restorer places handles in order,
/// so the table grows a few slots per call, in bounded time.
pub const PLACEMENT_REACH: usize = 64;

/// Set in a slot's `next_free` while the slot is in the free list. Slot indices stay below it
/// (a table of 2^31 slots would take 64 GiB).
const LISTED: u32 = 1 << 31;

struct Slot<T> {
    generation: u32,
    /// While the slot is in the free list: [`LISTED`] and the next slot of the list (0 for
    /// none: slot 0 is never used).
    next_free: u32,
    entry: Option<(T, Rights)>,
}

/// A space's handles. Its slots never move, so inserting a handle costs at most one
/// allocation however large the table is; the free slots form a list through themselves.
pub struct HandleTable<T> {
    slots: SegmentedVec<Slot<T>>,
    /// The most recently freed slot (0 for none).
    free: u32,
    live: usize,
}

impl<T> Default for HandleTable<T> {
    fn default() -> Self {
        HandleTable::new()
    }
}

impl<T> HandleTable<T> {
    /// An empty table.
    pub const fn new() -> HandleTable<T> {
        HandleTable {
            slots: SegmentedVec::new(),
            free: 0,
            live: 0,
        }
    }

    /// Whether the next [`insert`](Self::insert) needs a new slot (which costs [`SLOT_COST`]).
    pub fn needs_new_slot(&mut self) -> bool {
        self.skip_placed();
        self.free == 0
    }

    /// Takes the slots placed live since they were freed off the head of the free list.
    fn skip_placed(&mut self) {
        while self.free != 0 {
            let Some(slot) = self.slots.get_mut(self.free as usize) else {
                self.free = 0;
                return;
            };
            if slot.entry.is_none() {
                return;
            }
            self.free = slot.next_free & !LISTED;
            slot.next_free = 0;
        }
    }

    /// How many handles are live.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no handle is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// How many slots exist (live or free).
    pub fn slot_count(&self) -> usize {
        self.slots.len().saturating_sub(1)
    }

    /// Stores an object with rights; returns its handle.
    #[inline]
    pub fn insert(&mut self, object: T, rights: Rights) -> Handle {
        self.skip_placed();
        self.live += 1;
        let index = self.free;
        if let Some(slot) = self.slots.get_mut(index as usize)
            && index != 0
        {
            self.free = slot.next_free & !LISTED;
            slot.next_free = 0;
            slot.entry = Some((object, rights));
            return Handle::new(index, slot.generation);
        }
        if self.slots.is_empty() {
            // Slot 0 stays empty forever, so that 0 is never a handle.
            self.slots.push(Slot {
                generation: 0,
                next_free: 0,
                entry: None,
            });
        }
        let index = self.slots.len() as u32;
        self.slots.push(Slot {
            generation: 1,
            next_free: 0,
            entry: Some((object, rights)),
        });
        Handle::new(index, 1)
    }

    #[inline]
    fn slot(&self, handle: Handle) -> Result<&(T, Rights), Error> {
        match self.slots.get(handle.index() as usize) {
            Some(Slot {
                generation,
                entry: Some(entry),
                ..
            }) if *generation == handle.generation() => Ok(entry),
            _ => Err(Error::BadHandle),
        }
    }

    /// The object a handle names, if the handle is live and carries every right in `needed`.
    #[inline]
    pub fn get(&self, handle: Handle, needed: Rights) -> Result<&T, Error> {
        let (object, rights) = self.slot(handle)?;
        if rights.contains(needed) {
            Ok(object)
        } else {
            Err(Error::MissingRights)
        }
    }

    /// The object and rights of a live handle, unchecked (for callers that check the
    /// object's type before its rights).
    #[inline]
    pub fn entry(&self, handle: Handle) -> Result<(&T, Rights), Error> {
        self.slot(handle).map(|(object, rights)| (object, *rights))
    }

    /// The rights a live handle carries.
    pub fn rights(&self, handle: Handle) -> Result<Rights, Error> {
        self.slot(handle).map(|(_, rights)| *rights)
    }

    /// Closes a handle, returning what it held.
    #[inline]
    pub fn remove(&mut self, handle: Handle) -> Result<(T, Rights), Error> {
        self.slot(handle)?;
        let slot = self
            .slots
            .get_mut(handle.index() as usize)
            .ok_or(Error::BadHandle)?;
        let entry = slot.entry.take().ok_or(Error::BadHandle)?;
        // Generation 0 is skipped so a handle's raw value is never 0.
        slot.generation = slot.generation.wrapping_add(1).max(1);
        // A slot placed while it was listed is in the list still.
        if slot.next_free & LISTED == 0 {
            slot.next_free = self.free | LISTED;
            self.free = handle.index();
        }
        self.live -= 1;
        Ok(entry)
    }

    /// How many new slots placing an object at `handle` ([`insert_at`](Self::insert_at))
    /// would make: `InvalidArgument` for slot 0, generation 0, or a slot more than
    /// [`PLACEMENT_REACH`] past the end; `Overlaps` if the slot is live.
    pub fn placement_cost(&self, handle: Handle) -> Result<usize, Error> {
        let index = handle.index() as usize;
        let length = self.slots.len().max(1);
        if index == 0 || handle.generation() == 0 || index >= length + PLACEMENT_REACH {
            return Err(Error::InvalidArgument);
        }
        match self.slots.get(index) {
            Some(slot) if slot.entry.is_some() => Err(Error::Overlaps),
            Some(_) => Ok(0),
            None => Ok(index + 1 - length),
        }
    }

    /// Stores an object at exactly `handle`, its slot and generation (see
    /// [`placement_cost`](Self::placement_cost) for what is refused), growing the table to
    /// reach it: a restored space gets its handles back at their former values.
    pub fn insert_at(&mut self, handle: Handle, object: T, rights: Rights) -> Result<(), Error> {
        self.placement_cost(handle)?;
        if self.slots.is_empty() {
            self.slots.push(Slot {
                generation: 0,
                next_free: 0,
                entry: None,
            });
        }
        let index = handle.index() as usize;
        while self.slots.len() <= index {
            let new = self.slots.len() as u32;
            self.slots.push(Slot {
                generation: 1,
                next_free: self.free | LISTED,
                entry: None,
            });
            self.free = new;
        }
        let slot = self.slots.get_mut(index).ok_or(Error::InvalidArgument)?;
        slot.generation = handle.generation();
        // If the slot is listed, it stays so, live: `insert` skips it when it meets it.
        slot.entry = Some((object, rights));
        self.live += 1;
        Ok(())
    }

    /// The first live handle at slot `index` or after, with its object and rights.
    pub fn next_live(&self, index: u32) -> Option<(Handle, &T, Rights)> {
        let length = self.slots.len();
        (index.max(1) as usize..length).find_map(|at| {
            let slot = self.slots.get(at)?;
            let (object, rights) = slot.entry.as_ref()?;
            Some((Handle::new(at as u32, slot.generation), object, *rights))
        })
    }

    /// One step of emptying the table, in bounded time: drops the last slot, and at most
    /// fifteen free ones before it, returning the object a live one held. `None` once the
    /// table is empty; `Some(None)` after a step that met free slots only. For destroying a
    /// space piece by piece, with preemption points between the steps.
    pub fn take_last(&mut self) -> Option<Option<T>> {
        // The free list may run through the slots that go: a later insertion makes new ones.
        self.free = 0;
        for _ in 0..16 {
            let slot = self.slots.pop_and_shrink()?;
            if let Some((object, _)) = slot.entry {
                self.live -= 1;
                return Some(Some(object));
            }
        }
        Some(None)
    }

    /// Takes every object out, leaving an empty table (for destroying a space).
    pub fn drain(&mut self) -> Vec<T> {
        let mut objects = Vec::new();
        while let Some(step) = self.take_last() {
            objects.extend(step);
        }
        objects
    }
}

impl<T: Clone> HandleTable<T> {
    /// Checks that `handle` may be duplicated with `rights` (it carries DUPLICATE and every
    /// requested right) and returns the object to insert again.
    pub fn duplicable(&self, handle: Handle, rights: Rights) -> Result<T, Error> {
        let (object, held) = self.slot(handle)?;
        if !held.contains(Rights::DUPLICATE) || !held.contains(rights) {
            return Err(Error::MissingRights);
        }
        Ok(object.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_name_their_objects_until_closed() {
        let mut table = HandleTable::new();
        let a = table.insert('a', Rights::all());
        let b = table.insert('b', Rights::READ_STATE);
        assert_ne!(a.raw(), 0);
        assert_eq!(table.get(a, Rights::CONTROL), Ok(&'a'));
        assert_eq!(table.get(b, Rights::READ_STATE), Ok(&'b'));
        assert_eq!(table.len(), 2);
        assert_eq!(table.remove(a), Ok(('a', Rights::all())));
        assert_eq!(table.get(a, Rights::empty()), Err(Error::BadHandle));
        assert_eq!(table.remove(a), Err(Error::BadHandle));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_reused_slot_does_not_answer_to_the_old_handle() {
        let mut table = HandleTable::new();
        let old = table.insert(1, Rights::all());
        table.remove(old).unwrap();
        assert!(!table.needs_new_slot());
        let new = table.insert(2, Rights::all());
        assert_eq!(new.index(), old.index());
        assert_ne!(new.generation(), old.generation());
        assert_eq!(table.get(old, Rights::empty()), Err(Error::BadHandle));
        assert_eq!(table.get(new, Rights::empty()), Ok(&2));
        assert_eq!(table.slot_count(), 1);
    }

    #[test]
    fn taking_the_last_handles_one_by_one_empties_the_table() {
        let mut table = HandleTable::new();
        let handles: Vec<Handle> = (0..5)
            .map(|value| table.insert(value, Rights::all()))
            .collect();
        table.remove(handles[4]).unwrap();
        table.remove(handles[1]).unwrap();
        assert_eq!(table.take_last(), Some(Some(3)));
        assert_eq!(table.take_last(), Some(Some(2)));
        assert_eq!(table.take_last(), Some(Some(0)));
        assert_eq!(table.take_last(), None);
        assert!(table.is_empty());
        // Slots freed before were dropped with the rest; a new handle gets a fresh one.
        let fresh = table.insert(9, Rights::all());
        assert_eq!(table.get(fresh, Rights::empty()), Ok(&9));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_step_of_emptying_meets_at_most_sixteen_slots() {
        let mut table = HandleTable::new();
        let handles: Vec<Handle> = (0..40)
            .map(|value| table.insert(value, Rights::all()))
            .collect();
        for handle in &handles[1..] {
            table.remove(*handle).unwrap();
        }
        // 39 free slots after the live one: three steps of free slots, then the object.
        assert_eq!(table.take_last(), Some(None));
        assert_eq!(table.take_last(), Some(None));
        assert_eq!(table.take_last(), Some(Some(0)));
        assert_eq!(table.take_last(), None);
    }

    #[test]
    fn generations_never_produce_handle_zero() {
        let mut table = HandleTable::new();
        let mut handle = table.insert(0u8, Rights::all());
        for _ in 0..1000 {
            table.remove(handle).unwrap();
            handle = table.insert(0u8, Rights::all());
            assert_ne!(handle.generation(), 0);
        }
        assert_eq!(
            table.get(Handle::NONE, Rights::empty()),
            Err(Error::BadHandle)
        );
    }

    #[test]
    fn rights_are_checked_and_never_widened() {
        let mut table = HandleTable::new();
        let full = table.insert("object", Rights::DUPLICATE | Rights::READ_STATE);
        assert_eq!(table.get(full, Rights::CONTROL), Err(Error::MissingRights));
        assert_eq!(table.duplicable(full, Rights::READ_STATE), Ok("object"));
        assert_eq!(
            table.duplicable(full, Rights::CONTROL),
            Err(Error::MissingRights)
        );
        let weak = table.insert("object", Rights::READ_STATE);
        assert_eq!(
            table.duplicable(weak, Rights::READ_STATE),
            Err(Error::MissingRights)
        );
        assert_eq!(table.rights(weak), Ok(Rights::READ_STATE));
    }

    #[test]
    fn garbage_handles_are_refused() {
        let mut table = HandleTable::new();
        table.insert((), Rights::all());
        for raw in [0, 2, u64::MAX, 1 << 40, Handle::new(1, 7).raw()] {
            assert_eq!(
                table.get(Handle::from_raw(raw), Rights::empty()),
                Err(Error::BadHandle)
            );
        }
    }

    #[test]
    fn placed_handles_keep_their_values_and_are_never_handed_out_twice() {
        let mut table = HandleTable::new();
        let first = table.insert('a', Rights::all());
        let second = table.insert('b', Rights::all());
        table.remove(first).unwrap();
        table.remove(second).unwrap();
        // Both slots are free and listed; one is placed, then freed and placed again.
        let placed = Handle::new(first.index(), 40);
        assert_eq!(table.placement_cost(placed), Ok(0));
        table.insert_at(placed, 'p', Rights::READ_STATE).unwrap();
        assert_eq!(table.get(placed, Rights::READ_STATE), Ok(&'p'));
        assert_eq!(table.placement_cost(placed), Err(Error::Overlaps));
        assert_eq!(
            table.insert_at(placed, 'q', Rights::all()),
            Err(Error::Overlaps)
        );
        table.remove(placed).unwrap();
        table
            .insert_at(Handle::new(first.index(), 41), 'r', Rights::all())
            .unwrap();
        // Inserting hands out the one free slot, then new ones: never the live placed one,
        // though it is still in the free list (twice over).
        for value in ['w', 'x', 'y', 'z'] {
            let handle = table.insert(value, Rights::all());
            assert_ne!(handle.index(), first.index());
            assert_eq!(table.get(handle, Rights::empty()), Ok(&value));
        }
        assert_eq!(
            table.get(Handle::new(first.index(), 41), Rights::empty()),
            Ok(&'r')
        );
        assert_eq!(table.len(), 5);
        let mut indices: Vec<u32> = (1..10)
            .filter_map(|index| table.next_live(index))
            .map(|(handle, _, _)| handle.index())
            .collect();
        indices.dedup();
        assert_eq!(indices.len(), 5, "{indices:?}");
    }

    #[test]
    fn placing_past_the_end_grows_the_table_by_a_bounded_amount() {
        let mut table: HandleTable<u8> = HandleTable::new();
        assert_eq!(
            table.placement_cost(Handle::new(0, 1)),
            Err(Error::InvalidArgument)
        );
        assert_eq!(
            table.placement_cost(Handle::new(3, 0)),
            Err(Error::InvalidArgument)
        );
        let far = Handle::new(PLACEMENT_REACH as u32 + 1, 1);
        assert_eq!(table.placement_cost(far), Err(Error::InvalidArgument));
        let near = Handle::new(5, 9);
        assert_eq!(table.placement_cost(near), Ok(5));
        table.insert_at(near, 5, Rights::all()).unwrap();
        assert_eq!(table.slot_count(), 5);
        // The slots made on the way are free, and inserting uses them first.
        assert!(!table.needs_new_slot());
        for _ in 0..4 {
            let handle = table.insert(0, Rights::all());
            assert!(handle.index() < 5);
        }
        assert!(table.needs_new_slot());
        assert_eq!(table.insert(7, Rights::all()).index(), 6);
        assert_eq!(table.next_live(5).map(|(handle, _, _)| handle), Some(near));
        assert_eq!(table.next_live(7), None);
    }

    #[test]
    fn draining_empties_the_table() {
        let mut table = HandleTable::new();
        let first = table.insert(1, Rights::all());
        table.insert(2, Rights::all());
        let mut objects = table.drain();
        objects.sort();
        assert_eq!(objects, [1, 2]);
        assert!(table.is_empty());
        assert_eq!(table.get(first, Rights::empty()), Err(Error::BadHandle));
    }
}
