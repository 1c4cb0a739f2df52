//! `cargo xtask build`: the user programs, the kernel in each configuration, and the boot file
//! system, all under `target/`:
//!
//! ```text
//! target/user/    cargo's output for the user programs (init, kernel-tests, kernel-bench)
//! target/kernel/  cargo's output for the kernel
//! target/images/  kernel-<config>.elf for each configuration, and bootfs.img
//! ```

use crate::Result;
use crate::configuration::Configuration;
use crate::toolchain::{self, TARGET, bare_metal_build, shown};
use ::tests::Error;
use std::path::{Path, PathBuf};

/// Codegen flags of the user programs.
const USER_FLAGS: &[&str] = &["-Crelocation-model=static"];
/// Codegen flags of the kernel.
const KERNEL_FLAGS: &[&str] = &["-Ccode-model=kernel", "-Crelocation-model=static"];
/// The packages of the user programs.
const USER_PACKAGES: &[&str] = &["init", "guest"];
/// The user programs that go into the boot file system: (binary name, package).
pub const USER_PROGRAMS: &[(&str, &str)] = &[
    ("init", "init"),
    ("kernel-tests", "guest"),
    ("kernel-bench", "guest"),
];
/// The boot manifest.
pub const MANIFEST: &[u8] = b"root init\n";

/// Where the build puts things.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The workspace's `target/` directory.
    pub target: PathBuf,
}

impl Layout {
    /// The layout of this workspace.
    pub fn of_workspace() -> Layout {
        Layout {
            target: toolchain::workspace_root().join("target"),
        }
    }

    /// The directory of the images.
    pub fn images(&self) -> PathBuf {
        self.target.join("images")
    }

    /// The kernel image of `config`.
    pub fn kernel(&self, config: &Configuration) -> PathBuf {
        self.images().join(format!("kernel-{}.elf", config.name))
    }

    /// The boot file system image.
    pub fn bootfs(&self) -> PathBuf {
        self.images().join("bootfs.img")
    }

    /// Where the boot logs go.
    pub fn logs(&self) -> PathBuf {
        self.target.join("guest-logs")
    }

    fn user_binaries(&self) -> PathBuf {
        self.target.join("user").join(TARGET).join("release")
    }
}

/// Builds everything `configurations` need, printing one line per step.
pub fn build(configurations: &[&'static Configuration]) -> Result<Layout> {
    let layout = Layout::of_workspace();
    toolchain::ensure_target()?;

    eprintln!("xtask: building user programs");
    let mut command = bare_metal_build(&layout.target.join("user"), USER_FLAGS);
    for package in USER_PACKAGES {
        command.args(["-p", package]);
    }
    toolchain::run(&mut command, "building the user programs")?;

    create_directory(&layout.images())?;
    for config in configurations {
        eprintln!("xtask: building kernel ({})", config.name);
        let kernel_target = layout.target.join("kernel");
        let mut command = bare_metal_build(&kernel_target, KERNEL_FLAGS);
        command.args([
            "-p",
            "kernel",
            "--no-default-features",
            "--features",
            config.features,
        ]);
        toolchain::run(
            &mut command,
            &format!("building the kernel ({})", config.name),
        )?;
        let built = kernel_target.join(TARGET).join("release").join("kernel");
        copy(&built, &layout.kernel(config))?;
    }

    eprintln!(
        "xtask: writing the boot file system {}",
        shown(&layout.bootfs())
    );
    let image = bootfs_image(&read_user_programs(&layout)?)?;
    std::fs::write(layout.bootfs(), image).map_err(|error| {
        Error::new(format!(
            "could not write {} ({error}): check that target/ is writable",
            layout.bootfs().display()
        ))
    })?;
    Ok(layout)
}

/// The user programs' contents, named as in the boot file system.
fn read_user_programs(layout: &Layout) -> Result<Vec<(&'static str, Vec<u8>)>> {
    USER_PROGRAMS
        .iter()
        .map(|&(name, package)| {
            let path = layout.user_binaries().join(name);
            std::fs::read(&path)
                .map(|data| (name, data))
                .map_err(|error| {
                    Error::new(format!(
                        "cannot read the user program {} ({error}): package `{package}` should \
                     build a binary named `{name}`; check its Cargo.toml",
                        path.display()
                    ))
                })
        })
        .collect()
}

/// The boot file system holding `programs` and the manifest, which is validated first.
pub fn bootfs_image(programs: &[(&str, Vec<u8>)]) -> Result<Vec<u8>> {
    let manifest = boot::manifest::Manifest::parse(MANIFEST).map_err(|error| {
        Error::new(format!(
            "the boot manifest is invalid ({error}): fix MANIFEST in xtask"
        ))
    })?;
    if !programs.iter().any(|(name, _)| *name == manifest.root) {
        return Err(Error::new(format!(
            "the manifest's root program `{}` is not among the user programs: fix MANIFEST or \
             USER_PROGRAMS in xtask",
            manifest.root
        )));
    }
    let mut files: Vec<(&str, &[u8])> = programs
        .iter()
        .map(|(name, data)| (*name, data.as_slice()))
        .collect();
    files.push((boot::manifest::FILE_NAME, MANIFEST));
    boot::filesystem::build(&files).map_err(|error| {
        Error::new(format!(
            "cannot build the boot file system ({error}): check the program names in xtask"
        ))
    })
}

fn create_directory(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|error| {
        Error::new(format!(
            "could not create {} ({error}): check that target/ is writable",
            path.display()
        ))
    })
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).map(drop).map_err(|error| {
        Error::new(format!(
            "could not copy {} to {} ({error}): did the kernel package build a binary named \
             `kernel`?",
            from.display(),
            to.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use boot::filesystem::BootFileSystem;

    #[test]
    fn bootfs_holds_the_programs_and_the_manifest() {
        let programs: Vec<(&str, Vec<u8>)> = USER_PROGRAMS
            .iter()
            .map(|(name, _)| (*name, name.as_bytes().to_vec()))
            .collect();
        let image = bootfs_image(&programs).unwrap();
        let filesystem = BootFileSystem::parse(&image).unwrap();
        for (name, _) in USER_PROGRAMS {
            assert_eq!(filesystem.find(name).unwrap().data, name.as_bytes());
        }
        assert_eq!(filesystem.find("manifest").unwrap().data, b"root init\n");
    }

    #[test]
    fn bootfs_needs_the_root_program() {
        let error = bootfs_image(&[("other", Vec::new())]).unwrap_err();
        assert!(error.message().contains("`init`"), "{error}");
    }

    #[test]
    fn layout_names_images_by_configuration() {
        let layout = Layout {
            target: PathBuf::from("/w/target"),
        };
        let process = crate::configuration::find("process-partial").unwrap();
        assert_eq!(
            layout.kernel(process),
            Path::new("/w/target/images/kernel-process-partial.elf")
        );
        assert_eq!(layout.bootfs(), Path::new("/w/target/images/bootfs.img"));
    }
}
