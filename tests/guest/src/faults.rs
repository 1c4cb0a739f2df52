//! Exceptions the test program provokes, each in a boot of its own, with what the kernel must
//! report. Expectations follow from the architecture (Intel SDM vol. 3A chapter 6 and section
//! 4.7), not from the kernel: the vector, the error code the CPU pushes, the instruction
//! pointer (at the instruction for faults, after it for traps) and, for page faults, the
//! address.

use runtime::abi::exception::{Exception, page_fault};
use runtime::arch::fault::Fault;
use runtime::println;

/// A page of the kernel's direct map (physical 1 MiB): present, supervisor-only.
const KERNEL_ADDRESS: u64 = 0xffff_8000_0010_0000;
/// The first non-canonical address above the user half.
const NON_CANONICAL_ADDRESS: u64 = 0x0000_8000_0000_0000;
/// A stack pointer in the null guard, which no space ever maps.
const GUARD_STACK: u64 = 0x8000;
/// An unmapped user address.
const UNMAPPED_ADDRESS: u64 = 0x1000_0000;
/// A GDT selector far beyond the table's limit (index 0x246, table indicator 0, RPL 0).
const SELECTOR_BEYOND_TABLE: u16 = 0x1230;
/// The kernel data selector: a descriptor with privilege level 0.
const KERNEL_DATA_SELECTOR: u16 = 0x10;
/// COM1's data port, which user code must not reach.
const CONSOLE_PORT: u16 = 0x3f8;

/// A provokable exception and what the kernel must report for it.
pub struct FaultCase {
    /// The kind's name on the command line and in results.
    pub name: &'static str,
    /// How to raise it.
    pub fault: Fault,
    /// The exception.
    pub exception: Exception,
    /// The error code the CPU pushes (`None`: not checked; see the case).
    pub error_code: Option<u64>,
    /// The fault address for page faults (`None`: not a page fault, reported as 0).
    pub address: Option<u64>,
}

/// Every kind.
pub const ALL: &[FaultCase] = &[
    FaultCase {
        name: "invalid-opcode",
        fault: Fault::InvalidOpcode,
        exception: Exception::InvalidOpcode,
        error_code: Some(0),
        address: None,
    },
    FaultCase {
        name: "breakpoint",
        fault: Fault::Breakpoint,
        exception: Exception::Breakpoint,
        error_code: Some(0),
        address: None,
    },
    FaultCase {
        name: "divide-by-zero",
        fault: Fault::DivideByZero,
        exception: Exception::DivideError,
        error_code: Some(0),
        address: None,
    },
    FaultCase {
        name: "read-kernel-memory",
        fault: Fault::Load(KERNEL_ADDRESS),
        exception: Exception::PageFault,
        error_code: Some(page_fault::PRESENT | page_fault::USER),
        address: Some(KERNEL_ADDRESS),
    },
    FaultCase {
        name: "write-kernel-memory",
        fault: Fault::Store(KERNEL_ADDRESS),
        exception: Exception::PageFault,
        error_code: Some(page_fault::PRESENT | page_fault::WRITE | page_fault::USER),
        address: Some(KERNEL_ADDRESS),
    },
    FaultCase {
        name: "read-unmapped-memory",
        fault: Fault::Load(UNMAPPED_ADDRESS),
        exception: Exception::PageFault,
        error_code: Some(page_fault::USER),
        address: Some(UNMAPPED_ADDRESS),
    },
    FaultCase {
        name: "read-null",
        fault: Fault::Load(0),
        exception: Exception::PageFault,
        error_code: Some(page_fault::USER),
        address: Some(0),
    },
    FaultCase {
        name: "read-non-canonical",
        fault: Fault::Load(NON_CANONICAL_ADDRESS),
        exception: Exception::GeneralProtection,
        error_code: Some(0),
        address: None,
    },
    FaultCase {
        name: "execute-data",
        fault: Fault::ExecuteData,
        exception: Exception::PageFault,
        error_code: Some(page_fault::PRESENT | page_fault::USER | page_fault::INSTRUCTION_FETCH),
        address: Some(u64::MAX),
    },
    FaultCase {
        name: "load-selector-beyond-table",
        fault: Fault::LoadDataSegment(SELECTOR_BEYOND_TABLE),
        exception: Exception::GeneralProtection,
        error_code: Some(SELECTOR_BEYOND_TABLE as u64),
        address: None,
    },
    FaultCase {
        name: "load-kernel-selector",
        fault: Fault::LoadDataSegment(KERNEL_DATA_SELECTOR),
        exception: Exception::GeneralProtection,
        error_code: Some(KERNEL_DATA_SELECTOR as u64),
        address: None,
    },
    FaultCase {
        name: "privileged-instruction",
        fault: Fault::Halt,
        exception: Exception::GeneralProtection,
        error_code: Some(0),
        address: None,
    },
    FaultCase {
        name: "port-input",
        fault: Fault::PortInput(CONSOLE_PORT),
        exception: Exception::GeneralProtection,
        error_code: Some(0),
        address: None,
    },
    // An `int n` through a gate of privilege 0 raises #GP. The SDM (vol. 3A section 6.13) has
    // the error code name the IDT entry as (n << 3) | 2, but QEMU 7.2's TCG pushes n * 16 + 2
    // in long mode, so the code is not compared; vector and instruction pointer are.
    FaultCase {
        name: "fake-timer-interrupt",
        fault: Fault::SoftwareInterrupt,
        exception: Exception::GeneralProtection,
        error_code: None,
        address: None,
    },
    FaultCase {
        name: "push-to-unmapped-stack",
        fault: Fault::Push(GUARD_STACK),
        exception: Exception::PageFault,
        error_code: Some(page_fault::WRITE | page_fault::USER),
        address: Some(GUARD_STACK - 8),
    },
];

/// Prints the kinds, one `fault-case` line each.
pub fn list() {
    for case in ALL {
        println!("fault-case {}", case.name);
    }
}

/// Prints the expectation for `name` and raises it. Returns only if there is no such kind.
pub fn provoke(name: &str) {
    let Some(case) = ALL.iter().find(|case| case.name == name) else {
        return;
    };
    let site = case.fault.site();
    let rip = if case.exception.is_trap() {
        site + 1
    } else {
        site
    };
    // The execute-data fault is taken at the data address itself.
    let address = match case.address {
        Some(u64::MAX) => site,
        Some(address) => address,
        None => 0,
    };
    match case.error_code {
        Some(error_code) => println!(
            "expect fault vector={} error={error_code:#x} rip={rip:#x} address={address:#x}",
            case.exception.vector()
        ),
        None => println!(
            "expect fault vector={} error=any rip={rip:#x} address={address:#x}",
            case.exception.vector()
        ),
    }
    case.fault.raise()
}
