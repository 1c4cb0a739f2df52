//! Register probes: fill registers with known patterns, let the kernel run (a system call, a
//! blocking call, timer interrupts), and report which registers came back different. They
//! check the ABI's promise that every register but `rax`, `rcx`, `r11` (and a call's results)
//! survives, including the FPU/SSE state across context switches.

use abi::Call;

/// The pattern a probe writes into the register of slot `index`.
pub const fn pattern(index: u64) -> u64 {
    0x5a5a_0000_0000_0000 ^ (index.wrapping_mul(0x0101_0101_0101_0101)) ^ 0x1234_5678
}

/// The registers a probe checks, by slot: slot `i` is bit `i` of a probe's result. Slots 0 to
/// 11 are filled and spilled by [`fill!`] and [`spill!`]; 12 and 13 by each probe itself.
pub const REGISTER_NAMES: [&str; SLOTS] = [
    "rbx", "rbp", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r12", "r13", "r14", "r15", "r11", "rax",
];

/// How many register slots a probe has.
pub const SLOTS: usize = 14;
/// The slot of `r11` (the flags register in [`system_call_preserves_registers`]).
const R11_SLOT: usize = 12;
/// The result bit for a direction flag the kernel did not restore.
pub const DIRECTION_FLAG_BIT: u64 = 1 << R11_SLOT;
/// The result bits for `xmm0` and `xmm15` in [`registers_survive_preemption`].
pub const VECTOR_BITS: u64 = 0b11 << 16;

static VECTOR_PATTERN: [u64; 2] = [pattern(200), pattern(201)];

static PATTERNS: [u64; SLOTS] = {
    let mut patterns = [0; SLOTS];
    let mut index = 0;
    while index < SLOTS {
        patterns[index] = pattern(index as u64);
        index += 1;
    }
    patterns
};

/// Loads slots 0 to 11 from the table whose address is in register `$base`.
macro_rules! fill {
    ($base:literal) => {
        concat!(
            "mov rbx, [",
            $base,
            "]\n",
            "mov rbp, [",
            $base,
            " + 8]\n",
            "mov rdx, [",
            $base,
            " + 16]\n",
            "mov rsi, [",
            $base,
            " + 24]\n",
            "mov rdi, [",
            $base,
            " + 32]\n",
            "mov r8, [",
            $base,
            " + 40]\n",
            "mov r9, [",
            $base,
            " + 48]\n",
            "mov r10, [",
            $base,
            " + 56]\n",
            "mov r12, [",
            $base,
            " + 64]\n",
            "mov r13, [",
            $base,
            " + 72]\n",
            "mov r14, [",
            $base,
            " + 80]\n",
            "mov r15, [",
            $base,
            " + 88]\n",
        )
    };
}

/// Stores slots 0 to 11 into the table whose address is in register `$base`.
macro_rules! spill {
    ($base:literal) => {
        concat!(
            "mov [",
            $base,
            "], rbx\n",
            "mov [",
            $base,
            " + 8], rbp\n",
            "mov [",
            $base,
            " + 16], rdx\n",
            "mov [",
            $base,
            " + 24], rsi\n",
            "mov [",
            $base,
            " + 32], rdi\n",
            "mov [",
            $base,
            " + 40], r8\n",
            "mov [",
            $base,
            " + 48], r9\n",
            "mov [",
            $base,
            " + 56], r10\n",
            "mov [",
            $base,
            " + 64], r12\n",
            "mov [",
            $base,
            " + 72], r13\n",
            "mov [",
            $base,
            " + 80], r14\n",
            "mov [",
            $base,
            " + 88], r15\n",
        )
    };
}

/// The bits of the slots in `range` whose spilled value differs from its pattern.
fn changed_slots(after: &[u64], range: core::ops::Range<usize>) -> u64 {
    range
        .filter(|&slot| after[slot] != PATTERNS[slot])
        .fold(0, |bits, slot| bits | 1 << slot)
}

/// Names the registers whose bits are set in a probe's result, for failure messages.
pub struct Changed(pub u64);

