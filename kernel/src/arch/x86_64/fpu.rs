//! The user FPU/SSE state. The kernel is built without SSE (the `x86_64-unknown-none` target
//! uses soft float), so a thread's vector registers survive system calls untouched; they are
//! saved and restored with `fxsave64`/`fxrstor64` only when the CPU switches between threads
//! (Intel SDM vol. 1 section 10.5).
//!
//! A thread gets a save area only when it first uses the FPU: until then the CPU runs it with
//! `CR0.TS` set, so its first x87 or SSE instruction raises #NM (Intel SDM vol. 3A section
//! 2.5), and the registers hold the initial state rather than another thread's, so nothing
//! leaks even to speculation (the "lazy FPU" attack, CVE-2018-3665, needs another thread's
//! state in the registers).

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
        FpuState::initial()
    }
}

/// Loads the initial state into the CPU, wiping whatever thread's registers it held.
pub fn load_initial() {
    INITIAL.restore();
}

/// Sets or clears `CR0.TS`: while set, the next x87 or SSE instruction (and `fxsave64` and
/// `fxrstor64` themselves) raises #NM (Intel SDM vol. 3A section 2.5).
pub fn set_trap_on_use(trap: bool) {
    if trap {
        // SAFETY: sets one flag that only makes FPU instructions trap; the kernel uses none
        // outside this module, which clears it first.
        unsafe {
            x86_64::registers::control::Cr0::update(|flags| {
                flags.insert(x86_64::registers::control::Cr0Flags::TASK_SWITCHED)
            })
        }
    } else {
        // SAFETY: `clts` only clears CR0.TS.
        unsafe { core::arch::asm!("clts", options(nomem, nostack, preserves_flags)) }
    }
}

/// The initial state, loaded when the CPU runs a thread without a save area.
static INITIAL: FpuState = FpuState::initial();

impl FpuState {
    /// The state after `fninit` with all exceptions masked: control word 0x37f, MXCSR 0x1f80.
    const fn initial() -> FpuState {
        let mut area = [0u8; 512];
        area[0] = 0x7f;
        area[1] = 0x03;
        area[24] = 0x80;
        area[25] = 0x1f;
        FpuState(area)
    }

    /// Whether this is the initial state (a thread given it needs no save area).
    pub fn is_initial(&self) -> bool {
        self.0 == INITIAL.0
    }

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
