//! The kernel heap: a buddy allocator over a block of the direct map (constant-time size
//! classes, so the kernel objects created and freed on hot paths cost little).

use buddy_system_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap<32> = LockedHeap::empty();

/// Hands the allocator its memory: `size` bytes at direct-map address `start`.
pub fn install(start: u64, size: usize) {
    // SAFETY: the caller passes a block of RAM taken from the frame allocator for good, mapped
    // writable in the direct map, and calls this once.
    unsafe { HEAP.lock().init(start as usize, size) }
}
