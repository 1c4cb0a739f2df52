//! The `syscall` instruction, by the register convention of `abi::registers`: call number in
//! `rax`, arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`; status back in `rax`, results in
//! `rdi`, `rsi`, `rdx`; `rcx` and `r11` clobbered; everything else preserved.

use abi::Call;

/// What a call returned: the status word and the three result registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Returned {
    /// `rax`: 0 or an error code.
    pub status: u64,
    /// `rdi`, `rsi`, `rdx` after the call.
    pub results: [u64; 3],
}

/// Issues a call with up to three arguments.
#[inline(always)]
pub fn call3(call: Call, first: u64, second: u64, third: u64) -> Returned {
    raw3(call.number(), first, second, third)
}

/// Issues any call number, known or not (for tests of the kernel's checks).
#[inline(always)]
pub fn raw3(number: u64, first: u64, second: u64, third: u64) -> Returned {
    let status: u64;
    let (mut rdi, mut rsi, mut rdx) = (first, second, third);
    // SAFETY: the kernel preserves every register but rax, rcx, r11 and the result registers
    // (declared here), and touches no user memory but what the arguments name, which the
    // typed wrappers in `crate::syscall` only ever point at live buffers.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number => status,
            inout("rdi") rdi,
            inout("rsi") rsi,
            inout("rdx") rdx,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    Returned {
        status,
        results: [rdi, rsi, rdx],
    }
}

/// The cheapest call: only `rax` goes in and comes back.
#[inline(always)]
pub fn call0(call: Call) -> u64 {
    let status: u64;
    // SAFETY: as in `raw3`; a call without arguments changes no argument register.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") call.number() => status,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags),
        );
    }
    status
}

/// Issues a call with six argument registers, all of which may come back as results (the IPC
/// calls, whose multi-stage restarts may also rewrite them in between).
#[inline(always)]
pub fn call6(call: Call, arguments: [u64; 6]) -> (u64, [u64; 6]) {
    let status: u64;
    let [mut rdi, mut rsi, mut rdx, mut r10, mut r8, mut r9] = arguments;
    // SAFETY: as in `raw3`; every argument register is declared as changed.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") call.number() => status,
            inout("rdi") rdi,
            inout("rsi") rsi,
            inout("rdx") rdx,
            inout("r10") r10,
            inout("r8") r8,
            inout("r9") r9,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (status, [rdi, rsi, rdx, r10, r8, r9])
}

/// Issues an IPC call that carries register words only: the transfer registers go in as zero
/// (no handle to send, no bytes to send, no room to receive into). The status, the results,
/// and the handle that came back (`rbx`: one a request or reply brought, or 0). The cheapest
/// IPC, for the fast path: [`call_with_transfer`] with zeroed registers would do the same, for
/// 7 more instructions a round trip (measured), so this one zeroes them in the block itself.
#[inline(always)]
pub fn call_words(call: Call, arguments: [u64; 6]) -> (u64, [u64; 6], u64) {
    let status: u64;
    let received: u64;
    let [mut rdi, mut rsi, mut rdx, mut r10, mut r8, mut r9] = arguments;
    // SAFETY: as in `raw3`; every argument and transfer register is declared as changed. The
    // compiler reserves `rbx`, so it is saved on the stack around the call, which sends the
    // handle 0 in it. With no bytes to send or receive, the kernel touches no user memory.
    unsafe {
        core::arch::asm!(
            "push rbx",
            "xor ebx, ebx",
            "syscall",
            "mov rcx, rbx",
            "pop rbx",
            inlateout("rax") call.number() => status,
            inout("rdi") rdi,
            inout("rsi") rsi,
            inout("rdx") rdx,
            inout("r10") r10,
            inout("r8") r8,
            inout("r9") r9,
            lateout("rcx") received,
            inout("r12") 0u64 => _,
            inout("r13") 0u64 => _,
            inout("r14") 0u64 => _,
            inout("r15") 0u64 => _,
            lateout("r11") _,
        );
    }
    (status, [rdi, rsi, rdx, r10, r8, r9], received)
}

/// The registers of an IPC transfer: what is left to send, the room left to receive into, and
/// the handle to send or the one received.
pub use abi::registers::transfer::Transfer as TransferRegisters;

/// Issues an IPC call with six argument registers and the transfer registers, all of which
/// may come back changed.
#[inline(always)]
pub fn call_with_transfer(
    call: Call,
    arguments: [u64; 6],
    transfer: &mut TransferRegisters,
) -> (u64, [u64; 6]) {
    let status: u64;
    let [mut rdi, mut rsi, mut rdx, mut r10, mut r8, mut r9] = arguments;
    // SAFETY: as in `raw3`; every argument and transfer register is declared as changed. The
    // compiler reserves `rbx`, so the handle travels in `rcx` (free until the instruction
    // overwrites it) and `rbx` is saved on the stack around the call. The kernel touches no
    // memory but the two buffers the transfer registers name, which the typed wrappers in
    // `crate::ipc` take from live slices (the receive buffer mutably).
    unsafe {
        core::arch::asm!(
            "push rbx",
            "mov rbx, rcx",
            "syscall",
            "mov rcx, rbx",
            "pop rbx",
            inlateout("rax") call.number() => status,
            inout("rcx") transfer.handle,
            inout("rdi") rdi,
            inout("rsi") rsi,
            inout("rdx") rdx,
            inout("r10") r10,
            inout("r8") r8,
            inout("r9") r9,
            inout("r12") transfer.send_address,
            inout("r13") transfer.send_length,
            inout("r14") transfer.receive_address,
            inout("r15") transfer.receive_length,
            lateout("r11") _,
        );
    }
    (status, [rdi, rsi, rdx, r10, r8, r9])
}
