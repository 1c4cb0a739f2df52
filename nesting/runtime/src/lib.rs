//! The user-level runtime: what every program running on the kernel links.
//!
//! - [`arch`]: the only user-side assembly: system-call stubs, the program entry point, and
//!   deliberate CPU exceptions and register probes for tests and debuggers;
//! - [`syscall`]: safe, typed wrappers for every system call;
//! - [`console`]: `print!`/`println!` over the debug console;
//! - [`main!`]: names a program's main function.
#![no_std]
#![deny(unsafe_code)]

pub mod arch;
pub mod console;
pub mod syscall;

pub use abi;

/// Names the program's main function: `runtime::main!(main);` with
/// `fn main(arguments: &str) -> i32`. The returned status ends the program's thread.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        /// The program's entry, called by the runtime's `_start`.
        #[unsafe(no_mangle)]
        pub fn __runtime_main(arguments: &str) -> i32 {
            $main(arguments)
        }
    };
}

#[panic_handler]
fn panic(information: &core::panic::PanicInfo<'_>) -> ! {
    println!("panic: {information}");
    syscall::thread_exit(101)
}
