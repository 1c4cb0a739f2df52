//! Error codes returned by system calls in `rax` (zero means success).

macro_rules! errors {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// Why a system call failed. The code travels in `rax`; `0` is success.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u64)]
        pub enum Error {
            $($(#[$doc])* $variant = $code,)*
        }

        impl Error {
            /// Every error, in code order.
            pub const ALL: &'static [Error] = &[$(Error::$variant,)*];

            /// The error with this code, if there is one.
            pub const fn from_code(code: u64) -> Option<Error> {
                match code {
                    $($code => Some(Error::$variant),)*
                    _ => None,
                }
            }

            /// The variant's name, for messages and the specification table.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Error::$variant => stringify!($variant),)*
                }
            }
        }
    };
}

errors! {
    /// `rax` held a number that names no system call.
    UnknownCall = 1,
    /// A pointer argument is null, not canonical, in the kernel half, or covers memory that
    /// the caller's space does not map.
    BadAddress = 2,
    /// A length argument exceeds the call's documented limit.
    TooLong = 3,
    /// An argument is out of its documented range.
    InvalidArgument = 4,
    /// The handle names nothing in the caller's table, or was closed (a stale generation).
    BadHandle = 5,
    /// The handle names an object of another type than the call needs.
    WrongType = 6,
    /// The handle lacks a right the call needs, or a duplicate asked for rights its original
    /// does not have.
    MissingRights = 7,
    /// The space's kernel-memory quota cannot pay for what the call would create.
    QuotaExceeded = 8,
    /// The object is not in a state the call accepts (for example a running thread for
    /// `ThreadGetState`, or a thread that has ended).
    InvalidState = 9,
    /// Physical memory is exhausted.
    OutOfMemory = 10,
    /// The other side of a conversation is gone: the server dropped a request without
    /// answering it.
    PeerGone = 11,
    /// A one-way message found no server waiting for it and was not delivered.
    NoReceiver = 12,
    /// The call would have to wait, and was asked not to (`MutexTryLock`).
    WouldBlock = 13,
    /// The range overlaps a region or mapping that exists, or memory the space holds itself.
    Overlaps = 14,
}

impl Error {
    /// The code as placed in `rax`.
    pub const fn code(self) -> u64 {
        self as u64
    }

    /// Decodes a returned `rax`: `Ok` for zero, the error otherwise. A code this ABI does
    /// not define (which a conforming kernel never returns) reads as `InvalidArgument`.
    pub const fn check(rax: u64) -> Result<(), Error> {
        if rax == 0 {
            return Ok(());
        }
        match Error::from_code(rax) {
            Some(error) => Err(error),
            None => Err(Error::InvalidArgument),
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_never_collide_with_success() {
        for &error in Error::ALL {
            assert_ne!(error.code(), 0);
            assert_eq!(Error::from_code(error.code()), Some(error));
            assert_eq!(Error::check(error.code()), Err(error));
        }
        assert_eq!(Error::check(0), Ok(()));
    }
}
