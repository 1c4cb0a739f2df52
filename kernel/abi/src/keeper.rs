//! Keepers: a thread's CPU exceptions go, as requests, to its keeper port (`ThreadSetKeeper`).
//!
//! The thread stops at the exception (its state is that of the faulting instruction, or the one
//! after it for traps such as `int3`) and the server waiting on the keeper's port set receives a
//! request whose words are:
//!
//! - word 0: the vector in bits 0-7, the error code in bits 32-63;
//! - word 1: the fault address (page faults), else 0;
//! - word 2: the instruction pointer at the exception;
//! - word 3: for a thread's keeper, a handle in the keeper's space to the thread (READ_STATE,
//!   WRITE_STATE, CONTROL); for a region's keeper (a hole of its region, word 1 then the
//!   address in the region's space), 0: a pager supplies memory, and gets no control of the
//!   threads that touch it;
//!
//! and the badge of the keeper port. A thread's keeper may read and replace the thread's state;
//! either keeper answers with word 0 = [`RESUME`] (the thread runs on from its state) or
//! [`LEAVE_STOPPED`]; a request dropped unanswered leaves the thread stopped too. A thread's
//! keeper should close the thread handle when done.

/// The answer that lets the thread run on from its (possibly replaced) state.
pub const RESUME: u64 = 0;

/// The answer that leaves the thread stopped, as a faulted thread.
pub const LEAVE_STOPPED: u64 = 1;

/// A fault request's words, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultMessage {
    /// The exception vector.
    pub vector: u64,
    /// The error code the CPU pushed.
    pub error_code: u64,
    /// The fault address, for page faults.
    pub address: u64,
    /// The instruction pointer at the exception.
    pub rip: u64,
    /// A handle to the thread, in the keeper's space; 0 in a region keeper's request.
    pub thread: u64,
}

impl FaultMessage {
    /// The message's four words.
    pub const fn to_words(self) -> [u64; 4] {
        [
            self.vector | self.error_code << 32,
            self.address,
            self.rip,
            self.thread,
        ]
    }

    /// A message from its four words.
    pub const fn from_words(words: [u64; 4]) -> FaultMessage {
        FaultMessage {
            vector: words[0] & 0xff,
            error_code: words[0] >> 32,
            address: words[1],
            rip: words[2],
            thread: words[3],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        let message = FaultMessage {
            vector: 14,
            error_code: 6,
            address: 0x1000,
            rip: 0x2000,
            thread: 0x1_0000_0003,
        };
        assert_eq!(FaultMessage::from_words(message.to_words()), message);
    }
}
