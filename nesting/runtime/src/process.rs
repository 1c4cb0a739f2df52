//! The program's own handles, as the kernel gave them to its first thread, and for the root
//! program its RAM and boot files.

use abi::Handle;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

static OWN_SPACE: AtomicU64 = AtomicU64::new(0);
static FIRST_THREAD: AtomicU64 = AtomicU64::new(0);
static RAM_SIZE: AtomicU64 = AtomicU64::new(0);
static BOOT_FILES_SIZE: AtomicU64 = AtomicU64::new(0);

/// Called once by the entry point with what the first thread found in its registers.
pub(crate) fn record_start(space: u64, thread: u64, ram_size: u64, boot_files_size: u64) {
    OWN_SPACE.store(space, Relaxed);
    FIRST_THREAD.store(thread, Relaxed);
    RAM_SIZE.store(ram_size, Relaxed);
    BOOT_FILES_SIZE.store(boot_files_size, Relaxed);
}

/// The root program's RAM window (`abi::root`): its start and size; the size is 0 in other
/// programs (a child that runs the root's own image through a mapping shares these values,
/// not the memory). Pages there get zeroed frames of their own when first touched.
pub fn ram() -> (u64, u64) {
    (abi::root::RAM_START, RAM_SIZE.load(Relaxed))
}

/// The root program's boot file system (read-only); empty in other programs (with the same
/// caveat as [`ram`]).
pub fn boot_files() -> &'static [u8] {
    crate::arch::entry::boot_files(BOOT_FILES_SIZE.load(Relaxed))
}

/// A handle to the program's own space, with every right.
pub fn own_space() -> Handle {
    Handle::from_raw(OWN_SPACE.load(Relaxed))
}

/// A handle to the program's first thread, with every right.
pub fn first_thread() -> Handle {
    Handle::from_raw(FIRST_THREAD.load(Relaxed))
}
