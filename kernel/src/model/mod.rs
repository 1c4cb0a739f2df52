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

/// A blocking point gave up the CPU in a way that loses the kernel stack: the system call must
/// be re-issued from the thread's registers (which describe the remaining work) when the
/// thread runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restart;
