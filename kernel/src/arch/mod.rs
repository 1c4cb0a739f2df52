//! The architecture layer: the only part of the kernel that touches hardware or uses
//! `unsafe`. Everything above it is `#![forbid(unsafe_code)]` in spirit and in fact (see
//! `main.rs`: only this module is allowed unsafe code).
#![allow(unsafe_code)]

pub mod x86_64;

pub use self::x86_64::*;
