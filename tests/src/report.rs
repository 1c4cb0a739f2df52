//! The result lines of the guest test program's main run, matched at the start of a line:
//!
//! ```text
//! case <name> ok
//! case <name> failed: <reason>
//! fault-case <kind>
//! cases done <count>
//! ```
//!
//! `cases done` is the last of them; when it is missing, or its count differs from the number
//! of `case` lines, the run broke off (a crash mid-run) and the boot trial fails.

use std::collections::HashSet;

/// The result of one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseResult {
    /// The case passed.
    Passed,
    /// The case failed, for this reason.
    Failed(String),
}

/// One `case` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The case's name.
    pub name: String,
    /// Its result.
    pub result: CaseResult,
    /// The line number in the output (from 1).
    pub line: usize,
}

/// Everything the main run reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestReport {
    /// The `case` lines, in order.
    pub cases: Vec<Case>,
    /// The counts of the `cases done` lines, in order (exactly one in a complete run).
    pub cases_done: Vec<usize>,
    /// The line number of the last `cases done` line.
    pub cases_done_line: Option<usize>,
    /// The kinds of the `fault-case` lines, in order.
    pub fault_kinds: Vec<String>,
    /// Lines that start like a result line but are not one: (line number, text).
    pub malformed: Vec<(usize, String)>,
}

/// A case name or fault kind: one word, printable, without characters that would confuse the
/// trial names built from it.
fn is_name(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|character| character.is_ascii_graphic() && character != ':')
}

/// Parses the body of a `case` line (after `case `).
fn parse_case(body: &str) -> Option<(String, CaseResult)> {
    let (name, rest) = body.split_once(' ')?;
    if !is_name(name) {
        return None;
    }
    let result = if rest.trim_end() == "ok" {
        CaseResult::Passed
    } else {
        let reason = rest.strip_prefix("failed:")?.trim();
        CaseResult::Failed(if reason.is_empty() {
            "no reason given".to_string()
        } else {
            reason.to_string()
        })
    };
    Some((name.to_string(), result))
}

impl GuestReport {
    /// Reads the result lines out of the serial output of a main run.
    pub fn parse(output: &str) -> GuestReport {
        let mut report = GuestReport::default();
        for (index, line) in crate::lines(output).enumerate() {
            let number = index + 1;
            let mut malformed = || report.malformed.push((number, line.to_string()));
            if let Some(body) = line.strip_prefix("case ") {
                match parse_case(body) {
                    Some((name, result)) => report.cases.push(Case {
                        name,
                        result,
                        line: number,
                    }),
                    None => malformed(),
                }
            } else if let Some(body) = line.strip_prefix("cases done") {
                match body.trim().parse::<usize>() {
                    Ok(count) if body.starts_with(' ') => {
                        report.cases_done.push(count);
                        report.cases_done_line = Some(number);
                    }
                    _ => malformed(),
                }
            } else if let Some(body) = line.strip_prefix("fault-case ") {
                let kind = body.trim_end();
                if is_name(kind) {
                    report.fault_kinds.push(kind.to_string());
                } else {
                    malformed();
                }
            }
        }
        report
    }

