//! The commit point of one perform: an atomic WAITING → CLAIMED → SYNCED state.
//!
//! This is the Parallel CML protocol (Reppy, Russo, Xiao, ICFP 2009). Every
//! perform that blocks publishes one `OpState`; every party that wants to
//! complete it (a channel partner, a timer, a signal, a disconnect) must first
//! move it from WAITING to CLAIMED with one compare-and-swap, so exactly one
//! party ever commits it. (A sole perform, which only the holders of one
//! lock can commit, is claimed without it: see `claim_sole`.) CLAIMED is
//! held only for a few instructions, never across a lock acquisition, so a
//! party that holds no claim of its own may spin on it; a party that holds
//! its own state CLAIMED must not (two such parties would wait on each
//! other), so it backs off instead.

use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::runtime::waker::{WakeToken, Waker};
use crate::sync::{spin_loop, AtomicU8, AtomicUsize, Ordering};

const WAITING: u8 = 0;
const CLAIMED: u8 = 1;
const SYNCED: u8 = 2;

/// The shared state of one blocked perform (hidden API: named by `Leaf`). Lives on the performer's stack;
/// every reference to it from a queue is removed before that frame ends.
#[derive(Debug)]
pub struct OpState {
    state: AtomicU8,
    winner: AtomicUsize,
    waker: Waker,
}

/// What a claim attempt found.
#[derive(Debug)]
pub(crate) enum TryClaim<'a> {
    /// We hold the claim and must commit or release it.
    Claimed(Claim<'a>),
    /// Another party committed this perform already.
    Synced,
    /// Another party holds the claim right now.
    Busy,
}

impl OpState {
    pub(crate) fn new(waker: Waker) -> Self {
        OpState {
            state: AtomicU8::new(WAITING),
            winner: AtomicUsize::new(usize::MAX),
            waker,
        }
    }

    /// True once some party has committed this perform; the winner is then readable.
    #[inline]
    pub(crate) fn is_synced(&self) -> bool {
        self.state.load(Ordering::Acquire) == SYNCED
    }

    /// The index of the leaf that committed; meaningful only after `is_synced`.
    #[inline]
    pub(crate) fn winner(&self) -> usize {
        self.winner.load(Ordering::Acquire)
    }

    /// One claim attempt, for a party that holds a claim of its own.
    #[inline]
    pub(crate) fn try_claim(&self) -> TryClaim<'_> {
        match self
            .state
            .compare_exchange(WAITING, CLAIMED, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => TryClaim::Claimed(Claim::new(self)),
            Err(SYNCED) => TryClaim::Synced,
            Err(_) => TryClaim::Busy,
        }
    }

    /// Claims a perform that only the caller can commit now, without a
    /// compare-and-swap: a perform registered in one queue alone, with no
    /// timer, is committed only by a holder of that queue's lock, and a
    /// holder never leaves it CLAIMED. So while the caller holds the lock,
    /// nobody else can claim it. (One locked instruction fewer per
    /// rendezvous.)
    ///
    /// # Safety
    ///
    /// The perform is registered in one queue and nowhere else, has no
    /// timer, is still queued there, and every party that may claim it does
    /// so under that queue's lock, which the caller holds.
    #[inline]
    pub(crate) unsafe fn claim_sole(&self) -> Claim<'_> {
        debug_assert_eq!(self.state.load(Ordering::Relaxed), WAITING);
        Claim::new(self)
    }

    /// Claims the state for a party that holds no claim of its own, waiting
    /// out a short claim held by someone else. `None`: already committed.
    #[inline]
    pub(crate) fn claim(&self) -> Option<Claim<'_>> {
        loop {
            match self.try_claim() {
                TryClaim::Claimed(c) => return Some(c),
                TryClaim::Synced => return None,
                TryClaim::Busy => spin_loop(),
            }
        }
    }
}

/// Exclusive right to commit one `OpState`. Dropping it without committing
/// puts the state back to WAITING, so nobody is left waiting on a lost claim.
#[derive(Debug)]
#[must_use = "a claim must be committed or released"]
pub(crate) struct Claim<'a> {
    /// A pointer, not a `&'a OpState`: once `finish` stores SYNCED, the
    /// owner may return and free the state while `finish` (and `commit`)
    /// still run, and a reference held by a running call, as an argument
    /// or in one, promises that it stays allocated until the call returns
    /// (Miri reports the free as undefined behaviour).
    op: NonNull<OpState>,
    _state: PhantomData<&'a OpState>,
}

impl<'a> Claim<'a> {
    #[inline(always)]
    fn new(op: &'a OpState) -> Self {
        Claim {
            op: NonNull::from(op),
            _state: PhantomData,
        }
    }

    /// The claimed state, while the claim lasts.
    #[inline(always)]
    fn state(&self) -> &OpState {
        // SAFETY: a claimed state is not SYNCED, so its owner is still
        // waiting and keeps it alive (see `finish`).
        unsafe { self.op.as_ref() }
    }

    /// Commits the perform to leaf `idx` on behalf of another party. An
    /// owner that is a fiber of this thread's scheduler is woken at once (a
    /// push on its run queue, fine under a channel lock: it cannot run
    /// before this thread switches fibers), so the common rendezvous builds
    /// no token. Any other owner's wake comes back, to deliver once the
    /// caller's locks are released; it is taken before the state turns
    /// SYNCED, after which the owner may return and free it.
    #[inline(always)]
    pub(crate) fn commit(self, idx: usize) -> Option<WakeToken> {
        let token = self.state().waker.wake_here_or_token();
        self.finish(idx);
        token
    }

    /// Commits our own perform to leaf `idx`; nobody needs waking.
    #[inline]
    pub(crate) fn commit_own(self, idx: usize) {
        self.finish(idx);
    }

    /// Gives the claim back, leaving the perform WAITING.
    #[inline]
    pub(crate) fn release(self) {
        drop(self);
    }

    #[inline(always)]
    fn finish(self, idx: usize) {
        let op = self.op.as_ptr();
        std::mem::forget(self);
        // SAFETY: the state is alive until SYNCED is stored, since its
        // owner frees it only once it sees SYNCED. Each store goes through
        // a reference to its atomic alone, which asserts nothing about the
        // state's other fields once the owner may free them.
        unsafe {
            (*op).winner.store(idx, Ordering::Relaxed);
            (*op).state.store(SYNCED, Ordering::Release);
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.state().state.store(WAITING, Ordering::Release);
    }
}
