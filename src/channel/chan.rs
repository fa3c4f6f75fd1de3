//! The shared core of a channel: two waiter queues and a buffer under one
//! lock, matching by the op-state protocol, and disconnection.
//!
//! One core serves every flavour: a capacity of 0 is the rendezvous (the
//! buffer stays empty), `UNBOUNDED` never fills. Two invariants keep the
//! order of values FIFO: receivers wait only while the buffer is empty
//! (so a sender hands its value straight to a waiting receiver), and
//! senders wait only while it is full (so a receiver that takes from the
//! buffer refills it from the first waiting sender).
//!
//! The lock is a spin lock (see `crate::sync::SpinLock`): it is held only
//! to push, pop or scan entries, and to wake a partner that is a fiber of
//! this thread (a push on its run queue). Other wakes, which may take a
//! lock or a system call, wait until it is released; no fiber switches
//! while it is held.
//!
//! Every waiter is a node in a blocked perform's frame (see `waiters`) and
//! points at a slot there: for a sender, the value it offers; for a
//! receiver, where the value goes. Nodes and the slots behind them are
//! touched only under the channel lock, and a perform unlinks its nodes
//! under that lock before its frame ends.

mod buffer;
mod queues;

use std::collections::VecDeque;
use std::fmt;
use std::ptr;

use super::waiters::{Entry, QueueHead, QueueTail, Waiter};
use crate::op::leaf::{commit_own, RegisterCx, Registered};
use crate::op::state::{OpState, TryClaim};
use crate::runtime::site::Site;
use crate::sync::{spin_loop, AtomicU8, AtomicUsize, Ordering, SpinLock};
use buffer::{take_offered, RECV_READY, SEND_READY};
pub(crate) use queues::Side;
use queues::{take_partner, transfer, Heads, Locked, Partner, Queues};

/// The capacity of an unbounded channel.
pub(crate) const UNBOUNDED: usize = usize::MAX;

/// Buffers start with room for at most this many values, and grow (up to
/// their capacity) when they must.
const INITIAL_ROOM: usize = 1024;

/// The shared state of one channel.
pub(crate) struct Chan<T> {
    queues: SpinLock<Queues<T>>,
    heads: Heads<T>,
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
    /// How many values the buffer holds at most: 0 for a rendezvous,
    /// `UNBOUNDED` for no limit.
    cap: usize,
    /// The buffer's length, mirrored outside the lock for `len`.
    len: AtomicUsize,
    /// What the buffer can serve, mirrored outside the lock for
    /// `may_complete`: `RECV_READY` while it holds a value, `SEND_READY`
    /// while it has room. Always 0 for a rendezvous channel.
    serves: AtomicU8,
    /// Where it was made, for dumps.
    created: Site,
}

// SAFETY: values of `T` move between threads through the slots, hence
// `T: Send`; the raw pointers in the queues are only used under the lock
// while their performs are registered (see the module docs).
unsafe impl<T: Send> Send for Chan<T> {}
// SAFETY: as for `Send`; all shared mutation is under the lock or atomic.
unsafe impl<T: Send> Sync for Chan<T> {}

