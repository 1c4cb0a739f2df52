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
restore_kernel_context:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

    .global abandon_kernel_stack
abandon_kernel_stack:
    mov rsp, rdi
    jmp restore_kernel_context

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
    fn abandon_kernel_stack(load_stack_pointer: u64) -> !;
}

/// A kernel stack and the stack pointer saved when its thread last switched away.
pub struct KernelStack {
    // Atomic words only so that the stack's memory can be rewritten (`start_over`) through a
    // shared reference; the CPU uses it as a plain stack.
    memory: alloc::boxed::Box<[AtomicU64]>,
    saved_stack_pointer: AtomicU64,
    entry: extern "C" fn(u64) -> !,
    argument: u64,
}

impl KernelStack {
    /// A stack of `size` bytes that, when first switched to, calls `entry(argument)` (which
    /// must never return).
    pub fn new(size: usize, entry: extern "C" fn(u64) -> !, argument: u64) -> KernelStack {
        // Exactly `size` (a power of two), which the heap hands out naturally aligned.
        let memory = (0..size / 8).map(|_| AtomicU64::new(0)).collect();
        let stack = KernelStack {
            memory,
            saved_stack_pointer: AtomicU64::new(0),
            entry,
            argument,
        };
        stack.start_over();
        stack
    }

    /// Makes the next switch to this stack start afresh with `entry(argument)`, as the first
    /// one did: whatever context it held is dropped. The CPU must not be running on it
    /// (checked).
    pub fn start_over(&self) {
        let stack_pointer: u64;
        // SAFETY: reads the stack pointer; no memory access.
        unsafe { core::arch::asm!("mov {}, rsp", out(reg) stack_pointer, options(nomem, nostack)) };
        let start = self.memory.as_ptr() as u64;
        let top = self.top();
        assert!(
            !(start..top).contains(&stack_pointer),
            "starting over the kernel stack the CPU is running on"
        );
        // What `switch_kernel_stack` pops (r15, r14, r13 = entry, r12 = argument, rbx, rbp),
        // its return address, and two words that leave the stack 16-byte aligned before
        // `kernel_thread_start` calls the entry, as the System V ABI wants. Only the entry,
        // the argument and the return address matter: the other registers start as anything.
        // The frame ends at `top` (the aligned top the CPU uses), wherever the memory ends.
        const WORDS: u64 = 9;
        let base = top - WORDS * 8;
        let frame = &self.memory[((base - start) / 8) as usize..];
        frame[2].store(self.entry as *const () as u64, Relaxed);
        frame[3].store(self.argument, Relaxed);
        frame[6].store(kernel_thread_start as *const () as u64, Relaxed);
        self.saved_stack_pointer.store(base, Relaxed);
    }

    /// The stack pointer saved when this stack's thread last switched away.
    pub fn saved_stack_pointer(&self) -> u64 {
        self.saved_stack_pointer.load(Relaxed)
    }

    /// The address just above the stack, 16-byte aligned.
    pub fn top(&self) -> u64 {
        (self.memory.as_ptr() as u64 + self.memory.len() as u64 * 8) & !15
    }
}

/// Where a kernel context is saved when its thread switches away: the stack-pointer slot of a
/// kernel stack, and the stack's bounds, so a switch can check that it saves into the stack it
/// is running on.
pub struct SaveSlot {
    slot: *mut u64,
    bottom: u64,
    top: u64,
}

impl KernelStack {
    /// The slot a switch away from this stack saves into.
    pub fn save_slot(&self) -> SaveSlot {
        SaveSlot {
            slot: self.saved_stack_pointer.as_ptr(),
            bottom: self.memory.as_ptr() as u64,
            top: self.top(),
        }
    }
}

/// Saves the running kernel context into `from` (which must belong to the stack the CPU is on:
/// checked) and resumes the context saved at `to_stack_pointer`; returns when something
/// switches back. The caller holds no reference-counted pointer to its own thread across the
/// call, so a thread stopped here can be freed without ever running again.
pub fn switch(from: SaveSlot, to_stack_pointer: u64) {
    let stack_pointer: u64;
    // SAFETY: reads the stack pointer; no memory access.
    unsafe { core::arch::asm!("mov {}, rsp", out(reg) stack_pointer, options(nomem, nostack)) };
    assert!(
        (from.bottom..from.top).contains(&stack_pointer),
        "switching away from a stack the CPU is not running on"
    );
    // SAFETY: `from.slot` is the saved-stack-pointer slot of the stack we run on (checked
    // above), which stays allocated at least as long as we run on it; `to_stack_pointer` was
    // saved by this function or prepared by `KernelStack::new` on a stack whose thread the
    // scheduler keeps alive while it is the next to run. Interrupts are off.
    unsafe { switch_kernel_stack(from.slot, to_stack_pointer) }
}

/// Resumes a saved kernel context without saving the current one, which is never resumed (the
/// stack of a thread that has ended).
pub fn abandon_to(stack_pointer: u64) -> ! {
    // SAFETY: `stack_pointer` was saved by `switch` (or prepared by `KernelStack::new`) on a
    // stack that stays allocated while its thread exists; the current stack is left for good.
    unsafe { abandon_kernel_stack(stack_pointer) }
}
