//! Threads: a user register state, an FPU state, a space, and the execution model's part.

use crate::arch::fpu::FpuState;
use crate::arch::frame::{RegisterFrame, SavedRegisters};
use crate::model::ExecutionContext;
use crate::space::Space;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use spin::Mutex;

static NEXT_THREAD_ID: AtomicU64 = AtomicU64::new(1);

/// What a thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Waiting for the CPU.
    Ready,
    /// On the CPU.
    Running,
    /// Blocked until the clock reaches the deadline.
    Sleeping {
        /// Nanoseconds of the monotonic clock.
        deadline: u64,
    },
    /// Ended by `ThreadExit` with this status.
    Exited(u64),
    /// Stopped by an exception nobody handled.
    Faulted(FaultReport),
}

/// A CPU exception a thread raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultReport {
    /// The vector.
    pub vector: u64,
    /// The CPU's error code.
    pub error_code: u64,
    /// Where it happened (for traps, the instruction after).
    pub rip: u64,
    /// The faulting address, for page faults.
    pub address: u64,
}

/// A thread.
pub struct Thread {
    /// A number for logs and reports.
    pub id: u64,
    /// The space it runs in.
    pub space: Arc<Space>,
    /// Its user registers, written on every entry to the kernel.
    pub registers: SavedRegisters,
    /// Its FPU/SSE registers while another thread owns the CPU's.
    pub fpu: Mutex<FpuState>,
    /// What it is doing.
    pub state: Mutex<RunState>,
    /// Whether it belongs to the root program, whose end ends the boot.
    pub is_root: bool,
    /// The execution model's per-thread part (a kernel stack in the process model, nothing in
    /// the interrupt model).
    #[cfg_attr(feature = "model-interrupt", allow(dead_code))]
    pub execution: ExecutionContext,
}

impl Thread {
    /// A thread in `space` that starts from `frame` when first scheduled.
    pub fn new(space: Arc<Space>, frame: RegisterFrame, is_root: bool) -> Arc<Thread> {
        let id = NEXT_THREAD_ID.fetch_add(1, Relaxed);
        let thread = Arc::new(Thread {
            id,
            space,
            registers: SavedRegisters::default(),
            fpu: Mutex::new(FpuState::default()),
            state: Mutex::new(RunState::Ready),
            is_root,
            execution: ExecutionContext::new(),
        });
        thread.registers.update(|registers| *registers = frame);
        thread
    }

    /// Its state.
    pub fn run_state(&self) -> RunState {
        *self.state.lock()
    }

    /// Changes its state.
    pub fn set_run_state(&self, state: RunState) {
        *self.state.lock() = state;
    }

    /// Whether it has ended for good.
    pub fn has_ended(&self) -> bool {
        matches!(self.run_state(), RunState::Exited(_) | RunState::Faulted(_))
    }
}
