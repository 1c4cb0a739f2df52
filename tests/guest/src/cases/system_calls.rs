//! System-call decoding and argument checking: unknown numbers and every kind of bad pointer
//! get their documented errors, and the kernel never touches memory it should not.

use crate::{Case, CaseFailure, check_equal};
use runtime::abi::registers::{DEBUG_PRINT_MAX, USER_ADDRESS_LIMIT};
use runtime::abi::{Call, Error};
use runtime::arch::entry::image_end;
use runtime::arch::syscall::raw3;
use runtime::syscall::{debug_print, debug_print_raw, null};

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "null_call_succeeds",
        run: null_call_succeeds,
    },
    Case {
        name: "unknown_call_numbers_are_rejected",
        run: unknown_call_numbers_are_rejected,
    },
    Case {
        name: "debug_print_accepts_a_valid_buffer",
        run: debug_print_accepts_a_valid_buffer,
    },
    Case {
        name: "debug_print_rejects_null",
        run: debug_print_rejects_null,
    },
    Case {
        name: "debug_print_rejects_kernel_addresses",
        run: debug_print_rejects_kernel_addresses,
    },
    Case {
        name: "debug_print_rejects_non_canonical_addresses",
        run: debug_print_rejects_non_canonical,
    },
    Case {
        name: "debug_print_rejects_unmapped_memory",
        run: debug_print_rejects_unmapped_memory,
    },
    Case {
        name: "debug_print_rejects_a_range_running_off_the_mapping",
        run: rejects_partly_mapped,
    },
    Case {
        name: "debug_print_rejects_ranges_crossing_the_user_limit",
        run: rejects_crossing_limit,
    },
    Case {
        name: "debug_print_rejects_overlong_buffers",
        run: debug_print_rejects_overlong_buffers,
    },
];

fn null_call_succeeds() -> Result<(), CaseFailure> {
    check_equal!(null(), Ok(()));
    Ok(())
}

fn unknown_call_numbers_are_rejected() -> Result<(), CaseFailure> {
    let first_unused = Call::ALL.len() as u64;
    for number in [
        first_unused,
        first_unused + 1,
        0x8000_0000_0000_0000,
        u64::MAX,
    ] {
        let returned = raw3(number, 1, 2, 3);
        check_equal!(Error::check(returned.status), Err(Error::UnknownCall));
        // A rejected call has no results: the argument registers come back unchanged.
        check_equal!(returned.results, [1, 2, 3]);
    }
    Ok(())
}

fn debug_print_accepts_a_valid_buffer() -> Result<(), CaseFailure> {
    check_equal!(debug_print(b"debug print: a valid buffer\n"), Ok(()));
    check_equal!(debug_print(b""), Ok(()));
    let full = [b'.'; DEBUG_PRINT_MAX as usize];
    check_equal!(debug_print(&full), Ok(()));
    check_equal!(debug_print(b"\n"), Ok(()));
    Ok(())
}

fn debug_print_rejects_null() -> Result<(), CaseFailure> {
    check_equal!(debug_print_raw(0, 8), Err(Error::BadAddress));
    check_equal!(debug_print_raw(0, 0), Err(Error::BadAddress));
    Ok(())
}

fn debug_print_rejects_kernel_addresses() -> Result<(), CaseFailure> {
    // The start of the kernel half (the direct map of RAM) and the kernel image.
    for address in [
        0xffff_8000_0000_0000,
        0xffff_8000_0010_0000,
        0xffff_ffff_8010_6000,
    ] {
        check_equal!(debug_print_raw(address, 16), Err(Error::BadAddress));
    }
    Ok(())
}

fn debug_print_rejects_non_canonical() -> Result<(), CaseFailure> {
    for address in [
        USER_ADDRESS_LIMIT,
        0x1234_5678_9abc_0000,
        0xfff0_0000_0000_0000,
    ] {
        check_equal!(debug_print_raw(address, 8), Err(Error::BadAddress));
    }
    Ok(())
}

fn debug_print_rejects_unmapped_memory() -> Result<(), CaseFailure> {
    // Far from the program image (at 2 MiB) and its stack (just below 128 TiB).
    for address in [0x1000, 0x1000_0000, 0x4000_0000_0000] {
        check_equal!(debug_print_raw(address, 8), Err(Error::BadAddress));
    }
    Ok(())
}

fn rejects_partly_mapped() -> Result<(), CaseFailure> {
    // Nothing is mapped after the page that holds the end of the program's image.
    let mapped_end = image_end().next_multiple_of(4096);
    check_equal!(debug_print_raw(mapped_end - 8, 0), Ok(()));
    check_equal!(debug_print_raw(mapped_end - 8, 16), Err(Error::BadAddress));
    Ok(())
}

fn rejects_crossing_limit() -> Result<(), CaseFailure> {
    check_equal!(
        debug_print_raw(USER_ADDRESS_LIMIT - 8, 16),
        Err(Error::BadAddress)
    );
    // A range whose end overflows 64 bits.
    check_equal!(debug_print_raw(u64::MAX - 7, 16), Err(Error::BadAddress));
    Ok(())
}

fn debug_print_rejects_overlong_buffers() -> Result<(), CaseFailure> {
    let buffer = [0u8; 16];
    let address = buffer.as_ptr() as u64;
    check_equal!(
        debug_print_raw(address, DEBUG_PRINT_MAX + 1),
        Err(Error::TooLong)
    );
    check_equal!(debug_print_raw(address, u64::MAX), Err(Error::TooLong));
    Ok(())
}
