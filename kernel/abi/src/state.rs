//! The state of a thread as `ThreadGetState` writes it and `ThreadSetState` reads it: every
//! user-visible register, the `fs` and `gs` bases, the handles of its keeper, its space and
//! its IPC connections, and the FPU/SSE area, in a fixed byte layout (little-endian, no
//! padding) that does not depend on any compiler's struct layout.
//!
//! The objects a thread depends on travel as handles in the caller's table, when the caller
//! asks for them ([`flags::HANDLES`]): its keeper port, its space, and the two sides of the
//! connections it holds (the call it is making, the request it is serving), which link it to
//! its IPC peers. A thread never changes spaces: a state loaded into a thread may name only
//! that thread's space (or none). A state moved into a new thread without its connections
//! leaves their peers behind: the old thread's end closes them.
//!
//! A thread stopped inside a system call shows `rip` at its `syscall` instruction and the
//! registers naming the call (see [`registers`](crate::registers)): loading this state into any
//! thread and resuming it finishes the call.

/// The general registers in layout order.
pub const REGISTER_NAMES: [&str; 18] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip", "rflags",
];

/// Size of the `fxsave` area (Intel SDM vol. 1 section 10.5.1).
pub const FPU_AREA_SIZE: usize = 512;

/// Size of a serialized [`ThreadState`].
pub const THREAD_STATE_SIZE: usize = REGISTER_NAMES.len() * 8 + 6 * 8 + FPU_AREA_SIZE;

/// Flags of `ThreadGetState`, `ThreadSetState` and `ThreadCreate`.
pub mod flags {
    /// `ThreadGetState` puts handles to the objects the thread depends on into the caller's
    /// table and their values into the state (its keeper with SEND, its space with READ_STATE
    /// only, its connections with RECEIVE); `ThreadSetState` and `ThreadCreate` take them from
    /// the state (0 for none) and attach the keeper and the connections to the thread, and
    /// refuse a space other than the thread's. Without it, the handle fields read as 0 and are
    /// ignored. A connection's side stays open while a thread or a handle holds it.
    pub const HANDLES: u64 = 1;
}

/// The flags a thread may set: the arithmetic flags, trap, direction, overflow, alignment
/// check and ID. The kernel forces the interrupt flag on and I/O privilege to 0.
pub const USER_FLAGS: u64 = 0x0000_0cd5 | 1 << 8 | 1 << 18 | 1 << 21;

/// Offset of MXCSR inside the FPU area.
pub const MXCSR_OFFSET: usize = 24;

/// What a thread is doing, as `ThreadStatus` reports it in `rdi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Condition {
    /// Stopped: not yet resumed, or interrupted.
    Stopped = 0,
    /// Running or ready to run.
    Runnable = 1,
    /// Blocked in a call.
    Blocked = 2,
    /// Ended by `ThreadExit`, or with its space by `SpaceDestroy` (status [`KILLED`]); `rsi`
    /// holds the status.
    Exited = 3,
    /// Stopped by a CPU exception nobody handled; `rsi` holds the vector in bits 0-7 and the
    /// error code in bits 32-63, `rdx` the fault address (page faults) or 0.
    Faulted = 4,
}

impl Condition {
    /// The condition with this code.
    pub const fn from_code(code: u64) -> Option<Condition> {
        Some(match code {
            0 => Condition::Stopped,
            1 => Condition::Runnable,
            2 => Condition::Blocked,
            3 => Condition::Exited,
            4 => Condition::Faulted,
            _ => return None,
        })
    }
}

/// A thread's complete user state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadState {
    /// `rax` to `r15`, `rip`, `rflags`, in [`REGISTER_NAMES`] order.
    pub registers: [u64; 18],
    /// The `fs` segment base.
    pub fs_base: u64,
    /// The `gs` segment base.
    pub gs_base: u64,
    /// A handle to the port its exceptions go to, or 0 (see [`flags::HANDLES`]).
    pub keeper: u64,
    /// A handle to the space it runs in, or 0 (see [`flags::HANDLES`]; 0 also when it runs in
    /// the caller's own space).
    pub space: u64,
    /// A handle to the client side of the connection it holds (its call in progress), or 0
    /// (see [`flags::HANDLES`]; registers naming `Handle::CONNECTION` in a client stage refer
    /// to it).
    pub client_connection: u64,
    /// A handle to the server side of the connection it holds (the request it serves), or 0
    /// (see [`flags::HANDLES`]).
    pub server_connection: u64,
    /// The `fxsave64` image of the x87/MMX/SSE state.
    pub fpu: [u8; FPU_AREA_SIZE],
}

