//! Fault boots: the guest provokes one CPU exception in its root program and says beforehand
//! what the kernel should report; the kernel reports the fault and ends the boot.
//!
//! ```text
//! expect fault vector=<decimal> error=<0x<hex>|any> rip=0x<hex> address=<0x<hex>|any>   (line start)
//! ... root fault: vector=<decimal> (<mnemonic>) error=0x<hex> rip=0x<hex> address=0x<hex> ...
//! ```
//!
//! The kernel's line may carry a log prefix before `root fault:` and more `key=value` fields
//! after. The trial passes iff the verdict is [`ExitCode::RootFaulted`] and vector, error code
//! and instruction pointer match exactly, and the error code and address too unless the guest
//! expected `any`.

use crate::runner::Verdict;
use boot::exit::ExitCode;

/// What the guest expects the kernel to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectedFault {
    /// The exception vector.
    pub vector: u64,
    /// The error code, or `None` for `any`.
    pub error: Option<u64>,
    /// The faulting instruction pointer.
    pub rip: u64,
    /// The faulting address, or `None` for `any`.
    pub address: Option<u64>,
}

/// What the kernel reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObservedFault {
    /// The exception vector.
    pub vector: u64,
    /// The error code.
    pub error: u64,
    /// The faulting instruction pointer.
    pub rip: u64,
    /// The faulting address (CR2 for page faults).
    pub address: u64,
}

/// The `key=value` fields of a report; other words (such as `(#UD)`) are skipped.
fn fields(text: &str) -> Vec<(&str, &str)> {
    text.split_whitespace()
        .filter_map(|word| word.split_once('='))
        .collect()
}

