//! Handles: how user code names kernel objects. A handle is an index into the calling space's
//! handle table plus the generation of that slot, so a handle kept after its slot was closed and
//! reused is detected as stale instead of silently naming another object.

use bitflags::bitflags;

/// A handle as it travels in a register: generation in the high 32 bits, slot index in the
/// low 32. Zero is never a valid handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(u64);

impl Handle {
    /// The value that names nothing.
    pub const NONE: Handle = Handle(0);

    /// Names, in a connection call, the connection the calling thread itself holds instead
    /// of one in its space's table: its client connection in `IpcAwaitReply` and
    /// `IpcSendMore`, its server connection in `IpcReply`, `IpcReplyWait`, `IpcReceive` and
    /// `IpcReceiveMore`. Connections are held this way unless `IpcDetach` moves one into a
    /// handle, so a call costs no handle table traffic. Never a table handle: no table has
    /// 2^32 slots.
    pub const CONNECTION: Handle = Handle(u64::MAX);

    /// A handle from its parts.
    pub const fn new(index: u32, generation: u32) -> Handle {
        Handle((generation as u64) << 32 | index as u64)
    }

    /// A handle from a register value.
    pub const fn from_raw(raw: u64) -> Handle {
        Handle(raw)
    }

    /// The register value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The slot index.
    pub const fn index(self) -> u32 {
        self.0 as u32
    }

    /// The slot's generation when the handle was made.
    pub const fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// The side of a connection a thread holds (`IpcDetach`'s argument): the client's, which
/// waits for the reply, or the server's, which answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum ConnectionSide {
    /// The side of the call the thread is making.
    Client = 0,
    /// The side of the request the thread is serving.
    Server = 1,
}

impl ConnectionSide {
    /// The side a register value names, if any.
    pub const fn from_raw(raw: u64) -> Option<ConnectionSide> {
        match raw {
            0 => Some(ConnectionSide::Client),
            1 => Some(ConnectionSide::Server),
            _ => None,
        }
    }
}

/// What kind of object a handle names (`HandleInfo`'s first result).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum ObjectKind {
    /// An address space.
    Space = 1,
    /// A thread.
    Thread = 2,
    /// A port.
    Port = 3,
    /// A port set.
    PortSet = 4,
    /// The client's side of a connection (a request's reply to wait for).
    ReplyReceiver = 5,
    /// The server's side of a connection (a request to answer).
    ReplySender = 6,
    /// A mutex.
    Mutex = 7,
    /// A condition variable.
    Condition = 8,
    /// A region of a space's memory.
    Region = 9,
    /// A mapping of a region into a space.
    Mapping = 10,
}

impl ObjectKind {
    /// Every kind, in code order.
    pub const ALL: [ObjectKind; 10] = [
        ObjectKind::Space,
        ObjectKind::Thread,
        ObjectKind::Port,
        ObjectKind::PortSet,
        ObjectKind::ReplyReceiver,
        ObjectKind::ReplySender,
        ObjectKind::Mutex,
        ObjectKind::Condition,
        ObjectKind::Region,
        ObjectKind::Mapping,
    ];

    /// The kind with this code.
    pub fn from_code(code: u64) -> Option<ObjectKind> {
        ObjectKind::ALL
            .into_iter()
            .find(|kind| *kind as u64 == code)
    }
}

/// What `HandleInfo` reports of a handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleInfo {
    /// The kind of object it names.
    pub kind: ObjectKind,
    /// The rights it carries.
    pub rights: Rights,
    /// The object's identity: the same for every handle to it, in any space, and never given
    /// to another object (so a checkpointer can tell which handles name the same object).
    pub object: u64,
}

impl HandleInfo {
    /// The result registers.
    pub const fn to_results(self) -> [u64; 3] {
        [self.kind as u64, self.rights.bits() as u64, self.object]
    }

    /// The information in result registers, if the kind and rights are known ones.
    pub fn from_results(results: [u64; 3]) -> Option<HandleInfo> {
        Some(HandleInfo {
            kind: ObjectKind::from_code(results[0])?,
            rights: Rights::from_bits(u32::try_from(results[1]).ok()?)?,
            object: results[2],
        })
    }
}

bitflags! {
    /// What a handle allows. A duplicate may carry fewer rights than its original, never more.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Rights: u32 {
        /// Make another handle to the object (`HandleDuplicate`).
        const DUPLICATE = 1 << 0;
        /// Give the handle to another space in a message.
        const TRANSFER = 1 << 1;
        /// Read the object's state (`ThreadGetState`).
        const READ_STATE = 1 << 2;
        /// Replace the object's state (`ThreadSetState`).
        const WRITE_STATE = 1 << 3;
        /// Start, stop and reprioritize a thread.
        const CONTROL = 1 << 4;
        /// Create objects inside a space (`ThreadCreate`, `SpaceCreate` from it).
        const CREATE = 1 << 5;
        /// Send requests and messages to a port.
        const SEND = 1 << 6;
        /// Receive from a port or port set, and answer requests.
        const RECEIVE = 1 << 7;
        /// Lock and unlock a mutex; wait on and signal a condition variable.
        const SYNCHRONIZE = 1 << 8;
        /// Show a region's memory in a space (`MappingCreate`).
        const MAP = 1 << 9;
    }
}

/// The handles a program's first thread finds in its registers at start, besides its argument
/// string in `rdi` and `rsi`: a handle to its own space in `rdx` and to itself in `rcx`, both
/// with every right.
pub mod start {
    /// The register holding the space handle.
    pub const SPACE_REGISTER: &str = "rdx";
    /// The register holding the thread handle.
    pub const THREAD_REGISTER: &str = "rcx";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip() {
        let handle = Handle::new(0x1234, 0xdead_beef);
        assert_eq!(handle.index(), 0x1234);
        assert_eq!(handle.generation(), 0xdead_beef);
        assert_eq!(Handle::from_raw(handle.raw()), handle);
        assert_eq!(Handle::NONE.raw(), 0);
    }

    #[test]
    fn handle_information_round_trips_through_registers() {
        for kind in ObjectKind::ALL {
            let info = HandleInfo {
                kind,
                rights: Rights::SEND | Rights::DUPLICATE,
                object: 77,
            };
            assert_eq!(HandleInfo::from_results(info.to_results()), Some(info));
        }
        assert_eq!(HandleInfo::from_results([0, 0, 1]), None);
        assert_eq!(HandleInfo::from_results([11, 0, 1]), None);
        assert_eq!(HandleInfo::from_results([1, 1 << 40, 1]), None);
    }

    #[test]
    fn unknown_right_bits_are_not_rights() {
        assert_eq!(Rights::from_bits(1 << 31), None);
        assert!(Rights::all().contains(Rights::CONTROL | Rights::CREATE));
    }
}
