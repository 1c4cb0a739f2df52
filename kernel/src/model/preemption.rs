//! Preemption of kernel code (DESIGN.md section 3), the other axis of the configurations: how
//! a long kernel operation (an IPC transfer of many pages) lets a thread that the timer or a
//! wake-up made due have the CPU.
//!
//! - **None** (`preempt-none`): a kernel operation runs to its end; the CPU changes hands only
//!   on the way back to user mode.
//! - **Partial** (`preempt-partial`): every loop whose length a user controls calls
//!   [`preemption_point`] between steps; when it says so, the operation stops there with its
//!   progress in the registers and is re-issued when the thread runs again.

use crate::scheduler;
use boot::command_line::Preemption;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The preemption's name in logs and reports.
#[cfg(feature = "preempt-none")]
pub const NAME: &str = "none";
/// The preemption's name in logs and reports.
#[cfg(feature = "preempt-partial")]
pub const NAME: &str = "partial";

/// Whether preemption points stop at every opportunity (`preemption=every-point`).
static STOP_AT_EVERY_POINT: AtomicBool = AtomicBool::new(false);

/// Sets when long kernel operations stop at their preemption points (the kernel command
/// line's `preemption=`; without preemption points it changes nothing).
pub fn set_preemption(mode: Preemption) {
    STOP_AT_EVERY_POINT.store(mode == Preemption::EveryPoint, Relaxed);
}

/// A preemption point of a long kernel operation: whether the operation is to stop here, with
/// its progress in the registers, and be re-issued. With partial preemption it stops when the
/// timer wants the CPU (whose interrupt is then taken on the way back to user mode), or at
/// every point under `preemption=every-point`, where the thread also gives way to ready
/// threads of its priority. Without preemption it never stops.
pub fn preemption_point() -> bool {
    if cfg!(feature = "preempt-none") {
        return false;
    }
    if STOP_AT_EVERY_POINT.load(Relaxed) {
        scheduler::rotate_current();
        return true;
    }
    crate::arch::apic::timer_interrupt_pending()
}
