//! Which thread's FPU/SSE state the CPU holds, and the save areas threads get when they first
//! use the FPU (the mechanism is in `arch::fpu`).
//!
//! The CPU's FPU registers hold either the state of one thread with a save area (the owner),
//! with `CR0.TS` clear, or the initial state, with `CR0.TS` set so that the first FPU
//! instruction of whichever thread runs traps. A thread with a save area is switched eagerly
//! (saved and restored at every switch that changes the owner); a thread without one (most of
//! them: the user programs are built without SSE) costs neither the 512 bytes nor the saving.

use crate::arch::fpu::{self, FpuState};
use crate::arch::lock::{KernelCell, Lock};
use crate::thread::Thread;
use abi::Error;
use alloc::sync::Arc;

struct Ownership {
    /// The thread whose state the registers hold, if any.
    owner: Option<Arc<Thread>>,
    /// Whether `CR0.TS` is set (the registers then hold the initial state).
    trapping: bool,
}

static OWNERSHIP: Lock<Ownership> = Lock::new(Ownership {
    owner: None,
    trapping: false,
});

/// What the registers hold, as a switch needs to know it: [`OWNERSHIP`] summed up in a word
/// read without its lock, rewritten whenever it changes.
#[derive(Clone, Copy)]
enum Loaded {
    /// Not known (before the first switch).
    Unknown,
    /// The initial state, trapping on use.
    InitialTrapping,
    /// The state of the owner at this address (which `OWNERSHIP` keeps alive, so the address
    /// names no other thread meanwhile).
    Owner(usize),
}

static LOADED: KernelCell<Loaded> = KernelCell::new(Loaded::Unknown);

/// Sums up `ownership` in [`LOADED`]; called before every release of a changed ownership.
fn record(ownership: &Ownership) {
    LOADED.set(match (&ownership.owner, ownership.trapping) {
        (Some(owner), _) => Loaded::Owner(Arc::as_ptr(owner) as usize),
        (None, true) => Loaded::InitialTrapping,
        (None, false) => Loaded::Unknown,
    });
}

/// Loads the FPU state of `next`, which the CPU is about to run.
#[inline]
pub fn switch_to(next: &Arc<Thread>) {
    let loaded = match LOADED.get() {
        Loaded::Owner(address) => address == Arc::as_ptr(next) as usize,
        // The registers hold the initial state and will trap: nothing to do for a thread
        // that never used them either (the common case: most threads never do).
        Loaded::InitialTrapping => next.fpu.is_none(),
        Loaded::Unknown => false,
    };
    if !loaded {
        change_owner(next);
    }
}

/// [`switch_to`] when the registers must change: the owner's state is saved, and `next`'s
/// loaded (or the initial state, trapping on first use).
#[inline(never)]
fn change_owner(next: &Arc<Thread>) {
    let mut ownership = OWNERSHIP.lock();
    if ownership.trapping {
        fpu::set_trap_on_use(false);
    }
    // Threads leave the slot only after the lock is released: freeing one can reach objects
    // whose release takes other locks.
    let former = ownership.owner.take();
    if let Some(owner) = &former
        && !owner.has_ended()
    {
        owner.with_fpu_area(|area| area.save());
    }
    if next.with_fpu_area(|area| area.restore()).is_some() {
        ownership.owner = Some(next.clone());
        ownership.trapping = false;
    } else {
        fpu::load_initial();
        fpu::set_trap_on_use(true);
        ownership.trapping = true;
    }
    record(&ownership);
    drop(ownership);
    drop(former);
}

/// The running thread's first FPU instruction trapped (#NM): it gets a save area, charged to
/// its space, and the registers (which hold the initial state) become its own. `Err` when the
/// quota cannot pay: the exception then goes to the thread's keeper as any other.
pub fn first_use(thread: &Arc<Thread>) -> Result<(), Error> {
    thread.give_fpu_area(FpuState::default())?;
    let mut ownership = OWNERSHIP.lock();
    if ownership.trapping {
        fpu::set_trap_on_use(false);
        ownership.trapping = false;
    }
    let former = ownership.owner.replace(thread.clone());
    record(&ownership);
    drop(ownership);
    drop(former);
    Ok(())
}

/// Makes sure a stopped thread's FPU state is in its save area, not only in the CPU.
pub fn flush(thread: &Arc<Thread>) {
    let ownership = OWNERSHIP.lock();
    if ownership
        .owner
        .as_ref()
        .is_some_and(|owner| Arc::ptr_eq(owner, thread))
    {
        thread.with_fpu_area(|area| area.save());
    }
}

/// Loads `state` into a thread that is not running (`ThreadSetState`): into its save area,
/// made if the state is not the initial one; and the CPU no longer counts as holding its
/// registers, so that they are loaded afresh when it runs.
pub fn set_state(thread: &Arc<Thread>, state: FpuState) -> Result<(), Error> {
    if !thread.fpu.is_none() || !state.is_initial() {
        thread.give_fpu_area(state)?;
    }
    let mut ownership = OWNERSHIP.lock();
    let mut former = None;
    if ownership
        .owner
        .as_ref()
        .is_some_and(|owner| Arc::ptr_eq(owner, thread))
    {
        former = ownership.owner.take();
        // Its old registers must not stay in the CPU for the next thread to see.
        fpu::load_initial();
        fpu::set_trap_on_use(true);
        ownership.trapping = true;
        record(&ownership);
    }
    drop(ownership);
    drop(former);
    Ok(())
}
