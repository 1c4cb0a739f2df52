//! `cargo xtask bench`: boots `root=kernel-bench` under `-icount shift=0` in every selected
//! configuration, twice (once as it is, once with `preemption=every-point` to price restarts),
//! and prints the tables: instructions per operation, preemption latency, kernel memory per
//! thread and restart overhead. The results also go to `target/bench/results.json` with SVG
//! plots beside it; `--report` writes them into `docs/measurements/` as well.

use crate::Result;
use crate::build::{self, Layout};
use crate::configuration::{self, Configuration};
use crate::plot::{self, BarChart};
use crate::toolchain::shown;
use ::tests::bench::{BenchResult, Results, parse_results};
use ::tests::qemu::QemuCommand;
use ::tests::{Error, runner};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one benchmark boot may take (instruction counting slows QEMU down).
const TIMEOUT: Duration = Duration::from_secs(600);
/// The kernel command line of a benchmark boot.
const COMMAND_LINE: &str = "log=info root=kernel-bench";
/// The kernel command line of the boot that prices restarts: every preemption point stops the
/// operation, which is then re-issued from the registers.
const RESTART_COMMAND_LINE: &str = "log=info root=kernel-bench preemption=every-point -- restart";
/// The operation whose restarts are priced (a 1 MiB IPC transfer: 256 pages, 256 restarts).
const RESTARTED_OPERATION: &str = "ipc_call_1_mib";
/// Linux 6.1's null system call, measured the same way (QEMU 7.2, TCG, `-icount shift=0`).
pub const LINUX_NULL_CALL: u64 = 337;
/// The operations the operations plot shows (the rest are in the table).
const PLOTTED_OPERATIONS: [&str; 7] = [
    "null_call",
    "yield_switch",
    "ipc_round_trip_cross_space",
    "ipc_round_trip_4_kib_cross_space",
    "mutex_hand_off",
    "page_fault_zero_fill_by_user_keeper",
    "page_fault_refill_without_ipc",
];

/// Options of `cargo xtask bench`.
#[derive(Args, Debug)]
pub struct BenchArguments {
    /// A configuration to measure; repeat for several (default: all).
    #[arg(long = "config", value_name = "NAME", value_parser = configuration::parser())]
    pub configs: Vec<&'static Configuration>,
    /// Also write the results and plots into docs/measurements/ (the report's figures).
    #[arg(long)]
    pub report: bool,
}

/// What one configuration measured.
#[derive(Debug, Serialize)]
struct Measured {
    /// The configuration's name.
    configuration: &'static str,
    /// Its cargo features.
    features: &'static str,
    #[serde(flatten)]
    results: Results,
    /// The restarted operation, uninterrupted and stopped at every preemption point.
    restart: Restart,
}

/// The price of restarts.
#[derive(Debug, Serialize)]
struct Restart {
    operation: &'static str,
    uninterrupted: u64,
    every_point: u64,
    overhead_percent: f64,
}

/// The machine-readable file.
#[derive(Serialize)]
struct Report<'a> {
    method: &'static str,
    linux_null_call: u64,
    configurations: &'a [Measured],
}

/// Builds, measures every selected configuration, prints the tables and writes the files.
pub fn bench(arguments: &BenchArguments) -> Result<()> {
    ::tests::qemu::ensure_installed()?;
    let configs = configuration::selected(&arguments.configs);
    let layout = build::build(&configs)?;
    let mut measured = Vec::new();
    for config in &configs {
        let results = boot(&layout, config, COMMAND_LINE, "bench")?;
        if results.operations.is_empty() {
            return Err(Error::new(format!(
                "benchmarking {}: the output has no `bench <name> median=.. max=.. min=.. \
                 iterations=..` line",
                config.name
            )));
        }
        let restarted = boot(&layout, config, RESTART_COMMAND_LINE, "bench-restart")?;
        let restart = restart_price(&results, &restarted).ok_or_else(|| {
            Error::new(format!(
                "benchmarking {}: `{RESTARTED_OPERATION}` is missing from a boot's results",
                config.name
            ))
        })?;
        measured.push(Measured {
            configuration: config.name,
            features: config.features,
            results,
            restart,
        });
    }
    print!("{}", tables(&measured));
    let output = layout.target.join("bench");
    write_files(&measured, &output)?;
    eprintln!("xtask: results and plots in {}", shown(&output));
    if arguments.report {
        let documents = PathBuf::from("docs").join("measurements");
        write_files(&measured, &documents)?;
        eprintln!("xtask: the report's figures are in {}", shown(&documents));
    }
    Ok(())
}

