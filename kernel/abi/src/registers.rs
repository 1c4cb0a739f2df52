//! The register convention of the `syscall` instruction.
//!
//! On entry `rax` holds the call number and up to six arguments travel in `rdi`, `rsi`,
//! `rdx`, `r10`, `r8`, `r9` (`rcx` and `r11` are taken by the instruction itself: it saves the
//! return address and flags there, AMD APM vol. 2 section 6.1.1). On return `rax` holds `0` or
//! an [`Error`](crate::Error) code and results replace the arguments in the same order; a
//! register beyond a call's results keeps its value.
//! Every other register, including the whole FPU/SSE state, `rsp`, `rbp` and the flags, is
//! preserved; `rcx` and `r11` are clobbered.
//!
//! A thread stopped inside a call shows `rip` pointing at its `syscall` instruction and the
//! registers naming the call to re-issue (DESIGN.md section 2), so resuming that state finishes
//! the call.

/// Length in bytes of the `syscall` instruction (`0f 05`): a restart point is the saved
/// return address minus this.
pub const SYSCALL_INSTRUCTION_LENGTH: u64 = 2;

/// Number of argument registers.
pub const ARGUMENT_REGISTERS: usize = 6;

/// Number of result registers besides the status in `rax`: results replace the arguments in
/// order (`rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`); most calls use at most the first three.
pub const RESULT_REGISTERS: usize = 6;

/// The words of an IPC message, carried in `rsi`, `rdx`, `r10` and `r8` both ways.
pub const MESSAGE_WORDS: usize = 4;

/// The IPC calls move a message's bytes and handle through five more registers, which they
/// read and rewrite (`rbx`, `r12` to `r15`; indices into `state::ThreadState::registers`):
/// the sender's `r12`/`r13` are the address and remaining length of the bytes to send, the
/// receiver's `r14`/`r15` the address and remaining room of the buffer they go to. Both pairs
/// advance together as bytes move, so at every moment they describe the rest of the transfer;
/// it ends when either count reaches zero (bytes beyond the receiver's room are not sent, and
/// the sender's count says how many). `rbx` holds a handle to send (0 for none), which the
/// kernel zeroes once it is sent; a receiving call sets `rbx` to the handle received, a new
/// handle in the receiver's space with the sender's rights (0 for none).
pub mod transfer {
    use crate::state::register;

    /// The address of the bytes still to send.
    pub const SEND_ADDRESS: usize = register::R12;
    /// How many bytes are still to send.
    pub const SEND_LENGTH: usize = register::R13;
    /// Where the next received byte goes.
    pub const RECEIVE_ADDRESS: usize = register::R14;
    /// How many more bytes the receive buffer takes.
    pub const RECEIVE_LENGTH: usize = register::R15;
    /// The handle to send, and then the handle received.
    pub const HANDLE: usize = register::RBX;

    /// The most bytes one call may name to send or to receive (16 MiB; longer requests
    /// stream in chunks): the kernel checks a buffer page by page before it moves anything,
    /// and that check must stay short.
    pub const LENGTH_MAX: u64 = 16 << 20;

    /// The five transfer registers' values.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Transfer {
        /// `rbx`: the handle to send (0 for none); after a receive, the handle received.
        pub handle: u64,
        /// `r12`: the address of the bytes still to send.
        pub send_address: u64,
        /// `r13`: how many bytes are still to send.
        pub send_length: u64,
        /// `r14`: where the next received byte goes.
        pub receive_address: u64,
        /// `r15`: how many more bytes the receive buffer takes.
        pub receive_length: u64,
    }
}

/// The first address above the user half of every address space: user pointers must lie
/// wholly below it. The kernel half starts at `0xffff_8000_0000_0000`; everything in between
/// is not canonical with 4-level paging (Intel SDM vol. 1 section 3.3.7.1).
pub const USER_ADDRESS_LIMIT: u64 = 0x0000_8000_0000_0000;

/// Addresses below this are never mapped in any space, so that null pointers and small
/// offsets from them always fault.
pub const NULL_GUARD_END: u64 = 0x1_0000;

/// The longest byte string one `DebugPrint` accepts.
pub const DEBUG_PRINT_MAX: u64 = 4096;

/// The highest thread priority; priorities run from 0 (lowest) to this.
pub const PRIORITY_MAX: u64 = 31;

/// The root program's first thread's priority.
pub const PRIORITY_ROOT: u64 = 16;

/// Nanoseconds per tick of the kernel clock; `ClockMonotonic` advances in these steps.
pub const CLOCK_TICK_NANOSECONDS: u64 = 1_000_000;