/// Indices into [`ThreadState::registers`].
#[allow(missing_docs)]
pub mod register {
    pub const RAX: usize = 0;
    pub const RBX: usize = 1;
    pub const RCX: usize = 2;
    pub const RDX: usize = 3;
    pub const RSI: usize = 4;
    pub const RDI: usize = 5;
    pub const RBP: usize = 6;
    pub const RSP: usize = 7;
    pub const R8: usize = 8;
    pub const R9: usize = 9;
    pub const R10: usize = 10;
    pub const R11: usize = 11;
    pub const R12: usize = 12;
    pub const R13: usize = 13;
    pub const R14: usize = 14;
    pub const R15: usize = 15;
    pub const RIP: usize = 16;
    pub const RFLAGS: usize = 17;
}

impl Default for ThreadState {
    /// Zero registers, interrupts on, and the FPU state after `fninit` with every exception
    /// masked (control word 0x37f, MXCSR 0x1f80).
    fn default() -> Self {
        let mut fpu = [0u8; FPU_AREA_SIZE];
        fpu[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        fpu[MXCSR_OFFSET..MXCSR_OFFSET + 4].copy_from_slice(&0x1f80u32.to_le_bytes());
        let mut registers = [0; 18];
        registers[register::RFLAGS] = 0x202;
        ThreadState {
            registers,
            fs_base: 0,
            gs_base: 0,
            keeper: 0,
            space: 0,
            client_connection: 0,
            server_connection: 0,
            fpu,
        }
    }
}

impl ThreadState {
    /// Writes the state in its byte layout.
    pub fn to_bytes(&self) -> [u8; THREAD_STATE_SIZE] {
        let mut bytes = [0u8; THREAD_STATE_SIZE];
        let words = self.registers.iter().chain([
            &self.fs_base,
            &self.gs_base,
            &self.keeper,
            &self.space,
            &self.client_connection,
            &self.server_connection,
        ]);
        for (index, word) in words.enumerate() {
            bytes[index * 8..index * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
        bytes[THREAD_STATE_SIZE - FPU_AREA_SIZE..].copy_from_slice(&self.fpu);
        bytes
    }

    /// Reads a state from its byte layout.
    pub fn from_bytes(bytes: &[u8; THREAD_STATE_SIZE]) -> ThreadState {
        let word = |index: usize| {
            let mut value = [0u8; 8];
            value.copy_from_slice(&bytes[index * 8..index * 8 + 8]);
            u64::from_le_bytes(value)
        };
        let mut fpu = [0u8; FPU_AREA_SIZE];
        fpu.copy_from_slice(&bytes[THREAD_STATE_SIZE - FPU_AREA_SIZE..]);
        ThreadState {
            registers: core::array::from_fn(word),
            fs_base: word(18),
            gs_base: word(19),
            keeper: word(20),
            space: word(21),
            client_connection: word(22),
            server_connection: word(23),
            fpu,
        }
    }

    /// The MXCSR value in the FPU area.
    pub fn mxcsr(&self) -> u32 {
        let mut value = [0u8; 4];
        value.copy_from_slice(&self.fpu[MXCSR_OFFSET..MXCSR_OFFSET + 4]);
        u32::from_le_bytes(value)
    }
}

/// The exit status a thread reads as once its space was destroyed under it (`SpaceDestroy`), or
/// stopped when its last handle was closed.
pub const KILLED: u64 = u64::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        let mut state = ThreadState::default();
        for (index, register) in state.registers.iter_mut().enumerate() {
            *register = 0x0101_0101_0101_0101 * index as u64;
        }
        state.fs_base = 0x7000;
        state.gs_base = 0x8000;
        state.keeper = 0x1_0000_0002;
        state.space = 0x3_0000_0005;
        state.client_connection = 0x4_0000_0006;
        state.server_connection = 0x5_0000_0007;
        state.fpu[100] = 0xab;
        let bytes = state.to_bytes();
        assert_eq!(ThreadState::from_bytes(&bytes), state);
        assert_eq!(
            &bytes[16 * 8..17 * 8],
            &state.registers[register::RIP].to_le_bytes()
        );
    }

    #[test]
    fn the_default_state_is_a_clean_fpu_with_interrupts_on() {
        let state = ThreadState::default();
        assert_eq!(state.mxcsr(), 0x1f80);
        assert_eq!(state.registers[register::RFLAGS] & (1 << 9), 1 << 9);
        // 18 registers, two segment bases, the keeper, space and two connection handles, the
        // 512-byte FPU area.
        assert_eq!(THREAD_STATE_SIZE, 704);
    }
}
