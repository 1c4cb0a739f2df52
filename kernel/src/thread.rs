//! Threads: a user register state, an FPU state, segment bases, a space, a priority, and the
//! execution model's part.

use crate::arch::fpu::FpuState;
use crate::arch::frame::{RegisterFrame, SavedRegisters};
use crate::arch::lock::{KernelCell, Lock};
use crate::model::{self, ExecutionContext};
use crate::space::Space;
use abi::Error;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};

/// What a thread costs its space's quota: its bookkeeping and, in the process model, its
/// kernel stack. The reply object it keeps for its calls and its FPU save area are charged
/// when it first needs them.
pub const THREAD_COST: u64 =
    crate::memory::heap_cost(size_of::<Thread>()) + model::KERNEL_STACK_BYTES;

/// What a thread's FPU save area costs, once it uses the FPU (a boxed 512-byte block).
pub const FPU_AREA_COST: u64 = size_of::<FpuState>() as u64;

/// Logs what a thread costs, part by part (the measurement report quotes it).
pub fn log_cost() {
    log::info!(
        "memory: a thread is charged {THREAD_COST} bytes: control block {} ({} used, of which \
         registers {}), kernel stack {}; then a reply object {} at its first call and an FPU \
         area {FPU_AREA_COST} at its first FPU instruction",
        crate::memory::heap_cost(size_of::<Thread>()),
        size_of::<Thread>(),
        size_of::<SavedRegisters>(),
        model::KERNEL_STACK_BYTES,
        crate::ipc::REPLY_COST
    );
}

/// What a thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Stopped: created and not yet resumed, or interrupted. Its registers are a restart point.
    Stopped,
    /// Waiting for the CPU.
    Ready,
    /// On the CPU.
    Running,
    /// Blocked until the clock reaches the deadline.
    Sleeping {
        /// Nanoseconds of the monotonic clock.
        deadline: u64,
    },
    /// Blocked in an IPC wait queue (`waiting_in` says which).
    Waiting,
    /// Ended by `ThreadExit` with this status.
    Exited(u64),
    /// Stopped by an exception nobody handled.
    Faulted(FaultReport),
}

/// A CPU exception a thread raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultReport {
    /// The vector.
    pub vector: u32,
    /// The CPU's error code (32 bits, Intel SDM vol. 3A section 6.13).
    pub error_code: u32,
    /// Raised by the CPU at a user instruction, which runs again when the thread resumes (not
    /// by a kernel copy, whose thread re-issues its call).
    pub in_place: bool,
    /// Where it happened (for traps, the instruction after).
    pub rip: u64,
    /// The faulting address, for page faults (for a kernel copy stopped at a hole, the
    /// hole's address in its region's space).
    pub address: u64,
    /// For a hole of a region, sent to the region's keeper: the hole's address in the region's
    /// space. A pager supplies memory and gets no control of the threads that touch it (no
    /// thread handle in the request); the thread waits for it as in a call, and stays alive
    /// when its last handle is closed meanwhile.
    pub region_address: Option<u64>,
}

/// The `fs` and `gs` segment bases of a thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentBases {
    /// `IA32_FS_BASE`.
    pub fs: u64,
    /// The user's `IA32_GS_BASE` (held in `IA32_KERNEL_GS_BASE` while in the kernel).
    pub gs: u64,
}

/// Where a thread keeps its segment bases: two words that every switch reads and writes, so
/// plain atomic words rather than a lock (on one CPU with interrupts off in the kernel, a
/// relaxed load or store is a `mov`).
#[derive(Default)]
pub struct SegmentBaseWords {
    fs: AtomicU64,
    gs: AtomicU64,
}

impl SegmentBaseWords {
    /// The bases.
    #[inline(always)]
    pub fn load(&self) -> SegmentBases {
        SegmentBases {
            fs: self.fs.load(Relaxed),
            gs: self.gs.load(Relaxed),
        }
    }

    /// Replaces the bases.
    #[inline(always)]
    pub fn store(&self, bases: SegmentBases) {
        self.fs.store(bases.fs, Relaxed);
        self.gs.store(bases.gs, Relaxed);
    }
}

