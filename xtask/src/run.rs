//! `cargo xtask run`: builds one configuration and boots it with the serial console on the
//! terminal, optionally waiting for gdb; QEMU's exit status is read back as the kernel's verdict.

use crate::Result;
use crate::build;
use crate::configuration::{self, Configuration};
use crate::toolchain::{self, shown};
use ::tests::qemu::{GDB_PORT, QemuCommand};
use ::tests::{Error, Verdict};
use boot::exit::ExitCode;
use clap::Args;
use clap::builder::PossibleValuesParser;

/// The log levels the kernel understands (see `boot::command_line::LogLevel`).
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// Options of `cargo xtask run`.
#[derive(Args, Debug)]
pub struct RunArguments {
    /// The kernel configuration to boot.
    #[arg(long = "config", value_name = "NAME", default_value = configuration::DEFAULT_RUN,
          value_parser = configuration::parser())]
    pub config: &'static Configuration,
    /// The kernel's log level.
    #[arg(long, value_name = "LEVEL", default_value = "info",
          value_parser = PossibleValuesParser::new(LOG_LEVELS))]
    pub log: String,
    /// The program the kernel starts instead of the manifest's root (for example kernel-tests).
    #[arg(long, value_name = "PROGRAM")]
    pub root: Option<String>,
    /// More text for the kernel command line, placed before the root program's arguments.
    #[arg(long, value_name = "TEXT")]
    pub append: Option<String>,
    /// Wait for gdb on port 1234 before the first instruction.
    #[arg(long)]
    pub gdb: bool,
    /// Count instructions (`-icount shift=0`), as the benchmarks do.
    #[arg(long)]
    pub icount: bool,
    /// Arguments for the root program (after `--`).
    #[arg(last = true, value_name = "ROOT_ARGS")]
    pub root_arguments: Vec<String>,
}

/// The kernel command line: `log=<level>`, then `root=<program>`, the appended text, and
/// `-- <arguments>` when there are root arguments.
pub fn kernel_command_line(
    log: &str,
    root: Option<&str>,
    append: Option<&str>,
    root_arguments: &[String],
) -> String {
    let mut line = format!("log={log}");
    if let Some(root) = root {
        line.push_str(" root=");
        line.push_str(root);
    }
    if let Some(append) = append.map(str::trim).filter(|text| !text.is_empty()) {
        line.push(' ');
        line.push_str(append);
    }
    if !root_arguments.is_empty() {
        line.push_str(" -- ");
        line.push_str(&root_arguments.join(" "));
    }
    line
}

/// Builds the configuration and boots it on the terminal.
pub fn run(arguments: &RunArguments) -> Result<()> {
    ::tests::qemu::ensure_installed()?;
    let layout = build::build(&[arguments.config])?;
    let command_line = kernel_command_line(
        &arguments.log,
        arguments.root.as_deref(),
        arguments.append.as_deref(),
        &arguments.root_arguments,
    );
    let kernel = layout.kernel(arguments.config);
    let qemu = QemuCommand::new(&kernel, layout.bootfs(), command_line)
        .counting_instructions(arguments.icount)
        .waiting_for_debugger(arguments.gdb);
    eprintln!("xtask: booting {}", shown(&kernel));
    eprintln!("xtask: {}", qemu.display());
    if arguments.gdb {
        eprintln!(
            "xtask: QEMU waits for a debugger; from the workspace root, in another terminal, \
             run:\n  gdb {} -ex 'target remote :{GDB_PORT}'",
            shown(&kernel)
        );
    }
    let status = qemu
        .command()
        .current_dir(toolchain::workspace_root())
        .status()
        .map_err(|error| {
            Error::new(format!(
                "could not start {} ({error}): install QEMU and make sure it is on PATH",
                ::tests::qemu::PROGRAM
            ))
        })?;
    judge(Verdict::from_status(status))
}

/// Ok for a successful boot; otherwise an error describing the verdict.
pub fn judge(verdict: Verdict) -> Result<()> {
    match verdict {
        Verdict::Exit(ExitCode::Success) => {
            eprintln!("xtask: {verdict}");
            Ok(())
        }
        Verdict::Exit(_) => Err(Error::new(format!(
            "the boot failed: {verdict}; the serial output above shows why"
        ))),
        other => Err(Error::new(format!(
            "the boot ended without a kernel verdict: {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boot::command_line::{CommandLine, LogLevel};

    #[test]
    fn every_level_is_one_the_kernel_knows() {
        for level in LOG_LEVELS {
            assert!(LogLevel::parse(level).is_some(), "{level}");
        }
    }

    #[test]
    fn plain_command_line() {
        assert_eq!(kernel_command_line("info", None, None, &[]), "log=info");
    }

    #[test]
    fn full_command_line_parses_back() {
        let arguments = ["fault".to_string(), "page-fault".to_string()];
        let line = kernel_command_line("debug", Some("kernel-tests"), Some(" x=1 "), &arguments);
        assert_eq!(line, "log=debug root=kernel-tests x=1 -- fault page-fault");
        let parsed = CommandLine::parse(&line);
        assert_eq!(parsed.log_level, Some(LogLevel::Debug));
        assert_eq!(parsed.root, Some("kernel-tests"));
        assert_eq!(parsed.root_arguments, Some("fault page-fault"));
        assert_eq!(parsed.first_unknown, Some("x=1"));
    }

    #[test]
    fn only_success_is_ok() {
        assert!(judge(Verdict::Exit(ExitCode::Success)).is_ok());
        let error = judge(Verdict::Exit(ExitCode::KernelPanic)).unwrap_err();
        assert!(error.message().contains("the kernel panicked"), "{error}");
        let error = judge(Verdict::UnknownStatus(1)).unwrap_err();
        assert!(error.message().contains("status 1"), "{error}");
        assert!(judge(Verdict::Signalled).is_err());
    }
}
