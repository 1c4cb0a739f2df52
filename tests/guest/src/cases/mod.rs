//! The in-process test cases of the kernel suite, by subject.

mod clock;
mod registers;
mod system_calls;

use crate::Case;

/// Every case that runs in the main boot, in order.
pub const ALL: &[&[Case]] = &[system_calls::CASES, clock::CASES, registers::CASES];

/// A case that fails on purpose, run only when the harness asks (`broken-case`), to show that
/// a failing case fails the run.
pub const DELIBERATELY_BROKEN: Case = Case {
    name: "deliberately_broken",
    run: || {
        let sum = 1 + 1;
        crate::check_equal!(sum, 3);
        Ok(())
    },
};