impl<T> fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chan")
            .field("senders", &self.senders.load(Ordering::Relaxed))
            .field("receivers", &self.receivers.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T> Chan<T> {
    /// A channel with one sender and one receiver that buffers up to
    /// `cap` values, made at `created`.
    pub(crate) fn new(cap: usize, created: Site) -> Self {
        Chan {
            queues: SpinLock::new(Queues {
                senders: QueueTail::default(),
                receivers: QueueTail::default(),
                buffer: VecDeque::with_capacity(cap.min(INITIAL_ROOM)),
                senders_gone: false,
                receivers_gone: false,
            }),
            heads: Heads {
                senders: QueueHead::default(),
                receivers: QueueHead::default(),
            },
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            cap,
            len: AtomicUsize::new(0),
            serves: AtomicU8::new(if cap == 0 { 0 } else { SEND_READY }),
            created,
        }
    }

    /// How many values the buffer holds at most (`UNBOUNDED`: no limit).
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// How many values the buffer holds now.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Locks the channel.
    #[inline]
    fn lock(&self) -> Locked<'_, T> {
        Locked {
            heads: &self.heads,
            guard: self.queues.lock(),
        }
    }

    /// What a leaf on `side` waits for: `recv on channel@0x... (created
    /// at src/hub.rs:12:20)`.
    pub(crate) fn describe(&self, side: Side, out: &mut String) {
        use std::fmt::Write;
        let verb = match side {
            Side::Send => "send",
            Side::Recv => "recv",
        };
        let _ = write!(
            out,
            "{verb} on channel@{self:p} (created at {})",
            self.created
        );
    }

    /// False if a leaf on `side` would find nobody now, learnt without
    /// the lock from the partners' queue head and count: a choice asks
    /// this of every leaf, then tries only those that may complete. A
    /// partner that comes right after this look is missed, as it would be
    /// if it came right after a try. (`||`, not `|`: the branch lets the
    /// predictor run past the second load instead of waiting on it.)
    #[inline]
    pub(crate) fn may_complete(&self, side: Side) -> bool {
        let partner = side.partner();
        let serves = match side {
            Side::Send => SEND_READY,
            Side::Recv => RECV_READY,
        };
        !self.heads.of(partner).looks_empty()
            || self.handles(partner).load(Ordering::Relaxed) == 0
            || self.serves.load(Ordering::Relaxed) & serves != 0
    }

    /// How many handles of `side` are alive.
    #[inline]
    fn handles(&self, side: Side) -> &AtomicUsize {
        match side {
            Side::Send => &self.senders,
            Side::Recv => &self.receivers,
        }
    }

    /// Fast path: commits now if a partner waits (transferring the value),
    /// the buffer can serve, or the other side is gone (leaving the slots
    /// as they are).
    #[inline]
    pub(crate) fn try_now(&self, side: Side, mine: *mut Option<T>) -> bool {
        if self.cap != 0 {
            return self.try_now_buffered(side, mine);
        }
        self.try_now_in::<false>(side, mine)
    }

    #[inline(never)]
    fn try_now_buffered(&self, side: Side, mine: *mut Option<T>) -> bool {
        self.try_now_in::<true>(side, mine)
    }

    #[inline(always)]
    fn try_now_in<const B: bool>(&self, side: Side, mine: *mut Option<T>) -> bool {
        let mut q = self.lock();
        if Self::buffered_for::<B>(&q, side) {
            return self.pop_now(q, mine);
        }
        if !q.has_partners(side) {
            return self.settle_alone::<B>(&mut q, side, mine);
        }
        self.take_now::<B>(q, side, mine)
    }

    /// `try_now` when partners are queued. Out of line, so that a choice's
    /// misses (most of its `try_now` calls) skip the frame that the match
    /// and the wake need.
    #[inline(never)]
    fn take_now<const B: bool>(
        &self,
        mut q: Locked<'_, T>,
        side: Side,
        mine: *mut Option<T>,
    ) -> bool {
        if let Some(taken) = take_partner(&mut q, side, mine) {
            drop(q);
            if let Some(token) = taken {
                token.wake();
            }
            return true;
        }
        self.settle_alone::<B>(&mut q, side, mine)
    }

    /// `try_now` and `register` under one lock, for a perform whose only
    /// leaf this is. Its `OpState` is not published anywhere yet, so nobody
    /// else can commit it: matching a partner needs no claim of our own.
    /// Queued without a timer (`deadline` is `None`), it is sole.
    #[inline(always)]
    pub(crate) fn try_or_register(
        &self,
        side: Side,
        mine: *mut Option<T>,
        waiter: &Waiter<T>,
        cx: &RegisterCx<'_>,
        idx: usize,
    ) -> Registered {
        // The context's parts, not the context: passed on by reference to
        // the buffered path, out of line, it would be reloaded after the
        // call, and a perform's timer handling no longer folded away.
        let (op, sole) = (cx.op, cx.deadline.is_none());
        if self.cap != 0 {
            return self.try_or_register_buffered(side, mine, waiter, op, sole, idx);
        }
        self.try_or_register_in::<false>(side, mine, waiter, op, sole, idx)
    }

    #[inline(never)]
    fn try_or_register_buffered(
        &self,
        side: Side,
        mine: *mut Option<T>,
        waiter: &Waiter<T>,
        op: &OpState,
        sole: bool,
        idx: usize,
    ) -> Registered {
        self.try_or_register_in::<true>(side, mine, waiter, op, sole, idx)
    }

    #[inline(always)]
    fn try_or_register_in<const B: bool>(
        &self,
        side: Side,
        mine: *mut Option<T>,
        waiter: &Waiter<T>,
        op: &OpState,
        sole: bool,
        idx: usize,
    ) -> Registered {
        let mut q = self.lock();
        if Self::buffered_for::<B>(&q, side) {
            self.pop_now(q, mine);
            return Registered::Committed;
        }
        if let Some(taken) = take_partner(&mut q, side, mine) {
            drop(q);
            if let Some(token) = taken {
                token.wake();
            }
            return Registered::Committed;
        }
        if self.settle_alone::<B>(&mut q, side, mine) {
            return Registered::Committed;
        }
        let entry = Entry {
            op,
            idx,
            slot: mine,
            sole,
        };
        // SAFETY: the caller's perform keeps `waiter` in place until it is
        // unlinked (see `Waiter`); we hold the lock.
        unsafe { q.own(side).push_back(waiter, entry) };
        Registered::Waiting
    }

    /// Registers a leaf of the perform `cx.op`, matching a waiting partner
    /// at once if there is one (claiming both performs, ours first).
    #[inline]
    pub(crate) fn register(
        &self,
        side: Side,
        mine: *mut Option<T>,
        waiter: &Waiter<T>,
        cx: &mut RegisterCx<'_>,
        idx: usize,
    ) -> Registered {
        if self.cap != 0 {
            return self.register_buffered(side, mine, waiter, cx.op, idx);
        }
        self.register_in::<false>(side, mine, waiter, cx.op, idx)
    }

    #[inline(never)]
    fn register_buffered(
        &self,
        side: Side,
        mine: *mut Option<T>,
        waiter: &Waiter<T>,
        own: &OpState,
        idx: usize,
    ) -> Registered {
        self.register_in::<true>(side, mine, waiter, own, idx)
    }

    #[inline(always)]
    fn register_in<const B: bool>(
        &self,
        side: Side,
        mine: *mut Option<T>,
        waiter: &Waiter<T>,
        own: &OpState,
        idx: usize,
    ) -> Registered {
        let mut q = self.lock();
        if Self::buffered_for::<B>(&q, side) {
            let TryClaim::Claimed(my_claim) = own.try_claim() else {
                // Busy: another party holds the claim and will commit it.
                return Registered::CommittedByOther;
            };
            let value = q.guard.buffer.pop_front();
            // SAFETY: `mine` is the caller's live slot; we hold the lock.
            unsafe { *mine = value };
            my_claim.commit_own(idx);
            // Committed first: the refill claims a sender holding no claim.
            let taken = self.refill(&mut q);
            drop(q);
            if let Some(token) = taken {
                token.wake();
            }
            return Registered::Committed;
        }
        let mut cur = q.partners(side).front();
        while !cur.is_null() {
            // SAFETY: a linked node, lock held (see `take_partner`).
            let (e, next) = unsafe { ((*cur).entry(), (*cur).next()) };
            if ptr::eq(e.op, own) {
                cur = next; // never match a choice against itself
                continue;
            }
            let my_claim = match own.try_claim() {
                TryClaim::Claimed(c) => c,
                TryClaim::Synced | TryClaim::Busy => return Registered::CommittedByOther,
            };
            // SAFETY: read under the lock, which we hold until we return.
            let theirs = unsafe { Partner::of(&e) };
            match theirs.try_claim() {
                TryClaim::Claimed(their_claim) => {
                    // SAFETY: both slots are live (ours in the caller's frame,
                    // theirs registered) and we hold the lock.
                    unsafe {
                        transfer(side, mine, e.slot);
                        q.partners(side).unlink(cur);
                    }
                    let taken = their_claim.commit(e.idx);
                    my_claim.commit_own(idx);
                    drop(q);
                    if let Some(token) = taken {
                        token.wake();
                    }
                    return Registered::Committed;
                }
                TryClaim::Synced => {
                    my_claim.release();
                    // SAFETY: linked in this queue, lock held.
                    unsafe { q.partners(side).unlink(cur) };
                    cur = next;
                }
                TryClaim::Busy => {
                    // The partner is mid-commit (maybe claiming us): step back
                    // so neither waits on the other, then look again.
                    my_claim.release();
                    spin_loop();
                }
            }
        }
        if q.partners_gone(side) {
            drop(q);
            return commit_own(own, idx);
        }
        if B && side == Side::Send && q.guard.buffer.len() < self.cap {
            let TryClaim::Claimed(my_claim) = own.try_claim() else {
                return Registered::CommittedByOther;
            };
            // SAFETY: `mine` is the caller's live slot; we hold the lock.
            let value = unsafe { take_offered(mine) };
            self.push(&mut q, value);
            my_claim.commit_own(idx);
            return Registered::Committed;
        }
        let entry = Entry {
            op: own,
            idx,
            slot: mine,
            sole: false,
        };
        // SAFETY: as in `try_or_register`.
        unsafe { q.own(side).push_back(waiter, entry) };
        Registered::Waiting
    }

    /// Withdraws `waiter` from `side`'s queue, unless a partner that
    /// committed its perform already did.
    pub(crate) fn unregister(&self, side: Side, waiter: &Waiter<T>) {
        let mut q = self.lock();
        // SAFETY: the caller's leaf owns `waiter`, which is linked (if at
        // all) in its own side's queue; we hold the lock.
        unsafe { q.own(side).unlink(waiter) };
    }

    /// The last handle of `side` is gone: release every waiter of the other
    /// side with an error (senders keep their value, receivers get none).
    /// When the receivers are gone, the buffered values are dropped, after
    /// the lock is released (a value's drop may use this channel).
    pub(crate) fn disconnect(&self, side: Side) {
        let mut q = self.lock();
        let mut dropped = VecDeque::new();
        match side {
            Side::Send => q.guard.senders_gone = true,
            Side::Recv => {
                q.guard.receivers_gone = true;
                dropped = std::mem::take(&mut q.guard.buffer);
                self.mirror(&q);
            }
        }
        while let Some(e) = q.partners(side).pop_front() {
            // SAFETY: popped under the lock, which we hold until we return.
            let theirs = unsafe { Partner::of(&e) };
            if let Some(claim) = theirs.claim() {
                if let Some(token) = claim.commit(e.idx) {
                    token.wake();
                }
            }
        }
        drop(q);
        drop(dropped);
    }
}
