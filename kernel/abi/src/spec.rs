//! The specification table: one entry per call, from which `SPEC.md` is generated.
//!
//! A host test renders the table and compares it with `SPEC.md`, and another checks that every
//! [`Call`] has exactly one entry, so the document cannot drift from the code.

use crate::call::{Call, Category};
use crate::error::Error;
use core::fmt::{self, Write};

/// What one system call takes, returns and does when it is interrupted.
#[derive(Clone, Copy, Debug)]
pub struct CallSpecification {
    /// The call.
    pub call: Call,
    /// Its category, which decides how it restarts.
    pub category: Category,
    /// The argument registers in order (`rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`), described.
    pub arguments: &'static [&'static str],
    /// The result registers in order (`rdi`, `rsi`, `rdx`), described; `rax` is the status.
    pub results: &'static [&'static str],
    /// Every error the call can return.
    pub errors: &'static [Error],
    /// What happens when the call is interrupted, and how it is resumed.
    pub restart: &'static str,
    /// One sentence on what the call does.
    pub summary: &'static str,
}

/// The table, in call-number order.
pub const TABLE: &[CallSpecification] = &[
    CallSpecification {
        call: Call::Null,
        category: Category::Trivial,
        arguments: &[],
        results: &[],
        errors: &[],
        restart: "never interrupted",
        summary: "Returns success and does nothing else.",
    },
    CallSpecification {
        call: Call::DebugPrint,
        category: Category::Short,
        arguments: &["address of the bytes", "length in bytes, at most 4096"],
        results: &[],
        errors: &[Error::BadAddress, Error::TooLong],
        restart: "all or nothing: the bytes are copied in before any is printed, so a \
                  re-issued call prints them once",
        summary: "Writes the bytes to the kernel's debug console.",
    },
    CallSpecification {
        call: Call::ThreadExit,
        category: Category::Trivial,
        arguments: &["exit status"],
        results: &[],
        errors: &[],
        restart: "never returns",
        summary: "Ends the calling thread; the root program's status decides the verdict of \
                  the whole boot (0 is success).",
    },
    CallSpecification {
        call: Call::ClockMonotonic,
        category: Category::Trivial,
        arguments: &[],
        results: &["nanoseconds since boot, in steps of CLOCK_TICK_NANOSECONDS"],
        errors: &[],
        restart: "never interrupted",
        summary: "Reads the monotonic clock.",
    },
    CallSpecification {
        call: Call::SleepUntil,
        category: Category::Long,
        arguments: &["absolute deadline in nanoseconds of the monotonic clock"],
        results: &[],
        errors: &[],
        restart: "re-issued from scratch: the deadline is absolute, so restarting never \
                  lengthens the sleep",
        summary: "Blocks the calling thread until the monotonic clock reaches the deadline; a \
                  deadline in the past returns at once.",
    },
];

/// The entry for a call.
pub fn specification(call: Call) -> &'static CallSpecification {
    // The table is in number order and complete (checked by the tests below).
    &TABLE[call.number() as usize]
}

/// Writes the table as the Markdown document kept in `SPEC.md`.
pub fn render_markdown(out: &mut impl Write) -> fmt::Result {
    writeln!(out, "# System-call specification")?;
    writeln!(out)?;
    writeln!(
        out,
        "Generated from `kernel/abi/src/spec.rs` by `cargo xtask spec`; a host test fails when \
         this file and the table differ. Register convention: `kernel/abi/src/registers.rs`."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| number | call | category | arguments | results | errors | restart |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for entry in TABLE {
        write!(
            out,
            "| {} | `{:?}` | {} | ",
            entry.call.number(),
            entry.call,
            entry.category.name()
        )?;
        write_list(out, entry.arguments.iter().copied())?;
        write!(out, " | ")?;
        write_list(out, entry.results.iter().copied())?;
        write!(out, " | ")?;
        write_list(out, entry.errors.iter().map(|error| error.name()))?;
        writeln!(out, " | {} |", entry.restart)?;
    }
    writeln!(out)?;
    writeln!(out, "## Calls")?;
    for entry in TABLE {
        writeln!(out)?;
        writeln!(out, "- `{:?}`: {}", entry.call, entry.summary)?;
    }
    writeln!(out)?;
    writeln!(out, "## Errors")?;
    writeln!(out)?;
    writeln!(out, "| code | error |")?;
    writeln!(out, "|---|---|")?;
    for error in Error::ALL {
        writeln!(out, "| {} | `{}` |", error.code(), error.name())?;
    }
    Ok(())
}

fn write_list<'a>(out: &mut impl Write, items: impl Iterator<Item = &'a str>) -> fmt::Result {
    let mut any = false;
    for (index, item) in items.enumerate() {
        if index > 0 {
            write!(out, "; ")?;
        }
        write!(out, "{item}")?;
        any = true;
    }
    if !any {
        write!(out, "none")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    #[test]
    fn every_call_has_exactly_one_entry_in_number_order() {
        assert_eq!(TABLE.len(), Call::ALL.len());
        for (entry, &call) in TABLE.iter().zip(Call::ALL) {
            assert_eq!(entry.call, call);
            assert_eq!(specification(call).call, call);
        }
    }

    #[test]
    fn argument_and_result_lists_fit_the_register_convention() {
        for entry in TABLE {
            assert!(entry.arguments.len() <= crate::registers::ARGUMENT_REGISTERS);
            assert!(entry.results.len() <= crate::registers::RESULT_REGISTERS);
        }
    }

    #[test]
    fn spec_document_matches_the_table() {
        let mut rendered = String::new();
        render_markdown(&mut rendered).unwrap();
        let on_disk = include_str!("../SPEC.md");
        assert!(
            rendered == on_disk,
            "kernel/abi/SPEC.md is out of date: run `cargo xtask spec` to regenerate it"
        );
    }
}
