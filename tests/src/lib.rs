//! Host-side machinery for the guest tests and for `cargo xtask`: the one QEMU command line
//! ([`qemu`]), booting a kernel with a deadline and reading its verdict ([`runner`]), and the
//! pure parsers for what the guest programs print ([`report`] for test cases, [`fault`] for
//! deliberate faults, [`bench`] for benchmark results).
//!
//! The guest programs print result lines on the serial console; the kernel may print its own log
//! lines in between. Guest lines go out verbatim, so the parsers match them at the start of a
//! line; the kernel's fault report is matched anywhere in a line, after the logger's prefix.
#![forbid(unsafe_code)]

pub mod bench;
pub mod crash;
pub mod fault;
pub mod qemu;
pub mod report;
pub mod runner;

#[cfg(test)]
mod tiny_kernel;

pub use runner::{BootOutcome, DEFAULT_TIMEOUT, Verdict, boot, boot_guest};

/// A failure of the harness itself (not of the code under test), with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error with this message; say what went wrong and what to do.
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Splits serial output into lines without their line ending (`\n` or `\r\n`), so parsers see
/// the same text whatever line ending the kernel's console uses.
pub fn lines(output: &str) -> impl Iterator<Item = &str> {
    output
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
}

/// The last `count` non-empty lines of `output`, joined with newlines, for failure messages.
pub fn last_lines(output: &str, count: usize) -> String {
    let all: Vec<&str> = lines(output).filter(|line| !line.is_empty()).collect();
    let start = all.len().saturating_sub(count);
    all[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_drop_carriage_returns() {
        let collected: Vec<&str> = lines("a\r\nb\nc").collect();
        assert_eq!(collected, ["a", "b", "c"]);
    }

    #[test]
    fn last_lines_skips_blank_lines_and_keeps_order() {
        assert_eq!(last_lines("one\n\ntwo\nthree\n", 2), "two\nthree");
        assert_eq!(last_lines("only\n", 30), "only");
        assert_eq!(last_lines("", 30), "");
    }
}
