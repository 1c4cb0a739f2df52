//! The interrupt descriptor table and the first-level handling of every vector.
//!
//! The table is built by hand rather than with the `x86_64` crate's typed table, whose safe
//! handler API needs the unstable `x86-interrupt` calling convention; our stubs are plain
//! addresses (see [`entry`](super::entry)). Gate format: Intel SDM vol. 3A section 6.14.1.

use super::entry::{STUB_VECTORS, fixup_for, stub_addresses};
use super::frame::RegisterFrame;
use super::segmentation::{self, DOUBLE_FAULT_STACK_INDEX};
use x86_64::VirtAddr;
use x86_64::instructions::tables::lidt;
use x86_64::registers::control::Cr2;
use x86_64::structures::DescriptorTablePointer;

/// The local APIC timer's vector.
pub const TIMER_VECTOR: u8 = 32;
/// The local APIC's spurious-interrupt vector.
pub const SPURIOUS_VECTOR: u8 = 255;

const BREAKPOINT_VECTOR: u8 = 3;
const NON_MASKABLE_VECTOR: u64 = 2;
const DOUBLE_FAULT_VECTOR: u8 = 8;
const MACHINE_CHECK_VECTOR: u64 = 18;
const DOUBLE_FAULT_VECTOR_NUMBER: u64 = DOUBLE_FAULT_VECTOR as u64;
const PAGE_FAULT_VECTOR: u64 = 14;
/// #NM: an FPU instruction while `CR0.TS` is set (Intel SDM vol. 3A section 6.15).
const DEVICE_NOT_AVAILABLE_VECTOR: u64 = 7;
const GENERAL_PROTECTION_VECTOR: u64 = 13;

#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    stack_index: u8,
    attributes: u8,
    offset_middle: u16,
    offset_high: u32,
    reserved: u32,
}

const ABSENT: Gate = Gate {
    offset_low: 0,
    selector: 0,
    stack_index: 0,
    attributes: 0,
    offset_middle: 0,
    offset_high: 0,
    reserved: 0,
};

static mut TABLE: [Gate; 256] = [ABSENT; 256];

/// Fills and loads the interrupt descriptor table.
pub fn initialize() {
    let code_selector = segmentation::selectors().kernel_code.0;
    for ((vector, _), address) in STUB_VECTORS.iter().zip(stub_addresses()) {
        // Present, 64-bit interrupt gate (interrupts stay off in the handler); `int3` may be
        // raised from user mode, every other vector only by the CPU.
        let privilege = if *vector == BREAKPOINT_VECTOR { 3 } else { 0 };
        let gate = Gate {
            offset_low: address as u16,
            selector: code_selector,
            stack_index: if *vector == DOUBLE_FAULT_VECTOR {
                DOUBLE_FAULT_STACK_INDEX as u8 + 1
            } else {
                0
            },
            attributes: 0x8e | (privilege << 5),
            offset_middle: (address >> 16) as u16,
            offset_high: (address >> 32) as u32,
            reserved: 0,
        };
        // SAFETY: boot-time initialization on one CPU before interrupts are enabled.
        unsafe { TABLE[*vector as usize] = gate };
    }
    let pointer = DescriptorTablePointer {
        limit: (size_of::<[Gate; 256]>() - 1) as u16,
        base: VirtAddr::new((&raw const TABLE) as u64),
    };
    // SAFETY: the table is a static that lives forever and every present gate points at a
    // stub that saves state correctly for its vector.
    unsafe { lidt(&pointer) };
}

fn fault_address() -> u64 {
    Cr2::read_raw()
}

/// An interrupt or exception taken in kernel mode.
pub fn kernel_trap(frame: &mut RegisterFrame) {
    match frame.vector {
        vector if vector == TIMER_VECTOR as u64 => {
            super::apic::end_of_interrupt();
            crate::trap::timer_interrupt(false);
        }
        vector if vector == SPURIOUS_VECTOR as u64 => {}
        PAGE_FAULT_VECTOR | GENERAL_PROTECTION_VECTOR if fixup_for(frame.rip).is_some() => {
            frame.rip = fixup_for(frame.rip).unwrap_or(frame.rip);
        }
        _ => kernel_fatal(frame),
    }
}

fn kernel_fatal(frame: &RegisterFrame) -> ! {
    panic!(
        "exception {} in kernel mode, error code {:#x}, cr2 {:#x}\n{}",
        frame.vector,
        frame.error_code,
        fault_address(),
        super::FrameDisplay(frame)
    );
}

/// An interrupt or exception taken in user mode; the thread's frame holds its state.
pub fn user_trap(vector: u64, error_code: u64) {
    match vector {
        vector if vector == TIMER_VECTOR as u64 => {
            super::apic::end_of_interrupt();
            crate::trap::timer_interrupt(true);
        }
        vector if vector == SPURIOUS_VECTOR as u64 => {}
        NON_MASKABLE_VECTOR | MACHINE_CHECK_VECTOR | DOUBLE_FAULT_VECTOR_NUMBER => {
            panic!("hardware error: vector {vector} while running user code")
        }
        DEVICE_NOT_AVAILABLE_VECTOR => crate::trap::fpu_unavailable(),
        vector if vector < 32 => {
            let address = if vector == PAGE_FAULT_VECTOR {
                fault_address()
            } else {
                0
            };
            crate::trap::user_exception(vector, error_code, address);
        }
        vector => panic!("unexpected interrupt vector {vector} in user mode"),
    }
}
