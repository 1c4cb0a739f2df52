//! The saved user register frame of a thread, written by the CPU and the entry stubs.
//!
//! Every entry from user mode (system call, exception, interrupt) saves the complete user
//! register state into the running thread's frame, not onto a kernel stack: the task state
//! segment's `rsp0` and the per-CPU frame pointer both point at the end of that frame, so the
//! CPU's own pushes (Intel SDM vol. 3A section 6.14.2) and the stub's pushes fill it in place.
//! A thread's whole user state is therefore always in one known place, whichever execution
//! model the kernel runs, which is what `thread_get_state` and restarts need.

use core::cell::UnsafeCell;

/// The `vector` value the system-call entry stores: not a CPU vector, it marks a frame that
/// may return with `sysretq` (its `rcx` and `r11` carry nothing the thread can rely on).
pub const SYSCALL_VECTOR: u64 = 0x100;

/// A user thread's registers, in the order the entry stubs push them.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(16))]
pub struct RegisterFrame {
    /// General-purpose registers.
    pub rax: u64,
    #[allow(missing_docs)]
    pub rbx: u64,
    #[allow(missing_docs)]
    pub rcx: u64,
    #[allow(missing_docs)]
    pub rdx: u64,
    #[allow(missing_docs)]
    pub rsi: u64,
    #[allow(missing_docs)]
    pub rdi: u64,
    #[allow(missing_docs)]
    pub rbp: u64,
    #[allow(missing_docs)]
    pub r8: u64,
    #[allow(missing_docs)]
    pub r9: u64,
    #[allow(missing_docs)]
    pub r10: u64,
    #[allow(missing_docs)]
    pub r11: u64,
    #[allow(missing_docs)]
    pub r12: u64,
    #[allow(missing_docs)]
    pub r13: u64,
    #[allow(missing_docs)]
    pub r14: u64,
    #[allow(missing_docs)]
    pub r15: u64,
    /// How the thread entered the kernel: a CPU vector, or [`SYSCALL_VECTOR`].
    pub vector: u64,
    /// The CPU's error code for exceptions that push one, else zero.
    pub error_code: u64,
    /// The interrupted instruction pointer (for a system call, the instruction after it).
    pub rip: u64,
    /// Code segment selector.
    pub cs: u64,
    /// Flags.
    pub rflags: u64,
    /// Stack pointer.
    pub rsp: u64,
    /// Stack segment selector.
    pub ss: u64,
}

/// Size of [`RegisterFrame`] in bytes; the entry assembly depends on it.
pub const FRAME_SIZE: usize = size_of::<RegisterFrame>();
const _: () = assert!(FRAME_SIZE == 22 * 8 && FRAME_SIZE.is_multiple_of(16));

/// The registers that describe an IPC transfer's bytes and handle.
pub type TransferRegisters = abi::registers::transfer::Transfer;

/// A frame the CPU writes behind Rust's back, owned by one thread.
///
/// Only the CPU running the thread touches it: the entry stubs while the thread enters the
/// kernel, kernel code between entry and exit, the exit stubs while it leaves. The kernel is
/// single-processor with interrupts off in kernel code, so those never overlap; the accessors
/// copy in and out and never hand out references that could outlive a call.
#[derive(Default)]
#[repr(transparent)]
pub struct SavedRegisters(UnsafeCell<RegisterFrame>);

// SAFETY: see the type's documentation: accesses are serialized by the kernel's single CPU
// with interrupts disabled in kernel code.
unsafe impl Sync for SavedRegisters {}
// SAFETY: the frame is plain data.
unsafe impl Send for SavedRegisters {}

impl SavedRegisters {
    /// A copy of the frame.
    pub fn get(&self) -> RegisterFrame {
        // SAFETY: see the type's documentation; no reference escapes.
        unsafe { *self.0.get() }
    }

    /// Changes the frame through a closure.
    pub fn update<R>(&self, change: impl FnOnce(&mut RegisterFrame) -> R) -> R {
        // SAFETY: see the type's documentation; the reference lives only for the closure,
        // which cannot re-enter the kernel's entry paths.
        change(unsafe { &mut *self.0.get() })
    }

    /// Points `rip` back at the `syscall` instruction just executed, so that running the
    /// thread again re-issues the call its registers name (DESIGN.md section 2, rule 2).
    pub fn point_back_at_syscall(&self) {
        self.update(|registers| registers.rip -= abi::registers::SYSCALL_INSTRUCTION_LENGTH);
    }

    /// Moves `rip` past the `syscall` instruction again, once the call it was pointed back at
    /// is complete.
    pub fn point_past_syscall(&self) {
        self.update(|registers| registers.rip += abi::registers::SYSCALL_INSTRUCTION_LENGTH);
    }

    /// The call number and the six argument registers of a system call, in ABI order.
    #[inline(always)]
    pub fn system_call(&self) -> (u64, [u64; 6]) {
        // SAFETY: see the type's documentation; only plain loads.
        let frame = unsafe { &*self.0.get() };
        (
            frame.rax,
            [
                frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9,
            ],
        )
    }

    /// The four words an IPC message carries: `rsi`, `rdx`, `r10`, `r8`.
    #[inline(always)]
    pub fn message(&self) -> [u64; 4] {
        // SAFETY: see the type's documentation; only plain loads.
        let frame = unsafe { &*self.0.get() };
        [frame.rsi, frame.rdx, frame.r10, frame.r8]
    }

    /// The registers of an IPC transfer (`abi::registers::transfer`).
    #[inline(always)]
    pub fn transfer(&self) -> TransferRegisters {
        // SAFETY: see the type's documentation; only plain loads.
        let frame = unsafe { &*self.0.get() };
        TransferRegisters {
            handle: frame.rbx,
            send_address: frame.r12,
            send_length: frame.r13,
            receive_address: frame.r14,
            receive_length: frame.r15,
        }
    }

    /// The instruction pointer.
    #[inline(always)]
    pub fn instruction_pointer(&self) -> u64 {
        // SAFETY: see the type's documentation; a plain load.
        unsafe { (*self.0.get()).rip }
    }

    /// The first argument register, `rdi`.
    #[inline(always)]
    pub fn first_argument(&self) -> u64 {
        // SAFETY: see the type's documentation; a plain load.
        unsafe { (*self.0.get()).rdi }
    }

    /// Completes a system call: the status into `rax`, `results` into `rdi`, `rsi`, `rdx`,
    /// `r10`, `r8`, `r9` in that order (the rest of those keep their values).
    #[inline(always)]
    pub fn complete_system_call(&self, status: u64, results: &[u64]) {
        // SAFETY: see the type's documentation; only plain stores.
        let frame = unsafe { &mut *self.0.get() };
        frame.rax = status;
        let targets = [
            &mut frame.rdi,
            &mut frame.rsi,
            &mut frame.rdx,
            &mut frame.r10,
            &mut frame.r8,
            &mut frame.r9,
        ];
        for (target, &result) in targets.into_iter().zip(results) {
            *target = result;
        }
    }

    /// The address just past the frame: where the CPU and the entry stubs start pushing.
    pub fn top(&self) -> u64 {
        self.0.get() as u64 + FRAME_SIZE as u64
    }
}