/// The value of `key` among `fields`, parsed by `parse`; the first occurrence counts.
fn field<T>(
    fields: &[(&str, &str)],
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, String> {
    let (_, value) = fields
        .iter()
        .find(|(name, _)| *name == key)
        .ok_or_else(|| format!("no `{key}=` field"))?;
    parse(value).ok_or_else(|| format!("`{key}={value}` is not a valid value"))
}

fn decimal(text: &str) -> Option<u64> {
    if text.starts_with('+') {
        return None;
    }
    text.parse().ok()
}

fn hexadecimal(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("0x")?;
    if digits.starts_with('+') {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// The one line of `output` that `find` accepts, failing with `what` when there is none or
/// several.
fn only_line<'a>(
    output: &'a str,
    what: &str,
    find: impl Fn(&'a str) -> Option<&'a str>,
) -> Result<&'a str, String> {
    let mut found = crate::lines(output).filter_map(find);
    let first = found
        .next()
        .ok_or_else(|| format!("the output has no {what} line"))?;
    if found.next().is_some() {
        return Err(format!("the output has more than one {what} line"));
    }
    Ok(first)
}

fn hexadecimal_or_any(value: &str) -> Option<Option<u64>> {
    match value {
        "any" => Some(None),
        value => hexadecimal(value).map(Some),
    }
}

/// Reads the guest's `expect fault` line (at the start of a line, exactly one).
pub fn parse_expected(output: &str) -> Result<ExpectedFault, String> {
    let body = only_line(output, "`expect fault`", |line| {
        line.strip_prefix("expect fault ")
    })?;
    let fields = fields(body);
    let bad = |problem: String| format!("bad `expect fault` line {body:?}: {problem}");
    Ok(ExpectedFault {
        vector: field(&fields, "vector", decimal).map_err(bad)?,
        error: field(&fields, "error", hexadecimal_or_any).map_err(bad)?,
        rip: field(&fields, "rip", hexadecimal).map_err(bad)?,
        address: field(&fields, "address", hexadecimal_or_any).map_err(bad)?,
    })
}

/// Reads the kernel's `root fault:` report (anywhere in a line, exactly one).
pub fn parse_observed(output: &str) -> Result<ObservedFault, String> {
    let body = only_line(output, "`root fault:`", |line| {
        line.split_once("root fault:").map(|(_, body)| body)
    })?;
    let fields = fields(body);
    let bad = |problem: String| format!("bad `root fault:` report {body:?}: {problem}");
    Ok(ObservedFault {
        vector: field(&fields, "vector", decimal).map_err(bad)?,
        error: field(&fields, "error", hexadecimal).map_err(bad)?,
        rip: field(&fields, "rip", hexadecimal).map_err(bad)?,
        address: field(&fields, "address", hexadecimal).map_err(bad)?,
    })
}

/// The differences between what was expected and what happened; empty when they match.
pub fn differences(expected: &ExpectedFault, observed: &ObservedFault) -> Vec<String> {
    let mut differences = Vec::new();
    if expected.vector != observed.vector {
        differences.push(format!(
            "vector: expected {}, the kernel reported {}",
            expected.vector, observed.vector
        ));
    }
    for (name, wanted, got) in [
        ("error", expected.error, observed.error),
        ("rip", Some(expected.rip), observed.rip),
        ("address", expected.address, observed.address),
    ] {
        if let Some(wanted) = wanted
            && wanted != got
        {
            differences.push(format!(
                "{name}: expected {wanted:#x}, the kernel reported {got:#x}"
            ));
        }
    }
    differences
}

/// Judges a fault boot from its verdict and output: `Ok` iff the boot ended with
/// [`ExitCode::RootFaulted`] and the kernel's report matches the guest's expectation.
pub fn check_fault_boot(verdict: Verdict, output: &str) -> Result<(), String> {
    if verdict != Verdict::Exit(ExitCode::RootFaulted) {
        return Err(format!(
            "the boot should end with RootFaulted, but ended with {verdict}"
        ));
    }
    let expected = parse_expected(output)?;
    let observed = parse_observed(output)?;
    let differences = differences(&expected, &observed);
    if differences.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the kernel reported a different fault:\n  {}",
            differences.join("\n  ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
[ 0.001 INFO kernel] booting\n\
expect fault vector=6 error=0x0 rip=0x201234 address=any\n\
[ 0.002 ERROR kernel] root fault: vector=6 (#UD) error=0x0 rip=0x201234 address=0x0 rsp=0x7ff0\n";

    const RIGHT: Verdict = Verdict::Exit(ExitCode::RootFaulted);

    #[test]
    fn matching_fault_passes() {
        assert_eq!(check_fault_boot(RIGHT, GOOD), Ok(()));
        let expected = parse_expected(GOOD).unwrap();
        assert_eq!(expected.address, None);
        let observed = parse_observed(GOOD).unwrap();
        assert_eq!(observed.rip, 0x201234);
    }

    #[test]
    fn exact_address_is_compared() {
        let text = "expect fault vector=14 error=0x6 rip=0x2000 address=0xdead000\n\
                    root fault: vector=14 (#PF) error=0x6 rip=0x2000 address=0xdead000\n";
        assert_eq!(check_fault_boot(RIGHT, text), Ok(()));
        let wrong = "expect fault vector=14 error=0x6 rip=0x2000 address=0xdead000\n\
                     root fault: vector=14 (#PF) error=0x6 rip=0x2000 address=0xbeef000\n";
        let error = check_fault_boot(RIGHT, wrong).unwrap_err();
        assert!(error.contains("address: expected 0xdead000"), "{error}");
    }

    #[test]
    fn any_error_code_matches_but_the_rest_is_still_compared() {
        let text = "expect fault vector=13 error=any rip=0x2000 address=0x0\n\
                    root fault: vector=13 (#GP) error=0x202 rip=0x2000 address=0x0\n";
        assert_eq!(check_fault_boot(RIGHT, text), Ok(()));
        assert_eq!(parse_expected(text).unwrap().error, None);
        let wrong_rip = "expect fault vector=13 error=any rip=0x2000 address=0x0\n\
                         root fault: vector=13 (#GP) error=0x202 rip=0x2004 address=0x0\n";
        let error = check_fault_boot(RIGHT, wrong_rip).unwrap_err();
        assert!(error.contains("rip: expected 0x2000"), "{error}");
        assert!(!error.contains("error:"), "{error}");
    }

    #[test]
    fn wrong_verdict_fails_even_with_a_matching_report() {
        let error = check_fault_boot(Verdict::Exit(ExitCode::Success), GOOD).unwrap_err();
        assert!(error.contains("RootFaulted"), "{error}");
        assert!(check_fault_boot(Verdict::TimedOut, GOOD).is_err());
    }

    #[test]
    fn every_mismatch_is_listed() {
        let text = "expect fault vector=13 error=0x10 rip=0x1000 address=any\n\
                    root fault: vector=6 (#UD) error=0x0 rip=0x1002 address=0x5\n";
        let error = check_fault_boot(RIGHT, text).unwrap_err();
        assert!(
            error.contains("vector: expected 13, the kernel reported 6"),
            "{error}"
        );
        assert!(error.contains("error: expected 0x10"), "{error}");
        assert!(error.contains("rip: expected 0x1000, the kernel reported 0x1002"));
        assert!(!error.contains("address"));
    }

    #[test]
    fn missing_or_repeated_lines_fail() {
        let no_report = "expect fault vector=6 error=0x0 rip=0x1 address=any\n";
        assert!(
            check_fault_boot(RIGHT, no_report)
                .unwrap_err()
                .contains("no `root fault:`")
        );
        let no_expectation = "root fault: vector=6 error=0x0 rip=0x1 address=0x0\n";
        let error = check_fault_boot(RIGHT, no_expectation).unwrap_err();
        assert!(error.contains("no `expect fault`"), "{error}");
        let twice = format!("{GOOD}{GOOD}");
        assert!(
            check_fault_boot(RIGHT, &twice)
                .unwrap_err()
                .contains("more than one")
        );
        let prefixed = "log: expect fault vector=6 error=0x0 rip=0x1 address=any\n";
        assert!(parse_expected(prefixed).is_err(), "must start the line");
    }

    #[test]
    fn malformed_fields_fail() {
        for bad in [
            "expect fault vector=0x6 error=0x0 rip=0x1 address=any",
            "expect fault vector=6 error=0 rip=0x1 address=any",
            "expect fault vector=6 error=0x0 rip=0xzz address=any",
            "expect fault vector=6 error=0x0 rip=0x1 address=some",
            "expect fault vector=6 error=0x0 address=any",
            "expect fault vector= error=0x0 rip=0x1 address=any",
            "expect fault vector=+6 error=0x0 rip=0x1 address=any",
            "expect fault vector=6 error=0x0 rip=0x+1 address=any",
            "expect fault vector=6 error=0x0 rip=0x10000000000000000 address=any",
        ] {
            assert!(parse_expected(bad).is_err(), "accepted {bad:?}");
        }
        assert!(parse_observed("root fault: vector=6 error=0x0 rip=0x1 address=any").is_err());
        assert!(parse_observed("root fault: vector=6 error=0x0 rip=0x1").is_err());
    }
}
