//! `guest-tests`: boots every kernel configuration with the guest test program as its root,
//! and reports each case the program printed, the boot itself and each deliberate fault as a
//! separate test, in the format of `cargo test`.
//!
//! Usually started by `cargo xtask test`, which builds the images first. Environment:
//!
//! - `GUEST_IMAGES`: the directory holding `kernel-<config>.elf` and `bootfs.img` (required);
//! - `GUEST_CONFIGS`: comma-separated configurations (default: every `kernel-*.elf` there);
//! - `GUEST_BROKEN`: `case` or `hang`, to check that the harness catches a failing case or a
//!   hung boot (passes `broken-case` or `hang` to the guest program);
//! - `GUEST_TIMEOUT`: seconds one boot may take (default 180: the main run, with a million
//!   random calls, takes about 30 s here);
//! - `GUEST_LOGS`: where boot logs go (default: `guest-logs` beside `GUEST_IMAGES`).
//!
//! Arguments are those of `cargo test` harnesses (a filter, `--exact`, `--list`, ...).
#![forbid(unsafe_code)]

mod trials;

use ::tests::{BootOutcome, Error};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// What the environment asks for.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The directory with the kernel images and the boot file system.
    pub images: PathBuf,
    /// The configurations to test.
    pub configs: Vec<String>,
    /// Extra arguments for the guest program's main run.
    pub extra_arguments: Vec<String>,
    /// How long one boot may take.
    pub timeout: Duration,
    /// Where boot logs go.
    pub logs: PathBuf,
}

impl Settings {
    /// Reads the settings from the environment and checks that the images exist.
    fn from_environment() -> Result<Settings, Error> {
        let variable = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let images = variable("GUEST_IMAGES").map(PathBuf::from).ok_or_else(|| {
            Error::new(
                "GUEST_IMAGES is not set: run the guest tests with `cargo xtask test`, which \
                 builds the images and sets it, or set it to the directory holding \
                 kernel-<config>.elf and bootfs.img (target/images after `cargo xtask build`)",
            )
        })?;
        let configs = match variable("GUEST_CONFIGS") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(String::from)
                .collect(),
            None => configs_in(&images)?,
        };
        if configs.is_empty() {
            return Err(Error::new(format!(
                "no kernel configuration to test: {} holds no kernel-<config>.elf; run \
                 `cargo xtask build`",
                images.display()
            )));
        }
        let extra_arguments = match variable("GUEST_BROKEN").as_deref() {
            None => Vec::new(),
            Some("case") => vec!["broken-case".to_string()],
            Some("hang") => vec!["hang".to_string()],
            Some(other) => {
                return Err(Error::new(format!(
                    "GUEST_BROKEN={other} is not understood: use `case`, `hang` or leave it unset"
                )));
            }
        };
        let timeout = match variable("GUEST_TIMEOUT") {
            None => ::tests::DEFAULT_TIMEOUT,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|seconds| *seconds > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    Error::new(format!(
                        "GUEST_TIMEOUT={text} is not a positive whole number of seconds"
                    ))
                })?,
        };
        let logs = variable("GUEST_LOGS")
            .map(PathBuf::from)
            .unwrap_or_else(|| images.parent().unwrap_or(Path::new(".")).join("guest-logs"));
        let settings = Settings {
            images,
            configs,
            extra_arguments,
            timeout,
            logs,
        };
        for config in &settings.configs {
            for path in [settings.kernel(config), settings.bootfs()] {
                if !path.is_file() {
                    return Err(Error::new(format!(
                        "{} does not exist: run `cargo xtask build --config {config}` (or \
                         `cargo xtask test`, which builds before testing)",
                        path.display()
                    )));
                }
            }
        }
        Ok(settings)
    }

    /// The kernel image of `config`.
    pub fn kernel(&self, config: &str) -> PathBuf {
        self.images.join(format!("kernel-{config}.elf"))
    }

    /// The boot file system.
    pub fn bootfs(&self) -> PathBuf {
        self.images.join("bootfs.img")
    }

    /// Boots `config` with `root=kernel-tests`, `preemption=every-point` and `arguments` for
    /// the guest program, and saves the serial output as `<config>-<label>.log`.
    pub fn boot(
        &self,
        config: &str,
        label: &str,
        arguments: &[String],
    ) -> Result<BootOutcome, Error> {
        // Long kernel operations stop at every preemption point, so that the restart torture
        // tests catch threads between any two pages of a transfer.
        let mut command_line = String::from("log=info preemption=every-point root=kernel-tests");
        if !arguments.is_empty() {
            command_line.push_str(" -- ");
            command_line.push_str(&arguments.join(" "));
        }
        self.boot_command_line(config, label, &command_line)
    }

    /// Boots `config` with a whole kernel command line, saving the output as for [`boot`].
    pub fn boot_command_line(
        &self,
        config: &str,
        label: &str,
        command_line: &str,
    ) -> Result<BootOutcome, Error> {
        let outcome = ::tests::boot_guest(
            &self.kernel(config),
            &self.bootfs(),
            command_line,
            self.timeout,
        )?;
        let log = ::tests::runner::log_path(&self.logs, config, label);
        if let Err(error) = outcome.write_log(&log) {
            eprintln!("warning: {error}");
        }
        Ok(outcome)
    }
}

/// The configurations whose kernels lie in `images`, sorted.
fn configs_in(images: &Path) -> Result<Vec<String>, Error> {
    let entries = std::fs::read_dir(images).map_err(|error| {
        Error::new(format!(
            "cannot read {} ({error}): run `cargo xtask build` first",
            images.display()
        ))
    })?;
    let mut configs: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            Some(
                name.strip_prefix("kernel-")?
                    .strip_suffix(".elf")?
                    .to_string(),
            )
        })
        .collect();
    configs.sort();
    Ok(configs)
}

/// The main run of one configuration.
pub struct MainRun {
    /// The configuration.
    pub config: String,
    /// How the boot went, or why it could not be started.
    pub outcome: Result<BootOutcome, Error>,
}

/// Boots every configuration's main run, one thread each.
fn boot_main_runs(settings: &Settings) -> Vec<MainRun> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = settings
            .configs
            .iter()
            .map(|config| {
                scope.spawn(move || {
                    eprintln!("booting {config} ...");
                    let outcome = settings.boot(config, "main", &settings.extra_arguments);
                    match &outcome {
                        Ok(outcome) => eprintln!(
                            "booted {config} in {:.1} s: {}",
                            outcome.elapsed.as_secs_f64(),
                            outcome.verdict
                        ),
                        Err(error) => eprintln!("could not boot {config}: {error}"),
                    }
                    MainRun {
                        config: config.clone(),
                        outcome,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(&settings.configs)
            .map(|(handle, config)| {
                handle.join().unwrap_or_else(|_| MainRun {
                    config: config.clone(),
                    outcome: Err(Error::new(
                        "the boot thread panicked; this is a harness bug",
                    )),
                })
            })
            .collect()
    })
}

fn main() -> ExitCode {
    let arguments = libtest_mimic::Arguments::from_args();
    let settings = match Settings::from_environment() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = ::tests::qemu::ensure_installed() {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    let settings = Arc::new(settings);
    let runs = boot_main_runs(&settings);
    let trials = trials::build(&settings, runs);
    let conclusion = libtest_mimic::run(&arguments, trials);
    println!(
        "{} passed, {} failed",
        conclusion.num_passed, conclusion.num_failed
    );
    conclusion.exit_code()
}
