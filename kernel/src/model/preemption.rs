//! Preemption of kernel code (DESIGN.md section 3), the other axis of the configurations: how
//! a long kernel operation (an IPC transfer of many pages, the destruction of a space full of
//! objects) lets a thread that the timer or a wake-up made due have the CPU.
//!
//! - **None** (`preempt-none`): a kernel operation runs to its end; the CPU changes hands only
//!   on the way back to user mode.
//! - **Partial** (`preempt-partial`): every loop whose length a user controls calls
//!   [`preemption_point`] between steps; when it says so, the caller puts what it holds back
//!   where others can find it and calls [`preempt_here`], which stops the operation: it is
//!   re-issued from the registers (which hold its progress) when the thread runs again.
//! - **Full** (`preempt-full`, process model only): the same points are preemption windows:
//!   [`preempt_here`] enables interrupts there, takes the pending timer interrupt, and if a
//!   thread is due, switches to it *in place*: the thread keeps its kernel stack and goes on
//!   from the window when it runs again, with nothing rolled back. Everywhere else interrupts
//!   are off; those stretches of kernel code are bounded (no loop a user controls), so they
//!   are the short critical sections, and the latency benchmark measures them.

use crate::model::Restart;
use crate::scheduler;
use boot::command_line::Preemption;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The preemption's name in logs and reports.
#[cfg(feature = "preempt-none")]
pub const NAME: &str = "none";
/// The preemption's name in logs and reports.
#[cfg(feature = "preempt-partial")]
pub const NAME: &str = "partial";
/// The preemption's name in logs and reports.
#[cfg(feature = "preempt-full")]
pub const NAME: &str = "full";

/// Whether preemption points stop at every opportunity (`preemption=every-point`).
static STOP_AT_EVERY_POINT: AtomicBool = AtomicBool::new(false);

/// Sets when long kernel operations stop at their preemption points (the kernel command
/// line's `preemption=`; without preemption points it changes nothing).
pub fn set_preemption(mode: Preemption) {
    STOP_AT_EVERY_POINT.store(mode == Preemption::EveryPoint, Relaxed);
}

/// A preemption point of a long kernel operation: whether to preempt it here (then call
/// [`preempt_here`]). It is when the timer wants the CPU, or at every point under
/// `preemption=every-point`, where the thread also gives way to the ready threads of its
/// priority. Without preemption, never.
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

/// Preempts the running operation at a point where it holds nothing others may need (the
/// caller made sure). Partial preemption: `Err(Restart)`, the operation is re-issued from the
/// registers. Full preemption: `Ok` once the thread runs again and may go on from here, or
/// `Err(Restart)` if it was stopped meanwhile (it then unwinds to its restart point).
pub fn preempt_here() -> Result<(), Restart> {
    #[cfg(feature = "preempt-full")]
    {
        super::preempt_in_place()
    }
    #[cfg(not(feature = "preempt-full"))]
    {
        Err(Restart)
    }
}
