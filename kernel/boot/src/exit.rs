//! How a boot ends: the kernel writes a code to QEMU's `isa-debug-exit` port and QEMU exits
//! with status `(code << 1) | 1`, so no verdict can be confused with QEMU's own status 1.

/// The I/O port of the `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,iosize=4`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// The verdict of a boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// The root program ended with status 0.
    Success = 0x10,
    /// The kernel panicked or took an unexpected exception in kernel mode.
    KernelPanic = 0x11,
    /// The root program ended with a non-zero status.
    RootFailed = 0x12,
    /// The root program was stopped by a CPU exception it raised and nobody handled.
    RootFaulted = 0x13,
    /// The kernel could not start the root program (missing or malformed boot files).
    BootFailed = 0x14,
}

impl ExitCode {
    /// Every verdict.
    pub const ALL: &'static [ExitCode] = &[
        ExitCode::Success,
        ExitCode::KernelPanic,
        ExitCode::RootFailed,
        ExitCode::RootFaulted,
        ExitCode::BootFailed,
    ];

    /// The value the kernel writes to [`DEBUG_EXIT_PORT`].
    pub const fn port_value(self) -> u32 {
        self as u32
    }

    /// The exit status of the QEMU process for this verdict.
    pub const fn qemu_status(self) -> i32 {
        ((self as u32) << 1 | 1) as i32
    }

    /// The verdict a QEMU exit status stands for, if it stands for one.
    pub fn from_qemu_status(status: i32) -> Option<ExitCode> {
        ExitCode::ALL
            .iter()
            .copied()
            .find(|code| code.qemu_status() == status)
    }

    /// What the verdict means, for people.
    pub const fn describe(self) -> &'static str {
        match self {
            ExitCode::Success => "the root program finished successfully",
            ExitCode::KernelPanic => "the kernel panicked",
            ExitCode::RootFailed => "the root program exited with a failure status",
            ExitCode::RootFaulted => "the root program raised an unhandled CPU exception",
            ExitCode::BootFailed => "the kernel could not start the root program",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_distinct_odd_and_never_qemus_own() {
        for (index, code) in ExitCode::ALL.iter().enumerate() {
            let status = code.qemu_status();
            assert_eq!(status & 1, 1);
            assert_ne!(status, 1, "QEMU itself exits with 1 on errors");
            assert_ne!(status, 0);
            assert_eq!(ExitCode::from_qemu_status(status), Some(*code));
            for other in &ExitCode::ALL[index + 1..] {
                assert_ne!(status, other.qemu_status());
            }
        }
        assert_eq!(ExitCode::from_qemu_status(1), None);
    }
}
