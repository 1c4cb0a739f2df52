//! The global descriptor table and the task state segment.
//!
//! Long mode ignores segment bases and limits, but the CPU still needs code and data
//! descriptors for both privilege levels, in the order `syscall`/`sysret` expect (Intel SDM
//! vol. 2B, SYSRET: user data at STAR[63:48]+8, user code at +16), and a task state segment
//! whose `rsp0` says where a user-mode interrupt pushes its frame and whose interrupt stack
//! table gives the double-fault handler a stack of its own (section 6.14.5).

use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, FS, GS, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// The interrupt-stack-table slot of the double-fault handler's stack.
pub const DOUBLE_FAULT_STACK_INDEX: u16 = 0;

const DOUBLE_FAULT_STACK_SIZE: usize = 16 * 1024;

/// The selectors of the descriptors, as loaded into segment registers.
#[derive(Clone, Copy, Debug)]
pub struct Selectors {
    /// Kernel code.
    pub kernel_code: SegmentSelector,
    /// Kernel data and stack.
    pub kernel_data: SegmentSelector,
    /// User data and stack (RPL 3).
    pub user_data: SegmentSelector,
    /// User code (RPL 3).
    pub user_code: SegmentSelector,
}

static mut DOUBLE_FAULT_STACK: [u128; DOUBLE_FAULT_STACK_SIZE / 16] =
    [0; DOUBLE_FAULT_STACK_SIZE / 16];
static mut TASK_STATE: TaskStateSegment = TaskStateSegment::new();
static mut DESCRIPTORS: GlobalDescriptorTable = GlobalDescriptorTable::new();
static mut SELECTORS: Option<Selectors> = None;

/// Builds and loads the GDT and TSS. Called once at boot.
// References to the statics go through raw pointers, as edition 2024 asks of `static mut`.
#[allow(clippy::deref_addrof)]
pub fn initialize() -> Selectors {
    // SAFETY: runs once on the boot CPU before interrupts are enabled and before anything
    // else refers to these statics; afterwards they are only read (and `rsp0` written by
    // `set_kernel_entry_stack` on the same CPU).
    unsafe {
        let stack_end = (&raw const DOUBLE_FAULT_STACK) as u64 + DOUBLE_FAULT_STACK_SIZE as u64;
        let task_state = &mut *(&raw mut TASK_STATE);
        task_state.interrupt_stack_table[DOUBLE_FAULT_STACK_INDEX as usize] =
            VirtAddr::new(stack_end);
        let table = &mut *(&raw mut DESCRIPTORS);
        let selectors = Selectors {
            kernel_code: table.append(Descriptor::kernel_code_segment()),
            kernel_data: table.append(Descriptor::kernel_data_segment()),
            // The user descriptors have base 0, the only base user code can then give `fs`
            // or `gs` by loading a selector (`scheduler::load` relies on it).
            user_data: table.append(Descriptor::user_data_segment()),
            user_code: table.append(Descriptor::user_code_segment()),
        };
        let task_selector = table.append(Descriptor::tss_segment(&*(&raw const TASK_STATE)));
        (&*(&raw const DESCRIPTORS)).load();
        CS::set_reg(selectors.kernel_code);
        SS::set_reg(selectors.kernel_data);
        DS::set_reg(SegmentSelector(0));
        ES::set_reg(SegmentSelector(0));
        FS::set_reg(SegmentSelector(0));
        GS::set_reg(SegmentSelector(0));
        load_tss(task_selector);
        SELECTORS = Some(selectors);
        selectors
    }
}

/// The selectors loaded by [`initialize`].
pub fn selectors() -> Selectors {
    // SAFETY: written once in `initialize` before any caller runs.
    unsafe { SELECTORS.expect("segmentation is not initialized") }
}

/// Sets where the CPU pushes the frame of the next interrupt taken in user mode.
pub fn set_kernel_entry_stack(top: u64) {
    // SAFETY: `rsp0` is read by the CPU only when it takes an interrupt from user mode, which
    // cannot happen while the kernel runs this code with interrupts off.
    // (A kernel stack's top is canonical: no check needed.)
    unsafe { TASK_STATE.privilege_stack_table[0] = VirtAddr::new_truncate(top) };
}
