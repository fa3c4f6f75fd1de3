//! One side's queue of blocked leaves on a channel, linked through nodes
//! that live in the leaves themselves, in the frames of their performs.
//!
//! Go's channels queue their `sudog`s the same way. Nothing is allocated to
//! block, however many fibers wait, and a perform that lost withdraws its
//! other leaves in O(1) each, without scanning the queues.
//!
//! Every node is touched only under its channel's lock, and so is a queue,
//! but for a look at whether its head is null. A linked node stays in place
//! until it is unlinked. Its perform unlinks it before the frame ends, or a
//! partner does while committing it.

use std::cell::Cell;
use std::marker::PhantomPinned;
use std::mem::MaybeUninit;
use std::ptr;

use crate::op::state::OpState;
use crate::sync::{AtomicPtr, Ordering};

/// What a partner needs to commit a queued leaf: its perform, the leaf's
/// index there, the leaf's value slot (the offered value, or where a value
/// goes), and whether the perform is sole.
pub(crate) struct Entry<T> {
    pub(crate) op: *const OpState,
    pub(crate) idx: usize,
    pub(crate) slot: *mut Option<T>,
    /// The perform has no other leaf and no timer, so only a holder of this
    /// channel's lock can commit it (see `OpState::claim_sole`).
    pub(crate) sole: bool,
}

// Not derived: a derive would demand `T: Copy`.
impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Entry<T> {}

/// A leaf's place in a queue, and its entry. Only `linked` is set before
/// the first `push_back`, which writes the rest: a choice builds a node per
/// channel leaf and most are never queued, so zeroing them would be
/// wasted work on every choice.
pub(crate) struct Waiter<T> {
    entry: Cell<MaybeUninit<Entry<T>>>,
    prev: Cell<MaybeUninit<*const Waiter<T>>>,
    next: Cell<MaybeUninit<*const Waiter<T>>>,
    linked: Cell<bool>,
    /// `!Unpin`, and so is every leaf holding a node: its performer takes
    /// `&mut` to the leaf again while a partner on another thread may be
    /// writing the node (or the slot beside it), which would break the
    /// exclusive access a `&mut` to `Unpin` data asserts (Miri: a data race
    /// on the retag). The aliasing rules exempt `&mut` to `!Unpin` data.
    _pinned: PhantomPinned,
}

// SAFETY: the pointers are used only while the node is linked, and only
// under the channel lock (see the module docs). A node that is not linked
// is inert, so the leaf holding it may move to another thread when `T` may.
unsafe impl<T: Send> Send for Waiter<T> {}
// SAFETY: a shared `&Waiter` gives nothing outside the channel lock.
unsafe impl<T: Send> Sync for Waiter<T> {}

impl<T> Default for Waiter<T> {
    fn default() -> Self {
        Waiter {
            entry: Cell::new(MaybeUninit::uninit()),
            prev: Cell::new(MaybeUninit::uninit()),
            next: Cell::new(MaybeUninit::uninit()),
            linked: Cell::new(false),
            _pinned: PhantomPinned,
        }
    }
}

impl<T> Waiter<T> {
    /// What a partner needs to commit this node's leaf.
    ///
    /// # Safety
    ///
    /// The node has been linked (`push_back` wrote the entry).
    #[inline]
    pub(crate) unsafe fn entry(&self) -> Entry<T> {
        // SAFETY: the caller's promise.
        unsafe { self.entry.get().assume_init() }
    }

    /// The node after this one; null at the back.
    ///
    /// # Safety
    ///
    /// As `entry`.
    #[inline]
    pub(crate) unsafe fn next(&self) -> *const Waiter<T> {
        // SAFETY: the caller's promise.
        unsafe { self.next.get().assume_init() }
    }
}

/// The first node of a queue, kept apart from the rest of the queue (which
/// is under the channel lock) so that a reader can tell, without the lock,
/// whether the queue is empty: a choice asks that of every channel it
/// might try. Written only under the lock.
pub(crate) struct QueueHead<T>(AtomicPtr<Waiter<T>>);

impl<T> Default for QueueHead<T> {
    fn default() -> Self {
        QueueHead(AtomicPtr::new(ptr::null_mut()))
    }
}

impl<T> QueueHead<T> {
    /// Whether the queue holds no node: exact under the channel lock;
    /// without it, perhaps out of date by the time it is used.
    #[inline]
    pub(crate) fn looks_empty(&self) -> bool {
        self.0.load(Ordering::Relaxed).is_null()
    }
}

/// The last node of a queue; under the channel lock.
pub(crate) struct QueueTail<T>(*const Waiter<T>);

impl<T> Default for QueueTail<T> {
    fn default() -> Self {
        QueueTail(ptr::null())
    }
}

/// A doubly linked queue of `Waiter`s, oldest first, as the holder of the
/// channel lock sees it: its head and its tail.
pub(crate) struct WaiterQueue<'a, T> {
    head: &'a QueueHead<T>,
    tail: &'a mut QueueTail<T>,
}

impl<'a, T> WaiterQueue<'a, T> {
    /// The queue of `head` and `tail`, which belong together; the caller
    /// holds their channel's lock (the tail's `&mut` comes from its guard).
    #[inline]
    pub(crate) fn new(head: &'a QueueHead<T>, tail: &'a mut QueueTail<T>) -> Self {
        WaiterQueue { head, tail }
    }

