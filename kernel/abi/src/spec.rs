//! The specification table: one entry per call, from which `SPEC.md` is generated.
//!
//! A host test renders the table and compares it with `SPEC.md`, and another checks that every
//! [`Call`] has exactly one entry, so the document cannot drift from the code.

use crate::call::{Call, Category};
use crate::error::Error;
use core::fmt::{self, Write};

/// What one system call takes, returns and does when it is interrupted.
#[derive(Clone, Copy, Debug)]
pub struct CallSpecification {
    /// The call.
    pub call: Call,
    /// Its category, which decides how it restarts.
    pub category: Category,
    /// The argument registers in order (`rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`), described.
    pub arguments: &'static [&'static str],
    /// The result registers in order (`rdi`, `rsi`, `rdx`), described; `rax` is the status.
    pub results: &'static [&'static str],
    /// What the call moves through the transfer registers (`rbx`, `r12` to `r15`; see
    /// `registers::transfer`), or `""` for a call that leaves them alone.
    pub message: &'static str,
    /// Every error the call can return.
    pub errors: &'static [Error],
    /// What happens when the call is interrupted, and how it is resumed.
    pub restart: &'static str,
    /// One sentence on what the call does.
    pub summary: &'static str,
}

/// What a call that receives a reply returns.
/// How every call that changes memory restarts.
const CHANGES_MEMORY: &str = "the change is made at once and the call moves to \
                              InvalidationFinish (58) on the same object, which removes the \
                              entries the change made stale in bounded steps; preempted, it is \
                              re-issued as that stage and never makes the change twice";

const REPLY_RESULTS: &[&str] = &[
    "0: the connection the reply came on is closed",
    "reply word 0",
    "reply word 1",
    "reply word 2",
    "reply word 3",
];

