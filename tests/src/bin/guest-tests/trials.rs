//! Turning main runs into trials: `<config>::boot`, one `<config>::<case>` per case line, one
//! `<config>::fault::<kind>` per fault kind, and one `<config>::kernel_crash::<kind>` per kind
//! of deliberate kernel crash; the last two boot the kernel once more each.

use crate::{MainRun, Settings};
use ::tests::Verdict;
use ::tests::crash::check_crash_boot;
use ::tests::fault::check_fault_boot;
use ::tests::report::{CaseResult, GuestReport};
use boot::command_line::Crash;
use libtest_mimic::{Failed, Trial};
use std::sync::Arc;

/// How many lines of serial output a failure message shows.
const CONTEXT_LINES: usize = 30;

/// What a trial checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Already decided from the main run: pass, or fail with this message.
    Decided(Result<(), String>),
    /// Boot `config` once more, provoking fault `kind`, and check the kernel's report.
    FaultBoot {
        /// The configuration.
        config: String,
        /// The fault kind, as the guest program listed it.
        kind: String,
    },
    /// Boot `config` with `crash=<kind>` and check the kernel's report of its own crash.
    KernelCrash {
        /// The configuration.
        config: String,
        /// The crash.
        crash: Crash,
    },
}

/// The named checks of every main run, in configuration order.
pub fn plan(settings: &Settings, runs: Vec<MainRun>) -> Vec<(String, Check)> {
    let mut checks = Vec::new();
    for run in runs {
        let config = run.config;
        let outcome = match run.outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                checks.push((
                    format!("{config}::boot"),
                    Check::Decided(Err(error.to_string())),
                ));
                checks.extend(crash_checks(&config));
                continue;
            }
        };
        let report = GuestReport::parse(&outcome.output);
        let log = ::tests::runner::log_path(&settings.logs, &config, "main");
        let mut problems = report.problems();
        if outcome.verdict == Verdict::TimedOut {
            problems.insert(
                0,
                format!(
                    "the boot did not finish within {} s (GUEST_TIMEOUT sets the limit)",
                    settings.timeout.as_secs()
                ),
            );
        } else if !outcome.verdict.is_success() {
            problems.insert(0, format!("the boot did not succeed: {}", outcome.verdict));
        }
        let boot = if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{}\n{}\nfull log: {}",
                problems.join("\n"),
                outcome.summary(CONTEXT_LINES),
                log.display()
            ))
        };
        checks.push((format!("{config}::boot"), Check::Decided(boot)));
        for case in report.cases {
            let result = match case.result {
                CaseResult::Passed => Ok(()),
                CaseResult::Failed(reason) => Err(format!("the guest program reported: {reason}")),
            };
            checks.push((format!("{config}::{}", case.name), Check::Decided(result)));
        }
        for kind in report.fault_kinds {
            let name = format!("{config}::fault::{kind}");
            let config = config.clone();
            checks.push((name, Check::FaultBoot { config, kind }));
        }
        checks.extend(crash_checks(&config));
    }
    checks
}

/// The deliberate kernel crashes of one configuration, which do not depend on its main run.
fn crash_checks(config: &str) -> impl Iterator<Item = (String, Check)> + '_ {
    Crash::ALL.iter().map(move |&crash| {
        let name = format!("{config}::kernel_crash::{}", crash.name());
        (
            name,
            Check::KernelCrash {
                config: config.to_string(),
                crash,
            },
        )
    })
}

/// Every trial of every main run, in configuration order.
pub fn build(settings: &Arc<Settings>, runs: Vec<MainRun>) -> Vec<Trial> {
    plan(settings, runs)
        .into_iter()
        .map(|(name, check)| {
            let settings = Arc::clone(settings);
            Trial::test(name, move || match check {
                Check::Decided(result) => result.map_err(Failed::from),
                Check::FaultBoot { config, kind } => fault_trial(&settings, &config, &kind),
                Check::KernelCrash { config, crash } => crash_trial(&settings, &config, crash),
            })
        })
        .collect()
}

/// Boots `config` with the guest program provoking fault `kind` and checks the kernel's report.
fn fault_trial(settings: &Settings, config: &str, kind: &str) -> Result<(), Failed> {
    let arguments = ["fault".to_string(), kind.to_string()];
    let label = format!("fault-{kind}");
    let outcome = settings.boot(config, &label, &arguments)?;
    check_fault_boot(outcome.verdict, &outcome.output).map_err(|problem| {
        let log = ::tests::runner::log_path(&settings.logs, config, &label);
        Failed::from(format!(
            "{problem}\n{}\nfull log: {}",
            outcome.summary(CONTEXT_LINES),
            log.display()
        ))
    })
}

