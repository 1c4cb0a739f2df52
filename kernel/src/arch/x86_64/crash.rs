//! Deliberate kernel crashes (`crash=<kind>` on the command line), to test the kernel's own
//! failure path: the exception handler's register dump and the panic verdict.

use boot::command_line::Crash;

/// An address the kernel's page tables never map (the null guard).
const UNMAPPED: u64 = 0x10;

/// Crashes the kernel the way `crash` says.
pub fn provoke(crash: Crash) -> ! {
    log::warn!(
        "crashing the kernel on purpose ({}), as the command line asks",
        crash.name()
    );
    match crash {
        Crash::PageFault => {
            // SAFETY: the read changes no memory: it faults, and the kernel-mode page-fault
            // handler ends the boot.
            let value = unsafe { (UNMAPPED as *const u64).read_volatile() };
            panic!("a read of {UNMAPPED:#x} returned {value:#x} instead of faulting")
        }
        // SAFETY: `ud2` raises #UD, whose kernel-mode handler ends the boot.
        Crash::InvalidOpcode => unsafe { core::arch::asm!("ud2", options(noreturn)) },
        Crash::Panic => panic!("deliberate panic, as the command line asks"),
    }
}
