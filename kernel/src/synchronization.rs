//! Mutexes and condition variables as kernel objects. A mutex records that it is locked, not
//! which thread locked it: a thread's state can move to a new thread while it holds one.

use crate::arch::lock::Lock;
use crate::space::Space;
use crate::thread::Thread;
use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};

/// What a mutex or condition variable costs its creator's quota.
pub const SYNCHRONIZATION_COST: u64 =
    crate::memory::heap_cost(if size_of::<KernelMutex>() > size_of::<Condition>() {
        size_of::<KernelMutex>()
    } else {
        size_of::<Condition>()
    });

/// A mutex.
pub struct KernelMutex {
    /// Its identity (`HandleInfo`): unique among every object made since boot.
    pub id: u64,
    /// Whether it is locked.
    pub locked: Lock<bool>,
    /// Threads waiting to lock it, first come first.
    pub waiters: Lock<VecDeque<Arc<Thread>>>,
    payer: Weak<Space>,
}

/// A condition variable.
pub struct Condition {
    /// Its identity (`HandleInfo`): unique among every object made since boot.
    pub id: u64,
    /// Threads waiting for a signal, first come first.
    pub waiters: Lock<VecDeque<Arc<Thread>>>,
    payer: Weak<Space>,
}

impl KernelMutex {
    /// An unlocked mutex charged to `payer`'s quota.
    pub fn new(payer: &Arc<Space>) -> Result<Arc<KernelMutex>, abi::Error> {
        payer.charge(SYNCHRONIZATION_COST)?;
        Ok(Arc::new(KernelMutex {
            id: crate::object::new_object_id(),
            locked: Lock::new(false),
            waiters: Lock::new(VecDeque::new()),
            payer: Arc::downgrade(payer),
        }))
    }
}

impl Condition {
    /// A condition variable charged to `payer`'s quota.
    pub fn new(payer: &Arc<Space>) -> Result<Arc<Condition>, abi::Error> {
        payer.charge(SYNCHRONIZATION_COST)?;
        Ok(Arc::new(Condition {
            id: crate::object::new_object_id(),
            waiters: Lock::new(VecDeque::new()),
            payer: Arc::downgrade(payer),
        }))
    }
}

impl Drop for KernelMutex {
    /// A destroyed mutex fails the locks waiting for it with `PeerGone`.
    fn drop(&mut self) {
        crate::wait::fail_waiters(
            self.waiters
                .get_mut()
                .drain(..)
                .collect::<alloc::vec::Vec<_>>(),
        );
        if let Some(payer) = self.payer.upgrade() {
            payer.release(SYNCHRONIZATION_COST);
        }
    }
}

impl Drop for Condition {
    /// A destroyed condition variable wakes its waiters, which lock their mutex again (a
    /// spurious wakeup).
    fn drop(&mut self) {
        for waiter in self
            .waiters
            .get_mut()
            .drain(..)
            .collect::<alloc::vec::Vec<_>>()
        {
            waiter.waiting_in.set(None);
            crate::model::advance_blocked(&waiter, |_| {});
        }
        if let Some(payer) = self.payer.upgrade() {
            payer.release(SYNCHRONIZATION_COST);
        }
    }
}
