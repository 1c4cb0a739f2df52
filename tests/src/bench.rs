//! Benchmark result lines, printed by the guest benchmark program at the start of a line:
//!
//! ```text
//! bench <name> median=<n> max=<n> min=<n> iterations=<n>
//! latency <load> average=<n> p99=<n> max=<n> samples=<n>
//! memory <workload> per_thread=<n> threads=<n>
//! ```
//!
//! Counts are decimal numbers of guest instructions (QEMU's `-icount shift=0` makes `rdtsc`
//! count instructions), memory is in bytes. Other lines are not results and are ignored.

use serde::Serialize;

/// One benchmark's result: instructions per operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BenchResult {
    /// The benchmark's name.
    pub name: String,
    /// The median instruction count of one operation.
    pub median: u64,
    /// The largest.
    pub max: u64,
    /// The smallest.
    pub min: u64,
    /// How many operations were measured.
    pub iterations: u64,
}

/// The preemption latency under one load: instructions from a timer interrupt's being raised
/// to the high-priority thread it woke running.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LatencyResult {
    /// The load the kernel was kept busy with.
    pub load: String,
    /// The mean.
    pub average: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The largest.
    pub max: u64,
    /// How many wake-ups were measured.
    pub samples: u64,
}

/// Kernel memory per thread under one workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemoryResult {
    /// The workload.
    pub workload: String,
    /// Bytes charged per thread.
    pub per_thread: u64,
    /// How many threads the workload made.
    pub threads: u64,
}

/// Everything one benchmark boot printed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Results {
    /// The `bench` lines.
    pub operations: Vec<BenchResult>,
    /// The `latency` lines.
    pub latencies: Vec<LatencyResult>,
    /// The `memory` lines.
    pub memory: Vec<MemoryResult>,
}

/// One parsed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A `bench` line.
    Operation(BenchResult),
    /// A `latency` line.
    Latency(LatencyResult),
    /// A `memory` line.
    Memory(MemoryResult),
}

/// The name and the values of a line `<kind> <name> <field>=<n>...` with exactly `fields`,
/// in order: `None` if the line is not of that kind, `Some(Err(why))` if it is malformed.
fn parse_fields<const N: usize>(
    line: &str,
    kind: &str,
    fields: [&str; N],
) -> Option<Result<(String, [u64; N]), String>> {
    let body = line.strip_prefix(kind)?.strip_prefix(' ')?;
    let mut words = body.split_whitespace();
    let parsed = (|| {
        let name = words.next().ok_or("no name")?;
        if name.contains('=') {
            return Err(format!("`{name}` is a field, not a name"));
        }
        let mut values = [0u64; N];
        for (value, field) in values.iter_mut().zip(fields) {
            let word = words
                .next()
                .ok_or_else(|| format!("`{field}=` is missing"))?;
            let text = word
                .strip_prefix(field)
                .and_then(|rest| rest.strip_prefix('='))
                .ok_or_else(|| format!("expected `{field}=<n>`, found `{word}`"))?;
            *value = text
                .parse()
                .map_err(|_| format!("`{word}` is not a whole number"))?;
        }
        if let Some(extra) = words.next() {
            return Err(format!("unexpected `{extra}` after the fields"));
        }
        Ok((name.to_string(), values))
    })();
    Some(parsed.map_err(|problem: String| format!("bad {kind} line {line:?}: {problem}")))
}

/// Parses one `bench` line: `None` if it is no benchmark line, `Some(Err(why))` if it starts
/// like one but is malformed.
pub fn parse_line(line: &str) -> Option<Result<BenchResult, String>> {
    let parsed = parse_fields(line, "bench", ["median", "max", "min", "iterations"])?;
    Some(parsed.and_then(|(name, [median, max, min, iterations])| {
        if !(min <= median && median <= max) {
            return Err(format!(
                "bad bench line {line:?}: min {min} <= median {median} <= max {max} does not hold"
            ));
        }
        Ok(BenchResult {
            name,
            median,
            max,
            min,
            iterations,
        })
    }))
}

