//! The contract between the host tools (`cargo xtask`, the test harness) and the kernel at
//! boot: the boot file system the kernel receives as its initrd ([`filesystem`]), the manifest
//! inside it ([`manifest`]), the kernel command line ([`command_line`]) and the exit codes the
//! kernel reports through QEMU's `isa-debug-exit` device ([`exit`]).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod command_line;
pub mod exit;
pub mod filesystem;
pub mod manifest;
