//! `cargo xtask`: the project's build, run, test and benchmark driver. It builds the bare-metal
//! crates for `x86_64-unknown-none` with their codegen flags (so host builds never see them),
//! packs the boot file system, and boots QEMU through the one command line in the `tests`
//! library. Every subcommand has `--help`.
#![forbid(unsafe_code)]

mod bench;
mod build;
mod configuration;
mod plot;
mod run;
mod spec;
mod test;
mod toolchain;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The result of a task; the error says what went wrong and what to do.
pub type Result<T> = std::result::Result<T, ::tests::Error>;

/// Build, boot, test and measure the kernel.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about, long_about = None)]
struct Arguments {
    #[command(subcommand)]
    task: Task,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
enum Task {
    /// Build the user programs, the kernel in each configuration, and the boot file system
    /// (into target/images).
    Build {
        /// A configuration to build; repeat for several (default: all).
        #[arg(long = "config", value_name = "NAME", value_parser = configuration::parser())]
        configs: Vec<&'static configuration::Configuration>,
    },
    /// Build one configuration and boot it in QEMU with the serial console on this terminal.
    Run(run::RunArguments),
    /// Run the host unit tests, then boot every configuration and run the guest tests.
    Test(test::TestArguments),
    /// Measure instructions per operation under QEMU's instruction counting.
    Bench(bench::BenchArguments),
    /// Regenerate kernel/abi/SPEC.md from the ABI's specification table.
    Spec,
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let result = match &arguments.task {
        Task::Build { configs } => build::build(&configuration::selected(configs)).map(|layout| {
            eprintln!(
                "xtask: images are in {}",
                toolchain::shown(&layout.images())
            );
        }),
        Task::Run(options) => run::run(options),
        Task::Test(options) => test::test(options),
        Task::Bench(options) => bench::bench(options),
        Task::Spec => spec::spec(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_interface_is_consistent() {
        Arguments::command().debug_assert();
    }

    #[test]
    fn options_parse() {
        let parsed = Arguments::try_parse_from([
            "xtask",
            "run",
            "--config",
            "interrupt-none",
            "--log",
            "debug",
            "--root",
            "kernel-tests",
            "--gdb",
            "--",
            "fault",
            "page-fault",
        ])
        .unwrap();
        let Task::Run(options) = parsed.task else {
            panic!("not run: {parsed:?}");
        };
        assert_eq!(options.config.name, "interrupt-none");
        assert_eq!(options.root_arguments, ["fault", "page-fault"]);
        assert!(options.gdb && !options.icount);

        let parsed = Arguments::try_parse_from([
            "xtask",
            "test",
            "--config",
            "process-partial",
            "--broken",
            "hang",
            "null",
        ])
        .unwrap();
        let Task::Test(options) = parsed.task else {
            panic!("not test: {parsed:?}");
        };
        assert_eq!(options.broken, Some(test::Broken::Hang));
        assert_eq!(options.filter.as_deref(), Some("null"));

        assert!(Arguments::try_parse_from(["xtask", "build", "--config", "threads"]).is_err());
        assert!(Arguments::try_parse_from(["xtask", "run", "--log", "loud"]).is_err());
        assert!(
            Arguments::try_parse_from(["xtask", "test", "--host-only", "--guest-only"]).is_err()
        );
    }
}
