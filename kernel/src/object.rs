//! Kernel objects as handles name them: one enum over every object type, so a handle table
//! holds any of them and each call checks the type it needs.

use crate::ipc::{Port, PortSet, Reply};
use crate::space::Space;
use crate::synchronization::{Condition, KernelMutex};
use crate::thread::Thread;
use crate::virtual_memory::{Mapping, Region};
use abi::Error;
use abi::handle::{ConnectionSide, ObjectKind};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A new object's identity: one counter for every kind, so no two objects made since boot
/// share one (64 bits do not wrap in the life of a machine).
pub fn new_object_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Relaxed)
}

/// A reference to a kernel object.
#[derive(Clone)]
pub enum KernelObject {
    /// An address space.
    Space(Arc<Space>),
    /// A thread.
    Thread(Arc<Thread>),
    /// A port.
    Port(Arc<Port>),
    /// A port set.
    PortSet(Arc<PortSet>),
    /// The client's side of a request's reply.
    ReplyReceiver(Arc<Reply>),
    /// The server's side of a request's reply.
    ReplySender(Arc<Reply>),
    /// A mutex.
    Mutex(Arc<KernelMutex>),
    /// A condition variable.
    Condition(Arc<Condition>),
    /// A region of a space's memory.
    Region(Arc<Region>),
    /// A mapping of a region into a space.
    Mapping(Arc<Mapping>),
}

impl KernelObject {
    /// The thread, or `WrongType`.
    pub fn to_thread(&self) -> Result<Arc<Thread>, Error> {
        match self {
            KernelObject::Thread(thread) => Ok(thread.clone()),
            _ => Err(Error::WrongType),
        }
    }

    /// The port, or `WrongType`.
    pub fn to_port(&self) -> Result<Arc<Port>, Error> {
        match self {
            KernelObject::Port(port) => Ok(port.clone()),
            _ => Err(Error::WrongType),
        }
    }

    /// The port set, or `WrongType`.
    pub fn to_port_set(&self) -> Result<Arc<PortSet>, Error> {
        match self {
            KernelObject::PortSet(set) => Ok(set.clone()),
            _ => Err(Error::WrongType),
        }
    }

    /// The client's side of a reply, or `WrongType`.
    pub fn to_reply_receiver(&self) -> Result<Arc<Reply>, Error> {
        match self {
            KernelObject::ReplyReceiver(reply) => Ok(reply.clone()),
            _ => Err(Error::WrongType),
        }
    }

    /// The server's side of a reply, or `WrongType`.
    pub fn to_reply_sender(&self) -> Result<Arc<Reply>, Error> {
        match self {
            KernelObject::ReplySender(sender) => Ok(sender.clone()),
            _ => Err(Error::WrongType),
        }
    }

    /// What kind of object it is.
    pub fn kind(&self) -> ObjectKind {
        match self {
            KernelObject::Space(_) => ObjectKind::Space,
            KernelObject::Thread(_) => ObjectKind::Thread,
            KernelObject::Port(_) => ObjectKind::Port,
            KernelObject::PortSet(_) => ObjectKind::PortSet,
            KernelObject::ReplyReceiver(_) => ObjectKind::ReplyReceiver,
            KernelObject::ReplySender(_) => ObjectKind::ReplySender,
            KernelObject::Mutex(_) => ObjectKind::Mutex,
            KernelObject::Condition(_) => ObjectKind::Condition,
            KernelObject::Region(_) => ObjectKind::Region,
            KernelObject::Mapping(_) => ObjectKind::Mapping,
        }
    }

    /// The object's identity ([`new_object_id`]); the two sides of a reply share one.
    pub fn id(&self) -> u64 {
        match self {
            KernelObject::Space(space) => space.id,
            KernelObject::Thread(thread) => thread.id,
            KernelObject::Port(port) => port.id,
            KernelObject::PortSet(set) => set.id,
            KernelObject::ReplyReceiver(reply) | KernelObject::ReplySender(reply) => reply.id,
            KernelObject::Mutex(mutex) => mutex.id,
            KernelObject::Condition(condition) => condition.id,
            KernelObject::Region(region) => region.id,
            KernelObject::Mapping(mapping) => mapping.id,
        }
    }

    /// Counts a new handle to the object, for the objects whose life ends with their last
    /// handle although other objects refer to them (regions).
    pub fn handle_opened(&self) {
        match self {
            KernelObject::Region(region) => {
                region
                    .handles
                    .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            }
            KernelObject::Thread(thread) => {
                thread
                    .handles
                    .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            }
            KernelObject::ReplyReceiver(reply) => reply.hold(ConnectionSide::Client),
            KernelObject::ReplySender(reply) => reply.hold(ConnectionSide::Server),
            _ => {}
        }
    }

    /// What the object does when a handle to it is closed (or dropped with its space): the
    /// two sides of a reply object have one handle each, whose closing ends that side; a
    /// region whose last handle goes is destroyed (nobody could name it any more), and so is a
    /// stopped thread (nobody could resume it; a keeper's late answer must not either).
    pub fn handle_closed(&self) {
        match self {
            KernelObject::ReplyReceiver(reply) => reply.release(ConnectionSide::Client),
            KernelObject::ReplySender(reply) => reply.release(ConnectionSide::Server),
            KernelObject::Region(region) => region.handle_closed(),
            KernelObject::Thread(thread) => crate::syscall::threads::thread_handle_closed(thread),
            _ => {}
        }
    }

    /// The mutex, or `WrongType`.
    pub fn to_mutex(&self) -> Result<Arc<KernelMutex>, Error> {
        match self {
            KernelObject::Mutex(mutex) => Ok(mutex.clone()),
            _ => Err(Error::WrongType),
        }
    }

    /// The condition variable, or `WrongType`.
    pub fn to_condition(&self) -> Result<Arc<Condition>, Error> {
        match self {
            KernelObject::Condition(condition) => Ok(condition.clone()),
            _ => Err(Error::WrongType),
        }
    }

    /// The region, or `WrongType`.
    pub fn to_region(&self) -> Result<Arc<Region>, Error> {
        match self {
            KernelObject::Region(region) => Ok(region.clone()),
            _ => Err(Error::WrongType),
        }
    }

    /// The mapping, or `WrongType`.
    pub fn to_mapping(&self) -> Result<Arc<Mapping>, Error> {
        match self {
            KernelObject::Mapping(mapping) => Ok(mapping.clone()),
            _ => Err(Error::WrongType),
        }
    }

    /// The space, or `WrongType`.
    pub fn to_space(&self) -> Result<Arc<Space>, Error> {
        match self {
            KernelObject::Space(space) => Ok(space.clone()),
            _ => Err(Error::WrongType),
        }
    }
}
