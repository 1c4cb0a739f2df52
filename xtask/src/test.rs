//! `cargo xtask test`: the host unit tests (`cargo test` over the host crates), then the images,
//! then the guest harness (`tests/src/bin/guest-tests`) booting every selected configuration.
//! Ends with one line `total: N passed, N failed` over both.

use crate::Result;
use crate::build::{self, Layout};
use crate::configuration::{self, Configuration};
use crate::toolchain::{self, describe_status};
use ::tests::Error;
use clap::{Args, ValueEnum};

/// Options of `cargo xtask test`.
#[derive(Args, Debug)]
pub struct TestArguments {
    /// A configuration to test; repeat for several (default: all).
    #[arg(long = "config", value_name = "NAME", value_parser = configuration::parser())]
    pub configs: Vec<&'static Configuration>,
    /// Run only the host unit tests (no QEMU).
    #[arg(long, conflicts_with_all = ["guest_only", "broken"])]
    pub host_only: bool,
    /// Run only the guest tests under QEMU.
    #[arg(long)]
    pub guest_only: bool,
    /// Break the guest run on purpose, to see the harness catch it.
    #[arg(long, value_enum, value_name = "HOW")]
    pub broken: Option<Broken>,
    /// Run only the tests whose names contain this text (for example `process::` or `null`).
    #[arg(value_name = "FILTER")]
    pub filter: Option<String>,
}

/// A deliberate breakage of the guest test run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Broken {
    /// The guest program reports one extra, failing case.
    Case,
    /// The guest program hangs; the harness must kill it at the timeout.
    Hang,
}

impl Broken {
    /// The value of `GUEST_BROKEN`.
    pub fn name(self) -> &'static str {
        match self {
            Broken::Case => "case",
            Broken::Hang => "hang",
        }
    }
}

/// Passed and failed tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// How many passed.
    pub passed: u64,
    /// How many failed.
    pub failed: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
    }
}

/// The sum of the `test result: ... N passed; N failed; ...` lines of `cargo test`.
pub fn cargo_test_counts(lines: &[String]) -> Counts {
    let mut counts = Counts::default();
    for line in lines {
        let Some(result) = line.trim().strip_prefix("test result: ") else {
            continue;
        };
        let words: Vec<&str> = result.split_whitespace().collect();
        for pair in words.windows(2) {
            let Ok(number) = pair[0].parse::<u64>() else {
                continue;
            };
            match pair[1].trim_end_matches([';', ',']) {
                "passed" => counts.passed += number,
                "failed" => counts.failed += number,
                _ => {}
            }
        }
    }
    counts
}

/// The last plain `N passed, N failed` line, as the guest harness prints it last.
pub fn plain_summary(lines: &[String]) -> Option<Counts> {
    lines.iter().rev().find_map(|line| {
        let (passed, failed) = line.trim().split_once(", ")?;
        Some(Counts {
            passed: passed.strip_suffix(" passed")?.parse().ok()?,
            failed: failed.strip_suffix(" failed")?.parse().ok()?,
        })
    })
}

/// Runs the selected tests and prints the total.
pub fn test(arguments: &TestArguments) -> Result<()> {
    let mut total = Counts::default();
    let mut failures = Vec::new();
    let mut setup_error = None;
    if !arguments.guest_only {
        // Some host tests boot a tiny kernel in QEMU.
        ::tests::qemu::ensure_installed()?;
        eprintln!("xtask: running the host unit tests");
        let mut command = toolchain::cargo();
        command.arg("test");
        if let Some(filter) = &arguments.filter {
            command.args(["--", filter]);
        }
        let (status, lines) = toolchain::run_copying_output(&mut command, "cargo test")?;
        total += cargo_test_counts(&lines);
        if !status.success() {
            failures.push(format!(
                "the host unit tests failed ({})",
                describe_status(status)
            ));
        }
    }
    if !arguments.host_only {
        match guest_tests(arguments) {
            Ok((status, counts)) => {
                total += counts;
                if !status.success() {
                    failures.push(format!(
                        "the guest tests failed ({}); boot logs are in target/guest-logs",
                        describe_status(status)
                    ));
                }
            }
            Err(error) => setup_error = Some(error),
        }
    }
    println!("total: {} passed, {} failed", total.passed, total.failed);
    match (setup_error, failures.is_empty()) {
        (None, true) => Ok(()),
        (None, false) => Err(Error::new(format!(
            "{}: see the test output above",
            failures.join("; ")
        ))),
        (Some(error), _) => {
            for failure in failures {
                eprintln!("error: {failure}");
            }
            Err(error)
        }
    }
}

/// Builds the images and runs the guest harness; returns its status and counts.
fn guest_tests(arguments: &TestArguments) -> Result<(std::process::ExitStatus, Counts)> {
    ::tests::qemu::ensure_installed()?;
    let configs = configuration::selected(&arguments.configs);
    let layout: Layout = build::build(&configs)?;
    eprintln!(
        "xtask: running the guest tests ({})",
        configuration::names(&configs)
    );
    let mut command = toolchain::cargo();
    command
        .args([
            "run",
            "--release",
            "-p",
            "tests",
            "--bin",
            "guest-tests",
            "--",
        ])
        .args(arguments.filter.iter())
        .env("GUEST_IMAGES", layout.images())
        .env("GUEST_CONFIGS", configuration::names(&configs))
        .env("GUEST_LOGS", layout.logs())
        .env_remove("GUEST_BROKEN");
    if let Some(broken) = arguments.broken {
        command.env("GUEST_BROKEN", broken.name());
    }
    let (status, lines) = toolchain::run_copying_output(&mut command, "the guest test harness")?;
    let counts = plain_summary(&lines).unwrap_or_default();
    Ok((status, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|line| line.to_string()).collect()
    }

    #[test]
    fn cargo_test_results_are_summed() {
        let lines = owned(&[
            "running 3 tests",
            "test result: ok. 30 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; \
             finished in 2.02s",
            "test result: FAILED. 4 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out",
            "test foo ... ok",
        ]);
        assert_eq!(
            cargo_test_counts(&lines),
            Counts {
                passed: 34,
                failed: 2
            }
        );
        assert_eq!(
            cargo_test_counts(&owned(&["error: could not compile"])),
            Counts::default()
        );
    }

    #[test]
    fn the_last_plain_summary_counts() {
        let lines = owned(&[
            "1 passed, 1 failed",
            "test result: ok.",
            "12 passed, 3 failed",
            "",
        ]);
        assert_eq!(
            plain_summary(&lines),
            Some(Counts {
                passed: 12,
                failed: 3
            })
        );
        assert_eq!(
            plain_summary(&owned(&["passed, failed", "x passed, 1 failed"])),
            None
        );
    }

    #[test]
    fn broken_names_are_what_the_harness_reads() {
        assert_eq!(Broken::Case.name(), "case");
        assert_eq!(Broken::Hang.name(), "hang");
    }
}
