//! Per-CPU state reached through `gs`, control-register setup, and halting.
//!
//! In the kernel `gs` points at [`PerCpu`] and the user's `gs` base waits in
//! `IA32_KERNEL_GS_BASE`; `swapgs` on every entry and exit exchanges them (Intel SDM vol. 2B,
//! SWAPGS). The entry stubs address the fields by fixed offsets.

use x86_64::VirtAddr;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{GsBase, KernelGsBase};

/// The per-CPU area. Field offsets are part of the entry assembly's contract.
#[repr(C)]
pub struct PerCpu {
    /// Scratch slot for the user stack pointer during system-call entry (offset 0).
    pub user_stack_scratch: u64,
    /// End of the running thread's register frame (offset 8).
    pub frame_top: u64,
    /// Top of the kernel stack the next entry from user mode runs on (offset 16).
    pub kernel_stack_top: u64,
}

/// Offsets of [`PerCpu`] fields, for the assembly.
pub mod offsets {
    /// `user_stack_scratch`.
    pub const USER_STACK_SCRATCH: usize = 0;
    /// `frame_top`.
    pub const FRAME_TOP: usize = 8;
    /// `kernel_stack_top`.
    pub const KERNEL_STACK_TOP: usize = 16;
}
const _: () = {
    assert!(core::mem::offset_of!(PerCpu, user_stack_scratch) == offsets::USER_STACK_SCRATCH);
    assert!(core::mem::offset_of!(PerCpu, frame_top) == offsets::FRAME_TOP);
    assert!(core::mem::offset_of!(PerCpu, kernel_stack_top) == offsets::KERNEL_STACK_TOP);
};

static mut PER_CPU: PerCpu = PerCpu {
    user_stack_scratch: 0,
    frame_top: 0,
    kernel_stack_top: 0,
};

/// Points `gs` at the per-CPU area and sets control registers: write protection in ring 0,
/// no execution of user pages by the kernel (SMEP) where the CPU has it, and the FPU/SSE
/// state enabled for user code (Intel SDM vol. 3A sections 2.5 and 13.1).
pub fn initialize() {
    let area = (&raw const PER_CPU) as u64;
    // The per-CPU area is a static that lives forever; user gs starts at zero.
    GsBase::write(VirtAddr::new(area));
    KernelGsBase::write(VirtAddr::new(0));
    let features = core::arch::x86_64::__cpuid_count(7, 0);
    let smep = features.ebx & (1 << 7) != 0;
    // SAFETY: these bits only tighten protection (WP, SMEP) or enable the SSE state that
    // `fpu` saves and restores; the kernel itself is built without SSE.
    unsafe {
        Cr0::update(|flags| {
            flags.insert(Cr0Flags::WRITE_PROTECT | Cr0Flags::MONITOR_COPROCESSOR);
            flags.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
        });
        Cr4::update(|flags| {
            flags.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE | Cr4Flags::PAGE_GLOBAL);
            if smep {
                flags.insert(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION);
            }
            // User code must not set its segment bases itself (`wrfsbase`, `wrgsbase`): a
            // switch between threads whose bases are 0 does not read them back
            // (`scheduler::load`).
            flags.remove(Cr4Flags::FSGSBASE);
        });
    }
}

/// Records the running thread's frame and the kernel stack its next entry will use.
pub fn set_entry_points(frame_top: u64, kernel_stack_top: u64) {
    // SAFETY: only this CPU touches its per-CPU area, and the entry stubs read it only when
    // entering from user mode, which cannot happen during this write (interrupts are off).
    unsafe {
        PER_CPU.frame_top = frame_top;
        PER_CPU.kernel_stack_top = kernel_stack_top;
    }
    super::segmentation::set_kernel_entry_stack(frame_top);
}

/// The time-stamp counter (Intel SDM vol. 3B section 18.17). Under QEMU's `-icount` it counts
/// virtual nanoseconds, one per guest instruction with `shift=0`.
pub fn time_stamp() -> u64 {
    // SAFETY: `rdtsc` only reads the counter; user mode may read it too, so it reveals nothing.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Enables interrupts for one instruction, so that a pending one is taken now (`sti` takes
/// effect after the next instruction, Intel SDM vol. 2B, STI), then disables them again.
#[cfg_attr(not(feature = "preempt-full"), allow(dead_code))]
pub fn take_pending_interrupts() {
    // SAFETY: interrupts are taken here in kernel mode, where the kernel-trap path handles
    // them on the current stack; the caller holds no lock an interrupt handler may take.
    unsafe { core::arch::asm!("sti", "nop", "cli", options(nomem, nostack)) }
}

/// Waits for the next interrupt with interrupts enabled, then disables them again. The
/// `sti; hlt` pair cannot lose a wake-up: `sti` takes effect after the next instruction.
pub fn wait_for_interrupt() {
    x86_64::instructions::interrupts::enable_and_hlt();
    x86_64::instructions::interrupts::disable();
}

/// The user `fs` and `gs` bases in the CPU (in the kernel the user's `gs` base waits in
/// `IA32_KERNEL_GS_BASE`).
pub fn user_segment_bases() -> (u64, u64) {
    // The raw values: they were canonical when loaded, and every switch reads them, so the
    // address type's check is not repeated here.
    const FS_BASE: u32 = 0xc000_0100;
    const KERNEL_GS_BASE: u32 = 0xc000_0102;
    // SAFETY: reading these two MSRs (Intel SDM vol. 4, table 2-2) has no side effect.
    unsafe {
        (
            x86_64::registers::model_specific::Msr::new(FS_BASE).read(),
            x86_64::registers::model_specific::Msr::new(KERNEL_GS_BASE).read(),
        )
    }
}

/// Loads the user `fs` and `gs` bases of the thread about to run. In the kernel the user's
/// `gs` base waits in `IA32_KERNEL_GS_BASE` until the exit's `swapgs`.
pub fn set_user_segment_bases(fs: u64, gs: u64) {
    use x86_64::registers::model_specific::FsBase;
    // Both values were checked to be canonical user addresses by `ThreadSetState` (or are 0).
    FsBase::write(VirtAddr::new(fs));
    KernelGsBase::write(VirtAddr::new(gs));
}
