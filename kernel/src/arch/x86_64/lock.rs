//! The kernel's lock: exclusive access to data shared between threads' kernel paths.
//!
//! The kernel runs on one CPU, and kernel code runs with interrupts disabled (the idle loop
//! enables them only around `hlt`, holding no lock), so no two kernel paths ever run at once:
//! a lock needs no atomic read-modify-write, only a flag that catches a path taking a lock it
//! already holds (which on a multiprocessor spin lock would be a deadlock). That makes every
//! lock a load, a branch and two stores, instead of a locked compare-and-exchange loop.
//! A preemptible kernel configuration will need interrupts masked while a lock is held; that
//! change belongs here.

use core::cell::{Cell, UnsafeCell};
use core::ops::{Deref, DerefMut};

/// Data behind a lock.
pub struct Lock<T> {
    held: Cell<bool>,
    value: UnsafeCell<T>,
}

// SAFETY: see the module documentation: kernel paths never overlap (one CPU, interrupts off in
// kernel code), so the lock's flag and value are only ever touched by one path at a time, and
// the flag stops one path from holding two references to the value.
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: the value moves with the lock; a `Send` value may.
unsafe impl<T: Send> Send for Lock<T> {}

impl<T> Lock<T> {
    /// A lock around `value`.
    pub const fn new(value: T) -> Lock<T> {
        Lock {
            held: Cell::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Exclusive access until the guard is dropped. Taking a lock already held is a kernel
    /// bug, reported as a panic rather than a silent hang.
    #[inline(always)]
    pub fn lock(&self) -> LockGuard<'_, T> {
        assert!(!self.held.get(), "a kernel lock was taken while held");
        self.held.set(true);
        LockGuard { lock: self }
    }

    /// The value, through exclusive access to the lock itself.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Lock::new(T::default())
    }
}

/// Exclusive access to a locked value; dropping it releases the lock.
pub struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the flag is set, so no other reference to the
        // value exists (see `Lock::lock`).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; the guard is borrowed mutably, so this is the only reference.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        self.lock.held.set(false);
    }
}
