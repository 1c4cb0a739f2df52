//! The program entry point. The kernel (or the manager that loaded the program) starts the
//! first thread at `_start` with the argument string's address in `rdi` and length in `rsi`.

use core::arch::naked_asm;

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

unsafe extern "Rust" {
    /// Defined in the program by [`main!`](crate::main).
    fn __runtime_main(arguments: &str) -> i32;
}

/// The first instruction a program runs: align the stack, clear the frame pointer for
/// debuggers, enter Rust.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    naked_asm!(
        "and rsp, -16",
        "xor ebp, ebp",
        "call {start}",
        "ud2",
        start = sym start,
    )
}

extern "C" fn start(arguments: *const u8, length: usize) -> ! {
    let arguments: &[u8] = if length == 0 || arguments.is_null() {
        &[]
    } else {
        // SAFETY: the loader put `length` bytes at `arguments` on the new stack, which stays
        // mapped for the program's life.
        unsafe { core::slice::from_raw_parts(arguments, length) }
    };
    let arguments = core::str::from_utf8(arguments).unwrap_or("");
    // SAFETY: `main!` defines the symbol with exactly this signature.
    let status = unsafe { __runtime_main(arguments) };
    crate::syscall::thread_exit(status as u64)
}

/// The first address past the program's loaded image (the linker's `_end`, the end of
/// `.bss`): a test can find the edge of its mapped memory here.
pub fn image_end() -> u64 {
    unsafe extern "C" {
        static _end: u8;
    }
    &raw const _end as u64
}
