//! A vector that grows without moving what it holds: its elements live in segments of 16,
//! added as it grows and kept when it shrinks (a vector that goes up and down by one, as a
//! handle table's free list does on every call, must not allocate each time). Reaching an
//! element is a shift and a mask; growing copies only the list of segments, a sixteenth of
//! the elements' count in words, where a plain `Vec` copies all of itself when it doubles,
//! which a kernel path that must stay short cannot afford.

use alloc::vec::Vec;

/// Elements per segment (a power of two).
const SEGMENT: usize = 16;

/// A growable sequence whose elements never move.
pub struct SegmentedVec<T> {
    segments: Vec<Vec<T>>,
    len: usize,
}

/// The segment holding `index`, and the index within it.
#[inline(always)]
fn locate(index: usize) -> (usize, usize) {
    (index / SEGMENT, index % SEGMENT)
}

impl<T> SegmentedVec<T> {
    /// An empty vector (allocates nothing).
    pub const fn new() -> SegmentedVec<T> {
        SegmentedVec {
            segments: Vec::new(),
            len: 0,
        }
    }

    /// How many elements it holds.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element at `index`, if there is one.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&T> {
        // No look at `len`: a segment holds exactly the elements of its range that exist (the
        // ones popped left it), so the segment's own bounds say it. (A handle lookup, on every
        // call, is this.)
        let (segment, offset) = locate(index);
        self.segments.get(segment)?.get(offset)
    }

    /// The element at `index`, if there is one, to change.
    #[inline]
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        if index >= self.len {
            return None;
        }
        let (segment, offset) = locate(index);
        self.segments.get_mut(segment)?.get_mut(offset)
    }

    /// Appends an element.
    #[inline]
    pub fn push(&mut self, value: T) {
        let (segment, _) = locate(self.len);
        if segment == self.segments.len() {
            // The new segment gets its whole size now and never grows past it.
            self.segments.push(Vec::with_capacity(SEGMENT));
        }
        if let Some(segment) = self.segments.get_mut(segment) {
            segment.push(value);
            self.len += 1;
        }
    }

    /// Takes the last element out and gives back its segment if that leaves it empty: for
    /// emptying the vector step by step, each step freeing at most one segment.
    pub fn pop_and_shrink(&mut self) -> Option<T> {
        let value = self.pop()?;
        self.segments.truncate(self.len.div_ceil(SEGMENT));
        Some(value)
    }

    /// Takes the last element out (its segment stays, for the next push).
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let (segment, _) = locate(self.len.checked_sub(1)?);
        let value = self.segments.get_mut(segment)?.pop()?;
        self.len -= 1;
        Some(value)
    }
}

impl<T> Default for SegmentedVec<T> {
    fn default() -> Self {
        SegmentedVec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_map_to_segments_of_sixteen() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(15), (0, 15));
        assert_eq!(locate(16), (1, 0));
        assert_eq!(locate(47), (2, 15));
    }

    #[test]
    fn it_behaves_like_a_vector_and_never_moves_an_element() {
        let mut vector = SegmentedVec::new();
        let mut model = Vec::new();
        let mut addresses = Vec::new();
        for value in 0..1000u32 {
            vector.push(value);
            model.push(value);
            addresses.push(vector.get(value as usize).unwrap() as *const u32);
        }
        assert_eq!(vector.len(), 1000);
        for (index, address) in addresses.iter().enumerate() {
            assert_eq!(vector.get(index), Some(&model[index]));
            assert_eq!(vector.get(index).unwrap() as *const u32, *address);
        }
        assert_eq!(vector.get(1000), None);
        *vector.get_mut(500).unwrap() = 7;
        assert_eq!(vector.get(500), Some(&7));
        for _ in 0..990 {
            assert!(vector.pop().is_some());
        }
        assert_eq!(vector.len(), 10);
        assert_eq!(vector.pop(), Some(9));
        while vector.pop().is_some() {}
        assert!(vector.is_empty());
        assert_eq!(vector.pop(), None);
        // The segments stay: going up and down again allocates nothing.
        let segments = vector.segments.len();
        vector.push(3);
        assert_eq!(vector.get(0), Some(&3));
        assert_eq!(vector.segments.len(), segments);
        assert_eq!(vector.get(1), None);
        for value in 0..40 {
            vector.push(value);
        }
        while vector.pop_and_shrink().is_some() {
            assert_eq!(vector.segments.len(), vector.len().div_ceil(SEGMENT));
        }
        assert!(vector.segments.is_empty());
    }
}
