//! A one-shot broadcast: once fired, every waiter (now and later) is ready.
//! The building block of `Condition` and `Nack`.

use std::fmt;
use std::ops::Deref;

use crate::op::leaf::{commit_own, Leaf, RegisterCx, Registered};
use crate::op::state::OpState;
use crate::runtime::site::Site;
use crate::sync::{AtomicBool, Ordering, SpinLock};

struct Waiter {
    op: *const OpState,
    idx: usize,
}

/// The waiters of a signal. Most signals (a fiber's completion) have one
/// waiter, which is kept inline so that waiting does not allocate.
#[derive(Default)]
struct Waiters {
    first: Option<Waiter>,
    rest: Vec<Waiter>,
}

impl Waiter {
    /// Commits the waiting perform to this leaf, if nobody did, and wakes it.
    /// Called under the signal's lock, with the waiter just taken out of it.
    fn commit_and_wake(self) {
        // SAFETY: the waiter was in the list until the caller, holding the
        // lock, took it out; its perform cannot withdraw without that lock,
        // so its `OpState` is alive.
        let op = unsafe { &*self.op };
        if let Some(claim) = op.claim() {
            if let Some(token) = claim.commit(self.idx) {
                token.wake();
            }
        }
    }
}

impl Waiters {
    fn push(&mut self, w: Waiter) {
        match self.first {
            None => self.first = Some(w),
            Some(_) => self.rest.push(w),
        }
    }

    /// Removes the waiters of perform `op`.
    fn remove(&mut self, op: &OpState) {
        self.rest.retain(|w| !std::ptr::eq(w.op, op));
        if self.first.as_ref().is_some_and(|w| std::ptr::eq(w.op, op)) {
            self.first = (!self.rest.is_empty()).then(|| self.rest.remove(0));
        }
    }
}

/// A one-shot, thread-safe broadcast event.
pub(crate) struct Signal {
    fired: AtomicBool,
    /// Held to push or remove an entry, and by `fire` while it commits and
    /// wakes the waiters. Wakes stay inside: collecting the tokens to wake
    /// them after releasing it runs fewer instructions but is slower where
    /// it matters (skynet, spawn+join), as the extra pass over memory costs
    /// more than the shorter hold saves.
    waiters: SpinLock<Waiters>,
    /// What it is (`condition`, `nack`) and where it was made, for dumps.
    what: &'static str,
    created: Option<Site>,
}

// SAFETY: the raw `OpState` pointers in `waiters` are only dereferenced under
// the `waiters` lock, and every perform removes its entries (under that lock)
// before its frame ends; `OpState` itself is `Sync`.
unsafe impl Send for Signal {}
// SAFETY: see `Send`; all shared mutation goes through the lock or atomics.
unsafe impl Sync for Signal {}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("fired", &self.is_fired())
            .finish()
    }
}

impl Signal {
    /// A signal not fired yet: a `what` (made at `created`).
    pub(crate) fn new(what: &'static str, created: Option<Site>) -> Self {
        Signal {
            fired: AtomicBool::new(false),
            waiters: SpinLock::new(Waiters::default()),
            what,
            created,
        }
    }

    pub(crate) fn is_fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    /// Fires the signal, waking every waiter. `true` only for the first call.
    pub(crate) fn fire(&self) -> bool {
        let mut waiters = self.waiters.lock();
        if self.fired.load(Ordering::Relaxed) {
            return false;
        }
        self.fired.store(true, Ordering::Release);
        // The lone waiter first, and the rest only if there are any: a
        // chained iterator over both would cost every join a loop.
        if let Some(w) = waiters.first.take() {
            w.commit_and_wake();
            if !waiters.rest.is_empty() {
                waiters.rest.drain(..).for_each(Waiter::commit_and_wake);
            }
        }
        true
    }
}

/// The leaf that waits for a signal; generic over how the signal is held
/// (borrowed by `Condition::wait_op`, shared by `Nack`).
pub(crate) struct SignalWait<S> {
    pub(crate) signal: S,
}

impl<S> fmt::Debug for SignalWait<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignalWait")
    }
}

impl<S: Deref<Target = Signal>> Leaf for SignalWait<S> {
    fn try_now(&mut self) -> bool {
        self.signal.is_fired()
    }

    fn may_complete(&self) -> bool {
        self.signal.is_fired()
    }

    fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
        let mut waiters = self.signal.waiters.lock();
        if self.signal.fired.load(Ordering::Relaxed) {
            drop(waiters);
            return commit_own(cx.op, idx);
        }
        waiters.push(Waiter { op: cx.op, idx });
        Registered::Waiting
    }

    fn unregister(&mut self, op: &OpState) {
        let mut waiters = self.signal.waiters.lock();
        waiters.remove(op);
    }

    fn describe(&self, out: &mut String) {
        use std::fmt::Write;
        let signal: &Signal = &self.signal;
        let _ = write!(out, "{}@{:p}", signal.what, signal);
        if let Some(at) = signal.created {
            let _ = write!(out, " (created at {at})");
        }
    }
}