/// The table, in call-number order.
pub const TABLE: &[CallSpecification] = &[
    CallSpecification {
        call: Call::Null,
        category: Category::Trivial,
        arguments: &[],
        results: &[],
        message: "",
        errors: &[],
        restart: "never interrupted",
        summary: "Returns success and does nothing else.",
    },
    CallSpecification {
        call: Call::DebugPrint,
        category: Category::Short,
        arguments: &["address of the bytes", "length in bytes, at most 4096"],
        results: &[],
        message: "",
        errors: &[Error::BadAddress, Error::TooLong],
        restart: "all or nothing: the bytes are copied in before any is printed, so a \
                  re-issued call prints them once",
        summary: "Writes the bytes to the kernel's debug console.",
    },
    CallSpecification {
        call: Call::ThreadExit,
        category: Category::Trivial,
        arguments: &["exit status"],
        results: &[],
        message: "",
        errors: &[],
        restart: "never returns",
        summary: "Ends the calling thread; the root program's status decides the verdict of \
                  the whole boot (0 is success).",
    },
    CallSpecification {
        call: Call::ClockMonotonic,
        category: Category::Trivial,
        arguments: &[],
        results: &["nanoseconds since boot, in steps of CLOCK_TICK_NANOSECONDS"],
        message: "",
        errors: &[],
        restart: "never interrupted",
        summary: "Reads the monotonic clock.",
    },
    CallSpecification {
        call: Call::SleepUntil,
        category: Category::Long,
        arguments: &["absolute deadline in nanoseconds of the monotonic clock"],
        results: &[
            "the time-stamp counter when the timer interrupt that ended the sleep was \
                    raised, or when the call returned if it did not sleep (for measuring \
                    wake-up latency)",
        ],
        message: "",
        errors: &[],
        restart: "re-issued from scratch: the deadline is absolute, so restarting never \
                  lengthens the sleep",
        summary: "Blocks the calling thread until the monotonic clock reaches the deadline; a \
                  deadline in the past returns at once.",
    },
    CallSpecification {
        call: Call::HandleClose,
        category: Category::MultiStage,
        arguments: &["handle"],
        results: &[],
        message: "",
        errors: &[Error::BadHandle],
        restart: "closing a region's last handle destroys the region at once and moves the \
                  call to InvalidationFinish (58), which removes its mappings' entries in \
                  bounded steps from the list of the caller's space; preempted, it is re-issued \
                  as that stage, whose closed handle leads it to that list. Closing the last \
                  handle of a thread stopped in a call that changed memory ends it and takes \
                  over the work its call left, the same way. Closing the last reference to a \
                  space (no thread runs in it, no other handle names it) hands the space to that \
                  list too: what it holds goes a piece at a time, as SpaceDestroy takes it, in \
                  the same last stage. Any other handle is never interrupted",
        summary: "Removes the handle from the caller's table; the slot's generation changes, so \
                  the old value stays invalid. An object whose last reference goes away (a \
                  stopped or ended thread, an unused space) is destroyed and its kernel memory \
                  returned to the quota that paid for it; a region whose last handle goes is \
                  destroyed as by RegionDestroy.",
    },
    CallSpecification {
        call: Call::HandleDuplicate,
        category: Category::Trivial,
        arguments: &[
            "handle",
            "rights for the new handle (a subset of the original's)",
        ],
        results: &["the new handle"],
        message: "",
        errors: &[Error::BadHandle, Error::MissingRights, Error::QuotaExceeded],
        restart: "never interrupted",
        summary: "Makes a second handle to the same object; needs the DUPLICATE right, and the \
                  new rights must be a subset of the original's.",
    },
    CallSpecification {
        call: Call::SpaceCreate,
        category: Category::Trivial,
        arguments: &["kernel-memory quota for the new space, in bytes"],
        results: &["a handle to the new space, with every right"],
        message: "",
        errors: &[Error::QuotaExceeded, Error::OutOfMemory],
        restart: "never interrupted",
        summary: "Creates an address space with an empty user half and an empty handle table; \
                  its quota and its own bookkeeping are charged to the caller's space.",
    },
    CallSpecification {
        call: Call::ThreadCreate,
        category: Category::Short,
        arguments: &[
            "space handle (CREATE right)",
            "address of a ThreadState",
            "flags (state::flags::HANDLES: attach the keeper the state names; the space it \
             names, if any, must be this one: InvalidArgument otherwise)",
        ],
        results: &["a handle to the new thread, with every right"],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::BadAddress,
            Error::InvalidArgument,
            Error::InvalidState,
            Error::QuotaExceeded,
        ],
        restart: "all or nothing: the state is read before the thread exists",
        summary: "Creates a stopped thread in the space with the given state (checked as by \
                  ThreadSetState) and the caller's priority, charged to that space's quota.",
    },
    CallSpecification {
        call: Call::ThreadResume,
        category: Category::Trivial,
        arguments: &["thread handle (CONTROL right)"],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidState,
        ],
        restart: "never interrupted",
        summary: "Makes a stopped thread ready to run; it continues from its state.",
    },
    CallSpecification {
        call: Call::ThreadInterrupt,
        category: Category::Trivial,
        arguments: &["thread handle (CONTROL right)"],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidState,
        ],
        restart: "never interrupted; returns once the target is stopped, in bounded time",
        summary: "Stops a thread wherever it is: running in user mode, ready, or blocked in a \
                  call (which is rolled back to its restart point: rip at the syscall \
                  instruction, registers naming the call). Stopping a stopped thread does \
                  nothing; a thread that interrupts itself stops after this call returns. A \
                  thread stopped by a fault becomes plainly stopped: its fault leaves its \
                  keeper's queue, a keeper's answer to it no longer counts, and resuming it \
                  retries the faulting instruction. A stopped thread whose last handle is \
                  closed ends (exit status KILLED).",
    },
    CallSpecification {
        call: Call::ThreadGetState,
        category: Category::Short,
        arguments: &[
            "thread handle (READ_STATE right)",
            "address of a ThreadState buffer",
            "flags (state::flags::HANDLES: put handles to its keeper, SEND, and its space, \
             READ_STATE only, unless it is the caller's own, in the caller's table)",
        ],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidState,
            Error::BadAddress,
            Error::InvalidArgument,
            Error::QuotaExceeded,
        ],
        restart: "re-issued from scratch: the target stays stopped, so the copy repeats \
                  identically",
        summary: "Copies the state of a stopped (or faulted) thread to the buffer.",
    },
    CallSpecification {
        call: Call::ThreadSetState,
        category: Category::Short,
        arguments: &[
            "thread handle (WRITE_STATE right)",
            "address of a ThreadState",
            "flags (state::flags::HANDLES: attach the keeper the state names, or none; the \
             space it names, if any, must be the thread's: InvalidArgument otherwise)",
        ],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidState,
            Error::BadAddress,
            Error::InvalidArgument,
            Error::QuotaExceeded,
        ],
        restart: "all or nothing: the state is read and checked before any of it is applied",
        summary: "Replaces the state of a stopped (or faulted, which then counts as stopped) \
                  thread. rip and the segment bases must be canonical user addresses and MXCSR \
                  must have no reserved bit set; flags outside USER_FLAGS are ignored, \
                  interrupts stay on.",
    },
    CallSpecification {
        call: Call::ThreadYield,
        category: Category::Trivial,
        arguments: &[],
        results: &[],
        message: "",
        errors: &[],
        restart: "never interrupted; completes before the processor is given away",
        summary: "Moves the caller behind the other ready threads of its priority.",
    },
    CallSpecification {
        call: Call::ThreadSetPriority,
        category: Category::Trivial,
        arguments: &[
            "thread handle (CONTROL right)",
            "priority, 0 to PRIORITY_MAX",
        ],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
            Error::InvalidState,
        ],
        restart: "never interrupted",
        summary: "Sets a thread's priority, which may not exceed the caller's own.",
    },
    CallSpecification {
        call: Call::ThreadStatus,
        category: Category::Trivial,
        arguments: &["thread handle (READ_STATE right)"],
        results: &[
            "condition (Condition: stopped, runnable, blocked, exited, faulted)",
            "exit status, or vector (bits 0-7) and error code (bits 32-63) of a fault",
            "fault address of a page fault, else 0",
        ],
        message: "",
        errors: &[Error::BadHandle, Error::WrongType, Error::MissingRights],
        restart: "never interrupted",
        summary: "Tells what a thread is doing, how it ended, or why it faulted.",
    },
    CallSpecification {
        call: Call::PortCreate,
        category: Category::Trivial,
        arguments: &["badge: a word receivers see with every message to this port"],
        results: &["a handle to the port (SEND, RECEIVE, DUPLICATE, TRANSFER)"],
        message: "",
        errors: &[Error::QuotaExceeded],
        restart: "never interrupted",
        summary: "Creates a port, charged to the caller's space.",
    },
    CallSpecification {
        call: Call::PortSetCreate,
        category: Category::Trivial,
        arguments: &[],
        results: &["a handle to the port set (RECEIVE, DUPLICATE, TRANSFER)"],
        message: "",
        errors: &[Error::QuotaExceeded],
        restart: "never interrupted",
        summary: "Creates an empty port set, charged to the caller's space.",
    },
    CallSpecification {
        call: Call::PortSetAdd,
        category: Category::Trivial,
        arguments: &["port set (RECEIVE)", "port (RECEIVE)"],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidState,
        ],
        restart: "never interrupted",
        summary: "Puts a port in a set; a port belongs to one set at most, for good.",
    },
    CallSpecification {
        call: Call::IpcCall,
        category: Category::MultiStage,
        arguments: &["port (SEND)", "word 0", "word 1", "word 2", "word 3"],
        results: REPLY_RESULTS,
        message: "sends the bytes r12/r13 and the handle rbx (TRANSFER); receives the reply's \
                  bytes into r14/r15 and its handle into rbx",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::BadAddress,
            Error::TooLong,
            Error::PeerGone,
            Error::QuotaExceeded,
            Error::InvalidState,
        ],
        restart: "stage 1, waiting for a server: re-issued from scratch, nothing was sent. When a \
                  server takes the request the kernel rewrites the registers to stage 2, \
                  IpcAwaitReply with Handle::CONNECTION in rdi (the thread now holds the client side of the connection) (the words and handle delivered, \
                  r12/r13 advanced past the bytes sent), so an interruption from then on never \
                  sends anything twice",
        summary: "Sends a request (four words, bytes, a handle) to the port and waits for the \
                  reply.",
    },
    CallSpecification {
        call: Call::IpcAwaitReply,
        category: Category::MultiStage,
        arguments: &[
            "connection: Handle::CONNECTION (the thread's client side) or a handle (RECEIVE)",
        ],
        results: REPLY_RESULTS,
        message: "as IpcCall: the request's bytes left in r12/r13, then the reply into r14/r15 \
                  and rbx",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::BadAddress,
            Error::TooLong,
            Error::PeerGone,
            Error::QuotaExceeded,
            Error::InvalidState,
        ],
        restart: "re-issued from the registers: r12/r13 and r14/r15 always say how much of \
                  the request is still to send and how much room the reply still has; the \
                  reply waits in the reply object (or in the server's registers) until taken",
        summary: "Finishes sending the request's bytes if any are left (on a streaming \
                  connection they are its last chunk: the call reverses the connection), then \
                  waits for the reply; the handle is closed once the reply (or PeerGone) is \
                  delivered.",
    },
    CallSpecification {
        call: Call::IpcWait,
        category: Category::MultiStage,
        arguments: &["port set (RECEIVE)"],
        results: &[
            "Handle::CONNECTION for a request (the thread now holds its server side, replacing and closing the one it held), or 0 for a one-way message",
            "word 0",
            "word 1",
            "word 2",
            "word 3",
            "the badge of the port it came to",
        ],
        message: "receives the request's bytes into r14/r15 and its handle into rbx",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::BadAddress,
            Error::TooLong,
            Error::PeerGone,
            Error::QuotaExceeded,
        ],
        restart: "re-issued from scratch while no request is taken: it stays queued. Once one \
                  is taken the registers hold the results and, while its bytes still move, \
                  name the IpcReceive stage",
        summary: "Takes the oldest request waiting on a port of the set, or waits for one.",
    },
    CallSpecification {
        call: Call::IpcReply,
        category: Category::Long,
        arguments: &[
            "connection: Handle::CONNECTION (the thread's server side) or a handle (RECEIVE)",
            "word 0",
            "word 1",
            "word 2",
            "word 3",
        ],
        results: &[],
        message: "sends the bytes r12/r13 and the handle rbx (TRANSFER)",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::BadAddress,
            Error::TooLong,
            Error::PeerGone,
            Error::QuotaExceeded,
            Error::InvalidState,
        ],
        restart: "re-issued from the registers, which say how much of the reply's bytes is \
                  still to send; it waits only when the reply has bytes and the client is not \
                  waiting for them (stopped, or being moved)",
        summary: "Answers a request and closes the connection; the client's call completes. \
                  PeerGone if the client's side of the reply is gone (the answer is dropped; \
                  IpcReplyWait goes on to wait regardless); InvalidState while the request's \
                  bytes are still arriving.",
    },
    CallSpecification {
        call: Call::IpcReplyWait,
        category: Category::MultiStage,
        arguments: &[
            "connection: Handle::CONNECTION (the thread's server side) or a handle (RECEIVE)",
            "word 0",
            "word 1",
            "word 2",
            "word 3",
            "port set (RECEIVE)",
        ],
        results: &["as IpcWait"],
        message: "as IpcReply, then as IpcWait",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::BadAddress,
            Error::TooLong,
            Error::QuotaExceeded,
            Error::InvalidState,
        ],
        restart: "as IpcReply until the answer is out; then the registers are rewritten to \
                  IpcWait on the set, so an interruption while waiting never answers twice",
        summary: "IpcReply, then IpcWait, in one call.",
    },
    CallSpecification {
        call: Call::IpcSend,
        category: Category::Trivial,
        arguments: &["port (SEND)", "word 0", "word 1", "word 2", "word 3"],
        results: &[],
        message: "sends the handle rbx (TRANSFER); no bytes",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::NoReceiver,
            Error::QuotaExceeded,
        ],
        restart: "never interrupted",
        summary: "Delivers four words (and a handle) to a server waiting on the port's set, at \
                  most once: with no server waiting, the message is dropped and NoReceiver \
                  returned.",
    },
    CallSpecification {
        call: Call::MutexCreate,
        category: Category::Trivial,
        arguments: &[],
        results: &["a handle to the mutex (SYNCHRONIZE, DUPLICATE, TRANSFER)"],
        message: "",
        errors: &[Error::QuotaExceeded],
        restart: "never interrupted",
        summary: "Creates an unlocked mutex, charged to the caller's space. A mutex records that \
                  it is locked, not by which thread, so a thread's state can move to another \
                  thread while it holds one.",
    },
    CallSpecification {
        call: Call::MutexLock,
        category: Category::Long,
        arguments: &["mutex (SYNCHRONIZE)"],
        results: &[],
        message: "",
        errors: &[Error::BadHandle, Error::WrongType, Error::MissingRights],
        restart: "re-issued from scratch while waiting (the waiter left the queue: nothing \
                  was taken); once an unlock has handed it the mutex, the call is complete",
        summary: "Locks the mutex, waiting in first-come order while it is locked.",
    },
    CallSpecification {
        call: Call::MutexTryLock,
        category: Category::Trivial,
        arguments: &["mutex (SYNCHRONIZE)"],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::WouldBlock,
        ],
        restart: "never interrupted",
        summary: "Locks the mutex if it is unlocked; WouldBlock otherwise.",
    },
    CallSpecification {
        call: Call::MutexUnlock,
        category: Category::Trivial,
        arguments: &["mutex (SYNCHRONIZE)"],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidState,
        ],
        restart: "never interrupted",
        summary: "Unlocks the mutex, or hands it straight to its longest waiter; InvalidState \
                  if it is not locked.",
    },
    CallSpecification {
        call: Call::CondCreate,
        category: Category::Trivial,
        arguments: &[],
        results: &["a handle to the condition variable (SYNCHRONIZE, DUPLICATE, TRANSFER)"],
        message: "",
        errors: &[Error::QuotaExceeded],
        restart: "never interrupted",
        summary: "Creates a condition variable, charged to the caller's space.",
    },
    CallSpecification {
        call: Call::CondWait,
        category: Category::MultiStage,
        arguments: &[
            "mutex (SYNCHRONIZE), locked by the caller",
            "condition variable (SYNCHRONIZE)",
        ],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidState,
        ],
        restart: "unlocks the mutex, then rewrites the registers to MutexLock on it before \
                  waiting: a signal, or an interruption (which counts as a spurious wakeup), \
                  both lead to locking the mutex again, and the mutex is never unlocked twice",
        summary: "Waits for a signal with the mutex unlocked; returns with it locked.",
    },
    CallSpecification {
        call: Call::CondSignal,
        category: Category::Trivial,
        arguments: &["condition variable (SYNCHRONIZE)"],
        results: &[],
        message: "",
        errors: &[Error::BadHandle, Error::WrongType, Error::MissingRights],
        restart: "never interrupted",
        summary: "Wakes the longest waiter, which then locks the mutex again; nothing if none.",
    },
    CallSpecification {
        call: Call::CondBroadcast,
        category: Category::Trivial,
        arguments: &["condition variable (SYNCHRONIZE)"],
        results: &[],
        message: "",
        errors: &[Error::BadHandle, Error::WrongType, Error::MissingRights],
        restart: "never interrupted",
        summary: "Wakes every waiter.",
    },
    CallSpecification {
        call: Call::ThreadSetKeeper,
        category: Category::Trivial,
        arguments: &["thread (CONTROL)", "keeper port (SEND), or 0 for none"],
        results: &[],
        message: "",
        errors: &[Error::BadHandle, Error::WrongType, Error::MissingRights],
        restart: "never interrupted",
        summary: "Names the port the thread's CPU exceptions are sent to as requests (see \
                  kernel/abi/src/keeper.rs for the message); with none, an exception stops \
                  the thread for good and ThreadStatus tells why.",
    },
    CallSpecification {
        call: Call::IpcReceive,
        category: Category::MultiStage,
        arguments: &[
            "connection: Handle::CONNECTION (the thread's server side) or a handle (RECEIVE)",
            "word 0 (kept)",
            "word 1 (kept)",
            "word 2 (kept)",
            "word 3 (kept)",
            "badge (kept)",
        ],
        results: &["as IpcWait"],
        message: "receives the rest of the request's bytes into r14/r15",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::BadAddress,
            Error::TooLong,
            Error::PeerGone,
        ],
        restart: "re-issued from the registers: r14/r15 say how much room is left, the client's \
                  r12/r13 how much is still to come",
        summary: "The stage IpcWait moves to when it has taken a request whose bytes are still \
                  moving (a transfer preempted between two pages, or waiting for a client that \
                  was stopped); completes when they are through. PeerGone, with the connection \
                  closed, if the client's side went away first.",
    },
    CallSpecification {
        call: Call::HandleGrant,
        category: Category::Trivial,
        arguments: &[
            "space (CREATE)",
            "handle to copy (TRANSFER)",
            "rights for the copy (a subset of the original's)",
            "0 for any free slot, or the exact handle value (slot and generation) it must \
             have: a free slot, at most 64 slots past the table's end",
        ],
        results: &["the new handle, valid in that space's table"],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
            Error::QuotaExceeded,
            Error::Overlaps,
            Error::InvalidState,
        ],
        restart: "never interrupted",
        summary: "Puts a handle to the same object into another space's table, paid from that \
                  space's quota: how a manager gives a child its first handles, and how a \
                  restorer gives a rebuilt space its handles back at their former values \
                  (Overlaps if that slot is in use).",
    },
    CallSpecification {
        call: Call::RegionCreate,
        category: Category::Trivial,
        arguments: &[
            "address (page-aligned)",
            "size in bytes (page-aligned, not 0)",
            "rights (MemoryRights: READ 1, WRITE 2, EXECUTE 4), the most a mapping may grant",
            "keeper port (SEND) for faults on its holes, or 0",
        ],
        results: &["a handle to the region (MAP, CONTROL, READ_STATE, DUPLICATE, TRANSFER)"],
        message: "",
        errors: &[
            Error::InvalidArgument,
            Error::BadAddress,
            Error::Overlaps,
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::QuotaExceeded,
        ],
        restart: "never interrupted",
        summary: "Exports a range of the caller's own space, present or not, as a region; the \
                  regions of one space never overlap. An access through a mapping that reaches \
                  a page the space lacks (a hole) stops the thread and sends a fault request to \
                  the region's keeper, whose word 1 is the hole's address in the region's space \
                  and word 3 is 0: no handle to the thread (abi::keeper); the keeper supplies memory there (a mapping of its own) and \
                  answers RESUME. With no keeper, or a keeper that is gone, the fault goes to \
                  the thread's keeper. Closing the region's last handle destroys it.",
    },
    CallSpecification {
        call: Call::RegionDestroy,
        category: Category::MultiStage,
        arguments: &["region (CONTROL)"],
        results: &[],
        message: "",
        errors: &[Error::BadHandle, Error::WrongType, Error::MissingRights],
        restart: CHANGES_MEMORY,
        summary: "Destroys the region and every mapping of it; every page table entry derived \
                  through them, at every level above, goes, and those pages fault again.",
    },
    CallSpecification {
        call: Call::MappingCreate,
        category: Category::Short,
        arguments: &[
            "space to map into (CREATE)",
            "address there (page-aligned)",
            "region (MAP)",
            "offset into the region (page-aligned)",
            "size in bytes (page-aligned, not 0, within the region)",
            "rights (MemoryRights), no wider than the region's",
        ],
        results: &["a handle to the mapping (CONTROL, READ_STATE, DUPLICATE, TRANSFER)"],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
            Error::BadAddress,
            Error::Overlaps,
            Error::InvalidState,
            Error::QuotaExceeded,
        ],
        restart: "first finishes the invalidation work pending on the target space's list (a \
                  range that a stopped call left half cleared would look taken), with \
                  preemption points; preempted there, it is re-issued from scratch: nothing is \
                  made until that work is done",
        summary: "Shows a window of a region in a space. Nothing is entered in the page tables \
                  yet: a first access faults and is resolved down the chain of mappings to a \
                  present page, whose entry is then installed with the rights every link \
                  grants. Overlaps if the range meets another mapping or a page the space holds \
                  itself; InvalidState if the region is destroyed.",
    },
    CallSpecification {
        call: Call::MappingDestroy,
        category: Category::MultiStage,
        arguments: &["mapping (CONTROL)"],
        results: &[],
        message: "",
        errors: &[Error::BadHandle, Error::WrongType, Error::MissingRights],
        restart: CHANGES_MEMORY,
        summary: "Destroys the mapping: its entries and every entry derived through them at \
                  levels above go.",
    },
    CallSpecification {
        call: Call::SpaceDestroy,
        category: Category::MultiStage,
        arguments: &["space (CONTROL), not the caller's own"],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidState,
        ],
        restart: "stops at a preemption point between any two pieces it destroys (a thread, \
                  a handle, a region, a mapping); the space keeps what is left and is already \
                  marked destroyed, so the re-issued call, with the same registers, goes on \
                  from there",
        summary: "Destroys a space: its threads stop where they are and read as exited with \
                  status KILLED, every handle in its table is closed (which ends its sides of \
                  any conversation), its regions and mappings go with everything derived \
                  through them. Nothing new can be made in it afterwards (InvalidState). The \
                  space's memory and quota go back when the last reference goes.",
    },
    CallSpecification {
        call: Call::RegionProtect,
        category: Category::MultiStage,
        arguments: &["region (CONTROL)", "rights (MemoryRights)"],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
        ],
        restart: CHANGES_MEMORY,
        summary: "Changes the widest rights the region grants; every entry derived through its \
                  mappings goes and refills with what every link grants now.",
    },
    CallSpecification {
        call: Call::MappingProtect,
        category: Category::MultiStage,
        arguments: &[
            "mapping (CONTROL)",
            "rights (MemoryRights), within the region's and those it was made with",
        ],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
        ],
        restart: CHANGES_MEMORY,
        summary: "Changes the rights the mapping grants; its entries, and what was derived \
                  from them above, go and refill with the new rights.",
    },
    CallSpecification {
        call: Call::MemorySearch,
        category: Category::Trivial,
        arguments: &["space (READ_STATE)", "address"],
        results: &[
            "what was found (memory::Found: 0 nothing, 1 region, 2 mapping)",
            "a new handle to it in the caller's table, with READ_STATE only",
            "its start",
            "its size",
            "its rights (MemoryRights)",
            "for a mapping, its offset into its region",
        ],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::QuotaExceeded,
        ],
        restart: "never interrupted",
        summary: "Finds, among the regions a space exports and the mappings it shows, the one \
                  that starts first among those ending after the address: called again from \
                  the end of each, it lists a space's memory in order, as a checkpointer needs.",
    },
    CallSpecification {
        call: Call::RegionResize,
        category: Category::MultiStage,
        arguments: &[
            "region (CONTROL)",
            "new size in bytes (page-aligned, not 0)",
        ],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
            Error::BadAddress,
            Error::Overlaps,
            Error::InvalidState,
        ],
        restart: CHANGES_MEMORY,
        summary: "Grows or shrinks a region from its start. Growing may not reach another \
                  region of the space (Overlaps); shrinking takes what it no longer exports \
                  away from every mapping of it, whose accesses there fault.",
    },
    CallSpecification {
        call: Call::MappingMove,
        category: Category::MultiStage,
        arguments: &["mapping (CONTROL)", "new address (page-aligned)"],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
            Error::BadAddress,
            Error::Overlaps,
            Error::InvalidState,
        ],
        restart: CHANGES_MEMORY,
        summary: "Shows the mapping's memory at another address of its space: the old range \
                  faults from then on, with everything derived from it; the new range must be \
                  free (no other mapping, no page of the space's own, not the RAM window).",
    },
    CallSpecification {
        call: Call::IpcConnect,
        category: Category::MultiStage,
        arguments: &["port (SEND)", "word 0", "word 1", "word 2", "word 3"],
        results: &["a handle to the connection (RECEIVE)"],
        message: "sends the first chunk r12/r13 and the handle rbx (TRANSFER)",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::BadAddress,
            Error::TooLong,
            Error::PeerGone,
            Error::QuotaExceeded,
            Error::InvalidState,
        ],
        restart: "stage 1, waiting for a server: re-issued from scratch. Once a server takes \
                  the request the registers are rewritten to IpcSendMore on the connection, \
                  r12/r13 saying what of the first chunk is still to move",
        summary: "Opens a streaming connection: like IpcCall, but it completes once its first \
                  chunk has moved, without waiting for a reply. The client then sends more \
                  chunks with IpcSendMore and reverses the connection with IpcAwaitReply \
                  (whose bytes are the last chunk), which waits for the reply.",
    },
    CallSpecification {
        call: Call::IpcSendMore,
        category: Category::MultiStage,
        arguments: &[
            "connection: Handle::CONNECTION (the thread's client side) or a handle (RECEIVE)",
        ],
        results: &[],
        message: "sends the chunk r12/r13",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::BadAddress,
            Error::TooLong,
            Error::PeerGone,
            Error::InvalidState,
        ],
        restart: "re-issued from the registers, which always say how much of the chunk is \
                  still to move",
        summary: "Sends the next chunk of a streaming request; completes when all of it has \
                  moved into the server's buffers, waiting for its IpcReceiveMore as often as it \
                  takes. InvalidState on a connection that is not streaming or was reversed.",
    },
    CallSpecification {
        call: Call::IpcReceiveMore,
        category: Category::MultiStage,
        arguments: &[
            "connection: Handle::CONNECTION (the thread's server side) or a handle (RECEIVE)",
        ],
        results: &[],
        message: "receives into r14/r15",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::BadAddress,
            Error::TooLong,
            Error::PeerGone,
        ],
        restart: "re-issued from the registers, which always say how much room is left",
        summary: "Receives the next chunk of a request: completes when the client's chunk has \
                  all moved or the room is full. Once the client has reversed the connection \
                  (and for a request that was never streamed) it completes at once with no \
                  bytes: the request is complete and may be answered. PeerGone, with the \
                  connection closed, if the client went away.",
    },
    CallSpecification {
        call: Call::RegionGetState,
        category: Category::Trivial,
        arguments: &[
            "region (READ_STATE; with HANDLES also CONTROL)",
            "flags (state::flags::HANDLES: put a handle to its keeper, SEND, in the caller's \
             table)",
        ],
        results: &[
            "its start",
            "its size in bytes",
            "its rights (MemoryRights)",
            "a handle to its keeper port, or 0 (memory::RegionState)",
        ],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
            Error::InvalidState,
            Error::QuotaExceeded,
        ],
        restart: "never interrupted",
        summary: "Reads what a region is: with MemorySearch, everything a checkpointer needs to \
                  make it again with RegionCreate. InvalidState once it is destroyed.",
    },
    CallSpecification {
        call: Call::RegionSetState,
        category: Category::MultiStage,
        arguments: &[
            "region (CONTROL)",
            "new size in bytes (page-aligned, not 0)",
            "new rights (MemoryRights)",
            "new keeper port (SEND), or 0 for none",
        ],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
            Error::BadAddress,
            Error::Overlaps,
            Error::InvalidState,
        ],
        restart: CHANGES_MEMORY,
        summary: "Replaces the region's size, rights and keeper together, or changes nothing when \
                  any is refused: RegionResize, RegionProtect and a new keeper in one step. \
                  Faults already sent stay with the keeper they went to.",
    },
    CallSpecification {
        call: Call::MappingGetState,
        category: Category::Trivial,
        arguments: &[
            "mapping (READ_STATE)",
            "flags (state::flags::HANDLES: put a handle to its region, READ_STATE only, in the \
             caller's table)",
        ],
        results: &[
            "its start",
            "its size in bytes",
            "its rights now (MemoryRights)",
            "the rights it was made with",
            "its offset into its region",
            "a handle to its region, or 0 (memory::MappingState)",
        ],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
            Error::InvalidState,
            Error::QuotaExceeded,
        ],
        restart: "never interrupted",
        summary: "Reads what a mapping is: where it is, what it shows and with which rights. \
                  InvalidState once it is destroyed.",
    },
    CallSpecification {
        call: Call::MappingSetState,
        category: Category::MultiStage,
        arguments: &[
            "mapping (CONTROL)",
            "new address (page-aligned)",
            "new rights (MemoryRights), within the region's and those it was made with",
        ],
        results: &[],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
            Error::BadAddress,
            Error::Overlaps,
            Error::InvalidState,
        ],
        restart: CHANGES_MEMORY,
        summary: "Moves the mapping and changes its rights together, or changes nothing when \
                  either is refused: MappingMove and MappingProtect in one step.",
    },
    CallSpecification {
        call: Call::HandleInfo,
        category: Category::Trivial,
        arguments: &["handle (any rights)"],
        results: &[
            "the kind of object it names (handle::ObjectKind)",
            "its rights",
            "the object's identity (handle::HandleInfo)",
        ],
        message: "",
        errors: &[Error::BadHandle],
        restart: "never interrupted",
        summary: "Tells what a handle names. The identity is the same for every handle to the \
                  object, in every space, and no other object ever has it (both sides of a \
                  reply share one): with it a checkpointer finds which handles, keepers and \
                  regions are the same object.",
    },
    CallSpecification {
        call: Call::IpcDetach,
        category: Category::Trivial,
        arguments: &["side (handle::ConnectionSide: 0 client, 1 server)"],
        results: &["a handle (RECEIVE) to that side of the connection"],
        message: "",
        errors: &[
            Error::InvalidArgument,
            Error::InvalidState,
            Error::QuotaExceeded,
        ],
        restart: "never interrupted",
        summary: "Moves the connection the calling thread holds on that side into a handle of \
                  its space, which any thread of the space may then use in its place (a server \
                  that answers requests later, or from another thread). The thread holds no \
                  connection on that side afterwards. InvalidState if it held none.",
    },
    CallSpecification {
        call: Call::HandleList,
        category: Category::Trivial,
        arguments: &[
            "space (READ_STATE; with HANDLES also CONTROL)",
            "slot index to start at",
            "flags (state::flags::HANDLES: also put a copy of the handle in the caller's \
             table, with its rights plus TRANSFER and DUPLICATE)",
        ],
        results: &[
            "the first live handle at that slot or after, as the space knows it, or 0 for none",
            "the kind of object it names (handle::ObjectKind)",
            "its rights",
            "the object's identity",
            "the copy in the caller's table, or 0",
        ],
        message: "",
        errors: &[
            Error::BadHandle,
            Error::WrongType,
            Error::MissingRights,
            Error::InvalidArgument,
            Error::QuotaExceeded,
        ],
        restart: "never interrupted",
        summary: "Lists a space's handle table: called again from the slot after each one \
                  found, it gives every handle with its value, rights and object, as a \
                  checkpointer needs; HandleGrant with a value puts each back into a rebuilt \
                  space.",
    },
    CallSpecification {
        call: Call::PortGetState,
        category: Category::Trivial,
        arguments: &["port (RECEIVE)"],
        results: &[
            "its badge",
            "the identity of its port set (handle::HandleInfo), or 0 for none",
            "how many requests wait in its queue",
        ],
        message: "",
        errors: &[Error::BadHandle, Error::WrongType, Error::MissingRights],
        restart: "never interrupted",
        summary: "Reads a port: with PortSetGetState, what a checkpointer needs to make it \
                  again with PortCreate and PortSetAdd. (Its queued requests are threads, \
                  whose registers hold their calls: moved, they queue again.)",
    },
    CallSpecification {
        call: Call::PortSetGetState,
        category: Category::Trivial,
        arguments: &["port set (RECEIVE)"],
        results: &["how many live ports it has", "how many servers wait on it"],
        message: "",
        errors: &[Error::BadHandle, Error::WrongType, Error::MissingRights],
        restart: "never interrupted",
        summary: "Reads a port set. Its waiting servers are threads whose registers hold \
                  their IpcWait: moved, they wait again.",
    },
    CallSpecification {
        call: Call::InvalidationFinish,
        category: Category::MultiStage,
        arguments: &[
            "the region or mapping the call changed (any rights; a handle that names \
                      neither, as a closed one, stands for the caller's own space)",
        ],
        results: &[],
        message: "",
        errors: &[],
        restart: "re-issued from the registers until the work is done; it never changes \
                  anything but page-table entries derived from memory already changed",
        summary: "The stage RegionDestroy, RegionProtect, RegionResize, RegionSetState, \
                  MappingDestroy, MappingProtect, MappingMove, MappingSetState and a HandleClose \
                  of a region's last handle move to once their change is made: it \
                  removes, in bounded steps with preemption points between them, the entries \
                  derived from the memory the change touched, and completes when none is left \
                  (a re-issued call never makes its change twice). Called directly it only \
                  finishes what is pending.",
    },
];

