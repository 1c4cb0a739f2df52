//! The user-level runtime: what every program running on the kernel links.
//!
//! - [`arch`]: the only user-side assembly: system-call stubs, the program entry point, and
//!   deliberate CPU exceptions and register probes for tests and debuggers;
//! - [`syscall`]: safe, typed wrappers for every system call;
//! - [`process`] and [`thread`]: the program's own handles, and threads on static stacks;
//! - [`ipc`] and [`memory`]: messages, and regions and mappings; [`pager`]: a zero-fill
//!   keeper of regions;
//! - [`console`]: `print!`/`println!` over the debug console;
//! - [`main!`]: names a program's main function (defined in [`arch::entry`]).
#![no_std]
#![deny(unsafe_code)]

pub mod arch;
pub mod console;
pub mod ipc;
pub mod memory;
pub mod pager;
pub mod process;
pub mod synchronization;
pub mod syscall;
pub mod thread;

pub use abi;

#[panic_handler]
fn panic(information: &core::panic::PanicInfo<'_>) -> ! {
    println!("panic: {information}");
    syscall::thread_exit(101)
}
