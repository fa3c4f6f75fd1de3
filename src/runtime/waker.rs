//! Who to wake when a perform commits: a fiber on some scheduler, or a
//! parked OS thread.
//!
//! This sits below both the operation protocol and the scheduler: the
//! protocol only asks for a `WakeToken` and calls `wake`; a fiber of this
//! thread's scheduler goes straight onto its run queue (`current`), one of
//! another scheduler through that scheduler's inbox (`Shared`).

use crate::sync::thread::{self, Thread};
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc; // the runtime is not model-checked; its Arc stays std under loom

use crate::runtime::current;
use crate::runtime::key::FiberKey;
use crate::runtime::Shared;

/// The party a blocked perform belongs to.
pub(crate) enum Waker {
    /// A fiber; `home` points into the `Arc<Shared>` of its scheduler, which
    /// outlives every fiber parked on it (the scheduler drops its fibers, and
    /// so unregisters their performs, before it drops `Shared`).
    Fiber {
        home: NonNull<Shared>,
        key: FiberKey,
    },
    /// A plain OS thread blocked in `perform`.
    Thread(Thread),
    /// Model checking only: counts wakes instead of delivering them.
    #[cfg(loom)]
    Count(crate::sync::Arc<crate::sync::AtomicUsize>),
}

// SAFETY: `home` is only dereferenced while the perform that owns this waker
// is registered somewhere (see `Waker::Fiber`), and `Shared` is `Sync`.
unsafe impl Send for Waker {}
// SAFETY: as above; `Waker` has no interior mutability of its own.
unsafe impl Sync for Waker {}

impl fmt::Debug for Waker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Waker::Fiber { key, .. } => f.debug_tuple("Fiber").field(key).finish(),
            Waker::Thread(_) => f.write_str("Thread"),
            #[cfg(loom)]
            Waker::Count(_) => f.write_str("Count"),
        }
    }
}

/// A wake that can be delivered after the locks that found it are released.
#[derive(Debug)]
pub(crate) enum WakeToken {
    /// A fiber on another scheduler: goes through its inbox.
    Remote(Arc<Shared>, FiberKey),
    /// A plain thread.
    Thread(Thread),
    /// Model checking only.
    #[cfg(loom)]
    Count(crate::sync::Arc<crate::sync::AtomicUsize>),
}

impl Waker {
    /// The waker for whoever is running now. Inlined, with the thread case
    /// out of line: every blocking perform calls this, and the fiber case
    /// is a few loads.
    #[inline]
    pub(crate) fn current() -> Waker {
        match current::current_fiber() {
            Some((home, key)) => Waker::Fiber { home, key },
            None => Waker::current_thread(),
        }
    }

    #[cold]
    #[inline(never)]
    fn current_thread() -> Waker {
        Waker::Thread(thread::current())
    }

    /// Wakes the owner now if it is a fiber of this thread's scheduler;
    /// otherwise makes the token that wakes it. Called while the perform
    /// is still registered.
    #[inline]
    pub(crate) fn wake_here_or_token(&self) -> Option<WakeToken> {
        match self {
            Waker::Fiber { home, key } => {
                if current::wake_if_local(*home, *key) {
                    return None;
                }
                // SAFETY: the perform owning this waker is still registered,
                // so its scheduler's `Arc<Shared>` is alive (see
                // `Waker::Fiber`); we add one strong count for the token
                // before anything can drop it.
                let shared = unsafe {
                    Arc::increment_strong_count(home.as_ptr());
                    Arc::from_raw(home.as_ptr())
                };
                Some(WakeToken::Remote(shared, *key))
            }
            Waker::Thread(t) => Some(WakeToken::Thread(t.clone())),
            #[cfg(loom)]
            Waker::Count(c) => Some(WakeToken::Count(c.clone())),
        }
    }
}

impl WakeToken {
    /// Delivers the wake. Out of line: a same-thread fiber never gets a
    /// token (see `Waker::wake_here_or_token`).
    #[inline(never)]
    pub(crate) fn wake(self) {
        match self {
            WakeToken::Remote(shared, key) => shared.wake_remote(key),
            WakeToken::Thread(t) => t.unpark(),
            #[cfg(loom)]
            WakeToken::Count(c) => {
                c.fetch_add(1, crate::sync::Ordering::SeqCst);
            }
        }
    }
}
