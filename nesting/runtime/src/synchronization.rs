//! Kernel mutexes and condition variables, as handles that close on drop.

use crate::arch::syscall::call3;
use abi::{Call, Error, Handle};

fn check_call(call: Call, first: u64, second: u64) -> Result<u64, Error> {
    let returned = call3(call, first, second, 0);
    Error::check(returned.status).map(|()| returned.results[0])
}

/// A kernel mutex. It records that it is locked, not by whom.
#[derive(Debug)]
pub struct Mutex(Handle);

impl Mutex {
    /// `MutexCreate`: a new, unlocked mutex.
    pub fn new() -> Result<Mutex, Error> {
        check_call(Call::MutexCreate, 0, 0).map(|raw| Mutex(Handle::from_raw(raw)))
    }

    /// Takes ownership of a mutex handle (wrap in `ManuallyDrop` to borrow one instead).
    pub fn from_handle(handle: Handle) -> Mutex {
        Mutex(handle)
    }

    /// The handle, still owned by this value.
    pub fn handle(&self) -> Handle {
        self.0
    }

    /// `MutexLock`.
    pub fn lock(&self) -> Result<(), Error> {
        check_call(Call::MutexLock, self.0.raw(), 0).map(drop)
    }

    /// `MutexTryLock`.
    pub fn try_lock(&self) -> Result<(), Error> {
        check_call(Call::MutexTryLock, self.0.raw(), 0).map(drop)
    }

    /// `MutexUnlock`.
    pub fn unlock(&self) -> Result<(), Error> {
        check_call(Call::MutexUnlock, self.0.raw(), 0).map(drop)
    }
}

/// A kernel condition variable.
#[derive(Debug)]
pub struct Condition(Handle);

impl Condition {
    /// `CondCreate`.
    pub fn new() -> Result<Condition, Error> {
        check_call(Call::CondCreate, 0, 0).map(|raw| Condition(Handle::from_raw(raw)))
    }

    /// Takes ownership of a condition variable handle.
    pub fn from_handle(handle: Handle) -> Condition {
        Condition(handle)
    }

    /// The handle, still owned by this value.
    pub fn handle(&self) -> Handle {
        self.0
    }

    /// `CondWait`: unlocks `mutex` (which the caller has locked), waits for a signal, and
    /// locks it again. May return without a signal (a spurious wakeup), as when the thread was
    /// stopped and resumed: wait in a loop that checks the condition.
    pub fn wait(&self, mutex: &Mutex) -> Result<(), Error> {
        check_call(Call::CondWait, mutex.0.raw(), self.0.raw()).map(drop)
    }

    /// `CondSignal`.
    pub fn signal(&self) -> Result<(), Error> {
        check_call(Call::CondSignal, self.0.raw(), 0).map(drop)
    }

    /// `CondBroadcast`.
    pub fn broadcast(&self) -> Result<(), Error> {
        check_call(Call::CondBroadcast, self.0.raw(), 0).map(drop)
    }
}

impl Drop for Mutex {
    fn drop(&mut self) {
        let _ = crate::syscall::handle_close(self.0);
    }
}

impl Drop for Condition {
    fn drop(&mut self) {
        let _ = crate::syscall::handle_close(self.0);
    }
}
