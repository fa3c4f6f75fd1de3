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

/// What a partner needs to commit a queued leaf: its perform, the leaf's
/// index there, and the leaf's value slot (the offered value, or where a
/// value goes).
pub(crate) struct Entry<T> {
    pub(crate) op: *const OpState,
    pub(crate) idx: usize,
    pub(crate) slot: *mut Option<T>,
}

// Not derived: a derive would demand `T: Copy`.
impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Entry<T> {}

/// A leaf's place in a queue, and its entry.
pub(crate) struct Waiter<T> {
    entry: Cell<Entry<T>>,
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
            entry: Cell::new(Entry {
                op: ptr::null(),
                idx: 0,
                slot: ptr::null_mut(),
            }),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            linked: Cell::new(false),
        }
    }
}

impl<T> Waiter<T> {
    /// What a partner needs to commit this node's leaf.
    #[inline]
    pub(crate) fn entry(&self) -> Entry<T> {
        self.entry.get()
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
    pub(crate) unsafe fn push_back(&mut self, w: &Waiter<T>, entry: Entry<T>) {
        debug_assert!(!w.linked.get(), "a waiter linked twice");
        w.entry.set(entry);
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

    /// Unlinks the oldest node and returns its entry. The pointers in the
    /// entry stay valid while the caller holds the lock (which `&mut self`
    /// implies: queues are reached only through it), because the node's
    /// perform cannot withdraw without it.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<Entry<T>> {
        let w = self.head;
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
    use super::{Entry, Waiter, WaiterQueue};
    use std::ptr;

    fn entry(idx: usize) -> Entry<u32> {
        Entry {
            op: ptr::null(),
            idx,
            slot: ptr::null_mut(),
        }
    }

    fn order(q: &WaiterQueue<u32>) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut w = q.front();
        while !w.is_null() {
            // SAFETY: every node of these tests outlives its queue.
            let node = unsafe { &*w };
            seen.push(node.entry().idx);
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
            unsafe { q.push_back(w, entry(i)) };
        }
        assert_eq!(order(&q), [0, 1, 2, 3, 4]);
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
            assert!(q.pop_front().is_none());
            q.push_back(&nodes[0], entry(9));
        }
        assert_eq!(order(&q), [9]);
    }
}
