//! A test-and-set lock for critical sections of a few dozen instructions.
//!
//! A channel's queues are locked on every send and receive and held only to
//! pop or push an entry. `std::sync::Mutex` pays an atomic swap to unlock
//! (it must learn whether anyone sleeps on the futex) and a poison check;
//! this lock unlocks with a plain release store. Waiters back off the way
//! crossbeam-channel's own spin lock does: spin briefly, then yield the OS
//! thread, so a holder that was preempted gets the core back.
//!
//! Under loom, the flag is loom's atomic and the data sits in loom's
//! `UnsafeCell`, so the model checker sees both the lock and every access it
//! guards.

use std::ops::{Deref, DerefMut};

use crate::sync::cell::{MutPtr, UnsafeCell};
use crate::sync::{AtomicBool, Ordering};

pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time (the
// acquire/release pair on `locked` orders those accesses), as a `Mutex` does.
unsafe impl<T: Send> Send for SpinLock<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(crate) fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard {
            lock: self,
            #[cfg(not(loom))]
            value: self.value.get_mut(),
            #[cfg(loom)]
            value: Some(self.value.get_mut()),
        }
    }

    #[cold]
    fn lock_contended(&self) {
        #[cfg(not(loom))]
        let backoff = crossbeam_utils::Backoff::new();
        loop {
            // Wait on a plain load so the cache line is not bounced between
            // the waiters while the holder works.
            while self.locked.load(Ordering::Relaxed) {
                #[cfg(not(loom))]
                backoff.snooze();
                #[cfg(loom)]
                loom::thread::yield_now();
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Access to the locked value; unlocks on drop.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
    #[cfg(not(loom))]
    value: MutPtr<T>,
    /// `None` only inside `drop`: loom must see the access end before the
    /// unlock, or it would report the next holder's access as a race.
    #[cfg(loom)]
    value: Option<MutPtr<T>>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock, so
        // no other reference to the value exists; the pointer is into the
        // lock, which the guard borrows.
        #[cfg(not(loom))]
        unsafe {
            self.value.deref()
        }
        // SAFETY: as above.
        #[cfg(loom)]
        unsafe {
            self.value.as_ref().expect("guard in use").deref()
        }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` makes this the only borrow
        // through the guard.
        #[cfg(not(loom))]
        unsafe {
            self.value.deref()
        }
        // SAFETY: as above.
        #[cfg(loom)]
        unsafe {
            self.value.as_ref().expect("guard in use").deref()
        }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        #[cfg(loom)]
        drop(self.value.take());
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::SpinLock;
    use std::sync::Arc;

    #[test]
    fn increments_from_many_threads_are_not_lost() {
        let counter = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        *counter.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*counter.lock(), 400_000);
    }
}
