//! CPU exception vectors, as named in fault reports (Intel SDM vol. 3A section 6.15).

/// A CPU exception a user thread can raise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exception {
    /// #DE: divide error.
    DivideError = 0,
    /// #DB: debug (single step, hardware breakpoint).
    Debug = 1,
    /// #BP: `int3`.
    Breakpoint = 3,
    /// #OF: `into` with the overflow flag set.
    Overflow = 4,
    /// #BR: bound range exceeded.
    BoundRange = 5,
    /// #UD: invalid opcode.
    InvalidOpcode = 6,
    /// #NM: device not available.
    DeviceNotAvailable = 7,
    /// #TS: invalid TSS.
    InvalidTss = 10,
    /// #NP: segment not present.
    SegmentNotPresent = 11,
    /// #SS: stack-segment fault.
    StackSegmentFault = 12,
    /// #GP: general protection.
    GeneralProtection = 13,
    /// #PF: page fault.
    PageFault = 14,
    /// #MF: x87 floating-point error.
    FloatingPoint = 16,
    /// #AC: alignment check.
    AlignmentCheck = 17,
    /// #XM: SIMD floating-point exception.
    SimdFloatingPoint = 19,
}

impl Exception {
    /// The exception with this vector, if user code can raise it.
    pub const fn from_vector(vector: u64) -> Option<Exception> {
        Some(match vector {
            0 => Exception::DivideError,
            1 => Exception::Debug,
            3 => Exception::Breakpoint,
            4 => Exception::Overflow,
            5 => Exception::BoundRange,
            6 => Exception::InvalidOpcode,
            7 => Exception::DeviceNotAvailable,
            10 => Exception::InvalidTss,
            11 => Exception::SegmentNotPresent,
            12 => Exception::StackSegmentFault,
            13 => Exception::GeneralProtection,
            14 => Exception::PageFault,
            16 => Exception::FloatingPoint,
            17 => Exception::AlignmentCheck,
            19 => Exception::SimdFloatingPoint,
            _ => return None,
        })
    }

    /// The vector number.
    pub const fn vector(self) -> u64 {
        self as u64
    }

    /// The manuals' mnemonic, such as `#PF`.
    pub const fn mnemonic(self) -> &'static str {
        match self {
            Exception::DivideError => "#DE",
            Exception::Debug => "#DB",
            Exception::Breakpoint => "#BP",
            Exception::Overflow => "#OF",
            Exception::BoundRange => "#BR",
            Exception::InvalidOpcode => "#UD",
            Exception::DeviceNotAvailable => "#NM",
            Exception::InvalidTss => "#TS",
            Exception::SegmentNotPresent => "#NP",
            Exception::StackSegmentFault => "#SS",
            Exception::GeneralProtection => "#GP",
            Exception::PageFault => "#PF",
            Exception::FloatingPoint => "#MF",
            Exception::AlignmentCheck => "#AC",
            Exception::SimdFloatingPoint => "#XM",
        }
    }

    /// Whether the saved instruction pointer is past the instruction (a trap), rather than
    /// at it (a fault), per Intel SDM vol. 3A section 6.5.
    pub const fn is_trap(self) -> bool {
        matches!(self, Exception::Breakpoint | Exception::Overflow)
    }
}

/// Bits of the page-fault error code (Intel SDM vol. 3A section 4.7).
pub mod page_fault {
    /// The page was present: a protection violation rather than a missing translation.
    pub const PRESENT: u64 = 1 << 0;
    /// The access was a write.
    pub const WRITE: u64 = 1 << 1;
    /// The access came from user mode.
    pub const USER: u64 = 1 << 2;
    /// The access was an instruction fetch.
    pub const INSTRUCTION_FETCH: u64 = 1 << 4;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip() {
        for vector in 0..32 {
            if let Some(exception) = Exception::from_vector(vector) {
                assert_eq!(exception.vector(), vector);
                assert!(exception.mnemonic().starts_with('#'));
            }
        }
        assert_eq!(
            Exception::from_vector(2),
            None,
            "NMI is not a user exception"
        );
    }
}