    /// Why the run is not a complete, consistent run; empty when it is.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self.cases_done[..] {
            [] => problems.push(format!(
                "no `cases done <count>` line: the run broke off (case lines printed: {})",
                self.cases.len()
            )),
            [count] if count != self.cases.len() => problems.push(format!(
                "`cases done {count}` does not match the case lines printed ({}): the output is \
                 inconsistent",
                self.cases.len()
            )),
            [_] => {}
            _ => problems.push(format!(
                "{} `cases done` lines where one was expected: the program ran twice?",
                self.cases_done.len()
            )),
        }
        if let Some(done_line) = self.cases_done_line
            && let Some(late) = self.cases.iter().find(|case| case.line > done_line)
        {
            problems.push(format!(
                "case `{}` (line {}) came after `cases done` (line {done_line})",
                late.name, late.line
            ));
        }
        let mut seen = HashSet::new();
        for case in &self.cases {
            if !seen.insert(case.name.as_str()) {
                problems.push(format!("case `{}` is reported twice", case.name));
            }
        }
        let mut seen = HashSet::new();
        for kind in &self.fault_kinds {
            if !seen.insert(kind.as_str()) {
                problems.push(format!("fault case `{kind}` is listed twice"));
            }
        }
        for (number, text) in &self.malformed {
            problems.push(format!(
                "line {number} is not a valid result line: {text:?}"
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPLETE: &str = "\
[ 0.001 INFO kernel] booting\r
case null_call ok\r
case handles_reject_garbage failed: got Ok(3), wanted BadHandle\r
[ 0.020 INFO kernel] something\r
fault-case invalid-opcode\r
fault-case page-fault\r
cases done 2\r
[ 0.030 INFO kernel] root exited with status 1\r
";

    #[test]
    fn complete_run() {
        let report = GuestReport::parse(COMPLETE);
        assert_eq!(report.cases.len(), 2);
        assert_eq!(report.cases[0].name, "null_call");
        assert_eq!(report.cases[0].result, CaseResult::Passed);
        assert_eq!(report.cases[0].line, 2);
        assert_eq!(
            report.cases[1].result,
            CaseResult::Failed("got Ok(3), wanted BadHandle".to_string())
        );
        assert_eq!(report.fault_kinds, ["invalid-opcode", "page-fault"]);
        assert_eq!(report.cases_done, [2]);
        assert!(report.problems().is_empty(), "{:?}", report.problems());
    }

    #[test]
    fn broken_off_run_is_a_problem() {
        let report = GuestReport::parse("case a ok\ncase b ok\n");
        let problems = report.problems();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("broke off (case lines printed: 2)"));
    }

    #[test]
    fn count_mismatch_and_late_cases_are_problems() {
        let report = GuestReport::parse("case a ok\ncases done 3\n");
        assert!(
            report.problems()[0]
                .contains("`cases done 3` does not match the case lines printed (1)")
        );
        let report = GuestReport::parse("case a ok\ncases done 1\ncase b ok\n");
        let problems = report.problems().join("\n");
        assert!(problems.contains("came after `cases done`"), "{problems}");
        let report = GuestReport::parse("cases done 0\ncases done 0\n");
        assert!(report.problems()[0].contains("2 `cases done` lines"));
    }

    #[test]
    fn duplicates_are_problems() {
        let report =
            GuestReport::parse("case a ok\ncase a ok\nfault-case x\nfault-case x\ncases done 2\n");
        let problems = report.problems().join("\n");
        assert!(problems.contains("case `a` is reported twice"));
        assert!(problems.contains("fault case `x` is listed twice"));
    }

    #[test]
    fn malformed_lines_are_reported() {
        let text = "case\ncase lonely\ncase a maybe\ncase a:b ok\ncase b failed\n\
                    cases done\ncases done two\ncases done1\nfault-case \nfault-case a b\n";
        let report = GuestReport::parse(text);
        assert!(report.cases.is_empty(), "{:?}", report.cases);
        assert!(report.cases_done.is_empty());
        assert!(report.fault_kinds.is_empty());
        // `case` alone is no result line; the rest are malformed.
        assert_eq!(report.malformed.len(), 9, "{:?}", report.malformed);
        assert_eq!(report.malformed[0], (2, "case lonely".to_string()));
    }

    #[test]
    fn failure_without_reason_and_prefixed_lines() {
        let report = GuestReport::parse("case a failed:\nlog: case b ok\nxcases done 1\n");
        assert_eq!(
            report.cases,
            [Case {
                name: "a".to_string(),
                result: CaseResult::Failed("no reason given".to_string()),
                line: 1
            }]
        );
        assert!(report.cases_done.is_empty(), "only line starts count");
    }

    #[test]
    fn cases_is_not_case() {
        let report = GuestReport::parse("cases done 0\n");
        assert!(report.cases.is_empty());
        assert!(report.malformed.is_empty());
        assert!(report.problems().is_empty());
    }
}
