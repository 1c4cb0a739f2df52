//! The user FPU/SSE state. The kernel is built without SSE (the `x86_64-unknown-none` target
//! uses soft float), so a thread's vector registers survive system calls untouched; they are
//! saved and restored with `fxsave64`/`fxrstor64` only when the CPU switches between threads
//! (Intel SDM vol. 1 section 10.5).

/// A 512-byte `fxsave` area.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub struct FpuState(pub(super) [u8; 512]);

impl Default for FpuState {
    /// The state after `fninit` with all exceptions masked: control word 0x37f, MXCSR 0x1f80.
    fn default() -> Self {
        let mut area = [0u8; 512];
        area[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        area[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        FpuState(area)
    }
}

impl FpuState {
    /// Saves the CPU's current FPU/SSE state here.
    pub fn save(&mut self) {
        // SAFETY: the area is 512 bytes, 16-byte aligned, and exclusively borrowed.
        unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) self.0.as_mut_ptr(), options(nostack)) }
    }

    /// Loads this state into the CPU.
    pub fn restore(&self) {
        // SAFETY: as in `save`. The area holds the default state or one `fxsave64` wrote, so
        // no reserved MXCSR bit is set (which would make `fxrstor64` raise #GP).
        unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) self.0.as_ptr(), options(nostack)) }
    }
}
