//! The one QEMU command line used by `cargo xtask run`, the guest tests and the benchmarks, and
//! the check that QEMU is installed (installing it on Debian when running as root).
//!
//! The machine is `microvm` without default devices: one CPU, 128 MiB, the kernel ELF loaded
//! through its PVH note, the boot file system as the initrd, COM1 (the serial port at 0x3f8)
//! connected to QEMU's standard input and output, and the `isa-debug-exit` device at
//! [`boot::exit::DEBUG_EXIT_PORT`] through which the kernel reports its verdict.

use crate::Error;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The QEMU program.
pub const PROGRAM: &str = "qemu-system-x86_64";
/// The Debian package that provides [`PROGRAM`].
pub const DEBIAN_PACKAGE: &str = "qemu-system-x86";
/// The TCP port QEMU's gdb server listens on with `--gdb` (`-s`).
pub const GDB_PORT: u16 = 1234;

/// How to boot one kernel: everything that varies between QEMU runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuCommand {
    /// The kernel ELF, booted through its PVH note.
    pub kernel: PathBuf,
    /// The boot file system, passed as the initrd.
    pub bootfs: PathBuf,
    /// The kernel command line.
    pub command_line: String,
    /// Run with `-icount shift=0`, so that the guest's `rdtsc` counts executed instructions.
    pub count_instructions: bool,
    /// Start QEMU's gdb server on [`GDB_PORT`] and wait for a debugger before the first
    /// instruction (`-s -S`).
    pub wait_for_debugger: bool,
}

impl QemuCommand {
    /// A plain boot of `kernel` with `bootfs` and `command_line`.
    pub fn new(
        kernel: impl Into<PathBuf>,
        bootfs: impl Into<PathBuf>,
        command_line: impl Into<String>,
    ) -> QemuCommand {
        QemuCommand {
            kernel: kernel.into(),
            bootfs: bootfs.into(),
            command_line: command_line.into(),
            count_instructions: false,
            wait_for_debugger: false,
        }
    }

    /// The same boot, counting instructions (`-icount shift=0`) or not.
    pub fn counting_instructions(mut self, on: bool) -> QemuCommand {
        self.count_instructions = on;
        self
    }

    /// The same boot, waiting for gdb (`-s -S`) or not.
    pub fn waiting_for_debugger(mut self, on: bool) -> QemuCommand {
        self.wait_for_debugger = on;
        self
    }

    /// QEMU's arguments, without the program name.
    pub fn arguments(&self) -> Vec<OsString> {
        let mut arguments: Vec<OsString> = [
            "-M",
            "microvm",
            "-nodefaults",
            "-no-reboot",
            "-cpu",
            "max",
            "-m",
            "128M",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        arguments.push("-kernel".into());
        arguments.push(self.kernel.clone().into_os_string());
        arguments.push("-initrd".into());
        arguments.push(self.bootfs.clone().into_os_string());
        arguments.push("-append".into());
        arguments.push(self.command_line.clone().into());
        if self.count_instructions {
            arguments.push("-icount".into());
            arguments.push("shift=0,sleep=off".into());
        }
        if self.wait_for_debugger {
            arguments.push("-s".into());
            arguments.push("-S".into());
        }
        arguments
    }

    /// A [`Command`] running QEMU with [`QemuCommand::arguments`]; standard streams are left
    /// for the caller to choose.
    pub fn command(&self) -> Command {
        let mut command = Command::new(PROGRAM);
        command.args(self.arguments());
        command
    }

    /// The command as one line a person can paste into a shell.
    pub fn display(&self) -> String {
        let mut line = String::from(PROGRAM);
        for argument in self.arguments() {
            line.push(' ');
            line.push_str(&shell_quote(&argument.to_string_lossy()));
        }
        line
    }

    /// Fails with advice when the kernel image or the boot file system does not exist.
    pub fn check_files(&self) -> Result<(), Error> {
        for (what, path) in [
            ("kernel image", &self.kernel),
            ("boot file system", &self.bootfs),
        ] {
            if !path.is_file() {
                return Err(Error::new(format!(
                    "the {what} {} does not exist: run `cargo xtask build` to build it",
                    path.display()
                )));
            }
        }
        Ok(())
    }
}

/// Quotes `text` for a POSIX shell when it holds anything but plain characters.
fn shell_quote(text: &str) -> String {
    let plain =
        |character: char| character.is_ascii_alphanumeric() || "-_=.,/:+@%".contains(character);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Where `program` is found on `PATH`, if it is there and executable.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join(program))
        .find(|candidate| {
            candidate.metadata().is_ok_and(|metadata| {
                metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
            })
        })
}

