//! Kernel crash boots: the command line's `crash=<kind>` makes the kernel fail on purpose after
//! boot, and the harness checks that it says so and ends the boot with the panic verdict:
//!
//! ```text
//! kernel panic: ... exception <vector> in kernel mode, error code 0x.., cr2 0x..
//!   rax 0x...  rbx 0x...  rcx 0x...       (the register dump, with a `rip` entry)
//! ```
//!
//! A Rust panic prints `kernel panic:` and its message, without a register dump.

use crate::runner::Verdict;
use boot::command_line::Crash;
use boot::exit::ExitCode;

/// Checks a crash boot's verdict and output; `Err` says what is wrong.
pub fn check_crash_boot(crash: Crash, verdict: Verdict, output: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    if verdict != Verdict::Exit(ExitCode::KernelPanic) {
        problems.push(format!(
            "the boot should end with KernelPanic, but ended with: {verdict}"
        ));
    }
    if !output.lines().any(|line| line.starts_with("kernel panic:")) {
        problems.push("no `kernel panic:` line".to_string());
    }
    if let Some(vector) = crash.vector() {
        let header = format!("exception {vector} in kernel mode");
        if !output.contains(&header) {
            problems.push(format!("no `{header}` report"));
        }
        let dumps_registers = output
            .lines()
            .any(|line| line.contains(" rip 0x") && line.contains(" rfl 0x"));
        if !dumps_registers {
            problems.push("no register dump with `rip` and `rfl`".to_string());
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE_FAULT_OUTPUT: &str = "\
[ WARN kernel::arch::x86_64::crash] crashing the kernel on purpose (page-fault)
kernel panic: panicked at kernel/src/arch/x86_64/interrupts.rs:104:5:
exception 14 in kernel mode, error code 0x0, cr2 0x10
  rax 0x0000000000000000  rbx 0x0000000000000000  rcx 0x0000000000000000
  r15 0x0000000000000000  rip 0xffffffff80107000  rfl 0x0000000000000002
";

    #[test]
    fn a_complete_crash_report_passes() {
        let verdict = Verdict::Exit(ExitCode::KernelPanic);
        assert_eq!(
            check_crash_boot(Crash::PageFault, verdict, PAGE_FAULT_OUTPUT),
            Ok(())
        );
        let panic_output = "kernel panic: panicked at x: deliberate panic\n";
        assert_eq!(
            check_crash_boot(Crash::Panic, verdict, panic_output),
            Ok(())
        );
    }

    #[test]
    fn a_wrong_verdict_or_missing_report_fails() {
        let wrong = Verdict::Exit(ExitCode::Success);
        let problem = check_crash_boot(Crash::PageFault, wrong, PAGE_FAULT_OUTPUT).unwrap_err();
        assert!(problem.contains("KernelPanic"), "{problem}");
        let verdict = Verdict::Exit(ExitCode::KernelPanic);
        let problem = check_crash_boot(Crash::InvalidOpcode, verdict, PAGE_FAULT_OUTPUT);
        assert!(problem.unwrap_err().contains("exception 6 in kernel mode"));
        let without_dump = "kernel panic: x\nexception 14 in kernel mode, error code 0x0\n";
        let problem = check_crash_boot(Crash::PageFault, verdict, without_dump).unwrap_err();
        assert!(problem.contains("register dump"), "{problem}");
        let problem = check_crash_boot(Crash::Panic, verdict, "").unwrap_err();
        assert!(problem.contains("kernel panic"), "{problem}");
    }
}
