//! What the root program receives besides its handles (`handle::start`): the machine's RAM and
//! the boot file system, each at a fixed address of its space.
//!
//! - RAM: `r8` holds the size in bytes of a window at [`RAM_START`] that stands for the RAM
//!   that was free at boot. The first touch of a page there gives it a zeroed frame of its
//!   own; the root program hands RAM on to others with regions and mappings of this window.
//!   Touching more pages than there are free frames faults.
//! - Boot files: `r9` holds the size of the boot file system (`boot::filesystem` format),
//!   shown read-only at [`BOOT_FILES_START`], or 0 if there is none.

/// Where the RAM window starts.
pub const RAM_START: u64 = 0x7000_0000_0000;

/// Where the boot file system is shown.
pub const BOOT_FILES_START: u64 = 0x7f00_0000_0000;

/// The register holding the RAM window's size.
pub const RAM_SIZE_REGISTER: &str = "r8";

/// The register holding the boot file system's size.
pub const BOOT_FILES_SIZE_REGISTER: &str = "r9";
