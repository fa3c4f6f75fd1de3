//! A channel's two waiter queues and what its lock guards, and how a leaf
//! takes a partner from them: claim its perform, move the value between
//! the two slots, commit.

use std::collections::VecDeque;

use crate::channel::waiters::{Entry, QueueHead, QueueTail, WaiterQueue};
use crate::op::state::{Claim, OpState, TryClaim};
use crate::runtime::waker::WakeToken;
use crate::sync::SpinGuard;

/// Which end of the channel a leaf is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Send,
    Recv,
}

impl Side {
    /// The end whose parties match a leaf on this one.
    #[inline]
    pub(super) fn partner(self) -> Side {
        match self {
            Side::Send => Side::Recv,
            Side::Recv => Side::Send,
        }
    }
}

/// What the channel lock guards: the tails of the two queues, the buffer,
/// and whether each side is gone. The heads sit outside it (see
/// `QueueHead`).
pub(super) struct Queues<T> {
    pub(super) senders: QueueTail<T>,
    pub(super) receivers: QueueTail<T>,
    pub(super) buffer: VecDeque<T>,
    pub(super) senders_gone: bool,
    pub(super) receivers_gone: bool,
}

/// The heads of the two queues.
pub(super) struct Heads<T> {
    pub(super) senders: QueueHead<T>,
    pub(super) receivers: QueueHead<T>,
}

impl<T> Heads<T> {
    /// The head of `side`'s queue.
    #[inline]
    pub(super) fn of(&self, side: Side) -> &QueueHead<T> {
        match side {
            Side::Send => &self.senders,
            Side::Recv => &self.receivers,
        }
    }
}

/// A channel's queues while its lock is held; unlocks on drop.
pub(super) struct Locked<'a, T> {
    pub(super) heads: &'a Heads<T>,
    pub(super) guard: SpinGuard<'a, Queues<T>>,
}

impl<T> Locked<'_, T> {
    /// `side`'s queue.
    #[inline]
    pub(super) fn own(&mut self, side: Side) -> WaiterQueue<'_, T> {
        let tail = match side {
            Side::Send => &mut self.guard.senders,
            Side::Recv => &mut self.guard.receivers,
        };
        WaiterQueue::new(self.heads.of(side), tail)
    }

    /// The queue of parties that can match a leaf on `side`.
    #[inline]
    pub(super) fn partners(&mut self, side: Side) -> WaiterQueue<'_, T> {
        self.own(side.partner())
    }

    /// Whether any party waits to match a leaf on `side`.
    #[inline]
    pub(super) fn has_partners(&self, side: Side) -> bool {
        !self.heads.of(side.partner()).looks_empty()
    }

    /// No partner can ever come: a disconnected channel is ready (with an error).
    pub(super) fn partners_gone(&self, side: Side) -> bool {
        match side.partner() {
            Side::Send => self.guard.senders_gone,
            Side::Recv => self.guard.receivers_gone,
        }
    }
}

/// Moves the offered value from the sender's slot into the receiver's.
///
/// # Safety
///
/// Both pointers are live slots of performs that are registered on (or are
/// running against) this channel, and the caller holds the channel lock.
pub(super) unsafe fn transfer<T>(side: Side, mine: *mut Option<T>, theirs: *mut Option<T>) {
    let (from, to) = match side {
        Side::Send => (mine, theirs),
        Side::Recv => (theirs, mine),
    };
    // SAFETY: guaranteed by the caller.
    unsafe { *to = (*from).take() };
}

/// The perform behind a queued entry, to claim.
pub(super) struct Partner<'a> {
    op: &'a OpState,
    sole: bool,
}

impl<'a> Partner<'a> {
    /// The perform of `e`.
    ///
    /// # Safety
    ///
    /// `e` was read from one of this channel's queues under its lock, the
    /// caller holds the lock still while it uses the `Partner` (so the
    /// perform, which must take the lock to withdraw, is alive), and uses
    /// it no more once a claim of it commits (the owner may then return
    /// and free its state at once, lock or no lock).
    #[inline(always)]
    pub(super) unsafe fn of<T>(e: &Entry<T>) -> Self {
        Partner {
            // SAFETY: alive, by the caller's promise.
            op: unsafe { &*e.op },
            sole: e.sole,
        }
    }

    /// One claim attempt, for a party that holds a claim of its own.
    #[inline(always)]
    pub(super) fn try_claim(&self) -> TryClaim<'a> {
        if self.sole {
            // SAFETY: a sole perform is queued only here, and every party
            // that commits it does so under this lock, which we hold
            // (`Partner::of`'s contract).
            TryClaim::Claimed(unsafe { self.op.claim_sole() })
        } else {
            self.op.try_claim()
        }
    }

    /// A claim for a party that holds none of its own; `None`: committed
    /// already.
    #[inline(always)]
    pub(super) fn claim(&self) -> Option<Claim<'a>> {
        if self.sole {
            // SAFETY: as in `try_claim`.
            Some(unsafe { self.op.claim_sole() })
        } else {
            self.op.claim()
        }
    }
}

/// A partner that `take_partner` committed: its wake, unless it was a
/// fiber of this thread, woken already.
pub(super) type Taken = Option<WakeToken>;

/// Pops waiting partners until one can be claimed (dropping stale nodes of
/// performs committed elsewhere), moves the value between `mine` and its
/// slot, and commits it. `None` if no partner waits.
#[inline(always)]
pub(super) fn take_partner<T>(
    q: &mut Locked<'_, T>,
    side: Side,
    mine: *mut Option<T>,
) -> Option<Taken> {
    while let Some(e) = q.partners(side).pop_front() {
        // SAFETY: popped under the lock, which we hold until we return.
        let theirs = unsafe { Partner::of(&e) };
        if let Some(claim) = theirs.claim() {
            // SAFETY: `mine` is the caller's live slot; `e.slot` belongs to
            // that same live perform; we hold the lock.
            unsafe { transfer(side, mine, e.slot) };
            return Some(claim.commit(e.idx));
        }
    }
    None
}
