//! Benchmark result lines, printed by the guest benchmark program at the start of a line:
//!
//! ```text
//! bench <name> median=<n> max=<n> min=<n> iterations=<n>
//! ```
//!
//! Counts are decimal numbers of guest instructions (QEMU's `-icount shift=0` makes `rdtsc`
//! count instructions). Other lines are not benchmark results and are ignored.

/// One benchmark's result.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// The field names, in the order the line carries them.
const FIELDS: [&str; 4] = ["median", "max", "min", "iterations"];

/// Parses one line: `None` if it is no benchmark line, `Some(Err(why))` if it starts like one
/// but is malformed.
pub fn parse_line(line: &str) -> Option<Result<BenchResult, String>> {
    let body = line.strip_prefix("bench ")?;
    let mut words = body.split_whitespace();
    let parsed = (|| {
        let name = words.next().ok_or("no benchmark name")?;
        if name.contains('=') {
            return Err(format!("`{name}` is a field, not a benchmark name"));
        }
        let mut values = [0u64; 4];
        for (value, field) in values.iter_mut().zip(FIELDS) {
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
        let [median, max, min, iterations] = values;
        if !(min <= median && median <= max) {
            return Err(format!(
                "min {min} <= median {median} <= max {max} does not hold"
            ));
        }
        Ok(BenchResult {
            name: name.to_string(),
            median,
            max,
            min,
            iterations,
        })
    })();
    Some(parsed.map_err(|problem: String| format!("bad benchmark line {line:?}: {problem}")))
}

/// Every benchmark line of `output`, in order; fails on the first malformed one.
pub fn parse_output(output: &str) -> Result<Vec<BenchResult>, String> {
    crate::lines(output).filter_map(parse_line).collect()
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
}