/// A thread.
pub struct Thread {
    /// Its identity (`HandleInfo`, logs): unique among every object made since boot.
    pub id: u64,
    /// The space it runs in.
    pub space: Arc<Space>,
    /// Its user registers, written on every entry to the kernel.
    pub registers: SavedRegisters,
    /// Its FPU/SSE registers while another thread owns the CPU's; none until it first uses
    /// the FPU (its state is the initial one until then).
    pub fpu: KernelCell<Option<alloc::boxed::Box<FpuState>>>,
    /// Its segment bases.
    pub segment_bases: SegmentBaseWords,
    /// What it is doing.
    pub state: KernelCell<RunState>,
    /// Its priority, 0 to `PRIORITY_MAX`.
    pub priority: AtomicU64,
    /// Set when a thread hands it the processor: it runs on the rest of that thread's quantum.
    pub inherits_quantum: AtomicBool,
    /// Set by `ThreadInterrupt`: stop at the next point the registers fully describe.
    pub stop_requested: AtomicBool,
    /// The time stamp of the timer interrupt that last ended its sleep (0 once `SleepUntil`
    /// has returned it).
    pub woken_at: AtomicU64,
    /// Why the thread was last woken from a block (a `model::Wake` code; process model).
    #[cfg_attr(feature = "model-interrupt", allow(dead_code))]
    pub wake: AtomicU8,
    /// Counts the thread's stops by a fault and its restarts, so that a keeper's answer to an
    /// old fault cannot resume the thread from a newer one.
    pub fault_sequence: AtomicU64,
    /// Where the thread's CPU exceptions are sent, if anywhere (weak: a thread does not keep
    /// its keeper port alive).
    pub keeper: Lock<Option<alloc::sync::Weak<crate::ipc::Port>>>,
    /// The IPC wait queue the thread is blocked in, so that stopping it can take it out.
    pub waiting_in: KernelCell<Option<crate::wait::WaitQueue>>,
    /// How many handles name it; when the last one goes while it is stopped, it ends.
    pub handles: AtomicU64,
    /// The reply object of its last call, reused by the next one when nothing else refers to
    /// it any more.
    pub reply_cache: KernelCell<Option<Arc<crate::ipc::Reply>>>,
    /// The client side of the connection of the call it is making, if it holds one.
    pub client_connection: KernelCell<Option<Arc<crate::ipc::Reply>>>,
    /// The server side of the connection of the request it serves, if it holds one.
    pub server_connection: KernelCell<Option<Arc<crate::ipc::Reply>>>,
    /// The space whose invalidation work its call left when preempted (see
    /// `crate::invalidation::finish_preemptibly`): finished if it ends instead of re-issuing.
    pub unfinished_invalidation: Lock<Option<alloc::sync::Weak<Space>>>,
    /// Whether it is the root program's first thread, whose end ends the boot.
    pub is_root: bool,
    /// The execution model's per-thread part (a kernel stack in the process model, nothing in
    /// the interrupt model).
    #[cfg_attr(feature = "model-interrupt", allow(dead_code))]
    pub execution: ExecutionContext,
}

impl Thread {
    /// A stopped thread in `space` that starts from `frame` when resumed, paid for from the
    /// space's quota.
    pub fn new(
        space: Arc<Space>,
        frame: RegisterFrame,
        priority: u64,
        is_root: bool,
    ) -> Result<Arc<Thread>, Error> {
        space.charge(THREAD_COST)?;
        let id = crate::object::new_object_id();
        let thread = Arc::new(Thread {
            id,
            space,
            registers: SavedRegisters::default(),
            fpu: KernelCell::new(None),
            segment_bases: SegmentBaseWords::default(),
            state: KernelCell::new(RunState::Stopped),
            priority: AtomicU64::new(priority),
            stop_requested: AtomicBool::new(false),
            inherits_quantum: AtomicBool::new(false),
            wake: AtomicU8::new(0),
            woken_at: AtomicU64::new(0),
            waiting_in: KernelCell::new(None),
            keeper: Lock::new(None),
            fault_sequence: AtomicU64::new(0),
            handles: AtomicU64::new(0),
            reply_cache: KernelCell::new(None),
            client_connection: KernelCell::new(None),
            server_connection: KernelCell::new(None),
            unfinished_invalidation: Lock::new(None),
            is_root,
            execution: ExecutionContext::new(),
        });
        thread.registers.update(|registers| *registers = frame);
        thread.space.add_thread(&thread)?;
        Ok(thread)
    }

    /// Its state.
    pub fn run_state(&self) -> RunState {
        self.state.get()
    }

    /// Changes its state.
    pub fn set_run_state(&self, state: RunState) {
        self.state.set(state);
    }

    /// Its priority.
    pub fn priority(&self) -> u64 {
        self.priority.load(Relaxed)
    }

    /// Whether it has ended for good.
    pub fn has_ended(&self) -> bool {
        matches!(self.run_state(), RunState::Exited(_))
    }

    /// Ends it for good with `status`; the connections it held go, and the invalidation work
    /// a call of its left unfinished is done.
    pub fn end(&self, status: u64) {
        self.set_run_state(RunState::Exited(status));
        crate::ipc::release_connections(self);
        let unfinished = self.unfinished_invalidation.lock().take();
        if let Some(origin) = unfinished {
            crate::invalidation::finish_pending_at_once(&origin);
        }
    }

    /// Where it holds its connection on `side`.
    pub fn connection(
        &self,
        side: abi::handle::ConnectionSide,
    ) -> &KernelCell<Option<Arc<crate::ipc::Reply>>> {
        match side {
            abi::handle::ConnectionSide::Client => &self.client_connection,
            abi::handle::ConnectionSide::Server => &self.server_connection,
        }
    }
}

impl Thread {
    /// Gives the thread an FPU save area holding `state`, charged to its space; `Ok` at once
    /// if it has one.
    pub fn give_fpu_area(&self, state: FpuState) -> Result<(), Error> {
        if self.with_fpu_area(|area| *area = state).is_none() {
            self.space.charge(FPU_AREA_COST)?;
            self.fpu.set(Some(alloc::boxed::Box::new(state)));
        }
        Ok(())
    }

    /// Its FPU state as last saved (the initial one if it never used the FPU).
    pub fn fpu_state(&self) -> FpuState {
        self.fpu
            .inspect(|area| area.as_deref().copied())
            .unwrap_or_default()
    }

    /// What `work` makes of its FPU save area, if it has one.
    pub fn with_fpu_area<R>(&self, work: impl FnOnce(&mut FpuState) -> R) -> Option<R> {
        let mut area = self.fpu.take();
        let outcome = area.as_deref_mut().map(work);
        self.fpu.set(area);
        outcome
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        crate::ipc::release_connections(self);
        let area = if !self.fpu.is_none() {
            FPU_AREA_COST
        } else {
            0
        };
        self.space.release(THREAD_COST + area);
    }
}
