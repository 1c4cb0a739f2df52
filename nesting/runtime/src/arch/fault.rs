//! Deliberate CPU exceptions, for tests of the kernel's isolation and for debuggers.
//!
//! Each function's faulting instruction is at a known address ([`Fault::site`]), so a caller
//! can predict exactly what the kernel must report: vector, error code, instruction pointer
//! and fault address follow from the architecture (Intel SDM vol. 3A chapter 6).

use core::arch::global_asm;
use core::ops::Not;

global_asm!(
    r#"
    .pushsection .text.runtime_faults, "ax"
    .global runtime_fault_invalid_opcode
runtime_fault_invalid_opcode:
    ud2
    .global runtime_fault_breakpoint
runtime_fault_breakpoint:
    int3
    ud2
    .global runtime_fault_divide
runtime_fault_divide:
    div rdi
    ud2
    .global runtime_fault_load
runtime_fault_load:
    mov rax, qword ptr [rdi]
    ud2
    .global runtime_fault_store
runtime_fault_store:
    mov qword ptr [rdi], rsi
    ud2
    .global runtime_fault_load_data_segment
runtime_fault_load_data_segment:
    mov ds, di
    ud2
    .global runtime_fault_halt
runtime_fault_halt:
    hlt
    ud2
    .global runtime_fault_port_input
runtime_fault_port_input:
    in al, dx
    ud2
    .global runtime_fault_software_interrupt
runtime_fault_software_interrupt:
    int 0x20
    ud2
    .global runtime_fault_jump
runtime_fault_jump:
    jmp rdi
    .global runtime_fault_push_prepare
runtime_fault_push_prepare:
    mov rsp, rdi
    .global runtime_fault_push
runtime_fault_push:
    push rax
    ud2
    .popsection
    "#
);

unsafe extern "C" {
    fn runtime_fault_invalid_opcode() -> !;
    fn runtime_fault_breakpoint() -> !;
    fn runtime_fault_divide(divisor: u64) -> !;
    fn runtime_fault_load(address: u64) -> !;
    fn runtime_fault_store(address: u64, value: u64) -> !;
    fn runtime_fault_load_data_segment(selector: u64) -> !;
    fn runtime_fault_halt() -> !;
    fn runtime_fault_port_input(unused: u64, also_unused: u64, port: u64) -> !;
    fn runtime_fault_jump(target: u64) -> !;
    fn runtime_fault_software_interrupt() -> !;
    fn runtime_fault_push_prepare(stack_pointer: u64) -> !;
    static runtime_fault_push: u8;
}

/// Bytes in a data section: `ud2` instructions, in case a loader wrongly mapped them
/// executable (the thread then still faults, with #UD instead of #PF).
static NOT_CODE: [u8; 16] = [
    0x0f, 0x0b, 0x0f, 0x0b, 0x0f, 0x0b, 0x0f, 0x0b, 0x0f, 0x0b, 0x0f, 0x0b, 0x0f, 0x0b, 0x0f, 0x0b,
];

/// A way to make the CPU raise an exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `ud2`.
    InvalidOpcode,
    /// `int3`.
    Breakpoint,
    /// `div` by zero.
    DivideByZero,
    /// A read from the address.
    Load(u64),
    /// A write to the address, which must lie outside the user half (it would otherwise
    /// write to this program's memory).
    Store(u64),
    /// Loading the selector into `ds`.
    LoadDataSegment(u16),
    /// `hlt`, a privileged instruction.
    Halt,
    /// `in al, dx` from the port.
    PortInput(u16),
    /// Jumping into a page of data, which the loader maps non-executable.
    ExecuteData,
    /// `int 0x20`, the vector of the kernel's timer, which user code may not raise.
    SoftwareInterrupt,
    /// Setting the stack pointer to the address, which must lie in the never-mapped null
    /// guard (`abi::registers::NULL_GUARD_END`) or outside the user half, and pushing.
    Push(u64),
}

impl Fault {
    /// The address of the instruction that raises the exception.
    pub fn site(self) -> u64 {
        match self {
            Fault::InvalidOpcode => runtime_fault_invalid_opcode as *const () as u64,
            Fault::Breakpoint => runtime_fault_breakpoint as *const () as u64,
            Fault::DivideByZero => runtime_fault_divide as *const () as u64,
            Fault::Load(_) => runtime_fault_load as *const () as u64,
            Fault::Store(_) => runtime_fault_store as *const () as u64,
            Fault::LoadDataSegment(_) => runtime_fault_load_data_segment as *const () as u64,
            Fault::Halt => runtime_fault_halt as *const () as u64,
            Fault::PortInput(_) => runtime_fault_port_input as *const () as u64,
            Fault::ExecuteData => (&raw const NOT_CODE) as u64,
            Fault::SoftwareInterrupt => runtime_fault_software_interrupt as *const () as u64,
            Fault::Push(_) => &raw const runtime_fault_push as u64,
        }
    }

    /// Raises the exception. Returns only if a keeper resumes the thread past it, which the
    /// functions do not expect: each ends in `ud2`.
    ///
    /// Panics if a `Store` or `Push` could write to memory the program maps.
    pub fn raise(self) -> ! {
        use abi::registers::{NULL_GUARD_END, USER_ADDRESS_LIMIT};
        let writes_own_memory = match self {
            Fault::Store(address) => address < USER_ADDRESS_LIMIT,
            // The push writes the 8 bytes below the new stack pointer.
            Fault::Push(address) => {
                (8..=NULL_GUARD_END).contains(&address).not() && address < USER_ADDRESS_LIMIT
            }
            _ => false,
        };
        assert!(
            !writes_own_memory,
            "{self:?} would write to the program's own memory"
        );
        // SAFETY: each function only executes its faulting instruction (then `ud2`). Reads
        // have no effect on the program; writes and pushes target the null guard or addresses
        // outside the user half (checked above), which fault before anything is written; the jump lands in a
        // non-executable data page, which faults on the fetch.
        unsafe {
            match self {
                Fault::InvalidOpcode => runtime_fault_invalid_opcode(),
                Fault::Breakpoint => runtime_fault_breakpoint(),
                Fault::DivideByZero => runtime_fault_divide(0),
                Fault::Load(address) => runtime_fault_load(address),
                Fault::Store(address) => runtime_fault_store(address, 0),
                Fault::LoadDataSegment(selector) => {
                    runtime_fault_load_data_segment(selector as u64)
                }
                Fault::Halt => runtime_fault_halt(),
                Fault::PortInput(port) => runtime_fault_port_input(0, 0, port as u64),
                Fault::ExecuteData => runtime_fault_jump((&raw const NOT_CODE) as u64),
                Fault::SoftwareInterrupt => runtime_fault_software_interrupt(),
                Fault::Push(stack_pointer) => runtime_fault_push_prepare(stack_pointer),
            }
        }
    }
}
