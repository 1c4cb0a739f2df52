//! The program entry point and the entry of every further thread. The kernel (or the manager
//! that loaded the program) starts the first thread at `_start` with the argument string's
//! address in `rdi` and length in `rsi`, a handle to the program's space in `rdx` and to the
//! thread itself in `rcx`; threads made by [`crate::thread::spawn`] start at
//! `runtime_thread_entry` with their function in `rdi` and its argument in `rsi`.

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

extern "C" fn start(
    arguments: *const u8,
    length: usize,
    space: u64,
    thread: u64,
    ram_size: u64,
    boot_files_size: u64,
) -> ! {
    crate::process::record_start(space, thread, ram_size, boot_files_size);
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

/// The boot file system the kernel shows the root program (`abi::root`), as bytes; empty in
/// any other program (which has no such memory: see `process::boot_files`).
pub fn boot_files(size: u64) -> &'static [u8] {
    if size == 0 {
        return &[];
    }
    // SAFETY: the kernel shows `size` bytes of the boot file system read-only at
    // `BOOT_FILES_START` in the root program's space for its whole life, and passed their
    // size only to it; nothing ever writes them.
    unsafe { core::slice::from_raw_parts(abi::root::BOOT_FILES_START as *const u8, size as usize) }
}

/// The first address past the program's loaded image (the linker's `_end`, the end of
/// `.bss`): a test can find the edge of its mapped memory here.
pub fn image_end() -> u64 {
    unsafe extern "C" {
        static _end: u8;
    }
    &raw const _end as u64
}

/// The first address of the program's loaded image (the linker's `__ehdr_start`: the ELF
/// header, which the first loaded segment holds). With [`image_end`], the range a manager maps
/// into a child to run the same program there.
pub fn image_start() -> u64 {
    unsafe extern "C" {
        static __ehdr_start: u8;
    }
    &raw const __ehdr_start as u64
}

/// Where a spawned thread starts: align the stack and enter Rust with the function and its
/// argument (put in `rdi` and `rsi` by [`crate::thread::spawn`]).
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn runtime_thread_entry() -> ! {
    naked_asm!(
        "and rsp, -16",
        "xor ebp, ebp",
        "call {start}",
        "ud2",
        start = sym thread_start,
    )
}

extern "C" fn thread_start(function: usize, argument: u64) -> ! {
    // SAFETY: `thread::spawn` put a `fn(u64)` pointer in `rdi` for this thread, and nothing
    // else starts threads at `runtime_thread_entry`.
    let function: fn(u64) = unsafe { core::mem::transmute::<usize, fn(u64)>(function) };
    function(argument);
    crate::syscall::thread_exit(0)
}

/// The address a spawned thread starts at, and the register values it expects there.
pub fn thread_entry(function: fn(u64), argument: u64) -> (u64, u64, u64) {
    (
        runtime_thread_entry as *const () as u64,
        function as usize as u64,
        argument,
    )
}
