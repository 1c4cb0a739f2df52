//! Booting a kernel under QEMU with a deadline, collecting its serial output, and turning QEMU's
//! exit status into a [`Verdict`]. A boot never hangs the caller: QEMU is killed at the deadline.

use crate::Error;
use crate::qemu::{PROGRAM, QemuCommand};
use boot::exit::ExitCode;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a boot may run before QEMU is killed, unless the caller says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// The most serial output kept from one boot; a kernel printing in a loop is cut off here.
pub const OUTPUT_LIMIT: usize = 32 << 20;

/// How often the runner checks whether QEMU has exited.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How a boot ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The kernel reported this verdict through `isa-debug-exit`.
    Exit(ExitCode),
    /// QEMU exited with a status that stands for no verdict (QEMU itself fails with 1; a triple
    /// fault with `-no-reboot` exits with 0).
    UnknownStatus(i32),
    /// The boot ran past its deadline and QEMU was killed.
    TimedOut,
    /// QEMU was ended by a signal it was not sent by the runner.
    Signalled,
}

impl Verdict {
    /// The verdict a finished QEMU process stands for.
    pub fn from_status(status: ExitStatus) -> Verdict {
        match status.code() {
            Some(code) => match ExitCode::from_qemu_status(code) {
                Some(exit) => Verdict::Exit(exit),
                None => Verdict::UnknownStatus(code),
            },
            None => Verdict::Signalled,
        }
    }

    /// Whether the root program finished successfully.
    pub fn is_success(self) -> bool {
        self == Verdict::Exit(ExitCode::Success)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Exit(code) => write!(formatter, "{code:?}: {}", code.describe()),
            Verdict::UnknownStatus(0) => write!(
                formatter,
                "QEMU exited with status 0, which is no kernel verdict (a triple fault or a \
                 reset ends QEMU this way under -no-reboot)"
            ),
            Verdict::UnknownStatus(status) => write!(
                formatter,
                "QEMU exited with status {status}, which is no kernel verdict (QEMU itself \
                 failed, or the kernel wrote an unknown code to the exit port)"
            ),
            Verdict::TimedOut => write!(formatter, "timed out: the boot did not finish in time"),
            Verdict::Signalled => write!(formatter, "QEMU was killed by a signal"),
        }
    }
}

/// Everything one boot produced.
#[derive(Clone, Debug)]
pub struct BootOutcome {
    /// The serial console output (invalid UTF-8 replaced).
    pub output: String,
    /// How the boot ended.
    pub verdict: Verdict,
    /// What QEMU itself printed on its standard error (errors about its arguments, images).
    pub qemu_messages: String,
    /// The wall-clock time the boot took.
    pub elapsed: Duration,
}

impl BootOutcome {
    /// The verdict, the last `count` lines of output and QEMU's own messages, for a failure
    /// report.
    pub fn summary(&self, count: usize) -> String {
        let last = crate::last_lines(&self.output, count);
        let mut text = format!(
            "verdict: {}\nlast {count} lines of serial output:\n{}",
            self.verdict,
            if last.is_empty() {
                "(no serial output)"
            } else {
                &last
            }
        );
        if !self.qemu_messages.trim().is_empty() {
            text.push_str("\nQEMU said:\n");
            text.push_str(self.qemu_messages.trim_end());
        }
        text
    }

    /// Writes the serial output (and QEMU's messages, if any, after a marker line) to `path`,
    /// creating its directory.
    pub fn write_log(&self, path: &Path) -> Result<(), Error> {
        let failed = |error: std::io::Error| {
            Error::new(format!(
                "could not write the boot log {} ({error}): check that the directory is writable",
                path.display()
            ))
        };
        if let Some(directory) = path.parent() {
            std::fs::create_dir_all(directory).map_err(failed)?;
        }
        let mut text = self.output.clone();
        if !self.qemu_messages.is_empty() {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("--- QEMU's own messages ---\n");
            text.push_str(&self.qemu_messages);
        }
        std::fs::write(path, text).map_err(failed)
    }
}

/// Where the log of boot `label` of configuration `config` goes inside `directory`:
/// `<directory>/<config>-<label>.log`, with characters unfit for a file name replaced.
pub fn log_path(directory: &Path, config: &str, label: &str) -> PathBuf {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|character| {
                if character.is_ascii_alphanumeric() || "-_.".contains(character) {
                    character
                } else {
                    '_'
                }
            })
            .collect()
    };
    directory.join(format!("{}-{}.log", clean(config), clean(label)))
}

/// Boots `image` with `bootfs` and `command_line` and waits at most `timeout`.
pub fn boot_guest(
    image: &Path,
    bootfs: &Path,
    command_line: &str,
    timeout: Duration,
) -> Result<BootOutcome, Error> {
    boot(&QemuCommand::new(image, bootfs, command_line), timeout)
}

