//! Register probes: fill registers with known patterns, let the kernel run (a system call, a
//! blocking call, timer interrupts), and report which registers came back different. They
//! check the ABI's promise that every register but `rax`, `rcx`, `r11` (and a call's results)
//! survives, including the FPU/SSE state across context switches.

use abi::Call;

/// The pattern a probe writes into register number `index`.
pub const fn pattern(index: u64) -> u64 {
    0x5a5a_0000_0000_0000 ^ (index.wrapping_mul(0x0101_0101_0101_0101)) ^ 0x1234_5678
}

/// Bit positions of [`system_call_preserves_registers`]'s result.
pub mod bits {
    /// `rbx` changed.
    pub const RBX: u64 = 1 << 0;
    /// `rbp` changed.
    pub const RBP: u64 = 1 << 1;
    /// `rdx` changed.
    pub const RDX: u64 = 1 << 2;
    /// `rsi` changed.
    pub const RSI: u64 = 1 << 3;
    /// `rdi` changed.
    pub const RDI: u64 = 1 << 4;
    /// `r8` changed; `r9`, `r10`, `r12` to `r15` follow in bits 6 to 11.
    pub const R8: u64 = 1 << 5;
    /// The direction flag was not restored.
    pub const DIRECTION_FLAG: u64 = 1 << 12;
    /// `rsp` changed.
    pub const RSP: u64 = 1 << 13;
}

