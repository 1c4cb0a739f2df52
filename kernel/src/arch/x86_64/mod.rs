//! x86_64: boot, descriptor tables, entry and exit, page tables, the local APIC, the console.

pub mod apic;
pub mod boot;
// Kernel stacks per thread are the process model's; the interrupt model has one per CPU.
#[cfg_attr(not(feature = "model-process"), allow(dead_code))]
pub mod context;
pub mod cpu;
pub mod crash;
pub mod debug_exit;
pub mod entry;
pub mod fpu;
pub mod frame;
pub mod heap;
pub mod interrupts;
pub mod lock;
pub mod paging;
pub mod physical;
pub mod segmentation;
pub mod serial;
pub mod thread_state;
pub mod user_memory;

use frame::RegisterFrame;
use x86_64::VirtAddr;
use x86_64::registers::model_specific::{Efer, EferFlags, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;

/// Sets up this CPU: descriptor tables, per-CPU area, control registers, interrupt table and
/// the `syscall` instruction.
pub fn initialize_processor() {
    let selectors = segmentation::initialize();
    assert_eq!(selectors.user_data.0 as u64, entry::USER_DATA_SELECTOR);
    assert_eq!(selectors.user_code.0 as u64, entry::USER_CODE_SELECTOR);
    cpu::initialize();
    fpu::initialize();
    interrupts::initialize();
    // SAFETY: STAR's selectors match the GDT built above (checked by the asserts and by
    // `Star::write` itself), LSTAR points at the entry stub, and SFMASK clears IF, TF, DF, AC
    // and NT on entry so the kernel runs with interrupts off and a sane flags register
    // (AMD APM vol. 2 section 6.1.1).
    unsafe {
        Star::write(
            selectors.user_code,
            selectors.user_data,
            selectors.kernel_code,
            selectors.kernel_data,
        )
        .expect("the GDT layout does not suit syscall/sysret");
        LStar::write(VirtAddr::new(entry::system_call_entry_address()));
        SFMask::write(
            RFlags::INTERRUPT_FLAG
                | RFlags::TRAP_FLAG
                | RFlags::DIRECTION_FLAG
                | RFlags::ALIGNMENT_CHECK
                | RFlags::NESTED_TASK,
        );
        Efer::update(|flags| flags.insert(EferFlags::SYSTEM_CALL_EXTENSIONS));
    }
}

/// A register frame for a thread that has never run: it starts at `rip` with stack `rsp`,
/// interrupts enabled, and `rdi`, `rsi` set to the given arguments.
pub fn initial_user_frame(
    rip: u64,
    rsp: u64,
    first_argument: u64,
    second_argument: u64,
) -> RegisterFrame {
    RegisterFrame {
        rip,
        rsp,
        rdi: first_argument,
        rsi: second_argument,
        cs: entry::USER_CODE_SELECTOR,
        ss: entry::USER_DATA_SELECTOR,
        rflags: RFlags::INTERRUPT_FLAG.bits() | 0x2,
        ..RegisterFrame::default()
    }
}

/// Prints a register frame, for crash reports.
pub struct FrameDisplay<'a>(pub &'a RegisterFrame);

impl core::fmt::Display for FrameDisplay<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let frame = self.0;
        let rows = [
            ("rax", frame.rax, "rbx", frame.rbx, "rcx", frame.rcx),
            ("rdx", frame.rdx, "rsi", frame.rsi, "rdi", frame.rdi),
            ("rbp", frame.rbp, "rsp", frame.rsp, "r8 ", frame.r8),
            ("r9 ", frame.r9, "r10", frame.r10, "r11", frame.r11),
            ("r12", frame.r12, "r13", frame.r13, "r14", frame.r14),
            ("r15", frame.r15, "rip", frame.rip, "rfl", frame.rflags),
        ];
        for (a, va, b, vb, c, vc) in rows {
            writeln!(
                formatter,
                "  {a} {va:#018x}  {b} {vb:#018x}  {c} {vc:#018x}"
            )?;
        }
        write!(formatter, "  cs {:#x} ss {:#x}", frame.cs, frame.ss)
    }
}
