//! The Rust toolchain as the xtask drives it: the workspace root, nested cargo invocations (with
//! bare-metal codegen flags that never leak into host builds), the `x86_64-unknown-none` target,
//! and running child processes with errors that say what to do.

use crate::Result;
use ::tests::Error;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// The target of the kernel and the user programs.
pub const TARGET: &str = "x86_64-unknown-none";

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    let manifest_directory = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_directory
        .parent()
        .unwrap_or(manifest_directory)
        .to_path_buf()
}

/// A path for messages: relative to the workspace root when it lies inside it.
pub fn shown(path: &Path) -> String {
    let root = workspace_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A cargo command (the cargo that runs this xtask) working in the workspace root.
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(workspace_root());
    command
}

/// Encodes rustc flags for `CARGO_ENCODED_RUSTFLAGS` (separated by the 0x1f unit separator).
pub fn encode_rustflags(flags: &[&str]) -> String {
    flags.join("\u{1f}")
}

/// A `cargo build --release --target x86_64-unknown-none --target-dir <target_directory>`
/// command whose rustc flags are exactly `flags`: `CARGO_ENCODED_RUSTFLAGS` overrides every
/// other source of flags, and `RUSTFLAGS` from the environment is dropped.
pub fn bare_metal_build(target_directory: &Path, flags: &[&str]) -> Command {
    let mut command = cargo();
    command
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(target_directory)
        .env_remove("RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", encode_rustflags(flags));
    command
}

/// Runs `command` with inherited standard streams and fails, naming `what`, unless it succeeds.
pub fn run(command: &mut Command, what: &str) -> Result<()> {
    let status = command
        .status()
        .map_err(|error| cannot_start(command, what, &error))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "{what} failed ({}): see the messages above (the command was `{}`)",
            describe_status(status),
            display_command(command)
        )))
    }
}

/// Runs `command`, copying its standard output line by line to ours as it comes, and returns
/// its exit status and those lines.
pub fn run_copying_output(command: &mut Command, what: &str) -> Result<(ExitStatus, Vec<String>)> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| cannot_start(command, what, &error))?;
    let mut lines = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let mut reader = BufReader::new(stdout);
        let mut out = std::io::stdout();
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            // Our own standard output going away must not stop the child's copy.
            let _ = out.write_all(&line).and_then(|()| out.flush());
            lines.push(String::from_utf8_lossy(&line).trim_end().to_string());
            line.clear();
        }
    }
    let status = child
        .wait()
        .map_err(|error| Error::new(format!("could not wait for {what} ({error}); try again")))?;
    Ok((status, lines))
}

/// "exit status 3" or "killed by a signal".
pub fn describe_status(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    }
}

fn cannot_start(command: &Command, what: &str, error: &std::io::Error) -> Error {
    Error::new(format!(
        "could not start {what} (`{}`: {error}): check that it is installed and on PATH",
        command.get_program().to_string_lossy()
    ))
}

/// Makes sure the `x86_64-unknown-none` target is installed, adding it with rustup if not.
pub fn ensure_target() -> Result<()> {
    let listed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output();
    let output = match listed {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            return Err(Error::new(format!(
                "`rustup target list --installed` failed ({}): check your rustup installation",
                describe_status(output.status)
            )));
        }
        Err(_) => {
            eprintln!(
                "xtask: rustup not found; assuming the {TARGET} target is installed (without \
                 rustup, install it the way your toolchain provides)"
            );
            return Ok(());
        }
    };
    let installed = String::from_utf8_lossy(&output.stdout);
    if installed.lines().any(|line| line.trim() == TARGET) {
        return Ok(());
    }
    eprintln!("xtask: the {TARGET} target is missing: running `rustup target add {TARGET}`");
    run(
        Command::new("rustup")
            .args(["target", "add", TARGET])
            .current_dir(workspace_root()),
        &format!("`rustup target add {TARGET}`"),
    )
}

/// The command line of `command` for messages.
pub fn display_command(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for argument in command.get_args() {
        text.push(' ');
        text.push_str(&argument.to_string_lossy());
    }
    text
}

/// The value `command` sets for environment variable `name`: `Some(None)` when it removes it.
#[cfg(test)]
pub fn environment_of<'a>(command: &'a Command, name: &str) -> Option<Option<&'a std::ffi::OsStr>> {
    command
        .get_envs()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("xtask").is_dir());
        assert_eq!(
            shown(&workspace_root().join("target/images")),
            "target/images"
        );
    }

    #[test]
    fn bare_metal_builds_set_exactly_the_given_flags() {
        let command = bare_metal_build(Path::new("/t"), &["-Ccode-model=kernel", "-Cx=y"]);
        assert_eq!(
            environment_of(&command, "CARGO_ENCODED_RUSTFLAGS"),
            Some(Some(OsStr::new("-Ccode-model=kernel\u{1f}-Cx=y")))
        );
        assert_eq!(environment_of(&command, "RUSTFLAGS"), Some(None));
        let line = display_command(&command);
        assert!(line.ends_with("build --release --target x86_64-unknown-none --target-dir /t"));
    }
}
