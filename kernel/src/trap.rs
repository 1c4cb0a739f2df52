//! What the kernel does on each entry from user mode, after the architecture layer has saved
//! the thread's registers: system calls, exceptions and the timer. Each ends by going back to
//! the running thread or handing the CPU to the next one.

use crate::arch::frame::SavedRegisters;
use crate::ipc::Port;
use crate::model::Restart;
use crate::thread::{FaultReport, RunState, Thread};
use crate::virtual_memory;
use crate::{clock, scheduler, syscall};
use abi::exception::Exception;
use abi::memory::MemoryRights;
use alloc::sync::Arc;

/// The page-fault vector and the bits of its error code (Intel SDM vol. 3A section 4.7):
/// the page was present (a protection violation), the access was a write, an instruction
/// fetch.
const PAGE_FAULT: u64 = 14;
const PAGE_FAULT_PRESENT: u64 = 1 << 0;
const PAGE_FAULT_WRITE: u64 = 1 << 1;
const PAGE_FAULT_FETCH: u64 = 1 << 4;

/// A `syscall` instruction; `registers` are the running thread's.
#[inline(always)]
pub fn system_call(registers: &SavedRegisters) {
    if let Err(Restart) = syscall::dispatch(registers) {
        // The thread's registers still name the call; point it back at the instruction so
        // that running the thread again re-issues it (DESIGN.md section 2, rule 2).
        registers.point_back_at_syscall();
    }
    scheduler::reschedule();
}

/// The running thread's first FPU instruction (#NM): it gets its save area and the instruction
/// runs again; if its space cannot pay for the area, the exception goes to its keeper.
pub fn fpu_unavailable() {
    let thread = scheduler::current();
    if crate::fpu::first_use(&thread).is_ok() {
        return;
    }
    drop(thread);
    user_exception(7, 0, 0);
}

/// The rights a page fault's access needed, from its error code.
fn access_of(error_code: u64) -> MemoryRights {
    let mut needed = MemoryRights::READ;
    if error_code & PAGE_FAULT_WRITE != 0 {
        needed |= MemoryRights::WRITE;
    }
    if error_code & PAGE_FAULT_FETCH != 0 {
        needed |= MemoryRights::EXECUTE;
    }
    needed
}

/// A keeper answered `thread`'s page fault on a hole of its region with `RESUME`: the page it
/// wanted is entered now, if the keeper filled the hole, so that the access, run again, does
/// not trap a second time (if nothing is there, it simply faults again). An entry is only a
/// cache of the tree, so entering it early changes nothing else.
pub fn enter_answered_page(thread: &Thread) {
    if let RunState::Faulted(report) = thread.run_state()
        && report.in_place
        && u64::from(report.vector) == PAGE_FAULT
        && report.region_address.is_some()
    {
        let needed = access_of(report.error_code.into());
        let _ = virtual_memory::resolve_absent(&thread.space, report.address, needed);
    }
}

/// A CPU exception raised by user code: the thread stops, and the exception goes to its keeper
/// as a request; with no keeper the stop is for good and the fault is reported.
pub fn user_exception(vector: u64, error_code: u64, address: u64) {
    let thread = scheduler::current();
    let mut region_keeper = None;
    if vector == PAGE_FAULT && error_code & PAGE_FAULT_PRESENT == 0 {
        // Page tables are a cache of the mappings: a page a mapping shows may simply not be
        // entered yet. Found below, it is entered, and the instruction runs again.
        match virtual_memory::resolve_absent(&thread.space, address, access_of(error_code)) {
            Ok(_) => return,
            // A hole of a region with a keeper: the keeper hears of it, with the address in
            // the region's space.
            Err(hole) => region_keeper = hole.into_keeper(),
        }
    }
    let rip = thread.registers.instruction_pointer();
    // Vectors are below 256 and error codes 32 bits wide (Intel SDM vol. 3A section 6.13).
    let mut report = FaultReport {
        vector: vector as u32,
        error_code: error_code as u32,
        in_place: true,
        rip,
        address,
        region_address: None,
    };
    let keeper = match region_keeper {
        Some((keeper, address_in_region)) => {
            report.region_address = Some(address_in_region);
            Some(keeper)
        }
        None => thread
            .keeper
            .lock()
            .as_ref()
            .and_then(alloc::sync::Weak::upgrade),
    };
    if let Some(keeper) = keeper {
        stop_for_keeper(&thread, report, keeper);
        drop(thread);
        scheduler::reschedule();
        return;
    }
    let mnemonic = Exception::from_vector(vector).map_or("#??", Exception::mnemonic);
    // The test harness reads this line: keep its `key=value` format stable.
    log::error!(
        "{} fault: vector={} ({}) error={:#x} rip={:#x} address={:#x} thread={} space={}",
        if thread.is_root { "root" } else { "user" },
        vector,
        mnemonic,
        error_code,
        rip,
        address,
        thread.id,
        thread.space.id
    );
    drop(thread);
    scheduler::end_current(RunState::Faulted(report));
    scheduler::reschedule();
}

/// Stops `thread` (the running one) as faulted and sends the fault to `keeper`, which decides
/// what happens next; the switch away happens at the end of this kernel entry.
pub fn stop_for_keeper(thread: &Arc<Thread>, report: FaultReport, keeper: Arc<Port>) {
    thread
        .fault_sequence
        .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    thread.set_run_state(RunState::Faulted(report));
    // Its registers are its whole state now (the faulting instruction, or the `syscall` of
    // the stage to re-issue): it needs nothing of its kernel stack, so its keeper's answer
    // can hand it the processor straight away.
    let _ = crate::model::block_at_restart_point(thread);
    // The keeper takes the processor straight away, or the thread gives it up at the end of
    // this kernel entry.
    if !syscall::ipc::deliver_fault(thread, report, keeper) {
        scheduler::request_switch();
    }
}

/// The clock's periodic interrupt; `from_user` when it interrupted a user thread, which may then
/// be preempted (from kernel mode it interrupted the idle loop, which looks for work itself).
pub fn timer_interrupt(from_user: bool) {
    let raised = clock::tick();
    scheduler::wake_sleepers(clock::now(), raised);
    if from_user {
        scheduler::rotate_current_after_quantum(clock::now());
        scheduler::reschedule();
    }
}