/// Boots `config` with a deliberate kernel crash and checks the report and the verdict.
fn crash_trial(settings: &Settings, config: &str, crash: Crash) -> Result<(), Failed> {
    let label = format!("kernel-crash-{}", crash.name());
    let command_line = format!("log=info crash={}", crash.name());
    let outcome = settings.boot_command_line(config, &label, &command_line)?;
    check_crash_boot(crash, outcome.verdict, &outcome.output).map_err(|problem| {
        let log = ::tests::runner::log_path(&settings.logs, config, &label);
        Failed::from(format!(
            "{problem}\n{}\nfull log: {}",
            outcome.summary(CONTEXT_LINES),
            log.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::tests::{BootOutcome, Error};
    use boot::exit::ExitCode;
    use std::path::PathBuf;
    use std::time::Duration;

    fn settings() -> Arc<Settings> {
        let scratch = std::env::temp_dir().join(format!("trials-{}", std::process::id()));
        Arc::new(Settings {
            images: PathBuf::from("/nonexistent/images"),
            configs: vec!["process".to_string()],
            extra_arguments: Vec::new(),
            timeout: Duration::from_secs(1),
            logs: scratch,
        })
    }

    fn run(config: &str, verdict: Verdict, output: &str) -> MainRun {
        MainRun {
            config: config.to_string(),
            outcome: Ok(BootOutcome {
                output: output.to_string(),
                verdict,
                qemu_messages: String::new(),
                elapsed: Duration::from_millis(5),
            }),
        }
    }

    fn crash_check(config: &str, crash: Crash) -> (String, Check) {
        let name = format!("{config}::kernel_crash::{}", crash.name());
        (
            name,
            Check::KernelCrash {
                config: config.to_string(),
                crash,
            },
        )
    }

    const OUTPUT: &str =
        "case a ok\ncase b failed: wrong\nfault-case invalid-opcode\ncases done 2\n";

    #[test]
    fn a_complete_run_gives_boot_case_and_fault_trials() {
        let success = Verdict::Exit(ExitCode::Success);
        let checks = plan(&settings(), vec![run("process", success, OUTPUT)]);
        assert_eq!(
            checks,
            [
                ("process::boot".to_string(), Check::Decided(Ok(()))),
                ("process::a".to_string(), Check::Decided(Ok(()))),
                (
                    "process::b".to_string(),
                    Check::Decided(Err("the guest program reported: wrong".to_string()))
                ),
                (
                    "process::fault::invalid-opcode".to_string(),
                    Check::FaultBoot {
                        config: "process".to_string(),
                        kind: "invalid-opcode".to_string()
                    }
                ),
                crash_check("process", Crash::PageFault),
                crash_check("process", Crash::InvalidOpcode),
                crash_check("process", Crash::Panic),
            ]
        );
        assert_eq!(build(&settings(), Vec::new()).len(), 0);
    }

    #[test]
    fn a_broken_run_fails_its_boot_trial_but_keeps_its_cases() {
        let output = "case a ok\n";
        let checks = plan(
            &settings(),
            vec![run("interrupt", Verdict::TimedOut, output)],
        );
        assert_eq!(checks.len(), 2 + Crash::ALL.len());
        let (name, Check::Decided(Err(message))) = &checks[0] else {
            panic!("the boot trial should fail: {checks:?}");
        };
        assert_eq!(name, "interrupt::boot");
        assert!(message.contains("did not finish within 1 s"), "{message}");
        assert!(
            message.contains("no `cases done <count>` line"),
            "{message}"
        );
        assert!(
            message.contains("last 30 lines of serial output:\ncase a ok"),
            "{message}"
        );
        assert!(message.contains("interrupt-main.log"), "{message}");
        assert_eq!(
            checks[1],
            ("interrupt::a".to_string(), Check::Decided(Ok(())))
        );
    }

    #[test]
    fn a_boot_that_could_not_start_is_one_failed_trial_besides_the_crashes() {
        let failed = MainRun {
            config: "process".to_string(),
            outcome: Err(Error::new("QEMU is missing")),
        };
        let checks = plan(&settings(), vec![failed]);
        assert_eq!(
            checks,
            [
                (
                    "process::boot".to_string(),
                    Check::Decided(Err("QEMU is missing".to_string()))
                ),
                crash_check("process", Crash::PageFault),
                crash_check("process", Crash::InvalidOpcode),
                crash_check("process", Crash::Panic),
            ]
        );
    }
}
