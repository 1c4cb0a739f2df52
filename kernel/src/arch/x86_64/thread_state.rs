//! Translating between a thread's saved frame and the ABI's [`ThreadState`], with the checks
//! that keep a user-supplied state from hurting the kernel: `rip`, `rsp` and the segment bases
//! must be canonical (`rip` and the bases in the user half: a non-canonical `rip` would make the
//! kernel's `iretq` fault in kernel mode), flags are limited to what user code may set, and
//! MXCSR may have no reserved bit set (`fxrstor64` would raise #GP in the kernel).

use super::entry::{USER_CODE_SELECTOR, USER_DATA_SELECTOR};
use super::fpu::FpuState;
use super::frame::RegisterFrame;
use abi::Error;
use abi::registers::USER_ADDRESS_LIMIT;
use abi::state::{FPU_AREA_SIZE, ThreadState, USER_FLAGS, register};

/// The `vector` of a frame built from a state: not the system-call marker, so the thread
/// leaves the kernel by `iretq`, which restores every register.
pub const FULL_FRAME_VECTOR: u64 = 0x101;

const INTERRUPT_FLAG: u64 = 1 << 9;
const RESERVED_ONE_FLAG: u64 = 1 << 1;

/// The registers of a frame in ABI order.
pub fn registers_of(frame: &RegisterFrame) -> [u64; 18] {
    [
        frame.rax,
        frame.rbx,
        frame.rcx,
        frame.rdx,
        frame.rsi,
        frame.rdi,
        frame.rbp,
        frame.rsp,
        frame.r8,
        frame.r9,
        frame.r10,
        frame.r11,
        frame.r12,
        frame.r13,
        frame.r14,
        frame.r15,
        frame.rip,
        frame.rflags,
    ]
}

fn is_canonical(address: u64) -> bool {
    // The hole between the halves (Intel SDM vol. 1 section 3.3.7.1).
    !(USER_ADDRESS_LIMIT..0xffff_8000_0000_0000).contains(&address)
}

/// Checks a state and builds the frame, FPU area and segment bases it stands for.
pub fn from_state(state: &ThreadState) -> Result<(RegisterFrame, FpuState), Error> {
    let registers = &state.registers;
    let user = |address: u64| address < USER_ADDRESS_LIMIT;
    if !user(registers[register::RIP])
        || !is_canonical(registers[register::RSP])
        || !user(state.fs_base)
        || !user(state.gs_base)
        || state.mxcsr() & !super::fpu::mxcsr_mask() != 0
    {
        return Err(Error::InvalidArgument);
    }
    let frame = RegisterFrame {
        rax: registers[register::RAX],
        rbx: registers[register::RBX],
        rcx: registers[register::RCX],
        rdx: registers[register::RDX],
        rsi: registers[register::RSI],
        rdi: registers[register::RDI],
        rbp: registers[register::RBP],
        rsp: registers[register::RSP],
        r8: registers[register::R8],
        r9: registers[register::R9],
        r10: registers[register::R10],
        r11: registers[register::R11],
        r12: registers[register::R12],
        r13: registers[register::R13],
        r14: registers[register::R14],
        r15: registers[register::R15],
        rip: registers[register::RIP],
        rflags: registers[register::RFLAGS] & USER_FLAGS | INTERRUPT_FLAG | RESERVED_ONE_FLAG,
        vector: FULL_FRAME_VECTOR,
        error_code: 0,
        cs: USER_CODE_SELECTOR,
        ss: USER_DATA_SELECTOR,
    };
    Ok((frame, FpuState::from_image(&state.fpu)))
}

impl FpuState {
    /// An FPU area from its `fxsave` image.
    pub fn from_image(bytes: &[u8; FPU_AREA_SIZE]) -> FpuState {
        FpuState(*bytes)
    }

    /// The `fxsave` image.
    pub fn image(&self) -> [u8; FPU_AREA_SIZE] {
        self.0
    }
}
