//! The runtime's architecture layer: the only user-side code that may use `unsafe`.
#![allow(unsafe_code)]

pub mod counter;
pub mod entry;
pub mod fault;
pub mod memory;
pub mod probe;
pub mod syscall;
