//! User pointers: every address a system call receives becomes a [`UserSlice`] here, checked
//! once, before the kernel touches the memory it names.

use crate::arch::user_memory;
use abi::Error;
use abi::registers::USER_ADDRESS_LIMIT;

/// A range of the calling thread's address space that lies wholly in the user half.
#[derive(Clone, Copy, Debug)]
pub struct UserSlice {
    address: u64,
    length: u64,
}

impl UserSlice {
    /// Checks a pointer and length from user registers: non-null, no overflow, wholly below the
    /// end of the user half (which also excludes non-canonical and kernel addresses), at most
    /// `limit` bytes.
    pub fn new(address: u64, length: u64, limit: u64) -> Result<UserSlice, Error> {
        if length > limit {
            return Err(Error::TooLong);
        }
        if address == 0 {
            return Err(Error::BadAddress);
        }
        match address.checked_add(length) {
            Some(end) if end <= USER_ADDRESS_LIMIT => Ok(UserSlice { address, length }),
            _ => Err(Error::BadAddress),
        }
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.length as usize
    }

    /// Makes sure the page tables hold the range's pages that a mapping shows, so that the
    /// copy through the current address space finds them (a page with no memory behind it
    /// stays out, and the copy then fails).
    fn enter_pages(&self, write: bool) {
        let space = crate::scheduler::current().space.clone();
        for page in self.pages() {
            if space.translate(page, write).is_none() {
                return;
            }
        }
    }

    /// The addresses of the first and the last page the range touches (the same page for a
    /// range within one).
    pub fn end_pages(&self) -> [u64; 2] {
        let page = crate::arch::physical::FRAME_SIZE;
        let last_byte = self.address + self.length.max(1) - 1;
        [self.address & !(page - 1), last_byte & !(page - 1)]
    }

    /// The address of every page the range touches, in order.
    pub fn pages(&self) -> impl Iterator<Item = u64> {
        let page = crate::arch::physical::FRAME_SIZE;
        let first = self.address & !(page - 1);
        let end = self.address + self.length;
        (first..end).step_by(page as usize)
    }

    /// Copies the whole range into `buffer` (whose length must equal the slice's); fails with
    /// `BadAddress` if any page of it is unmapped.
    pub fn read_into(&self, buffer: &mut [u8]) -> Result<(), Error> {
        assert_eq!(
            buffer.len(),
            self.len(),
            "buffer and user slice differ in length"
        );
        self.enter_pages(false);
        if user_memory::copy_from_user(buffer, self.address) {
            Ok(())
        } else {
            Err(Error::BadAddress)
        }
    }

    /// Copies `bytes` (whose length must equal the slice's) into the range; fails with
    /// `BadAddress` if any page of it is unmapped or read-only, possibly after writing a part.
    pub fn write_from(&self, bytes: &[u8]) -> Result<(), Error> {
        assert_eq!(
            bytes.len(),
            self.len(),
            "buffer and user slice differ in length"
        );
        self.enter_pages(true);
        if user_memory::copy_to_user(self.address, bytes) {
            Ok(())
        } else {
            Err(Error::BadAddress)
        }
    }
}
