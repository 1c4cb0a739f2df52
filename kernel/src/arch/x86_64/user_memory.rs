//! Copies between kernel buffers and user memory that survive page faults on the user side.
//!
//! The copy loop is one `rep movsb` in [`entry`](super::entry); a fault on it is turned by the
//! kernel-mode trap handler into a return of failure (the exception-table technique). The
//! user range is checked here again, so this safe function cannot be made to touch kernel
//! memory whatever its caller passes.

use super::entry::copy_with_fault_recovery;
use abi::registers::USER_ADDRESS_LIMIT;

fn user_range_is_valid(address: u64, length: usize) -> bool {
    address
        .checked_add(length as u64)
        .is_some_and(|end| end <= USER_ADDRESS_LIMIT)
}

/// Copies `destination.len()` bytes from user address `source` in the current address space.
/// `false` if the range is not wholly in the user half or touches an unmapped page.
pub fn copy_from_user(destination: &mut [u8], source: u64) -> bool {
    user_range_is_valid(source, destination.len())
        && copy_with_fault_recovery(
            destination.as_mut_ptr(),
            source as *const u8,
            destination.len(),
        )
}

/// Copies `source` to user address `destination` in the current address space. `false` if
/// the range is not wholly in the user half or touches an unmapped or read-only page (the
/// kernel honours page protection: CR0.WP is set).
pub fn copy_to_user(destination: u64, source: &[u8]) -> bool {
    user_range_is_valid(destination, source.len())
        && copy_with_fault_recovery(destination as *mut u8, source.as_ptr(), source.len())
}
