//! Switching between kernel stacks, for the process model: each thread keeps its own kernel
//! stack, and a switch saves the callee-saved registers on the old stack and pops them from
//! the new one (the System V ABI says the rest are already saved by the caller).

use core::arch::global_asm;
use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::Relaxed;

global_asm!(
    r#"
    .global switch_kernel_stack
switch_kernel_stack:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

    .global kernel_thread_start
kernel_thread_start:
    mov rdi, r12
    call r13
    ud2
    "#
);

unsafe extern "C" {
    fn switch_kernel_stack(save_stack_pointer: *mut u64, load_stack_pointer: u64);
    fn kernel_thread_start();
}

/// A kernel stack and the stack pointer saved when its thread last switched away.
pub struct KernelStack {
    memory: alloc::boxed::Box<[u64]>,
    saved_stack_pointer: AtomicU64,
}

impl KernelStack {
    /// A stack of `size` bytes that, when first switched to, calls `entry(argument)` (which
    /// must never return).
    pub fn new(size: usize, entry: extern "C" fn(u64) -> !, argument: u64) -> KernelStack {
        let mut memory = alloc::vec![0u64; size / 8 + 2].into_boxed_slice();
        let start = memory.as_ptr() as u64;
        let top = (start + memory.len() as u64 * 8) & !15;
        // What `switch_kernel_stack` pops (r15, r14, r13 = entry, r12 = argument, rbx, rbp),
        // its return address, and two words that leave the stack 16-byte aligned before
        // `kernel_thread_start` calls the entry, as the System V ABI wants.
        let initial: [u64; 9] = [
            0,
            0,
            entry as *const () as u64,
            argument,
            0,
            0,
            kernel_thread_start as *const () as u64,
            0,
            0,
        ];
        let base = top - initial.len() as u64 * 8;
        let first_slot = ((base - start) / 8) as usize;
        memory[first_slot..first_slot + initial.len()].copy_from_slice(&initial);
        KernelStack {
            memory,
            saved_stack_pointer: AtomicU64::new(base),
        }
    }

    /// A record for the stack the CPU is running on now (the boot stack), so that switching
    /// away from it has somewhere to save its stack pointer.
    pub fn for_running_context() -> KernelStack {
        KernelStack {
            memory: alloc::boxed::Box::new([]),
            saved_stack_pointer: AtomicU64::new(0),
        }
    }

    /// The address just above the stack, 16-byte aligned.
    pub fn top(&self) -> u64 {
        (self.memory.as_ptr() as u64 + self.memory.len() as u64 * 8) & !15
    }
}

/// Saves the current kernel context into `from` and resumes `to`; returns when something
/// switches back to `from`.
pub fn switch(from: &KernelStack, to: &KernelStack) {
    // SAFETY: `to` holds a stack pointer saved by this function or prepared by
    // `KernelStack::new`, on a stack that stays allocated while its thread exists (callers
    // hold a reference to both threads across the switch); `from` is the stack we are running
    // on. Interrupts are off, so nothing observes the half-switched state.
    unsafe {
        switch_kernel_stack(
            from.saved_stack_pointer.as_ptr(),
            to.saved_stack_pointer.load(Relaxed),
        )
    }
}
