//! Physical memory: the frame allocator, the kernel's page tables and its heap.

pub mod frames;

use crate::arch::boot::BootInformation;
use crate::arch::lock::Lock;
use crate::arch::{heap, paging, physical};
use frames::FrameAllocator;

/// The kernel heap's size: kernel objects live here until per-space quotas arrive.
const HEAP_SIZE: u64 = 40 << 20;
/// Below this the PC keeps firmware data and the loader its boot information.
const LOW_MEMORY_END: u64 = 1 << 20;

static FRAMES: Lock<Option<FrameAllocator>> = Lock::new(None);
static KERNEL_ROOT_TABLE: spin::Once<u64> = spin::Once::new();

struct GlobalFrames;

impl paging::TableFrameSource for GlobalFrames {
    fn table_frame(&mut self) -> Option<u64> {
        allocate_frame()
    }
}

/// A frame source for page tables: the global allocator.
pub fn table_frames() -> impl paging::TableFrameSource {
    GlobalFrames
}

/// What an object of `bytes` really takes from the heap, and so what its quota is charged: the
/// buddy allocator hands out power-of-two blocks, and an `Arc` adds two counters.
pub const fn heap_cost(bytes: usize) -> u64 {
    (bytes + 16).next_power_of_two() as u64
}

/// One free frame, not zeroed.
pub fn allocate_frame() -> Option<u64> {
    FRAMES.lock().as_mut()?.allocate()
}

/// Returns a frame to the allocator.
pub fn free_frame(frame: u64) {
    if let Some(allocator) = FRAMES.lock().as_mut() {
        allocator.free(frame);
    }
}

/// How many frames are free.
pub fn free_frame_count() -> u64 {
    FRAMES
        .lock()
        .as_ref()
        .map_or(0, FrameAllocator::free_frames)
}

/// The root page table of the kernel's own address space.
pub fn kernel_root_table() -> u64 {
    *KERNEL_ROOT_TABLE.get().expect("memory is not initialized")
}

/// Takes over physical memory: builds the frame allocator from the loader's memory map
/// (keeping out the kernel image and the boot file system), switches to the kernel's page
/// tables and creates the heap. Returns the boot file system's bytes and physical address.
pub fn initialize(information: &BootInformation) -> (&'static [u8], u64) {
    let (image_start, image_end) = physical::kernel_image_range();
    let initrd = information.initrd.unwrap_or((0, 0));
    let reserved = [
        (0, LOW_MEMORY_END),
        (image_start, image_end),
        (initrd.0, initrd.0 + initrd.1),
    ];
    let usable = information
        .memory_map()
        .iter()
        .filter(|range| range.usable)
        .map(|range| (range.start, range.start + range.size));
    let mut allocator = FrameAllocator::new(usable.clone(), &reserved);
    let heap_start = allocator
        .allocate_contiguous(HEAP_SIZE)
        .expect("not enough contiguous memory for the kernel heap");
    *FRAMES.lock() = Some(allocator);
    let mut direct_map = usable.chain([(initrd.0, initrd.0 + initrd.1)]);
    let root = paging::build_kernel_tables(
        &mut GlobalFrames,
        &mut direct_map,
        &[crate::arch::apic::PHYSICAL_BASE],
    );
    KERNEL_ROOT_TABLE.call_once(|| root);
    heap::install(physical::direct_map(heap_start), HEAP_SIZE as usize);
    let free = FRAMES
        .lock()
        .as_ref()
        .map_or(0, FrameAllocator::free_frames);
    log::info!(
        "memory: {} MiB free, kernel image {:#x}-{:#x}, heap {} MiB",
        (free * physical::FRAME_SIZE) >> 20,
        image_start,
        image_end,
        HEAP_SIZE >> 20
    );
    (physical::read_only_slice(initrd.0, initrd.1), initrd.0)
}