/// The entry for a call.
pub fn specification(call: Call) -> &'static CallSpecification {
    // The table is in number order and complete (checked by the tests below).
    &TABLE[call.number() as usize]
}

/// Writes the table as the Markdown document kept in `SPEC.md`.
pub fn render_markdown(out: &mut impl Write) -> fmt::Result {
    writeln!(out, "# System-call specification")?;
    writeln!(out)?;
    writeln!(
        out,
        "Generated from `kernel/abi/src/spec.rs` by `cargo xtask spec`; a host test fails when \
         this file and the table differ. Register convention: `kernel/abi/src/registers.rs`."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| number | call | category | arguments | results | message registers | errors | restart |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for entry in TABLE {
        write!(
            out,
            "| {} | `{:?}` | {} | ",
            entry.call.number(),
            entry.call,
            entry.category.name()
        )?;
        write_list(out, entry.arguments.iter().copied())?;
        write!(out, " | ")?;
        write_list(out, entry.results.iter().copied())?;
        let message = if entry.message.is_empty() {
            "none"
        } else {
            entry.message
        };
        write!(out, " | {message} | ")?;
        write_list(out, entry.errors.iter().map(|error| error.name()))?;
        writeln!(out, " | {} |", entry.restart)?;
    }
    writeln!(out)?;
    writeln!(out, "## Calls")?;
    for entry in TABLE {
        writeln!(out)?;
        writeln!(out, "- `{:?}`: {}", entry.call, entry.summary)?;
    }
    writeln!(out)?;
    writeln!(out, "## Errors")?;
    writeln!(out)?;
    writeln!(out, "| code | error |")?;
    writeln!(out, "|---|---|")?;
    for error in Error::ALL {
        writeln!(out, "| {} | `{}` |", error.code(), error.name())?;
    }
    Ok(())
}

fn write_list<'a>(out: &mut impl Write, items: impl Iterator<Item = &'a str>) -> fmt::Result {
    let mut any = false;
    for (index, item) in items.enumerate() {
        if index > 0 {
            write!(out, "; ")?;
        }
        write!(out, "{item}")?;
        any = true;
    }
    if !any {
        write!(out, "none")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    #[test]
    fn every_call_has_exactly_one_entry_in_number_order() {
        assert_eq!(TABLE.len(), Call::ALL.len());
        for (entry, &call) in TABLE.iter().zip(Call::ALL) {
            assert_eq!(entry.call, call);
            assert_eq!(specification(call).call, call);
        }
    }

    #[test]
    fn argument_and_result_lists_fit_the_register_convention() {
        for entry in TABLE {
            assert!(entry.arguments.len() <= crate::registers::ARGUMENT_REGISTERS);
            assert!(entry.results.len() <= crate::registers::RESULT_REGISTERS);
        }
    }

    #[test]
    fn spec_document_matches_the_table() {
        let mut rendered = String::new();
        render_markdown(&mut rendered).unwrap();
        let on_disk = include_str!("../SPEC.md");
        assert!(
            rendered == on_disk,
            "kernel/abi/SPEC.md is out of date: run `cargo xtask spec` to regenerate it"
        );
    }
}