/// One benchmark boot of `config` with `command_line`; its results.
fn boot(
    layout: &Layout,
    config: &Configuration,
    command_line: &str,
    label: &str,
) -> Result<Results> {
    eprintln!(
        "xtask: benchmarking {} ({label}; instructions counted: this is slow)",
        config.name
    );
    let qemu = QemuCommand::new(layout.kernel(config), layout.bootfs(), command_line)
        .counting_instructions(true);
    let outcome = runner::boot(&qemu, TIMEOUT)?;
    let log = runner::log_path(&layout.logs(), config.name, label);
    outcome.write_log(&log)?;
    eprintln!(
        "xtask: {} finished in {:.1} s: {}",
        config.name,
        outcome.elapsed.as_secs_f64(),
        outcome.verdict
    );
    let failed = |problem: String| {
        Error::new(format!(
            "benchmarking {} ({label}) failed: {problem}\n{}\nfull log: {}",
            config.name,
            outcome.summary(30),
            shown(&log)
        ))
    };
    if !outcome.verdict.is_success() {
        return Err(failed("the boot did not succeed".to_string()));
    }
    parse_results(&outcome.output).map_err(failed)
}

/// The restarted operation's median in both boots, and what the restarts added.
fn restart_price(results: &Results, restarted: &Results) -> Option<Restart> {
    let median = |results: &Results| {
        results
            .operations
            .iter()
            .find(|result| result.name == RESTARTED_OPERATION)
            .map(|result| result.median)
    };
    let uninterrupted = median(results)?;
    let every_point = median(restarted)?;
    Some(Restart {
        operation: RESTARTED_OPERATION,
        uninterrupted,
        every_point,
        overhead_percent: percent(every_point, uninterrupted),
    })
}

/// How much more `value` is than `base`, in percent, to a tenth.
fn percent(value: u64, base: u64) -> f64 {
    let raw = (value as f64 - base as f64) * 100.0 / base.max(1) as f64;
    (raw * 10.0).round() / 10.0
}

/// Every table, one after the other.
fn tables(measured: &[Measured]) -> String {
    let mut text = String::new();
    let columns: Vec<(&str, Vec<BenchResult>)> = measured
        .iter()
        .map(|each| (each.configuration, each.results.operations.clone()))
        .collect();
    text.push_str(&table(&columns));
    text.push_str(&format!(
        "instructions per operation, median (max), counted by QEMU -icount shift=0; \
         reference: Linux 6.1 null system call {LINUX_NULL_CALL} (same method)\n\n"
    ));
    let mut rows = vec![header("preemption latency", measured)];
    for load in latency_loads(measured) {
        let mut row = vec![load.clone()];
        for each in measured {
            row.push(
                match each
                    .results
                    .latencies
                    .iter()
                    .find(|result| result.load == load)
                {
                    Some(result) => format!("{} / {} / {}", result.average, result.p99, result.max),
                    None => "-".to_string(),
                },
            );
        }
        rows.push(row);
    }
    text.push_str(&aligned(&rows));
    text.push_str(
        "instructions from a timer interrupt's being raised to the high-priority thread it \
         woke running: average / 99th percentile / maximum\n\n",
    );
    let mut rows = vec![header("kernel memory per thread", measured)];
    let workloads: Vec<String> = measured
        .first()
        .map(|each| {
            each.results
                .memory
                .iter()
                .map(|m| m.workload.clone())
                .collect()
        })
        .unwrap_or_default();
    for workload in workloads {
        let mut row = vec![workload.clone()];
        for each in measured {
            row.push(
                match each.results.memory.iter().find(|m| m.workload == workload) {
                    Some(result) => format!("{} bytes", result.per_thread),
                    None => "-".to_string(),
                },
            );
        }
        rows.push(row);
    }
    text.push_str(&aligned(&rows));
    text.push_str("bytes charged to the creating space's quota per thread\n\n");
    let mut rows = vec![header("restart overhead", measured)];
    let mut row = vec![RESTARTED_OPERATION.to_string()];
    for each in measured {
        let restart = &each.restart;
        row.push(format!(
            "{} -> {} ({:+.1}%)",
            restart.uninterrupted, restart.every_point, restart.overhead_percent
        ));
    }
    rows.push(row);
    text.push_str(&aligned(&rows));
    text.push_str(
        "median instructions uninterrupted -> stopped and re-issued at every preemption point \
         (a kernel without preemption points never stops)\n",
    );
    text
}

