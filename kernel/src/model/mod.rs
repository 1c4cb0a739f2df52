//! The execution model (DESIGN.md section 3): the one module where the process model and the
//! interrupt model differ. Everything else calls [`block`] at a blocking point and propagates
//! its `Err(Restart)` with `?`; system-call entry turns that into a restart from the registers.

#[cfg(feature = "model-interrupt")]
mod interrupt;
#[cfg(feature = "model-process")]
mod process;

#[cfg(feature = "model-interrupt")]
pub use interrupt::*;
#[cfg(feature = "model-process")]
pub use process::*;

mod preemption;
pub use preemption::{NAME as PREEMPTION, preempt_here, preemption_point, set_preemption};

/// A blocking point gave up the CPU in a way that loses the kernel stack: the system call must
/// be re-issued from the thread's registers (which describe the remaining work) when the
/// thread runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restart;

/// Why a blocked thread was woken (only the process model ever sees it: in the interrupt model
/// a blocked call is re-issued from the registers instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[cfg_attr(feature = "model-interrupt", allow(dead_code))]
pub enum Wake {
    /// What it waited for may have happened: look again (a sleeper whose deadline passed).
    Look = 0,
    /// A peer completed the call and wrote its results into the registers: return them as
    /// they are.
    Completed = 1,
    /// A peer moved the call to its next stage by rewriting the registers: re-issue it.
    NextStage = 2,
}

#[cfg_attr(feature = "model-interrupt", allow(dead_code))]
impl Wake {
    /// The reason with this code.
    pub fn from_code(code: u8) -> Wake {
        match code {
            1 => Wake::Completed,
            2 => Wake::NextStage,
            _ => Wake::Look,
        }
    }
}
