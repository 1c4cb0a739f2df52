//! Ending the boot: QEMU's `isa-debug-exit` device turns a port write into its exit status.

use boot::exit::{DEBUG_EXIT_PORT, ExitCode};
use x86_64::instructions::port::Port;

/// Stops the machine with a verdict. Never returns: on hardware without the device, halts.
pub fn exit(code: ExitCode) -> ! {
    // SAFETY: the port belongs to the debug-exit device; writing it ends the emulator.
    unsafe { Port::<u32>::new(DEBUG_EXIT_PORT).write(code.port_value()) };
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
