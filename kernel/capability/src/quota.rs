//! Kernel-memory quotas: every kernel object is paid for from the quota of a space, which its
//! creator granted out of its own; running out is an error code, never a panic.

use abi::Error;

/// A budget of kernel memory, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    limit: u64,
    used: u64,
}

impl Quota {
    /// A budget of `limit` bytes, none used.
    pub const fn new(limit: u64) -> Quota {
        Quota { limit, used: 0 }
    }

    /// Pays `bytes`, or fails with `QuotaExceeded` leaving the quota unchanged.
    pub fn charge(&mut self, bytes: u64) -> Result<(), Error> {
        match self.used.checked_add(bytes) {
            Some(used) if used <= self.limit => {
                self.used = used;
                Ok(())
            }
            _ => Err(Error::QuotaExceeded),
        }
    }

    /// Gives back `bytes` paid earlier.
    pub fn release(&mut self, bytes: u64) {
        debug_assert!(bytes <= self.used, "releasing more than was charged");
        self.used = self.used.saturating_sub(bytes);
    }

    /// Bytes in use.
    pub const fn used(&self) -> u64 {
        self.used
    }

    /// Bytes still available.
    pub const fn available(&self) -> u64 {
        self.limit - self.used
    }

    /// The budget.
    pub const fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_limit() {
        let mut quota = Quota::new(100);
        assert_eq!(quota.charge(60), Ok(()));
        assert_eq!(quota.charge(41), Err(Error::QuotaExceeded));
        assert_eq!(quota.used(), 60);
        assert_eq!(quota.charge(40), Ok(()));
        assert_eq!(quota.available(), 0);
        quota.release(100);
        assert_eq!(quota.available(), 100);
    }

    #[test]
    fn overflowing_charges_fail() {
        let mut quota = Quota::new(u64::MAX);
        quota.charge(u64::MAX - 1).unwrap();
        assert_eq!(quota.charge(u64::MAX), Err(Error::QuotaExceeded));
        assert_eq!(quota.limit(), u64::MAX);
    }
}
