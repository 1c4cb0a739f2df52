//! The user FPU/SSE state. The kernel is built without SSE (the `x86_64-unknown-none` target
//! uses soft float), so a thread's vector registers survive system calls untouched; they are
//! saved and restored with `fxsave64`/`fxrstor64` only when the CPU switches between threads
//! (Intel SDM vol. 1 section 10.5).

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

static MXCSR_MASK: AtomicU32 = AtomicU32::new(0xffbf);

/// Reads the MXCSR bits this CPU accepts (the `MXCSR_MASK` field of an `fxsave` image; 0 there
/// means the architectural default 0xffbf, Intel SDM vol. 1 section 11.6.6).
pub fn initialize() {
    let mut probe = FpuState([0; 512]);
    probe.save();
    let mut field = [0u8; 4];
    field.copy_from_slice(&probe.0[28..32]);
    let mask = u32::from_le_bytes(field);
    MXCSR_MASK.store(if mask == 0 { 0xffbf } else { mask }, Relaxed);
}

/// The MXCSR bits a thread state may set: any other makes `fxrstor64` fault.
pub fn mxcsr_mask() -> u32 {
    MXCSR_MASK.load(Relaxed)
}

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
