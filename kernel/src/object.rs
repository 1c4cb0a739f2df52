//! Kernel objects as handles name them: one enum over every object type, so a handle table
//! holds any of them and each call checks the type it needs.

use crate::space::Space;
use crate::thread::Thread;
use abi::Error;
use alloc::sync::Arc;

/// A reference to a kernel object.
#[derive(Clone)]
pub enum KernelObject {
    /// An address space.
    Space(Arc<Space>),
    /// A thread.
    Thread(Arc<Thread>),
}

impl KernelObject {
    /// The thread, or `WrongType`.
    pub fn into_thread(self) -> Result<Arc<Thread>, Error> {
        match self {
            KernelObject::Thread(thread) => Ok(thread),
            _ => Err(Error::WrongType),
        }
    }

    /// The space, or `WrongType`.
    pub fn into_space(self) -> Result<Arc<Space>, Error> {
        match self {
            KernelObject::Space(space) => Ok(space),
            _ => Err(Error::WrongType),
        }
    }
}
