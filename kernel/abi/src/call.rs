//! System-call numbers and the category each call belongs to (DESIGN.md section 2).

/// How a call may behave between entry and completion; decides how it is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Never blocks and never touches user memory.
    Trivial,
    /// Normally quick, but touches user memory and may so wait for a pager; it is then rolled
    /// back to its start and re-issued when the fault is resolved.
    Short,
    /// May block indefinitely; re-issued from scratch after every interruption, so its
    /// arguments name an idempotent goal (an absolute deadline, not a duration).
    Long,
    /// Blocks or is interrupted at several intermediate points; at each point the kernel
    /// rewrites the caller's registers so that they describe the remaining work.
    MultiStage,
}

impl Category {
    /// The lower-case name used in the specification table.
    pub const fn name(self) -> &'static str {
        match self {
            Category::Trivial => "trivial",
            Category::Short => "short",
            Category::Long => "long",
            Category::MultiStage => "multi-stage",
        }
    }
}

macro_rules! calls {
    ($($(#[$doc:meta])* $variant:ident = $number:literal,)*) => {
        /// A system call, by number (the value of `rax` at the `syscall` instruction).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u64)]
        pub enum Call {
            $($(#[$doc])* $variant = $number,)*
        }

        impl Call {
            /// Every call, in number order.
            pub const ALL: &'static [Call] = &[$(Call::$variant,)*];

            /// The call with this number, if there is one.
            pub const fn from_number(number: u64) -> Option<Call> {
                match number {
                    $($number => Some(Call::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

calls! {
    /// Does nothing and returns success: the floor of the system-call cost, for benchmarks.
    Null = 0,
    /// Writes a byte string from the caller's memory to the kernel's debug console.
    DebugPrint = 1,
    /// Ends the calling thread; when the last thread of the root program ends, the machine
    /// stops with the status as its verdict.
    ThreadExit = 2,
    /// Reads the monotonic clock, in nanoseconds since boot.
    ClockMonotonic = 3,
    /// Blocks the calling thread until the monotonic clock reaches an absolute deadline.
    SleepUntil = 4,
    /// Removes a handle from the caller's table.
    HandleClose = 5,
    /// Makes a second handle to the same object with the same or fewer rights.
    HandleDuplicate = 6,
    /// Creates an empty address space with a kernel-memory quota taken from the caller's.
    SpaceCreate = 7,
    /// Creates a stopped thread in a space, with a given state.
    ThreadCreate = 8,
    /// Lets a stopped thread run.
    ThreadResume = 9,
    /// Stops a thread at a point its registers fully describe.
    ThreadInterrupt = 10,
    /// Copies a stopped thread's state out.
    ThreadGetState = 11,
    /// Replaces a stopped thread's state.
    ThreadSetState = 12,
    /// Gives the processor to another ready thread of the same or higher priority.
    ThreadYield = 13,
    /// Changes a thread's priority.
    ThreadSetPriority = 14,
    /// Tells what a thread is doing, how it ended, or why it faulted.
    ThreadStatus = 15,
    /// Creates a port, a receive point for messages, with a badge its receivers see.
    PortCreate = 16,
    /// Creates a port set, on which server threads wait for messages to any of its ports.
    PortSetCreate = 17,
    /// Puts a port in a port set.
    PortSetAdd = 18,
    /// Sends a request to a port and waits for the reply (first stage of a call).
    IpcCall = 19,
    /// Waits for the reply to a request a server has taken (second stage of a call).
    IpcAwaitReply = 20,
    /// Waits for a request or message on any port of a set.
    IpcWait = 21,
    /// Answers a request.
    IpcReply = 22,
    /// Answers a request, then waits for the next one.
    IpcReplyWait = 23,
    /// Sends a one-way message to a server waiting on the port, if one is.
    IpcSend = 24,
    /// Creates a mutex, unlocked.
    MutexCreate = 25,
    /// Locks a mutex, waiting for it if it is locked.
    MutexLock = 26,
    /// Locks a mutex if it is unlocked.
    MutexTryLock = 27,
    /// Unlocks a mutex, handing it to the longest waiter if there is one.
    MutexUnlock = 28,
    /// Creates a condition variable.
    CondCreate = 29,
    /// Unlocks a mutex and waits for a condition variable, then locks the mutex again.
    CondWait = 30,
    /// Wakes the longest waiter of a condition variable.
    CondSignal = 31,
    /// Wakes every waiter of a condition variable.
    CondBroadcast = 32,
    /// Names the port a thread's CPU exceptions are sent to, or none.
    ThreadSetKeeper = 33,
    /// Finishes receiving a request's bytes (the stage `IpcWait` moves to while they move).
    IpcReceive = 34,
    /// Copies a handle into another space's table (a manager seeding its child).
    HandleGrant = 35,
    /// Exports a range of the caller's memory as a region that mappings may show elsewhere.
    RegionCreate = 36,
    /// Destroys a region: every mapping of it goes, and what was derived through them.
    RegionDestroy = 37,
    /// Shows a window of a region in a space.
    MappingCreate = 38,
    /// Destroys a mapping, and what was derived through it.
    MappingDestroy = 39,
    /// Destroys a space: its threads end, its handles close, its regions and mappings go.
    SpaceDestroy = 40,
    /// Changes the rights a region grants its mappings.
    RegionProtect = 41,
    /// Changes the rights a mapping grants.
    MappingProtect = 42,
    /// Finds the first region or mapping of a space at or after an address.
    MemorySearch = 43,
    /// Grows or shrinks a region.
    RegionResize = 44,
    /// Shows a mapping's memory at another address of its space.
    MappingMove = 45,
    /// Opens a connection and sends the first chunk of a request without waiting for a reply.
    IpcConnect = 46,
    /// Sends the next chunk of a request on a connection opened with `IpcConnect`.
    IpcSendMore = 47,
    /// Receives the next chunk of a request (no bytes once the client has reversed).
    IpcReceiveMore = 48,
    /// Reads a region's state: its range, rights and keeper.
    RegionGetState = 49,
    /// Replaces a region's size, rights and keeper at once.
    RegionSetState = 50,
    /// Reads a mapping's state: where it is, what it shows, its rights and its region.
    MappingGetState = 51,
    /// Moves a mapping and changes its rights at once.
    MappingSetState = 52,
    /// Tells what a handle names: the object's kind and identity, and the handle's rights.
    HandleInfo = 53,
    /// Moves a connection the calling thread holds into a handle of its space.
    IpcDetach = 54,
    /// Lists a space's handles: the first live one at a slot index or after.
    HandleList = 55,
    /// Reads a port's state: its badge, its set and its queue.
    PortGetState = 56,
    /// Reads a port set's state: its ports and its waiting servers.
    PortSetGetState = 57,
    /// The last stage of a call that changed memory: finishes the invalidation it queued.
    InvalidationFinish = 58,
}

impl Call {
    /// The call's number, as placed in `rax`.
    pub const fn number(self) -> u64 {
        self as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for &call in Call::ALL {
            assert_eq!(Call::from_number(call.number()), Some(call));
        }
    }

    #[test]
    fn numbers_are_dense_from_zero() {
        for (index, &call) in Call::ALL.iter().enumerate() {
            assert_eq!(
                call.number(),
                index as u64,
                "{call:?} breaks the dense numbering"
            );
        }
    }

    #[test]
    fn unknown_numbers_are_rejected() {
        assert_eq!(Call::from_number(Call::ALL.len() as u64), None);
        assert_eq!(Call::from_number(u64::MAX), None);
    }
}
