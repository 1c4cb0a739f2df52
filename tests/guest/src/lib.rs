//! Shared pieces of the guest programs: the result-line protocol that the host harness
//! (`tests/`) parses, and the test cases themselves.
//!
//! Protocol, one line each, printed verbatim to the debug console:
//! - `case <name> ok` or `case <name> failed: <reason>` per test case;
//! - `fault-case <kind>` for each exception the program can provoke (each needs a boot of
//!   its own, since the kernel stops the root program when it faults);
//! - `cases done <count>` last, so the harness can tell a complete run from a crash;
//! - in a fault boot, `expect fault vector=<n> error=<0x..|any> rip=<0x..> address=<0x..|any>`
//!   before the exception, which the kernel's `root fault:` report must match.
#![no_std]
#![forbid(unsafe_code)]
// A failure carries its message inline: guest programs have no heap, and the size only costs
// anything on the failure path.
#![allow(clippy::result_large_err)]

pub mod cases;
pub mod faults;

use runtime::println;

/// A test case: its name and a function that returns `Err(reason)` on failure.
pub struct Case {
    /// The name printed on the result line.
    pub name: &'static str,
    /// The test.
    pub run: fn() -> Result<(), CaseFailure>,
}

/// Why a case failed, formatted on its result line.
pub struct CaseFailure(pub heapless_message::Message);

/// A small fixed-capacity message buffer, since guest programs have no heap.
pub mod heapless_message {
    use core::fmt::{self, Write};

    /// Up to 200 bytes of text.
    pub struct Message {
        bytes: [u8; 200],
        length: usize,
    }

    impl Message {
        /// Formats a message, truncating what does not fit.
        pub fn format(arguments: fmt::Arguments<'_>) -> Message {
            let mut message = Message {
                bytes: [0; 200],
                length: 0,
            };
            let _ = message.write_fmt(arguments);
            message
        }

        /// The text.
        pub fn as_str(&self) -> &str {
            core::str::from_utf8(&self.bytes[..self.length]).unwrap_or("(unprintable)")
        }
    }

    impl Write for Message {
        fn write_str(&mut self, text: &str) -> fmt::Result {
            for character in text.chars() {
                let mut encoded = [0u8; 4];
                let encoded = character.encode_utf8(&mut encoded).as_bytes();
                if self.length + encoded.len() > self.bytes.len() {
                    return Ok(());
                }
                self.bytes[self.length..self.length + encoded.len()].copy_from_slice(encoded);
                self.length += encoded.len();
            }
            Ok(())
        }
    }
}

/// Fails the current case with a formatted reason unless the condition holds.
#[macro_export]
macro_rules! check {
    ($condition:expr, $($reason:tt)*) => {
        if !$condition {
            return Err($crate::CaseFailure($crate::heapless_message::Message::format(
                format_args!($($reason)*),
            )));
        }
    };
}

/// Fails the current case unless the two values are equal, showing both.
#[macro_export]
macro_rules! check_equal {
    ($actual:expr, $expected:expr) => {{
        let (actual, expected) = (&$actual, &$expected);
        $crate::check!(
            actual == expected,
            "{} is {:?}, expected {:?}",
            stringify!($actual),
            actual,
            expected
        );
    }};
}

/// Runs the cases in order, printing one result line each and the final count; returns how
/// many failed.
pub fn run_cases<'a>(cases: impl IntoIterator<Item = &'a Case>) -> usize {
    let (mut run, mut failed) = (0, 0);
    for case in cases {
        run += 1;
        match (case.run)() {
            Ok(()) => println!("case {} ok", case.name),
            Err(CaseFailure(reason)) => {
                failed += 1;
                println!("case {} failed: {}", case.name, reason.as_str());
            }
        }
    }
    println!("cases done {run}");
    failed
}
