//! The time-stamp counter. Under QEMU with `-icount shift=0` it counts executed guest
//! instructions exactly, which is what the benchmarks report (DESIGN.md section 10).

/// Reads the time-stamp counter (`rdtsc`, Intel SDM vol. 2B).
#[inline(always)]
pub fn time_stamp() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: rdtsc only reads the counter; the kernel leaves CR4.TSD clear so user mode may.
    unsafe {
        core::arch::asm!("rdtsc", out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags));
    }
    (high as u64) << 32 | low as u64
}
