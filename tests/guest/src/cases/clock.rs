//! The monotonic clock and the one blocking call so far, `SleepUntil`: the path on which both
//! execution models block (process model: switch stacks; interrupt model: restart the call).

use crate::{Case, CaseFailure, check, check_equal};
use runtime::abi::registers::CLOCK_TICK_NANOSECONDS;
use runtime::syscall::{clock_monotonic, sleep_until};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "clock_never_goes_backwards",
        run: clock_never_goes_backwards,
    },
    Case {
        name: "sleep_until_waits_for_the_deadline",
        run: sleep_until_waits_for_the_deadline,
    },
    Case {
        name: "sleep_until_a_past_deadline_returns_at_once",
        run: past_deadline,
    },
    Case {
        name: "repeated_sleeps_each_reach_their_deadline",
        run: repeated_sleeps,
    },
];

fn clock_never_goes_backwards() -> Result<(), CaseFailure> {
    let mut previous = clock_monotonic();
    for _ in 0..1000 {
        let now = clock_monotonic();
        check!(now >= previous, "clock went from {previous} to {now}");
        check_equal!(now % CLOCK_TICK_NANOSECONDS, 0);
        previous = now;
    }
    Ok(())
}

fn sleep_until_waits_for_the_deadline() -> Result<(), CaseFailure> {
    let deadline = clock_monotonic() + 5 * CLOCK_TICK_NANOSECONDS;
    check_equal!(sleep_until(deadline), Ok(()));
    let now = clock_monotonic();
    check!(
        now >= deadline,
        "woke at {now} before the deadline {deadline}"
    );
    Ok(())
}

fn past_deadline() -> Result<(), CaseFailure> {
    check_equal!(sleep_until(0), Ok(()));
    check_equal!(sleep_until(clock_monotonic()), Ok(()));
    Ok(())
}

fn repeated_sleeps() -> Result<(), CaseFailure> {
    for step in 1..=5 {
        let deadline = clock_monotonic() + step * CLOCK_TICK_NANOSECONDS;
        check_equal!(sleep_until(deadline), Ok(()));
        let now = clock_monotonic();
        check!(
            now >= deadline,
            "sleep {step} woke at {now}, deadline {deadline}"
        );
    }
    Ok(())
}