/// Issues `call` with the argument registers holding patterns and the direction flag set, and
/// returns a mask ([`bits`]) of what did not survive. Use a call whose arguments the kernel
/// ignores or rejects without results (such as `Null`).
pub fn system_call_preserves_registers(call: Call) -> u64 {
    let mut changed: u64;
    // SAFETY: every register the block writes is saved and restored or declared clobbered;
    // the direction flag is cleared again before the block ends, as the ABI requires.
    unsafe {
        core::arch::asm!(
            "push rbx",
            "push rbp",
            "push r12",
            "push r13",
            "push r14",
            "push r15",
            "mov r15, rsp",
            "mov rbx, {p0}",
            "mov rbp, {p1}",
            "mov rdx, {p2}",
            "mov rsi, {p3}",
            "mov rdi, {p4}",
            "mov r8, {p5}",
            "mov r9, {p6}",
            "mov r10, {p7}",
            "mov r12, {p9}",
            "mov r13, {p10}",
            "mov r14, {p11}",
            "std",
            "syscall",
            "pushfq",
            "cld",
            "pop rcx",
            "xor eax, eax",
            "bt rcx, 10",
            "jc 2f",
            "or rax, {direction}",
            "2:",
            "cmp rsp, r15",
            "je 2f",
            "or rax, {stack}",
            "mov rsp, r15",
            "2:",
            "mov rcx, {p0}", "cmp rbx, rcx", "je 2f", "or rax, 1", "2:",
            "mov rcx, {p1}", "cmp rbp, rcx", "je 2f", "or rax, 2", "2:",
            "mov rcx, {p2}", "cmp rdx, rcx", "je 2f", "or rax, 4", "2:",
            "mov rcx, {p3}", "cmp rsi, rcx", "je 2f", "or rax, 8", "2:",
            "mov rcx, {p4}", "cmp rdi, rcx", "je 2f", "or rax, 16", "2:",
            "mov rcx, {p5}", "cmp r8, rcx", "je 2f", "or rax, 32", "2:",
            "mov rcx, {p6}", "cmp r9, rcx", "je 2f", "or rax, 64", "2:",
            "mov rcx, {p7}", "cmp r10, rcx", "je 2f", "or rax, 128", "2:",
            "mov rcx, {p9}", "cmp r12, rcx", "je 2f", "or rax, 512", "2:",
            "mov rcx, {p10}", "cmp r13, rcx", "je 2f", "or rax, 1024", "2:",
            "mov rcx, {p11}", "cmp r14, rcx", "je 2f", "or rax, 2048", "2:",
            "pop r15",
            "pop r14",
            "pop r13",
            "pop r12",
            "pop rbp",
            "pop rbx",
            p0 = const pattern(0), p1 = const pattern(1), p2 = const pattern(2),
            p3 = const pattern(3), p4 = const pattern(4), p5 = const pattern(5),
            p6 = const pattern(6), p7 = const pattern(7), p9 = const pattern(9),
            p10 = const pattern(10), p11 = const pattern(11),
            direction = const bits::DIRECTION_FLAG,
            stack = const bits::RSP,
            inlateout("rax") call.number() => changed,
            out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
    changed
}

/// Issues `call` (without arguments) with the stack pointer set to `stack_pointer`, which
/// need not point at memory at all, and returns the status. The kernel never touches the user
/// stack, so the call must behave as with a good one.
pub fn system_call_with_stack_pointer(call: Call, stack_pointer: u64) -> u64 {
    let status: u64;
    // SAFETY: the real stack pointer is kept in a callee-saved register and restored right
    // after the call; nothing uses the stack in between (the kernel does not, by the ABI).
    unsafe {
        core::arch::asm!(
            "push rbx",
            "mov rbx, rsp",
            "mov rsp, {stack_pointer}",
            "syscall",
            "mov rsp, rbx",
            "pop rbx",
            stack_pointer = in(reg) stack_pointer,
            inlateout("rax") call.number() => status,
            out("rcx") _, out("r11") _, out("rdi") _, out("rsi") _, out("rdx") _,
        );
    }
    status
}

/// Loads `xmm0`..`xmm15` with patterns, issues `call` with one argument (for example
/// `SleepUntil` with a deadline, so the thread blocks and the CPU switches away), and returns
/// a mask of the vector registers that came back different (bit n for `xmmn`).
pub fn vector_registers_survive(call: Call, argument: u64) -> u64 {
    let patterns: [u64; 32] = core::array::from_fn(|index| pattern(100 + index as u64));
    let mut after = [0u64; 32];
    // SAFETY: the block reads `patterns` and writes `after` (both live, 16-byte multiples,
    // read and written unaligned); the vector registers are not used by this soft-float
    // program's compiled code, so changing them disturbs nothing.
    unsafe {
        core::arch::asm!(
            "movdqu xmm0, [{input}]", "movdqu xmm1, [{input} + 16]",
            "movdqu xmm2, [{input} + 32]", "movdqu xmm3, [{input} + 48]",
            "movdqu xmm4, [{input} + 64]", "movdqu xmm5, [{input} + 80]",
            "movdqu xmm6, [{input} + 96]", "movdqu xmm7, [{input} + 112]",
            "movdqu xmm8, [{input} + 128]", "movdqu xmm9, [{input} + 144]",
            "movdqu xmm10, [{input} + 160]", "movdqu xmm11, [{input} + 176]",
            "movdqu xmm12, [{input} + 192]", "movdqu xmm13, [{input} + 208]",
            "movdqu xmm14, [{input} + 224]", "movdqu xmm15, [{input} + 240]",
            "syscall",
            "movdqu [{output}], xmm0", "movdqu [{output} + 16], xmm1",
            "movdqu [{output} + 32], xmm2", "movdqu [{output} + 48], xmm3",
            "movdqu [{output} + 64], xmm4", "movdqu [{output} + 80], xmm5",
            "movdqu [{output} + 96], xmm6", "movdqu [{output} + 112], xmm7",
            "movdqu [{output} + 128], xmm8", "movdqu [{output} + 144], xmm9",
            "movdqu [{output} + 160], xmm10", "movdqu [{output} + 176], xmm11",
            "movdqu [{output} + 192], xmm12", "movdqu [{output} + 208], xmm13",
            "movdqu [{output} + 224], xmm14", "movdqu [{output} + 240], xmm15",
            input = in(reg) patterns.as_ptr(),
            output = in(reg) after.as_mut_ptr(),
            inlateout("rax") call.number() => _,
            inlateout("rdi") argument => _,
            // Not late: the pointers above must not share a register the call may change.
            out("rsi") _, out("rdx") _, out("rcx") _, out("r11") _,
            options(nostack),
        );
    }
    let mut changed = 0;
    for register in 0..16 {
        if patterns[2 * register..2 * register + 2] != after[2 * register..2 * register + 2] {
            changed |= 1 << register;
        }
    }
    changed
}

/// Fills the general registers and `xmm0`/`xmm15` with patterns and spins `iterations` times,
/// long enough for timer interrupts to preempt it, then returns a mask of what changed (bit n
/// for pattern register n: rbx, rbp, rdx, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15, rcx
/// high half unused; bit 16 for `xmm0`, bit 17 for `xmm15`).
pub fn registers_survive_preemption(iterations: u64) -> u64 {
    let mut changed: u64;
    let vector_pattern: [u64; 2] = [pattern(200), pattern(201)];
    let mut vector_after = [0u64; 4];
    // SAFETY: callee-saved registers are saved and restored; the rest are declared clobbered;
    // the buffers are live for the block.
    unsafe {
        core::arch::asm!(
            // The output pointer may sit in a register the patterns overwrite: keep it on the
            // stack, below the saved callee-saved registers.
            "push {vectors_after}",
            "push rbx",
            "push rbp",
            "push r12",
            "push r13",
            "push r14",
            "push r15",
            "movdqu xmm0, [{vectors}]",
            "movdqu xmm15, [{vectors}]",
            "mov rbx, {p0}", "mov rbp, {p1}", "mov rdx, {p2}", "mov rsi, {p3}",
            "mov rdi, {p4}", "mov r8, {p5}", "mov r9, {p6}", "mov r10, {p7}",
            "mov r11, {p8}", "mov r12, {p9}", "mov r13, {p10}", "mov r14, {p11}",
            "mov r15, {p12}",
            "3:",
            "dec rcx",
            "jnz 3b",
            "mov rax, [rsp + 48]",
            "movdqu [rax], xmm0",
            "movdqu [rax + 16], xmm15",
            "xor eax, eax",
            "mov rcx, {p0}", "cmp rbx, rcx", "je 2f", "or rax, 1", "2:",
            "mov rcx, {p1}", "cmp rbp, rcx", "je 2f", "or rax, 2", "2:",
            "mov rcx, {p2}", "cmp rdx, rcx", "je 2f", "or rax, 4", "2:",
            "mov rcx, {p3}", "cmp rsi, rcx", "je 2f", "or rax, 8", "2:",
            "mov rcx, {p4}", "cmp rdi, rcx", "je 2f", "or rax, 16", "2:",
            "mov rcx, {p5}", "cmp r8, rcx", "je 2f", "or rax, 32", "2:",
            "mov rcx, {p6}", "cmp r9, rcx", "je 2f", "or rax, 64", "2:",
            "mov rcx, {p7}", "cmp r10, rcx", "je 2f", "or rax, 128", "2:",
            "mov rcx, {p8}", "cmp r11, rcx", "je 2f", "or rax, 256", "2:",
            "mov rcx, {p9}", "cmp r12, rcx", "je 2f", "or rax, 512", "2:",
            "mov rcx, {p10}", "cmp r13, rcx", "je 2f", "or rax, 1024", "2:",
            "mov rcx, {p11}", "cmp r14, rcx", "je 2f", "or rax, 2048", "2:",
            "mov rcx, {p12}", "cmp r15, rcx", "je 2f", "or rax, 4096", "2:",
            "pop r15",
            "pop r14",
            "pop r13",
            "pop r12",
            "pop rbp",
            "pop rbx",
            "add rsp, 8",
            p0 = const pattern(0), p1 = const pattern(1), p2 = const pattern(2),
            p3 = const pattern(3), p4 = const pattern(4), p5 = const pattern(5),
            p6 = const pattern(6), p7 = const pattern(7), p8 = const pattern(8),
            p9 = const pattern(9), p10 = const pattern(10), p11 = const pattern(11),
            p12 = const pattern(12),
            vectors = in(reg) vector_pattern.as_ptr(),
            vectors_after = in(reg) vector_after.as_mut_ptr(),
            inlateout("rcx") iterations.max(1) => _,
            out("rax") changed,
            out("rdx") _, out("rsi") _, out("rdi") _, out("r8") _, out("r9") _,
            out("r10") _, out("r11") _,
        );
    }
    if vector_after[0..2] != vector_pattern {
        changed |= 1 << 16;
    }
    if vector_after[2..4] != vector_pattern {
        changed |= 1 << 17;
    }
    changed
}