/// Runs `qemu` with its serial console captured and waits at most `timeout`, then kills it.
/// Fails only when QEMU cannot be run at all (missing files, QEMU not installed).
pub fn boot(qemu: &QemuCommand, timeout: Duration) -> Result<BootOutcome, Error> {
    qemu.check_files()?;
    let started = Instant::now();
    let mut child = qemu
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| {
            Error::new(format!(
                "could not start {PROGRAM} ({error}): install QEMU (`cargo xtask test` does it \
                 on Debian as root) and make sure it is on PATH"
            ))
        })?;
    let output = collect(child.stdout.take());
    let messages = collect(child.stderr.take());
    let deadline = started + timeout;
    let verdict = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Verdict::from_status(status),
            Ok(None) if Instant::now() >= deadline => {
                // Killing fails only when QEMU has just exited; waiting reaps it either way.
                let _ = child.kill();
                let _ = child.wait();
                break Verdict::TimedOut;
            }
            Ok(None) => thread::sleep(POLL_INTERVAL),
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::new(format!(
                    "could not wait for {PROGRAM} ({error}); this is a host problem, try again"
                )));
            }
        }
    };
    let elapsed = started.elapsed();
    Ok(BootOutcome {
        output: output.join().unwrap_or_default(),
        verdict,
        qemu_messages: messages.join().unwrap_or_default(),
        elapsed,
    })
}

/// Reads a child's stream to its end on a thread, keeping at most [`OUTPUT_LIMIT`] bytes.
fn collect<R: Read + Send + 'static>(stream: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let Some(mut stream) = stream else {
            return String::new();
        };
        let mut kept = Vec::new();
        let mut buffer = [0u8; 8192];
        let mut truncated = false;
        loop {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(count) => {
                    let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buffer[..count.min(room)]);
                    truncated |= count > room;
                }
            }
        }
        let mut text = String::from_utf8_lossy(&kept).into_owned();
        if truncated {
            text.push_str("\n[output cut off here: more than 32 MiB]\n");
        }
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiny_kernel::{TinyKernel, require_qemu};

    #[test]
    fn verdicts_from_exit_statuses() {
        use std::os::unix::process::ExitStatusExt;
        let success = ExitStatus::from_raw(ExitCode::Success.qemu_status() << 8);
        assert_eq!(
            Verdict::from_status(success),
            Verdict::Exit(ExitCode::Success)
        );
        assert!(Verdict::from_status(success).is_success());
        let qemu_error = ExitStatus::from_raw(1 << 8);
        assert_eq!(Verdict::from_status(qemu_error), Verdict::UnknownStatus(1));
        let killed = ExitStatus::from_raw(9);
        assert_eq!(Verdict::from_status(killed), Verdict::Signalled);
        assert!(Verdict::TimedOut.to_string().contains("timed out"));
    }

    #[test]
    fn log_paths_are_safe_file_names() {
        let path = log_path(Path::new("/logs"), "process", "fault-page/fault");
        assert_eq!(path, Path::new("/logs/process-fault-page_fault.log"));
    }

    #[test]
    fn missing_image_is_an_error_not_a_verdict() {
        let error = boot_guest(
            Path::new("/nonexistent/kernel.elf"),
            Path::new("/nonexistent/bootfs.img"),
            "",
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(error.message().contains("cargo xtask build"));
    }

    #[test]
    fn a_kernel_that_reports_success_is_captured() {
        require_qemu();
        let kernel = TinyKernel::new("success")
            .printing("hello\r\ncase a ok\n")
            .exiting_with(ExitCode::Success.port_value());
        let outcome = kernel.boot(DEFAULT_TIMEOUT);
        assert_eq!(
            outcome.verdict,
            Verdict::Exit(ExitCode::Success),
            "{outcome:?}"
        );
        assert_eq!(outcome.output, "hello\r\ncase a ok\n");
        let log = std::env::temp_dir().join(format!("tests-log-{}", std::process::id()));
        let path = log_path(&log, "tiny", "success");
        outcome.write_log(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), outcome.output);
        let _ = std::fs::remove_dir_all(log);
    }

    #[test]
    fn an_unknown_exit_code_is_reported_as_such() {
        require_qemu();
        let outcome = TinyKernel::new("unknown")
            .exiting_with(0x7f)
            .boot(DEFAULT_TIMEOUT);
        assert_eq!(outcome.verdict, Verdict::UnknownStatus(0xff), "{outcome:?}");
    }

    #[test]
    fn a_hanging_kernel_is_killed_at_the_deadline() {
        require_qemu();
        let outcome = TinyKernel::new("hang")
            .printing("stuck\n")
            .boot(Duration::from_secs(2));
        assert_eq!(outcome.verdict, Verdict::TimedOut);
        assert!(outcome.elapsed < Duration::from_secs(20));
        assert_eq!(outcome.output, "stuck\n");
        assert!(outcome.summary(30).contains("stuck"));
    }
}
