//! `cargo xtask spec`: regenerates `kernel/abi/SPEC.md` from the ABI's specification table
//! (`abi::spec`), so that the document never drifts from the code (a host test in `abi`
//! compares them).

use crate::Result;
use crate::toolchain::{shown, workspace_root};
use ::tests::Error;
use std::path::PathBuf;

/// Where the document lives.
pub fn spec_path() -> PathBuf {
    workspace_root().join("kernel").join("abi").join("SPEC.md")
}

/// The document as the table renders it.
pub fn render() -> Result<String> {
    let mut text = String::new();
    abi::spec::render_markdown(&mut text).map_err(|_| {
        Error::new("rendering the ABI specification failed: check abi::spec::render_markdown")
    })?;
    Ok(text)
}

/// Writes the document if it changed, and says whether it did.
pub fn spec() -> Result<()> {
    let path = spec_path();
    let text = render()?;
    if std::fs::read_to_string(&path).is_ok_and(|on_disk| on_disk == text) {
        eprintln!("xtask: {} is up to date", shown(&path));
        return Ok(());
    }
    std::fs::write(&path, text).map_err(|error| {
        Error::new(format!(
            "could not write {} ({error}): check that the file is writable",
            path.display()
        ))
    })?;
    eprintln!("xtask: wrote {}", shown(&path));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_names_every_call() {
        let text = render().unwrap();
        assert!(text.starts_with("# System-call specification"));
        for entry in abi::spec::TABLE {
            assert!(text.contains(&format!("`{:?}`", entry.call)));
        }
        assert!(spec_path().ends_with("kernel/abi/SPEC.md"));
    }
}
