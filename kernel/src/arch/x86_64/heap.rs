//! The kernel heap: a linked-list allocator over a block of the direct map.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hands the allocator its memory: `size` bytes at direct-map address `start`.
pub fn install(start: u64, size: usize) {
    // SAFETY: the caller passes a block of RAM taken from the frame allocator for good, mapped
    // writable in the direct map, and calls this once.
    unsafe { HEAP.lock().init(start as *mut u8, size) }
}
