//! A kernel panic: print what happened and stop the machine with the panic verdict.

use crate::arch::{debug_exit, serial};
use boot::exit::ExitCode;
use core::fmt::Write;

struct PanicConsole;

impl Write for PanicConsole {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        serial::write_bytes_forced(text.as_bytes());
        Ok(())
    }
}

#[panic_handler]
fn panic(information: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(PanicConsole, "\nkernel panic: {information}");
    debug_exit::exit(ExitCode::KernelPanic)
}