/// Whether this process runs as root, according to `id -u`.
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.status.success() && output.stdout.trim_ascii() == b"0")
}

/// Makes sure [`PROGRAM`] is on `PATH`. When it is not, and this process runs as root on a
/// Debian-like system, installs it with apt-get (printing that it does); otherwise fails with
/// the exact command to run.
pub fn ensure_installed() -> Result<PathBuf, Error> {
    if let Some(path) = find_on_path(PROGRAM) {
        return Ok(path);
    }
    let install_command = format!("apt-get install -y --no-install-recommends {DEBIAN_PACKAGE}");
    if !(running_as_root() && Path::new("/etc/debian_version").exists()) {
        return Err(Error::new(format!(
            "{PROGRAM} is not installed (not found on PATH): install QEMU, for example with \
             `sudo apt-get update && sudo {install_command}` on Debian or Ubuntu, then try again"
        )));
    }
    eprintln!("{PROGRAM} is not installed: running `apt-get update` and `{install_command}`");
    for arguments in [
        &["update"][..],
        &["install", "-y", "--no-install-recommends", DEBIAN_PACKAGE][..],
    ] {
        let status = Command::new("apt-get")
            .args(arguments)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .status()
            .map_err(|error| {
                Error::new(format!(
                    "could not start apt-get to install QEMU ({error}): run \
                     `apt-get update && {install_command}` yourself"
                ))
            })?;
        if !status.success() {
            return Err(Error::new(format!(
                "`apt-get {}` failed ({status}): see its messages above, fix the problem and \
                 run `apt-get update && {install_command}`",
                arguments.join(" ")
            )));
        }
    }
    find_on_path(PROGRAM).ok_or_else(|| {
        Error::new(format!(
            "{PROGRAM} is still not on PATH after installing {DEBIAN_PACKAGE}: check PATH \
             includes /usr/bin"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(command: &QemuCommand) -> Vec<String> {
        command
            .arguments()
            .iter()
            .map(|argument| argument.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn plain_boot_has_the_fixed_machine_and_no_extras() {
        let command = QemuCommand::new("k.elf", "fs.img", "log=info root=init");
        let arguments = strings(&command);
        let joined = arguments.join(" ");
        assert!(joined.starts_with("-M microvm -nodefaults -no-reboot -cpu max -m 128M"));
        assert!(joined.contains("-serial stdio"));
        assert!(joined.contains("-device isa-debug-exit,iobase=0xf4,iosize=0x04"));
        assert!(joined.ends_with("-kernel k.elf -initrd fs.img -append log=info root=init"));
        assert!(
            !arguments
                .iter()
                .any(|argument| argument == "-icount" || argument == "-S")
        );
        assert_eq!(boot::exit::DEBUG_EXIT_PORT, 0xf4);
    }

    #[test]
    fn command_line_stays_one_argument() {
        let command = QemuCommand::new("k", "f", "log=debug -- a b");
        let arguments = strings(&command);
        let at = arguments
            .iter()
            .position(|argument| argument == "-append")
            .unwrap();
        assert_eq!(arguments[at + 1], "log=debug -- a b");
    }

    #[test]
    fn counting_and_debugger_options() {
        let command = QemuCommand::new("k", "f", "")
            .counting_instructions(true)
            .waiting_for_debugger(true);
        let joined = strings(&command).join(" ");
        assert!(joined.contains("-icount shift=0"));
        assert!(joined.ends_with("-s -S"));
    }

    #[test]
    fn display_quotes_what_a_shell_would_split() {
        let command = QemuCommand::new("k.elf", "fs.img", "log=info -- it's");
        let line = command.display();
        assert!(line.starts_with("qemu-system-x86_64 -M microvm"));
        assert!(line.ends_with(r"-append 'log=info -- it'\''s'"));
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn missing_files_are_reported_with_advice() {
        let command = QemuCommand::new("/nonexistent/kernel.elf", "/nonexistent/fs", "");
        let error = command.check_files().unwrap_err();
        assert!(error.message().contains("/nonexistent/kernel.elf"));
        assert!(error.message().contains("cargo xtask build"));
    }

    #[test]
    fn path_lookup_finds_executables_only() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("no-such-program-anywhere").is_none());
    }
}
