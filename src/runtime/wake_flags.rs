//! The no-lost-wakeup handshake between a scheduler going to sleep and a
//! thread handing it work, kept apart from the poller so loom can check it.
//!
//! A waker publishes `pending` then reads `sleeping`; the scheduler
//! publishes `sleeping` then reads `pending`. A SeqCst fence sits between
//! each side's store and its load (the C++/Rust formulation of Dekker's
//! handshake, which loom also checks), so in every interleaving at least one
//! side sees the other's store: either the waker notifies (and `notify` is
//! sticky, so it wakes a sleep that starts later), or the scheduler sees the
//! work and does not sleep.

// `pub` so `__loom` can re-export it under `--cfg loom`; crate-private otherwise.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use crate::sync::{fence, AtomicBool, Ordering};

/// Two flags shared by a scheduler and the threads that wake it.
#[derive(Debug, Default)]
pub struct WakeFlags {
    pending: AtomicBool,
    sleeping: AtomicBool,
}

impl WakeFlags {
    /// A waker has queued work. Returns true when it must notify the
    /// scheduler's wake FD (the scheduler may be asleep).
    pub fn announce(&self) -> bool {
        self.pending.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.sleeping.load(Ordering::SeqCst)
    }

    /// Forces the next check to see work (used to stop a scheduler).
    pub fn raise(&self) {
        self.pending.store(true, Ordering::SeqCst);
    }

    /// Cheap check before each pick.
    #[inline]
    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// The scheduler is about to take the queued work; anything queued after
    /// this raises the flag again.
    pub fn take(&self) {
        self.pending.store(false, Ordering::SeqCst);
    }

    /// The scheduler wants to sleep. Returns true when it may block (no work
    /// was queued before it announced itself asleep); it must call
    /// [`woke`](Self::woke) afterwards either way.
    pub fn prepare_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        !self.pending.load(Ordering::SeqCst)
    }

    /// Whether the scheduler sleeps (or is about to), for the stall
    /// watchdog.
    pub fn is_sleeping(&self) -> bool {
        self.sleeping.load(Ordering::Relaxed)
    }

    /// The scheduler is awake again.
    pub fn woke(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }
}