/// The first row of a table: its title, then the configurations.
fn header(title: &str, measured: &[Measured]) -> Vec<String> {
    let mut row = vec![title.to_string()];
    row.extend(measured.iter().map(|each| each.configuration.to_string()));
    row
}

/// The loads of the latency benchmark, in order of first appearance.
fn latency_loads(measured: &[Measured]) -> Vec<String> {
    let mut loads: Vec<String> = Vec::new();
    for each in measured {
        for result in &each.results.latencies {
            if !loads.contains(&result.load) {
                loads.push(result.load.clone());
            }
        }
    }
    loads
}

/// Writes `results.json`, `latency.svg` and `operations.svg` into `directory`.
fn write_files(measured: &[Measured], directory: &Path) -> Result<()> {
    std::fs::create_dir_all(directory)
        .map_err(|error| Error::new(format!("could not create {} ({error})", shown(directory))))?;
    let report = Report {
        method: "guest instructions counted by QEMU 7.2 (TCG, -icount shift=0,sleep=off)",
        linux_null_call: LINUX_NULL_CALL,
        configurations: measured,
    };
    let json = serde_json::to_string_pretty(&report)
        .map_err(|error| Error::new(format!("could not encode the results: {error}")))?;
    let path = directory.join("results.json");
    std::fs::write(&path, json + "\n")
        .map_err(|error| Error::new(format!("could not write {} ({error})", shown(&path))))?;
    let series: Vec<&str> = measured.iter().map(|each| each.configuration).collect();
    let latency = BarChart {
        title: "Preemption latency, maximum (instructions, log scale)",
        unit: "instructions from timer interrupt to thread running",
        series: &series,
        groups: latency_loads(measured)
            .into_iter()
            .map(|load| {
                let values = measured
                    .iter()
                    .map(|each| {
                        let found = each.results.latencies.iter().find(|r| r.load == load);
                        found.map(|result| result.max)
                    })
                    .collect();
                (load, values)
            })
            .collect(),
    };
    plot::write_bar_chart(&latency, &directory.join("latency.svg"))?;
    let operations = BarChart {
        title: "Operations, median (instructions, log scale)",
        unit: "instructions per operation",
        series: &series,
        groups: PLOTTED_OPERATIONS
            .iter()
            .map(|name| {
                let values = measured
                    .iter()
                    .map(|each| {
                        let found = each.results.operations.iter().find(|r| r.name == *name);
                        found.map(|result| result.median)
                    })
                    .collect();
                (short_name(name), values)
            })
            .collect(),
    };
    plot::write_bar_chart(&operations, &directory.join("operations.svg"))
}

/// A benchmark's name short enough for a plot's axis.
fn short_name(name: &str) -> String {
    name.replace("ipc_round_trip", "ipc")
        .replace("_cross_space", "")
        .replace("page_fault_", "fault_")
        .replace("_by_user_keeper", "")
        .replace("_without_ipc", "")
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
    aligned(&rows)
}

/// Rows of cells as text: the first column left-aligned, the others right-aligned, two spaces
/// between columns.
fn aligned(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in rows {
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
