//! The buffer of a bounded or unbounded channel: what a send puts in when
//! no receiver waits, what a receive takes before it looks for a sender,
//! and the refill from the first sender waiting on a full buffer.

use super::queues::{Locked, Partner, Side, Taken};
use super::Chan;
use crate::sync::Ordering;

/// `Chan::serves` bits.
pub(super) const RECV_READY: u8 = 1;
pub(super) const SEND_READY: u8 = 2;

/// Takes the offered value out of a sender's slot.
///
/// # Safety
///
/// As for `transfer`: `from` is the live slot of a sender registered on
/// (or running against) this channel, and the caller holds its lock.
pub(super) unsafe fn take_offered<T>(from: *mut Option<T>) -> T {
    // SAFETY: guaranteed by the caller.
    unsafe { (*from).take() }.expect("a sender offers its value until it commits")
}

impl<T> Chan<T> {
    /// Completes a leaf on `side` that no partner matched, if it can
    /// complete alone: the other side is gone (leaving the slots as they
    /// are), or it is a send and the buffer has room (the value goes in).
    /// `B`: the channel has a buffer (the paths of a rendezvous channel are
    /// instantiated without the buffer's checks).
    #[inline(always)]
    pub(super) fn settle_alone<const B: bool>(
        &self,
        q: &mut Locked<'_, T>,
        side: Side,
        mine: *mut Option<T>,
    ) -> bool {
        if q.partners_gone(side) {
            return true;
        }
        B && side == Side::Send && q.guard.buffer.len() < self.cap && self.push_offered(q, mine)
    }

    /// Moves the value offered in `mine` into the buffer, which has room.
    /// Out of line: a rendezvous never comes here. Returns true.
    #[inline(never)]
    pub(super) fn push_offered(&self, q: &mut Locked<'_, T>, mine: *mut Option<T>) -> bool {
        // SAFETY: `mine` is the caller's live slot; we hold the lock.
        let value = unsafe { take_offered(mine) };
        self.push(q, value);
        true
    }

    /// Whether a leaf on `side` can complete from the buffer: a receive,
    /// with a value buffered.
    #[inline(always)]
    pub(super) fn buffered_for<const B: bool>(q: &Locked<'_, T>, side: Side) -> bool {
        B && side == Side::Recv && !q.guard.buffer.is_empty()
    }

    /// Appends `value` to the buffer, which has room.
    #[inline]
    pub(super) fn push(&self, q: &mut Locked<'_, T>, value: T) {
        q.guard.buffer.push_back(value);
        self.mirror(q);
    }

    /// Mirrors the buffer's length and what it can serve outside the lock.
    #[inline]
    pub(super) fn mirror(&self, q: &Locked<'_, T>) {
        let len = q.guard.buffer.len();
        self.len.store(len, Ordering::Relaxed);
        let serves = u8::from(len > 0) * RECV_READY + u8::from(len < self.cap) * SEND_READY;
        self.serves.store(serves, Ordering::Relaxed);
    }

    /// Moves the first buffered value into the receiver's slot `mine`,
    /// then refills the buffer from the first waiting sender, if any (one
    /// waits only while the buffer is full), committing it: its wake, if it
    /// needs one.
    pub(super) fn pop(&self, q: &mut Locked<'_, T>, mine: *mut Option<T>) -> Taken {
        let value = q.guard.buffer.pop_front();
        // SAFETY: `mine` is the caller's live slot; we hold the lock.
        unsafe { *mine = value };
        self.refill(q)
    }

    /// Refills the buffer, which has just lost a value, from the first
    /// waiting sender, if any, committing it: its wake, if it needs one.
    pub(super) fn refill(&self, q: &mut Locked<'_, T>) -> Taken {
        let mut taken = None;
        while let Some(e) = q.partners(Side::Recv).pop_front() {
            // SAFETY: popped under the lock, which we hold until we return.
            let theirs = unsafe { Partner::of(&e) };
            if let Some(claim) = theirs.claim() {
                // SAFETY: the sender's slot is live (its perform is still
                // registered: we hold the lock and have not committed it).
                let value = unsafe { take_offered(e.slot) };
                q.guard.buffer.push_back(value);
                taken = claim.commit(e.idx);
                break;
            }
        }
        self.mirror(q);
        taken
    }

    /// A receive served by the buffer, under the lock `q`: takes the
    /// value, refills, unlocks and wakes the refilling sender.
    #[inline(never)]
    pub(super) fn pop_now(&self, mut q: Locked<'_, T>, mine: *mut Option<T>) -> bool {
        let taken = self.pop(&mut q, mine);
        drop(q);
        if let Some(token) = taken {
            token.wake();
        }
        true
    }
}