/// Parses one line of any kind.
pub fn parse_record(line: &str) -> Option<Result<Record, String>> {
    if let Some(parsed) = parse_line(line) {
        return Some(parsed.map(Record::Operation));
    }
    if let Some(parsed) = parse_fields(line, "latency", ["average", "p99", "max", "samples"]) {
        return Some(parsed.and_then(|(load, [average, p99, max, samples])| {
            if !(average <= max && p99 <= max) {
                return Err(format!("bad latency line {line:?}: above its maximum"));
            }
            Ok(Record::Latency(LatencyResult {
                load,
                average,
                p99,
                max,
                samples,
            }))
        }));
    }
    let parsed = parse_fields(line, "memory", ["per_thread", "threads"])?;
    Some(parsed.map(|(workload, [per_thread, threads])| {
        Record::Memory(MemoryResult {
            workload,
            per_thread,
            threads,
        })
    }))
}

/// Every benchmark line of `output`, in order; fails on the first malformed one.
pub fn parse_output(output: &str) -> Result<Vec<BenchResult>, String> {
    crate::lines(output).filter_map(parse_line).collect()
}

/// Every result of `output`, by kind; fails on the first malformed line.
pub fn parse_results(output: &str) -> Result<Results, String> {
    let mut results = Results::default();
    for record in crate::lines(output).filter_map(parse_record) {
        match record? {
            Record::Operation(result) => results.operations.push(result),
            Record::Latency(result) => results.latencies.push(result),
            Record::Memory(result) => results.memory.push(result),
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_among_other_lines() {
        let output = "[ 0.0 INFO kernel] booting\r\n\
                      bench null_call median=120 max=400 min=118 iterations=1000\r\n\
                      benchmarks: starting\n\
                      bench yield median=700 max=700 min=700 iterations=1\n";
        let results = parse_output(output).unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(
            results[0],
            BenchResult {
                name: "null_call".to_string(),
                median: 120,
                max: 400,
                min: 118,
                iterations: 1000
            }
        );
        assert_eq!(results[1].name, "yield");
    }

    #[test]
    fn other_lines_are_not_results() {
        assert_eq!(parse_line("benchmarks done"), None);
        assert_eq!(
            parse_line("log: bench a median=1 max=1 min=1 iterations=1"),
            None
        );
        assert_eq!(parse_output("").unwrap(), []);
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in [
            "bench ",
            "bench a",
            "bench median=1 max=1 min=1 iterations=1",
            "bench a max=1 median=1 min=1 iterations=1",
            "bench a median=x max=1 min=1 iterations=1",
            "bench a median=-1 max=1 min=1 iterations=1",
            "bench a median=1 max=1 min=1",
            "bench a median=1 max=1 min=1 iterations=1 extra",
            "bench a median=5 max=4 min=1 iterations=1",
            "bench a median=1 max=4 min=2 iterations=1",
        ] {
            let parsed = parse_line(bad);
            assert!(matches!(parsed, Some(Err(_))), "{bad:?} gave {parsed:?}");
        }
        let error = parse_output("bench a median=1\n").unwrap_err();
        assert!(error.contains("`max=` is missing"), "{error}");
    }

    #[test]
    fn every_kind_of_result_is_sorted_out() {
        let output = "bench null_call median=83 max=90 min=80 iterations=10\n\
                      latency idle average=800 p99=900 max=950 samples=60\n\
                      memory threads_blocked_in_ipc per_thread=1344 threads=1000\n\
                      latency-note nothing\n";
        let results = parse_results(output).unwrap();
        assert_eq!(results.operations.len(), 1);
        assert_eq!(
            results.latencies,
            [LatencyResult {
                load: "idle".to_string(),
                average: 800,
                p99: 900,
                max: 950,
                samples: 60
            }]
        );
        assert_eq!(results.memory[0].per_thread, 1344);
        assert!(parse_results("latency idle average=1 p99=9 max=2 samples=1\n").is_err());
        assert!(parse_results("memory threads per_thread=x threads=1\n").is_err());
    }
}
