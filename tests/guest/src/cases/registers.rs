//! The register promises of the ABI: a system call preserves everything but `rax`, `rcx`,
//! `r11` and its results; blocking and preemption preserve the whole user state, FPU/SSE
//! included.

use crate::{Case, CaseFailure, check, check_equal};
use runtime::abi::Call;
use runtime::abi::registers::CLOCK_TICK_NANOSECONDS;
use runtime::arch::probe::{self, Changed};
use runtime::syscall::clock_monotonic;

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "system_calls_preserve_registers",
        run: system_calls_preserve_registers,
    },
    Case {
        name: "system_calls_ignore_the_user_stack",
        run: system_calls_ignore_the_user_stack,
    },
    Case {
        name: "vector_registers_survive_a_blocking_call",
        run: vector_registers_survive_blocking,
    },
    Case {
        name: "a_thread_pays_for_an_fpu_area_only_once_it_uses_the_fpu",
        run: fpu_area_on_first_use,
    },
    Case {
        name: "registers_survive_timer_preemption",
        run: registers_survive_preemption,
    },
];

fn system_calls_preserve_registers() -> Result<(), CaseFailure> {
    // The probe's pattern in `rdi` is not a canonical address, so `DebugPrint` fails with
    // BadAddress; a failed call has no results, so nothing may change either.
    for call in [Call::Null, Call::DebugPrint] {
        let changed = probe::system_call_preserves_registers(call);
        check!(changed == 0, "{call:?} changed {}", Changed(changed));
    }
    Ok(())
}

fn system_calls_ignore_the_user_stack() -> Result<(), CaseFailure> {
    // Null, a kernel address, a non-canonical one, and an odd unaligned value.
    for stack_pointer in [0, 0xffff_ffff_8010_0000, 0x8000_0000_0000, 0x1235] {
        check_equal!(
            probe::system_call_with_stack_pointer(Call::Null, stack_pointer),
            0
        );
    }
    Ok(())
}

fn vector_registers_survive_blocking() -> Result<(), CaseFailure> {
    let deadline = clock_monotonic() + 3 * CLOCK_TICK_NANOSECONDS;
    check_equal!(
        probe::vector_registers_survive(Call::SleepUntil, deadline, 0),
        0
    );
    check!(
        clock_monotonic() >= deadline,
        "the probe's sleep did not block"
    );
    Ok(())
}

fn registers_survive_preemption() -> Result<(), CaseFailure> {
    // Spin long enough for at least three timer interrupts; a run with fewer proves nothing.
    let mut iterations = 1 << 20;
    loop {
        let before = clock_monotonic();
        let changed = probe::registers_survive_preemption(iterations);
        let ticks = (clock_monotonic() - before) / CLOCK_TICK_NANOSECONDS;
        check!(changed == 0, "preemption changed {}", Changed(changed));
        if ticks >= 3 {
            return Ok(());
        }
        check!(
            iterations < 1 << 34,
            "no timer interrupt arrived while spinning"
        );
        iterations *= 4;
    }
}

static PLAIN_STACK: runtime::thread::Stack<1024> = runtime::thread::Stack::new();
static VECTOR_STACK: runtime::thread::Stack<1024> = runtime::thread::Stack::new();

/// Sleeps until `deadline` without touching the FPU.
fn sleep_plainly(deadline: u64) {
    let _ = runtime::syscall::sleep_until(deadline);
}

/// Loads the vector registers, then sleeps until `deadline`.
fn sleep_with_vectors(deadline: u64) {
    probe::vector_registers_survive(Call::SleepUntil, deadline, 7);
}

/// Spawns a thread running `function(deadline)` and waits until it sleeps.
fn sleeping(
    stack: &'static runtime::thread::Stack<1024>,
    function: fn(u64),
    deadline: u64,
) -> Result<runtime::thread::Thread, CaseFailure> {
    let thread = runtime::thread::spawn(stack, function, deadline).map_err(super::handles::fail)?;
    check_equal!(thread.resume(), Ok(()));
    let blocked = || {
        matches!(
            thread.status(),
            Ok((runtime::abi::state::Condition::Blocked, _, _))
        )
    };
    check!(super::wait_for(blocked), "the thread never went to sleep");
    Ok(thread)
}

/// A thread that never runs an FPU or SSE instruction costs no save area; one that does pays
/// for the 512-byte `fxsave` area (Intel SDM vol. 1 section 10.5.1) from its first one on.
fn fpu_area_on_first_use() -> Result<(), CaseFailure> {
    let deadline = clock_monotonic() + 10_000 * CLOCK_TICK_NANOSECONDS;
    let before = super::memory::quota_left()?;
    let plain = sleeping(&PLAIN_STACK, sleep_plainly, deadline)?;
    let after_plain = super::memory::quota_left()?;
    let vector = sleeping(&VECTOR_STACK, sleep_with_vectors, deadline)?;
    let after_vector = super::memory::quota_left()?;
    let plain_cost = before - after_plain;
    let vector_cost = after_plain - after_vector;
    check_equal!(vector_cost - plain_cost, 512);
    for thread in [plain, vector] {
        check_equal!(thread.interrupt(), Ok(()));
    }
    Ok(())
}
