//! The shared core of a channel: two waiter queues under one lock, matching
//! by the op-state protocol, and disconnection.
//!
//! The lock is a spin lock (see `crate::sync::SpinLock`): it is held only
//! to push, pop or scan entries, never across a wake or a fiber switch.
//!
//! Every waiter entry points at a slot in a blocked perform's frame: for a
//! sender, the value it offers; for a receiver, where the value goes. Entries
//! (and the slots behind them) are touched only under the channel lock, and
//! a perform removes its entries under that lock before its frame ends.

use std::collections::VecDeque;
use std::fmt;

use crate::op::leaf::{commit_own, RegisterCx, Registered, WakeTokenBox};
use crate::op::state::{OpState, TryClaim};
use crate::sync::{spin_loop, AtomicUsize, Ordering, SpinLock};
use crate::waker::WakeToken;

/// Which end of the channel a leaf is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Send,
    Recv,
}

struct Entry<T> {
    op: *const OpState,
    idx: usize,
    slot: *mut Option<T>,
}

struct Queues<T> {
    senders: VecDeque<Entry<T>>,
    receivers: VecDeque<Entry<T>>,
    senders_gone: bool,
    receivers_gone: bool,
}

impl<T> Queues<T> {
    /// The queue of parties that can match a leaf on `side`.
    fn partners(&mut self, side: Side) -> &mut VecDeque<Entry<T>> {
        match side {
            Side::Send => &mut self.receivers,
            Side::Recv => &mut self.senders,
        }
    }

    fn own(&mut self, side: Side) -> &mut VecDeque<Entry<T>> {
        match side {
            Side::Send => &mut self.senders,
            Side::Recv => &mut self.receivers,
        }
    }

    /// No partner can ever come: a disconnected channel is ready (with an error).
    fn partners_gone(&self, side: Side) -> bool {
        match side {
            Side::Send => self.receivers_gone,
            Side::Recv => self.senders_gone,
        }
    }
}

/// Moves the offered value from the sender's slot into the receiver's.
///
/// # Safety
///
/// Both pointers are live slots of performs that are registered on (or are
/// running against) this channel, and the caller holds the channel lock.
unsafe fn transfer<T>(side: Side, mine: *mut Option<T>, theirs: *mut Option<T>) {
    let (from, to) = match side {
        Side::Send => (mine, theirs),
        Side::Recv => (theirs, mine),
    };
    // SAFETY: guaranteed by the caller.
    unsafe { *to = (*from).take() };
}

/// Pops waiting partners until one can be claimed (dropping stale entries
/// of performs committed elsewhere), moves the value between `mine` and its
/// slot, and commits it. Returns the token that wakes it.
fn take_partner<T>(q: &mut Queues<T>, side: Side, mine: *mut Option<T>) -> Option<WakeToken> {
    while let Some(e) = q.partners(side).pop_front() {
        // SAFETY: the entry was in the queue and we hold the lock, so its
        // perform is registered and its `OpState` alive.
        let theirs = unsafe { &*e.op };
        if let Some(claim) = theirs.claim() {
            // SAFETY: `mine` is the caller's live slot; `e.slot` belongs
            // to a registered perform; we hold the lock.
            unsafe { transfer(side, mine, e.slot) };
            return Some(claim.commit(e.idx));
        }
    }
    None
}

/// The shared state of one channel.
pub(crate) struct Chan<T> {
    queues: SpinLock<Queues<T>>,
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
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
    pub(crate) fn new() -> Self {
        Chan {
            queues: SpinLock::new(Queues {
                senders: VecDeque::new(),
                receivers: VecDeque::new(),
                senders_gone: false,
                receivers_gone: false,
            }),
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        }
    }

    /// Fast path: commits now if a partner waits (transferring the value) or
    /// the other side is gone (leaving the slots as they are).
    pub(crate) fn try_now(&self, side: Side, mine: *mut Option<T>) -> bool {
        let mut q = self.queues.lock();
        if let Some(token) = take_partner(&mut q, side, mine) {
            drop(q);
            token.wake();
            return true;
        }
        q.partners_gone(side)
    }

    /// `try_now` and `register` under one lock, for a perform whose only
    /// leaf this is. Its `OpState` is not published anywhere yet, so nobody
    /// else can commit it: matching a partner needs no claim of our own.
    pub(crate) fn try_or_register(
        &self,
        side: Side,
        mine: *mut Option<T>,
        op: &OpState,
        idx: usize,
    ) -> Registered {
        let mut q = self.queues.lock();
        if let Some(token) = take_partner(&mut q, side, mine) {
            drop(q);
            return Registered::Committed(Some(WakeTokenBox(token)));
        }
        if q.partners_gone(side) {
            return Registered::Committed(None);
        }
        q.own(side).push_back(Entry {
            op,
            idx,
            slot: mine,
        });
        Registered::Waiting
    }

    /// Registers a leaf of the perform `cx.op`, matching a waiting partner
    /// at once if there is one (claiming both performs, ours first).
    pub(crate) fn register(
        &self,
        side: Side,
        mine: *mut Option<T>,
        cx: &mut RegisterCx<'_>,
        idx: usize,
    ) -> Registered {
        let own = cx.op;
        let mut q = self.queues.lock();
        let mut i = 0;
        while i < q.partners(side).len() {
            let e = &q.partners(side)[i];
            if std::ptr::eq(e.op, own) {
                i += 1; // never match a choice against itself
                continue;
            }
            let (op, e_idx, e_slot) = (e.op, e.idx, e.slot);
            let my_claim = match own.try_claim() {
                TryClaim::Claimed(c) => c,
                TryClaim::Synced | TryClaim::Busy => return Registered::CommittedByOther,
            };
            // SAFETY: the entry is queued and we hold the lock (see try_now).
            let theirs = unsafe { &*op };
            match theirs.try_claim() {
                TryClaim::Claimed(their_claim) => {
                    // SAFETY: both slots are live (ours in the caller's frame,
                    // theirs registered) and we hold the lock.
                    unsafe { transfer(side, mine, e_slot) };
                    q.partners(side).remove(i);
                    let token = their_claim.commit(e_idx);
                    my_claim.commit_own(idx);
                    return Registered::Committed(Some(WakeTokenBox(token)));
                }
                TryClaim::Synced => {
                    my_claim.release();
                    q.partners(side).remove(i);
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
        q.own(side).push_back(Entry {
            op: own,
            idx,
            slot: mine,
        });
        Registered::Waiting
    }

    /// Removes the entries of perform `op` from `side`'s queue.
    pub(crate) fn unregister(&self, side: Side, op: &OpState) {
        let mut q = self.queues.lock();
        q.own(side).retain(|e| !std::ptr::eq(e.op, op));
    }

    /// The last handle of `side` is gone: release every waiter of the other
    /// side with an error (senders keep their value, receivers get none).
    pub(crate) fn disconnect(&self, side: Side) {
        let mut q = self.queues.lock();
        match side {
            Side::Send => q.senders_gone = true,
            Side::Recv => q.receivers_gone = true,
        }
        while let Some(e) = q.partners(side).pop_front() {
            // SAFETY: queued entry, lock held (see try_now).
            let theirs = unsafe { &*e.op };
            if let Some(claim) = theirs.claim() {
                claim.commit(e.idx).wake();
            }
        }
    }
}
