//! Capabilities, as pure data structures the kernel instantiates with its object type: the
//! per-space [`HandleTable`] and the kernel-memory [`Quota`]. No hardware and no escape from the
//! compiler's memory-safety checks: every rule is tested on the host.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod quota;
mod segmented;
mod table;

pub use quota::Quota;
pub use table::{HandleTable, SLOT_COST};
