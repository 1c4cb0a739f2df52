//! The boot manifest: the file `manifest` in the boot file system, telling the kernel which
//! program to start first and with what arguments.
//!
//! One directive per line; `#` starts a comment. Today there is one directive:
//! `root <program> [arguments...]`, exactly once.

/// The file name of the manifest inside the boot file system.
pub const FILE_NAME: &str = "manifest";

/// A parsed manifest, borrowing from its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Manifest<'a> {
    /// The program the kernel starts.
    pub root: &'a str,
    /// The argument string passed to it (may be empty).
    pub root_arguments: &'a str,
}

/// Why a manifest could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestError<'a> {
    /// The text is not UTF-8.
    NotText,
    /// A line starts with a directive this kernel does not know.
    UnknownDirective(&'a str),
    /// `root` is missing its program name.
    MissingProgram,
    /// There is no `root` line.
    NoRoot,
    /// There is more than one `root` line.
    DuplicateRoot,
}

impl core::fmt::Display for ManifestError<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ManifestError::NotText => write!(formatter, "the manifest is not UTF-8 text"),
            ManifestError::UnknownDirective(word) => {
                write!(formatter, "unknown manifest directive `{word}`")
            }
            ManifestError::MissingProgram => write!(formatter, "`root` names no program"),
            ManifestError::NoRoot => write!(formatter, "the manifest has no `root` line"),
            ManifestError::DuplicateRoot => write!(formatter, "the manifest has two `root` lines"),
        }
    }
}

impl<'a> Manifest<'a> {
    /// Parses manifest bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Manifest<'a>, ManifestError<'a>> {
        let text = core::str::from_utf8(bytes).map_err(|_| ManifestError::NotText)?;
        let mut root = None;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((directive, rest)) =
                line.split_once(char::is_whitespace).or(if line.is_empty() {
                    None
                } else {
                    Some((line, ""))
                })
            else {
                continue;
            };
            match directive {
                "root" => {
                    let rest = rest.trim();
                    let (program, arguments) =
                        rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    if program.is_empty() {
                        return Err(ManifestError::MissingProgram);
                    }
                    if root.is_some() {
                        return Err(ManifestError::DuplicateRoot);
                    }
                    root = Some(Manifest {
                        root: program,
                        root_arguments: arguments.trim(),
                    });
                }
                other => return Err(ManifestError::UnknownDirective(other)),
            }
        }
        root.ok_or(ManifestError::NoRoot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_with_and_without_arguments() {
        let manifest = Manifest::parse(b"# the stack\nroot init\n").unwrap();
        assert_eq!(manifest.root, "init");
        assert_eq!(manifest.root_arguments, "");
        let manifest = Manifest::parse(b"  root   kernel-tests  fault  x  # why\n").unwrap();
        assert_eq!(manifest.root, "kernel-tests");
        assert_eq!(manifest.root_arguments, "fault  x");
    }

    #[test]
    fn malformed_manifests_are_rejected() {
        assert_eq!(
            Manifest::parse(b"\n# nothing\n"),
            Err(ManifestError::NoRoot)
        );
        assert_eq!(
            Manifest::parse(b"root\n"),
            Err(ManifestError::MissingProgram)
        );
        assert_eq!(
            Manifest::parse(b"root a\nroot b\n"),
            Err(ManifestError::DuplicateRoot)
        );
        assert_eq!(
            Manifest::parse(b"start a\n"),
            Err(ManifestError::UnknownDirective("start"))
        );
        assert_eq!(Manifest::parse(b"root \xff\n"), Err(ManifestError::NotText));
    }
}
