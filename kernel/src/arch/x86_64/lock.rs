//! The kernel's lock and cell: exclusive access to data shared between threads' kernel paths.
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

/// A value that kernel paths replace whole, never borrow: [`core::cell::Cell`] made shareable
/// between threads' kernel paths on the same grounds as [`Lock`] (one CPU, interrupts off in
/// kernel code), for the small per-object fields that every IPC touches several times (a
/// thread's run state and wait queue, its connections, a reply's waiting slots). It hands out
/// no reference to its value, so it needs no flag at all: each access is a plain load or
/// store, where a lock costs a check and two stores more.
pub struct KernelCell<T> {
    value: Cell<T>,
}

// SAFETY: as for `Lock`: kernel paths never overlap, and a `KernelCell` never lends out a
// reference to its value (every method moves a value in or out within one call), so no two
// paths ever see it at once.
unsafe impl<T: Send> Sync for KernelCell<T> {}

impl<T> KernelCell<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> KernelCell<T> {
        KernelCell {
            value: Cell::new(value),
        }
    }

    /// Puts `value` in, dropping the one it held.
    #[inline(always)]
    pub fn set(&self, value: T) {
        self.value.set(value);
    }

    /// Puts `value` in; the one it held.
    #[inline(always)]
    pub fn replace(&self, value: T) -> T {
        self.value.replace(value)
    }
}

impl<T: Copy> KernelCell<T> {
    /// A copy of the value.
    #[inline(always)]
    pub fn get(&self) -> T {
        self.value.get()
    }
}

impl<T: Default> KernelCell<T> {
    /// Takes the value out, leaving the default (`None` for an option).
    #[inline(always)]
    pub fn take(&self) -> T {
        self.value.take()
    }

    /// What `look` says of the value, which is out of the cell meanwhile (so `look` cannot
    /// see it changed under it; were `look` to fill the cell, the value would replace that).
    /// `look` must not read the same cell, which it would find empty: the closures here only
    /// compare, clone, or read other cells.
    #[inline(always)]
    pub fn inspect<R>(&self, look: impl FnOnce(&T) -> R) -> R {
        let value = self.value.take();
        let seen = look(&value);
        self.value.set(value);
        seen
    }
}

impl<T> KernelCell<Option<T>> {
    /// Whether it holds nothing.
    #[inline(always)]
    pub fn is_none(&self) -> bool {
        self.inspect(Option::is_none)
    }
}

impl<T: Default + Clone> KernelCell<T> {
    /// A clone of the value.
    #[inline(always)]
    pub fn cloned(&self) -> T {
        self.inspect(T::clone)
    }
}

impl<T: Default> Default for KernelCell<T> {
    fn default() -> Self {
        KernelCell::new(T::default())
    }
}
