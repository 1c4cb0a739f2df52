//! The ways into and out of the kernel: the `syscall` entry, the interrupt and exception
//! stubs, and the two exits to user mode (`sysretq` and `iretq`).
//!
//! Entries from user mode save the user registers into the running thread's frame (see
//! [`frame`](super::frame)) and then switch to the kernel stack named in the per-CPU area: the
//! thread's own stack in the process model, the CPU's single stack in the interrupt model.
//! Entries from kernel mode (only interrupts in the idle loop and faults on user memory during
//! copies) push a frame on the current kernel stack and return to it.

use super::cpu::offsets::{FRAME_TOP, KERNEL_STACK_TOP, USER_STACK_SCRATCH};
use super::frame::{FRAME_SIZE, RegisterFrame, SYSCALL_VECTOR, SavedRegisters};
use core::arch::global_asm;

/// Vectors with a stub, and whether the CPU pushes an error code for them (Intel SDM vol. 3A
/// table 6-1). Vectors 32 and 255 are the local APIC timer and spurious interrupt.
pub const STUB_VECTORS: [(u8, bool); 34] = [
    (0, false),
    (1, false),
    (2, false),
    (3, false),
    (4, false),
    (5, false),
    (6, false),
    (7, false),
    (8, true),
    (9, false),
    (10, true),
    (11, true),
    (12, true),
    (13, true),
    (14, true),
    (15, false),
    (16, false),
    (17, true),
    (18, false),
    (19, false),
    (20, false),
    (21, true),
    (22, false),
    (23, false),
    (24, false),
    (25, false),
    (26, false),
    (27, false),
    (28, false),
    (29, true),
    (30, true),
    (31, false),
    (32, false),
    (255, false),
];

macro_rules! interrupt_stubs {
    ($(($vector:literal, $error:literal)),* $(,)?) => {
        global_asm!(
            ".macro interrupt_stub vector, pushes_error",
            ".p2align 4",
            "interrupt_stub_\\vector:",
            ".if \\pushes_error == 0",
            "push 0",
            ".endif",
            "push \\vector",
            "jmp interrupt_common",
            ".endm",
            $(concat!("interrupt_stub ", $vector, ", ", $error),)*
            ".pushsection .rodata.interrupt_stub_table, \"a\"",
            ".p2align 3",
            ".global interrupt_stub_table",
            "interrupt_stub_table:",
            $(concat!(".quad interrupt_stub_", $vector),)*
            ".popsection",
        );
    };
}

interrupt_stubs!(
    (0, 0),
    (1, 0),
    (2, 0),
    (3, 0),
    (4, 0),
    (5, 0),
    (6, 0),
    (7, 0),
    (8, 1),
    (9, 0),
    (10, 1),
    (11, 1),
    (12, 1),
    (13, 1),
    (14, 1),
    (15, 0),
    (16, 0),
    (17, 1),
    (18, 0),
    (19, 0),
    (20, 0),
    (21, 1),
    (22, 0),
    (23, 0),
    (24, 0),
    (25, 0),
    (26, 0),
    (27, 0),
    (28, 0),
    (29, 1),
    (30, 1),
    (31, 0),
    (32, 0),
    (255, 0),
);

global_asm!(
    r#"
    /* The general registers in the order of `RegisterFrame`: rax ends lowest. */
    .macro push_general_registers
    push r15
    push r14
    push r13
    push r12
    push r11
    push r10
    push r9
    push r8
    push rbp
    push rdi
    push rsi
    push rdx
    push rcx
    push rbx
    push rax
    .endm
    .macro pop_general_registers
    pop rax
    pop rbx
    pop rcx
    pop rdx
    pop rsi
    pop rdi
    pop rbp
    pop r8
    pop r9
    pop r10
    pop r11
    pop r12
    pop r13
    pop r14
    pop r15
    .endm

    .global syscall_entry
syscall_entry:
    swapgs
    mov gs:[{scratch}], rsp
    mov rsp, gs:[{frame_top}]
    push {user_data}
    push qword ptr gs:[{scratch}]
    push r11
    push {user_code}
    push rcx
    push 0
    push {syscall_vector}
    push_general_registers
    mov rdi, rsp
    mov rsp, gs:[{kernel_stack}]
    call {system_call}
    jmp exit_to_user

interrupt_common:
    test qword ptr [rsp + 24], 3
    jz 1f
    swapgs
1:
    cld
    push_general_registers
    mov rdi, rsp
    test qword ptr [rsp + 15 * 8 + 24], 3
    jz 2f
    mov rsp, gs:[{kernel_stack}]
    call {user_trap}
    jmp exit_to_user
2:
    call {kernel_trap}
    pop_general_registers
    add rsp, 16
    iretq

    .global exit_to_user
exit_to_user:
    mov rsp, gs:[{frame_top}]
    sub rsp, {frame_size}
    /* A return address outside the user half would fault in ring 0 on either exit. */
    mov rcx, [rsp + 17 * 8]
    shr rcx, 47
    jnz 5f
    cmp qword ptr [rsp + 15 * 8], {syscall_vector}
    pop_general_registers
    jne 3f
    mov rcx, [rsp + 16]
    mov r11, [rsp + 32]
    mov rsp, [rsp + 40]
    swapgs
    sysretq
3:
    add rsp, 16
    swapgs
    iretq
5:
    mov rsp, gs:[{kernel_stack}]
    call {bad_return}
    ud2

    .global user_copy
user_copy:
    mov rcx, rdx
    .global user_copy_instruction
user_copy_instruction:
    rep movsb
    xor eax, eax
    ret
    .global user_copy_fixup
user_copy_fixup:
    mov eax, 1
    ret
    "#,
    scratch = const USER_STACK_SCRATCH,
    frame_top = const FRAME_TOP,
    kernel_stack = const KERNEL_STACK_TOP,
    frame_size = const FRAME_SIZE,
    syscall_vector = const SYSCALL_VECTOR,
    user_data = const USER_DATA_SELECTOR,
    user_code = const USER_CODE_SELECTOR,
    system_call = sym system_call_entry,
    user_trap = sym user_trap_entry,
    bad_return = sym bad_return_entry,
    kernel_trap = sym kernel_trap_entry,
);

