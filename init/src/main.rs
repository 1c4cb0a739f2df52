//! The root manager. Today it greets and exits; it will take all memory and the boot file
//! system and build the stack of managers (DESIGN.md section 6).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use runtime::println;

fn main(arguments: &str) -> i32 {
    println!("init: hello from user space (arguments: {arguments:?})");
    let now = runtime::syscall::clock_monotonic();
    println!("init: the clock reads {} ms; goodbye", now / 1_000_000);
    0
}

runtime::main!(main);
