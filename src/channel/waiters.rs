//! One side's queue of blocked leaves on a channel, linked through nodes
//! that live in the leaves themselves, in the frames of their performs.
//!
//! Go's channels queue their `sudog`s the same way. Nothing is allocated to
//! block, however many fibers wait, and a perform that lost withdraws its
//! other leaves in O(1) each, without scanning the queues.
//!
//! Every node is touched only under its channel's lock. A linked node stays
//! in place until it is unlinked. Its perform unlinks it before the frame
//! ends, or a partner does while committing it.

use std::cell::Cell;
use std::ptr;

use crate::op::state::OpState;

/// A leaf's place in a queue, and what a partner needs to commit it.
pub(crate) struct Waiter<T> {
    op: Cell<*const OpState>,
    idx: Cell<usize>,
    slot: Cell<*mut Option<T>>,
    prev: Cell<*const Waiter<T>>,
    next: Cell<*const Waiter<T>>,
    linked: Cell<bool>,
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
            op: Cell::new(ptr::null()),
            idx: Cell::new(0),
            slot: Cell::new(ptr::null_mut()),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            linked: Cell::new(false),
        }
    }
}

impl<T> Waiter<T> {
    /// The perform this node belongs to.
    #[inline]
    pub(crate) fn op(&self) -> *const OpState {
        self.op.get()
    }

    /// The index of its leaf in that perform.
    #[inline]
    pub(crate) fn idx(&self) -> usize {
        self.idx.get()
    }

    /// Its leaf's value slot: the offered value, or where a value goes.
    #[inline]
    pub(crate) fn slot(&self) -> *mut Option<T> {
        self.slot.get()
    }

    /// The node after this one; null at the back.
    #[inline]
    pub(crate) fn next(&self) -> *const Waiter<T> {
        self.next.get()
    }
}

/// A doubly linked queue of `Waiter`s, oldest first.
pub(crate) struct WaiterQueue<T> {
    head: *const Waiter<T>,
    tail: *const Waiter<T>,
}

impl<T> Default for WaiterQueue<T> {
    fn default() -> Self {
        WaiterQueue {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }
}

impl<T> WaiterQueue<T> {
    /// The oldest node; null when the queue is empty.
    #[inline]
    pub(crate) fn front(&self) -> *const Waiter<T> {
        self.head
    }

    /// Links `w` at the back, recording what a partner needs to commit it.
    ///
    /// # Safety
    ///
    /// `w` is in no queue, and stays alive and in place until it is
    /// unlinked; the caller holds the channel lock.
    #[inline]
    pub(crate) unsafe fn push_back(
        &mut self,
        w: &Waiter<T>,
        op: *const OpState,
        idx: usize,
        slot: *mut Option<T>,
    ) {
        debug_assert!(!w.linked.get(), "a waiter linked twice");
        w.op.set(op);
        w.idx.set(idx);
        w.slot.set(slot);
        w.prev.set(self.tail);
        w.next.set(ptr::null());
        w.linked.set(true);
        if self.tail.is_null() {
            self.head = w;
        } else {
            // SAFETY: the tail is linked, so alive (caller's contract for
            // every linked node), and we hold the lock.
            unsafe { (*self.tail).next.set(w) };
        }
        self.tail = w;
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
        let (prev, next) = (node.prev.get(), node.next.get());
        if prev.is_null() {
            self.head = next;
        } else {
            // SAFETY: a linked neighbour is alive; we hold the lock.
            unsafe { (*prev).next.set(next) };
        }
        if next.is_null() {
            self.tail = prev;
        } else {
            // SAFETY: as above.
            unsafe { (*next).prev.set(prev) };
        }
        node.linked.set(false);
        true
    }

    /// Unlinks and returns the oldest node; null when the queue is empty.
    ///
    /// # Safety
    ///
    /// The caller holds the channel lock. The node returned stays alive
    /// only as long as its perform is registered (see the module docs).
    #[inline]
    pub(crate) unsafe fn pop_front(&mut self) -> *const Waiter<T> {
        let w = self.head;
        if !w.is_null() {
            // SAFETY: the head is linked, so alive, and it is in this queue.
            unsafe { self.unlink(w) };
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::{Waiter, WaiterQueue};
    use std::ptr;

    fn order(q: &WaiterQueue<u32>) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut w = q.front();
        while !w.is_null() {
            // SAFETY: every node of these tests outlives its queue.
            let node = unsafe { &*w };
            seen.push(node.idx());
            w = node.next();
        }
        seen
    }

    #[test]
    fn nodes_leave_from_the_front_middle_and_back_in_order() {
        let nodes: Vec<Waiter<u32>> = (0..5).map(|_| Waiter::default()).collect();
        let mut q = WaiterQueue::default();
        for (i, w) in nodes.iter().enumerate() {
            // SAFETY: `nodes` outlives `q` and never moves.
            unsafe { q.push_back(w, ptr::null(), i, ptr::null_mut()) };
        }
        assert_eq!(order(&q), [0, 1, 2, 3, 4]);
        // SAFETY: as above, for every call below.
        unsafe {
            assert!(q.unlink(&nodes[2]));
            assert!(!q.unlink(&nodes[2]), "a second unlink is a no-op");
            assert_eq!(order(&q), [0, 1, 3, 4]);
            assert!(q.unlink(&nodes[4]));
            assert_eq!(order(&q), [0, 1, 3]);
            assert_eq!((*q.pop_front()).idx(), 0);
            assert_eq!(order(&q), [1, 3]);
            q.push_back(&nodes[2], ptr::null(), 7, ptr::null_mut());
            assert_eq!(order(&q), [1, 3, 7]);
            assert!(q.unlink(&nodes[1]));
            assert!(q.unlink(&nodes[3]));
            assert!(q.unlink(&nodes[2]));
            assert!(q.front().is_null());
            assert!(q.pop_front().is_null());
            q.push_back(&nodes[0], ptr::null(), 9, ptr::null_mut());
        }
        assert_eq!(order(&q), [9]);
    }
}
