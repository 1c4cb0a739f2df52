//! Access to physical memory: through the boot identity map before the kernel's own page
//! tables exist, and through the direct map of all RAM at [`DIRECT_MAP_BASE`] afterwards.

/// Where the direct map of physical memory starts: physical address `p` is at
/// `DIRECT_MAP_BASE + p` in every address space.
pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;

/// The size of a page frame.
pub const FRAME_SIZE: u64 = 4096;

/// The kernel image's virtual-minus-physical offset (see `linker.ld`).
pub const KERNEL_VIRTUAL_OFFSET: u64 = 0xffff_ffff_8000_0000;

/// The highest physical address (exclusive) the boot identity map covers.
const BOOT_IDENTITY_LIMIT: u64 = 1 << 30;

fn boot_pointer<T>(address: u64) -> *const T {
    assert!(
        address
            .checked_add(size_of::<T>() as u64)
            .is_some_and(|end| end <= BOOT_IDENTITY_LIMIT),
        "boot information at {address:#x} lies beyond the boot identity map"
    );
    address as *const T
}

/// Reads a byte of low physical memory while the boot identity map is active.
pub fn read_boot_u8(address: u64) -> u8 {
    // SAFETY: the boot stub identity-maps the first GiB (checked by `boot_pointer`) and the
    // kernel has not yet switched page tables when it reads the boot information.
    unsafe { boot_pointer::<u8>(address).read_volatile() }
}

/// Reads a 32-bit word of low physical memory while the boot identity map is active.
pub fn read_boot_u32(address: u64) -> u32 {
    // SAFETY: as in `read_boot_u8`; unaligned reads are allowed on x86.
    unsafe { boot_pointer::<u32>(address).read_unaligned() }
}

/// Reads a 64-bit word of low physical memory while the boot identity map is active.
pub fn read_boot_u64(address: u64) -> u64 {
    // SAFETY: as in `read_boot_u8`.
    unsafe { boot_pointer::<u64>(address).read_unaligned() }
}

/// The direct-map virtual address of a physical address.
pub const fn direct_map(physical: u64) -> u64 {
    DIRECT_MAP_BASE + physical
}

fn frame_pointer(frame: u64) -> *mut u8 {
    assert!(
        frame.is_multiple_of(FRAME_SIZE),
        "frame address {frame:#x} is not page-aligned"
    );
    direct_map(frame) as *mut u8
}

/// Fills a page frame with zeroes.
pub fn zero_frame(frame: u64) {
    // SAFETY: the frame is RAM covered by the direct map, and the caller owns it (it came
    // from the frame allocator), so no reference to its contents exists.
    unsafe { frame_pointer(frame).write_bytes(0, FRAME_SIZE as usize) }
}

/// Copies `bytes` into a page frame at `offset`.
pub fn write_frame(frame: u64, offset: usize, bytes: &[u8]) {
    assert!(
        offset + bytes.len() <= FRAME_SIZE as usize,
        "write past the end of a frame"
    );
    // SAFETY: bounds are checked above; the frame is owned RAM under the direct map and does
    // not overlap `bytes`, which is kernel memory the caller holds a reference to.
    unsafe {
        core::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            frame_pointer(frame).add(offset),
            bytes.len(),
        )
    }
}

/// Copies `length` bytes between two physical ranges, each within one page frame (they may be
/// the same frame, and may overlap).
pub fn copy_physical(source: u64, destination: u64, length: usize) {
    let within_frame = |address: u64| address % FRAME_SIZE + length as u64 <= FRAME_SIZE;
    assert!(
        within_frame(source) && within_frame(destination),
        "physical copy crosses a frame boundary"
    );
    // SAFETY: both ranges lie within single frames of RAM under the direct map (the callers
    // pass translations of user pages, which map RAM frames only); `copy` allows overlap.
    unsafe {
        core::ptr::copy(
            direct_map(source) as *const u8,
            direct_map(destination) as *mut u8,
            length,
        )
    }
}

/// Reads the 64-bit word at `offset` of a page frame.
pub fn read_frame_u64(frame: u64, offset: usize) -> u64 {
    assert!(offset + 8 <= FRAME_SIZE as usize && offset.is_multiple_of(8));
    // SAFETY: aligned, in bounds, RAM under the direct map.
    unsafe { frame_pointer(frame).add(offset).cast::<u64>().read() }
}

/// Writes the 64-bit word at `offset` of a page frame.
pub fn write_frame_u64(frame: u64, offset: usize, value: u64) {
    assert!(offset + 8 <= FRAME_SIZE as usize && offset.is_multiple_of(8));
    // SAFETY: aligned, in bounds, owned RAM under the direct map.
    unsafe { frame_pointer(frame).add(offset).cast::<u64>().write(value) }
}

/// A byte slice over physical memory that the kernel keeps for its whole life and never
/// writes, such as the boot file system.
pub fn read_only_slice(start: u64, length: u64) -> &'static [u8] {
    // SAFETY: the caller passes a range of RAM under the direct map that the frame allocator
    // never hands out (the boot file system is reserved at boot), so it is never written.
    unsafe { core::slice::from_raw_parts(direct_map(start) as *const u8, length as usize) }
}

/// The physical address range of the kernel image, from the linker script.
pub fn kernel_image_range() -> (u64, u64) {
    unsafe extern "C" {
        static __kernel_physical_start: u8;
        static __kernel_physical_end: u8;
    }
    let start = &raw const __kernel_physical_start as u64;
    let end = &raw const __kernel_physical_end as u64;
    (start, end)
}
