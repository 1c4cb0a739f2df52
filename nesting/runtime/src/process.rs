//! The program's own handles, as the kernel gave them to its first thread.

use abi::Handle;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

static OWN_SPACE: AtomicU64 = AtomicU64::new(0);
static FIRST_THREAD: AtomicU64 = AtomicU64::new(0);

/// Called once by the entry point.
pub(crate) fn record_start_handles(space: u64, thread: u64) {
    OWN_SPACE.store(space, Relaxed);
    FIRST_THREAD.store(thread, Relaxed);
}

/// A handle to the program's own space, with every right.
pub fn own_space() -> Handle {
    Handle::from_raw(OWN_SPACE.load(Relaxed))
}

/// A handle to the program's first thread, with every right.
pub fn first_thread() -> Handle {
    Handle::from_raw(FIRST_THREAD.load(Relaxed))
}
