//! The kernel: boots, takes over memory, loads the root program from the boot file system and
//! runs it through an API whose every call is atomic (DESIGN.md sections 2 and 3).
//!
//! Only the `arch` module may opt out of the compiler's memory-safety checks; the rest of the
//! kernel is written in safe Rust.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

#[cfg(not(any(feature = "model-process", feature = "model-interrupt")))]
compile_error!("choose an execution model: --features model-process or model-interrupt");
#[cfg(all(feature = "model-process", feature = "model-interrupt"))]
compile_error!("the features model-process and model-interrupt exclude each other");
#[cfg(not(any(
    feature = "preempt-none",
    feature = "preempt-partial",
    feature = "preempt-full"
)))]
compile_error!("choose a preemption: --features preempt-none, preempt-partial or preempt-full");
#[cfg(any(
    all(feature = "preempt-none", feature = "preempt-partial"),
    all(feature = "preempt-none", feature = "preempt-full"),
    all(feature = "preempt-partial", feature = "preempt-full")
))]
compile_error!("the preempt-* features exclude each other");
#[cfg(all(feature = "preempt-full", feature = "model-interrupt"))]
compile_error!("full preemption needs the process model: a kernel context to keep in place");

mod arch;
mod clock;
mod fpu;
mod invalidation;
mod ipc;
mod loader;
mod logger;
mod memory;
mod model;
mod object;
mod panic;
mod scheduler;
mod space;
mod synchronization;
mod syscall;
mod thread;
mod transfer;
mod trap;
mod user_pointer;
mod virtual_memory;
mod wait;

use arch::boot::BootInformation;
use boot::command_line::CommandLine;
use boot::exit::ExitCode;

/// The kernel's life after the architecture's entry stub: never returns.
pub fn kernel_main(information: &'static BootInformation) -> ! {
    let command_line = CommandLine::parse(information.command_line());
    logger::initialize(command_line.log_level);
    log::info!(
        "fluke-rs kernel, {} model, {} preemption, command line {:?}",
        model::NAME,
        model::PREEMPTION,
        information.command_line()
    );
    if let Some(unknown) = command_line.first_unknown {
        log::warn!("ignoring unknown command-line option {unknown:?}");
    }
    model::set_preemption(command_line.preemption);
    arch::initialize_processor();
    let (boot_files, boot_files_physical) = memory::initialize(information);
    clock::start();
    thread::log_cost();
    if let Some(crash) = command_line.crash {
        arch::crash::provoke(crash);
    }
    let root = match loader::load_root_program(boot_files, boot_files_physical, &command_line) {
        Ok(thread) => thread,
        Err(error) => {
            log::error!("cannot start the root program: {error}");
            arch::debug_exit::exit(ExitCode::BootFailed);
        }
    };
    scheduler::start(root)
}