/// The user data selector (GDT slot 3, RPL 3); checked against the GDT at boot.
pub const USER_DATA_SELECTOR: u64 = 0x1b;
/// The user code selector (GDT slot 4, RPL 3); checked against the GDT at boot.
pub const USER_CODE_SELECTOR: u64 = 0x23;

unsafe extern "C" {
    fn syscall_entry();
    fn exit_to_user() -> !;
    fn user_copy(destination: *mut u8, source: *const u8, length: usize) -> u64;
    static interrupt_stub_table: [u64; 34];
    static user_copy_instruction: u8;
    static user_copy_fixup: u8;
}

/// The address the `syscall` instruction jumps to (for `IA32_LSTAR`).
pub fn system_call_entry_address() -> u64 {
    syscall_entry as *const () as u64
}

/// The stub address for each vector in [`STUB_VECTORS`], in the same order.
pub fn stub_addresses() -> [u64; 34] {
    // SAFETY: the table is immutable data emitted by the assembly above.
    unsafe { interrupt_stub_table }
}

extern "C" fn system_call_entry(registers: *const SavedRegisters) {
    // SAFETY: the stub passes the running thread's frame (the per-CPU frame pointer), which
    // lives inside the thread for as long as the thread exists, and the thread cannot be
    // destroyed while it is executing this system call.
    let registers = unsafe { &*registers };
    crate::trap::system_call(registers);
}

extern "C" fn user_trap_entry(frame: *const RegisterFrame) {
    // SAFETY: the stub passes the address of the running thread's frame, fully written.
    let (vector, error_code) = unsafe { ((*frame).vector, (*frame).error_code) };
    super::interrupts::user_trap(vector, error_code);
}

/// The running thread's return address is outside the user half (a `syscall` in the last two
/// bytes of it, say): the thread takes a general-protection fault there instead of the kernel.
extern "C" fn bad_return_entry() -> ! {
    crate::trap::user_exception(13, 0, 0);
    return_to_user()
}

extern "C" fn kernel_trap_entry(frame: *mut RegisterFrame) {
    // SAFETY: the stub passes the frame it just pushed on the current kernel stack; nothing
    // else refers to it until the stub pops it after this returns.
    let frame = unsafe { &mut *frame };
    super::interrupts::kernel_trap(frame);
}

/// Leaves the kernel into the running thread's saved user state: with `sysretq` when the
/// frame came from a system call, otherwise with `iretq`.
pub fn return_to_user() -> ! {
    // SAFETY: the per-CPU area names the running thread's frame, which holds a complete user
    // state with user selectors (written by an entry stub or by the kernel when it built the
    // thread), so the exit stub restores a valid user context.
    unsafe { exit_to_user() }
}

/// Copies `length` bytes between kernel and user memory; `false` if a page fault stopped it
/// part-way (the destination then holds a prefix of the data).
///
/// The caller has checked that the user side lies wholly in the user half and that the
/// kernel side is a live kernel buffer; a fault can only come from an unmapped user page.
pub fn copy_with_fault_recovery(destination: *mut u8, source: *const u8, length: usize) -> bool {
    // SAFETY: per the contract above, every byte either side is user memory in the current
    // address space (faults are recovered through `fixup_for`) or owned kernel memory.
    unsafe { user_copy(destination, source, length) == 0 }
}

/// If a kernel-mode fault at `rip` is a user-memory copy, where to resume instead.
pub fn fixup_for(rip: u64) -> Option<u64> {
    let instruction = &raw const user_copy_instruction as u64;
    (rip == instruction).then_some(&raw const user_copy_fixup as u64)
}