    /// The oldest node; null when the queue is empty.
    #[inline]
    pub(crate) fn front(&self) -> *const Waiter<T> {
        self.head.0.load(Ordering::Relaxed)
    }

    #[inline]
    fn set_front(&mut self, w: *const Waiter<T>) {
        self.head.0.store(w.cast_mut(), Ordering::Relaxed);
    }

    /// Links `w` at the back, recording what a partner needs to commit it.
    ///
    /// # Safety
    ///
    /// `w` is in no queue, and stays alive and in place until it is
    /// unlinked; the caller holds the channel lock.
    #[inline]
    pub(crate) unsafe fn push_back(&mut self, w: &Waiter<T>, entry: Entry<T>) {
        debug_assert!(!w.linked.get(), "a waiter linked twice");
        let tail = self.tail.0;
        w.entry.set(MaybeUninit::new(entry));
        w.prev.set(MaybeUninit::new(tail));
        w.next.set(MaybeUninit::new(ptr::null()));
        w.linked.set(true);
        if tail.is_null() {
            self.set_front(w);
        } else {
            // SAFETY: the tail is linked, so alive (caller's contract for
            // every linked node), and we hold the lock; its link is written
            // whole, so whether it held a value before does not matter.
            unsafe { (*tail).next.set(MaybeUninit::new(w)) };
        }
        self.tail.0 = w;
    }

    /// Unlinks `w` if it is still linked (a partner may have unlinked it
    /// while committing its perform). True if this call unlinked it.
    ///
    /// # Safety
    ///
    /// `w` is alive, and if linked, linked in this queue; the caller holds
    /// the channel lock.
    #[inline]
    pub(crate) unsafe fn unlink(&mut self, w: *const Waiter<T>) -> bool {
        // SAFETY: alive (caller's contract).
        let node = unsafe { &*w };
        if !node.linked.get() {
            return false;
        }
        // SAFETY: linked, so `push_back` wrote both.
        let (prev, next) = unsafe { (node.prev.get().assume_init(), node.next()) };
        if prev.is_null() {
            self.set_front(next);
        } else {
            // SAFETY: a linked neighbour is alive; we hold the lock; the
            // link is written whole.
            unsafe { (*prev).next.set(MaybeUninit::new(next)) };
        }
        if next.is_null() {
            self.tail.0 = prev;
        } else {
            // SAFETY: as for `prev`: a linked neighbour, alive, under the
            // lock, its link written whole.
            unsafe { (*next).prev.set(MaybeUninit::new(prev)) };
        }
        node.linked.set(false);
        true
    }

    /// Unlinks the oldest node and returns its entry. The pointers in the
    /// entry stay valid while the caller holds the lock (which `&mut self`
    /// implies: queues are reached only through it), because the node's
    /// perform cannot withdraw without it.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<Entry<T>> {
        let w = self.front();
        if w.is_null() {
            return None;
        }
        // SAFETY: the head is linked, so alive (`push_back`'s contract), and
        // it is in this queue.
        unsafe {
            self.unlink(w);
            Some((*w).entry())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Entry, QueueHead, QueueTail, Waiter, WaiterQueue};
    use std::ptr;

    fn entry(idx: usize) -> Entry<u32> {
        Entry {
            op: ptr::null(),
            idx,
            slot: ptr::null_mut(),
            sole: false,
        }
    }

    fn order(q: &WaiterQueue<'_, u32>) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut w = q.front();
        while !w.is_null() {
            // SAFETY: every node of these tests outlives its queue, and
            // this one is linked.
            unsafe {
                seen.push((*w).entry().idx);
                w = (*w).next();
            }
        }
        seen
    }

    #[test]
    fn nodes_leave_from_the_front_middle_and_back_in_order() {
        let nodes: Vec<Waiter<u32>> = (0..5).map(|_| Waiter::default()).collect();
        let (head, mut tail) = (QueueHead::default(), QueueTail::default());
        let mut q = WaiterQueue::new(&head, &mut tail);
        assert!(head.looks_empty());
        for (i, w) in nodes.iter().enumerate() {
            // SAFETY: `nodes` outlives `q` and never moves.
            unsafe { q.push_back(w, entry(i)) };
        }
        assert_eq!(order(&q), [0, 1, 2, 3, 4]);
        assert!(!head.looks_empty());
        // SAFETY: as above, for every call below.
        unsafe {
            assert!(q.unlink(&nodes[2]));
            assert!(!q.unlink(&nodes[2]), "a second unlink is a no-op");
            assert_eq!(order(&q), [0, 1, 3, 4]);
            assert!(q.unlink(&nodes[4]));
            assert_eq!(order(&q), [0, 1, 3]);
            assert_eq!(q.pop_front().map(|e| e.idx), Some(0));
            assert_eq!(order(&q), [1, 3]);
            q.push_back(&nodes[2], entry(7));
            assert_eq!(order(&q), [1, 3, 7]);
            assert!(q.unlink(&nodes[1]));
            assert!(q.unlink(&nodes[3]));
            assert!(q.unlink(&nodes[2]));
            assert!(q.front().is_null());
            assert!(head.looks_empty(), "emptied by unlinking the last node");
            assert!(q.pop_front().is_none());
            q.push_back(&nodes[0], entry(9));
        }
        assert_eq!(order(&q), [9]);
    }
}
