//! `cargo xtask bench`: boots `root=kernel-bench` under `-icount shift=0` once per
//! configuration and prints a table of instructions per operation, median (max), with the
//! Linux reference for the null system call.

use crate::Result;
use crate::build;
use crate::configuration::{self, Configuration};
use crate::toolchain::shown;
use ::tests::bench::{BenchResult, parse_output};
use ::tests::qemu::QemuCommand;
use ::tests::{Error, runner};
use clap::Args;
use std::time::Duration;

/// How long one benchmark boot may take (instruction counting slows QEMU down).
const TIMEOUT: Duration = Duration::from_secs(600);
/// The kernel command line of a benchmark boot.
const COMMAND_LINE: &str = "log=info root=kernel-bench";
/// Linux 6.1's null system call, measured the same way (QEMU 7.2, TCG, `-icount shift=0`).
pub const LINUX_NULL_CALL: u64 = 337;

/// Options of `cargo xtask bench`.
#[derive(Args, Debug)]
pub struct BenchArguments {
    /// A configuration to measure; repeat for several (default: all).
    #[arg(long = "config", value_name = "NAME", value_parser = configuration::parser())]
    pub configs: Vec<&'static Configuration>,
}

/// Builds, measures every selected configuration, and prints the table.
pub fn bench(arguments: &BenchArguments) -> Result<()> {
    ::tests::qemu::ensure_installed()?;
    let configs = configuration::selected(&arguments.configs);
    let layout = build::build(&configs)?;
    let mut columns = Vec::new();
    for config in &configs {
        eprintln!(
            "xtask: benchmarking {} (instructions counted: this is slow)",
            config.name
        );
        let qemu = QemuCommand::new(layout.kernel(config), layout.bootfs(), COMMAND_LINE)
            .counting_instructions(true);
        let outcome = runner::boot(&qemu, TIMEOUT)?;
        let log = runner::log_path(&layout.logs(), config.name, "bench");
        outcome.write_log(&log)?;
        eprintln!(
            "xtask: {} finished in {:.1} s: {}",
            config.name,
            outcome.elapsed.as_secs_f64(),
            outcome.verdict
        );
        let failed = |problem: String| {
            Error::new(format!(
                "benchmarking {} failed: {problem}\n{}\nfull log: {}",
                config.name,
                outcome.summary(30),
                shown(&log)
            ))
        };
        if !outcome.verdict.is_success() {
            return Err(failed("the boot did not succeed".to_string()));
        }
        let results = parse_output(&outcome.output).map_err(failed)?;
        if results.is_empty() {
            return Err(failed(
                "the output has no `bench <name> median=.. max=.. min=.. iterations=..` line"
                    .to_string(),
            ));
        }
        columns.push((config.name, results));
    }
    print!("{}", table(&columns));
    println!(
        "instructions per operation, median (max), counted by QEMU -icount shift=0; \
         reference: Linux 6.1 null system call {LINUX_NULL_CALL} (same method)"
    );
    Ok(())
}

/// The table: one row per benchmark (in order of first appearance), one column per
/// configuration, cells `median (max)` or `-` where a configuration lacks the benchmark.
pub fn table(columns: &[(&str, Vec<BenchResult>)]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (_, results) in columns {
        for result in results {
            if !names.contains(&result.name.as_str()) {
                names.push(&result.name);
            }
        }
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["benchmark".to_string()];
    header.extend(columns.iter().map(|(config, _)| config.to_string()));
    rows.push(header);
    for name in &names {
        let mut row = vec![name.to_string()];
        for (_, results) in columns {
            row.push(match results.iter().find(|result| result.name == *name) {
                Some(result) => format!("{} ({})", result.median, result.max),
                None => "-".to_string(),
            });
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                if column == 0 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, median: u64, max: u64) -> BenchResult {
        BenchResult {
            name: name.to_string(),
            median,
            max,
            min: median,
            iterations: 10,
        }
    }

    #[test]
    fn table_has_a_row_per_benchmark_and_a_column_per_configuration() {
        let columns = vec![
            (
                "process",
                vec![result("null_call", 120, 400), result("yield", 700, 900)],
            ),
            (
                "interrupt",
                vec![result("null_call", 118, 390), result("ipc", 1000, 2000)],
            ),
        ];
        let text = table(&columns);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "benchmark    process    interrupt");
        assert_eq!(lines[1], "null_call  120 (400)    118 (390)");
        assert_eq!(lines[2], "yield      700 (900)            -");
        assert_eq!(lines[3], "ipc                -  1000 (2000)");
    }
}
