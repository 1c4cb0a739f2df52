//! The kernel's system-call interface, defined once for the kernel and for user code.
//!
//! Everything both sides must agree on lives here: call numbers and their categories
//! ([`call`]), the register convention ([`registers`]), error codes ([`error`]), handles and
//! rights ([`handle`]), memory rights ([`memory`]), what the root program starts with ([`root`]), the thread state layout ([`state`]), CPU exception vectors as user code
//! sees them in fault reports ([`exception`]) and the specification table ([`spec`]) from
//! which `SPEC.md` beside this crate is generated.
#![no_std]
#![forbid(unsafe_code)]

pub mod call;
pub mod error;
pub mod exception;
pub mod handle;
pub mod keeper;
pub mod memory;
pub mod registers;
pub mod root;
pub mod spec;
pub mod state;

pub use call::{Call, Category};
pub use error::Error;
pub use handle::{Handle, Rights};
