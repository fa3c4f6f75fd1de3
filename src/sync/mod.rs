//! The one source of atomics, locks, `UnsafeCell` and `Arc`: `std`
//! normally, `loom` under `--cfg loom`.
//!
//! Lock-free code imports only from here so the model checker in
//! `loom-tests/` sees every synchronising access. The bottom layer: it
//! imports nothing else of the crate.

pub(crate) mod cell;
mod spin_lock;

pub(crate) use cell::UnsafeCell;
pub(crate) use spin_lock::{SpinGuard, SpinLock};

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

/// Parking for OS threads blocked in `perform` (loom's under `--cfg loom`).
pub(crate) mod thread {
    #[cfg(not(loom))]
    pub(crate) use std::thread::{current, park, park_timeout, Thread};

    #[cfg(loom)]
    pub(crate) use loom::thread::{current, park, Thread};

    /// loom has no clock: a timed park is a spurious wakeup, which every
    /// caller tolerates (it re-checks its condition and the time).
    #[cfg(loom)]
    pub(crate) fn park_timeout(_: std::time::Duration) {
        loom::thread::yield_now();
    }
}

/// Tells the CPU (or loom's scheduler) that this thread is waiting for another.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Locks `m`, ignoring poisoning: every critical section in this crate leaves
/// its data consistent before anything that can panic runs.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(loom))]
    {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
}