impl core::fmt::Display for Changed {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut names = REGISTER_NAMES
            .iter()
            .enumerate()
            .filter(|(slot, _)| self.0 & (1 << slot) != 0)
            .map(|(_, name)| *name)
            .chain((self.0 & (1 << 16) != 0).then_some("xmm0"))
            .chain((self.0 & (1 << 17) != 0).then_some("xmm15"));
        match names.next() {
            None => formatter.write_str("nothing"),
            Some(first) => {
                formatter.write_str(first)?;
                names.try_for_each(|name| write!(formatter, ", {name}"))
            }
        }
    }
}

/// Issues `call` with slots 0 to 11 (argument registers included) holding patterns and the
/// direction flag set, and returns the bits of what did not survive ([`REGISTER_NAMES`],
/// [`DIRECTION_FLAG_BIT`]). Use a call that has no results, or that fails, as a failed call
/// has none: `Null`, or `DebugPrint`, whose pattern address is not canonical.
pub fn system_call_preserves_registers(call: Call) -> u64 {
    let mut after = [0u64; SLOTS];
    // SAFETY: callee-saved registers are saved and restored, the rest declared clobbered; the
    // tables are live; the direction flag is cleared again before the block ends, as the ABI
    // requires. A kernel that broke `rsp` would make the block fault, failing the test.
    unsafe {
        core::arch::asm!(
            "push rbx", "push rbp", "push r12", "push r13", "push r14", "push r15",
            "push {after}",
            "push {call}",
            "lea rax, [rip + {patterns}]",
            fill!("rax"),
            "pop rax",
            "std",
            "syscall",
            "pushfq",
            "cld",
            "pop rcx",
            "pop rax",
            spill!("rax"),
            "mov [rax + 96], rcx",
            "pop r15", "pop r14", "pop r13", "pop r12", "pop rbp", "pop rbx",
            patterns = sym PATTERNS,
            after = in(reg) after.as_mut_ptr(),
            call = in(reg) call.number(),
            out("rax") _, out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
    let direction_flag_kept = after[R11_SLOT] & (1 << 10) != 0;
    changed_slots(&after, 0..R11_SLOT)
        | if direction_flag_kept {
            0
        } else {
            DIRECTION_FLAG_BIT
        }
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

/// Loads `xmm0`..`xmm15` with patterns chosen by `seed` (threads that run the probe at the
/// same time should use different seeds), issues `call` with one argument (for example
/// `SleepUntil` with a deadline, or `ThreadYield`, so the CPU switches away), and returns a
/// mask of the vector registers that came back different (bit n for `xmmn`).
pub fn vector_registers_survive(call: Call, argument: u64, seed: u64) -> u64 {
    let patterns: [u64; 32] = core::array::from_fn(|index| pattern(100 + seed * 32 + index as u64));
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

/// Fills every slot (see [`REGISTER_NAMES`]) and `xmm0`/`xmm15` with patterns and spins
/// `iterations` times, long enough for timer interrupts to preempt it; returns the bits of
/// what changed ([`VECTOR_BITS`] for the vector registers).
pub fn registers_survive_preemption(iterations: u64) -> u64 {
    // Slots, then the two vector registers, two words each.
    let mut after = [0u64; SLOTS + 4];
    // SAFETY: callee-saved registers are saved and restored, the rest declared clobbered; the
    // table is live for the block; its address waits on the stack while every register holds
    // a pattern.
    unsafe {
        core::arch::asm!(
            "push rbx", "push rbp", "push r12", "push r13", "push r14", "push r15",
            "push {after}",
            "lea rax, [rip + {vector}]",
            "movdqu xmm0, [rax]",
            "movdqu xmm15, [rax]",
            "mov rcx, {iterations}",
            "lea rax, [rip + {patterns}]",
            "mov r11, [rax + 96]",
            fill!("rax"),
            "mov rax, [rax + 104]",
            "2:",
            "dec rcx",
            "jnz 2b",
            "pop rcx",
            spill!("rcx"),
            "mov [rcx + 96], r11",
            "mov [rcx + 104], rax",
            "movdqu [rcx + 112], xmm0",
            "movdqu [rcx + 128], xmm15",
            "pop r15", "pop r14", "pop r13", "pop r12", "pop rbp", "pop rbx",
            patterns = sym PATTERNS,
            vector = sym VECTOR_PATTERN,
            after = in(reg) after.as_mut_ptr(),
            iterations = in(reg) iterations.max(1),
            out("rax") _, out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
    let mut changed = changed_slots(&after, 0..SLOTS);
    if after[SLOTS..SLOTS + 2] != VECTOR_PATTERN {
        changed |= 1 << 16;
    }
    if after[SLOTS + 2..SLOTS + 4] != VECTOR_PATTERN {
        changed |= 1 << 17;
    }
    changed
}

/// Reads the 64-bit words at `fs:0` and `gs:0`: what the thread's segment bases point at. A
/// base that points at no readable memory makes the thread fault, as any bad load would.
pub fn segment_words() -> (u64, u64) {
    let (fs_word, gs_word): (u64, u64);
    // SAFETY: two loads through the segment bases; they change no memory, and a bad base
    // raises a fault that the kernel reports rather than corrupting anything.
    unsafe {
        core::arch::asm!(
            "mov {fs_word}, qword ptr fs:[0]",
            "mov {gs_word}, qword ptr gs:[0]",
            fs_word = out(reg) fs_word,
            gs_word = out(reg) gs_word,
            options(nostack, readonly, preserves_flags),
        );
    }
    (fs_word, gs_word)
}

/// Loads `fs` and `gs` with the stack's segment selector (the user data segment), which in
/// 64-bit mode sets both segment bases to that descriptor's base, 0 (Intel SDM vol. 3A
/// section 3.4.4): user code's own way to change its segment bases behind the kernel's back.
pub fn load_segment_bases_from_stack_segment() {
    // SAFETY: `ss` holds a valid user data selector, so loading it into `fs` and `gs` cannot
    // fault; only the two segment bases change, which nothing in this program relies on.
    unsafe {
        core::arch::asm!(
            "mov {selector:x}, ss",
            "mov fs, {selector:x}",
            "mov gs, {selector:x}",
            selector = out(reg) _,
            options(nostack, nomem, preserves_flags),
        );
    }
}

/// Executes `ud2` (two bytes), then returns `value`: only a keeper that moves the thread past
/// the invalid instruction lets it return.
pub fn invalid_opcode_then(value: u64) -> u64 {
    let result: u64;
    // SAFETY: `ud2` raises #UD, which the kernel turns into a stop of this thread; nothing is
    // written, and the `mov` after it only runs if a keeper resumed the thread past `ud2`.
    unsafe {
        core::arch::asm!("ud2", "mov {result}, {value}", value = in(reg) value, result = lateout(reg) result, options(nostack));
    }
    result
}

/// Loads the word at `address` with `mov rax, [rdi]`, the address in `rdi`: a keeper that
/// receives the page fault may point `rdi` elsewhere and resume the thread, which then retries
/// the load.
pub fn load_through_rdi(address: u64) -> u64 {
    let value: u64;
    // SAFETY: a read only; a bad address faults (to the keeper, or stopping the thread) before
    // anything happens.
    unsafe {
        core::arch::asm!("mov rax, qword ptr [rdi]", in("rdi") address, out("rax") value, options(nostack, readonly));
    }
    value
}

/// Stores `value` at `address` with `mov [rdi], rsi`, the address in `rdi`, as a test of a
/// memory mapping does. The caller names memory no Rust object is borrowed from: a window a
/// mapping shows of atomics, or an address that is meant to fault.
pub fn store_through_rdi(address: u64, value: u64) {
    // SAFETY: one store to an address the caller chose for the purpose (see above); a bad
    // address faults before anything is written.
    unsafe {
        core::arch::asm!("mov qword ptr [rdi], rsi", in("rdi") address, in("rsi") value, options(nostack));
    }
}

/// Executes `int3`, then returns `value` (a trap: resuming the thread as it stands continues
/// after the breakpoint).
pub fn breakpoint_then(value: u64) -> u64 {
    let result: u64;
    // SAFETY: `int3` raises #BP, which stops this thread; the `mov` after it runs only if the
    // thread is resumed.
    unsafe {
        core::arch::asm!("int3", "mov {result}, {value}", value = in(reg) value, result = lateout(reg) result, options(nostack));
    }
    result
}
