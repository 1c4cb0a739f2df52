//! Mutexes and condition variables: `MutexCreate`, `MutexLock`, `MutexTryLock`,
//! `MutexUnlock`, `CondCreate`, `CondWait`, `CondSignal`, `CondBroadcast`.

use super::object;
use crate::arch::frame::SavedRegisters;
use crate::model;
use crate::object::KernelObject;
use crate::scheduler;
use crate::synchronization::{Condition, KernelMutex};
use crate::wait::{BlockingResult, WaitQueue, block_in, or_return_error};
use abi::{Call, Error, Handle, Rights};
use alloc::sync::Arc;

const RIGHTS: Rights = Rights::SYNCHRONIZE
    .union(Rights::DUPLICATE)
    .union(Rights::TRANSFER);

fn mutex_of(handle: u64) -> Result<Arc<KernelMutex>, Error> {
    object(handle, Rights::SYNCHRONIZE, KernelObject::to_mutex)
}

fn condition_of(handle: u64) -> Result<Arc<Condition>, Error> {
    object(handle, Rights::SYNCHRONIZE, KernelObject::to_condition)
}

/// `MutexCreate`.
pub fn mutex_create() -> Result<u64, Error> {
    let space = scheduler::current().space.clone();
    let mutex = KernelMutex::new(&space)?;
    space
        .insert_handle(KernelObject::Mutex(mutex), RIGHTS)
        .map(Handle::raw)
}

/// `CondCreate`.
pub fn condition_create() -> Result<u64, Error> {
    let space = scheduler::current().space.clone();
    let condition = Condition::new(&space)?;
    space
        .insert_handle(KernelObject::Condition(condition), RIGHTS)
        .map(Handle::raw)
}

/// `MutexLock`: takes the mutex, or waits until an unlock hands it over (which completes the
/// call, so a waiter stopped after that owns the mutex and its registers say the call is done).
pub fn lock(registers: &SavedRegisters, handle: u64) -> BlockingResult {
    let mutex = or_return_error!(mutex_of(handle));
    let mut locked = mutex.locked.lock();
    if !*locked {
        *locked = true;
        registers.complete_system_call(0, &[]);
        return Ok(Ok(()));
    }
    drop(locked);
    let thread = scheduler::current();
    mutex.waiters.lock().push_back(thread.clone());
    let queue = WaitQueue::Mutex(Arc::downgrade(&mutex));
    drop(mutex);
    block_in(thread, queue)
}

/// `MutexTryLock`.
pub fn try_lock(handle: u64) -> Result<(), Error> {
    let mutex = mutex_of(handle)?;
    let mut locked = mutex.locked.lock();
    if *locked {
        return Err(Error::WouldBlock);
    }
    *locked = true;
    Ok(())
}

/// `MutexUnlock`: hands the mutex to the longest waiter, or unlocks it.
pub fn unlock(handle: u64) -> Result<(), Error> {
    let mutex = mutex_of(handle)?;
    let mut locked = mutex.locked.lock();
    if !*locked {
        return Err(Error::InvalidState);
    }
    let waiter = mutex.waiters.lock().pop_front();
    match waiter {
        Some(waiter) => {
            waiter.waiting_in.set(None);
            drop(locked);
            model::complete_blocked(&waiter, 0, &[]);
        }
        None => *locked = false,
    }
    Ok(())
}

/// `CondWait`: unlocks the mutex, then becomes `MutexLock` on it before waiting, so that a
/// signal and an interruption both end in locking it again.
pub fn wait(registers: &SavedRegisters, mutex: u64, condition: u64) -> BlockingResult {
    let condition = or_return_error!(condition_of(condition));
    or_return_error!(unlock(mutex));
    registers.update(|frame| frame.rax = Call::MutexLock.number());
    let thread = scheduler::current();
    condition.waiters.lock().push_back(thread.clone());
    let queue = WaitQueue::Condition(Arc::downgrade(&condition));
    drop(condition);
    block_in(thread, queue)
}

/// `CondSignal` (`all: false`) and `CondBroadcast` (`all: true`): the woken threads re-issue
/// their calls, which already say `MutexLock`.
pub fn signal(handle: u64, all: bool) -> Result<(), Error> {
    let condition = condition_of(handle)?;
    loop {
        let Some(waiter) = condition.waiters.lock().pop_front() else {
            return Ok(());
        };
        waiter.waiting_in.set(None);
        model::advance_blocked(&waiter, |_| {});
        if !all {
            return Ok(());
        }
    }
}
