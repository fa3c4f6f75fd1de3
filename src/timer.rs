//! Deadlines: an indexed binary heap (exact O(log n) cancel, so a loop of
//! `recv or timeout` never accumulates dead entries), and the `after`/`at`
//! operations.

use std::fmt;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::op::leaf::{commit_own, Leaf, LeafList, RegisterCx, Registered};
use crate::op::perform::perform_leaf;
use crate::op::state::OpState;
use crate::op::Op;

/// A blocked perform to commit when the deadline passes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimerTarget {
    pub(crate) op: *const OpState,
    pub(crate) idx: usize,
}

/// Names one inserted timer; stale handles (already fired) are recognised.
#[derive(Debug)]
pub(crate) struct TimerHandle {
    key: usize,
    seq: u64,
}

struct Entry {
    deadline: Instant,
    seq: u64,
    pos: usize,
    target: TimerTarget,
}

/// The timers of one scheduler, ordered by (deadline, insertion order).
#[derive(Default)]
pub(crate) struct TimerHeap {
    heap: Vec<usize>,
    entries: Slab<Entry>,
    next_seq: u64,
}

impl fmt::Debug for TimerHeap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHeap")
            .field("len", &self.heap.len())
            .finish()
    }
}

impl TimerHeap {
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn insert(&mut self, deadline: Instant, target: TimerTarget) -> TimerHandle {
        let seq = self.next_seq;
        self.next_seq += 1;
        let pos = self.heap.len();
        let key = self.entries.insert(Entry {
            deadline,
            seq,
            pos,
            target,
        });
        self.heap.push(key);
        self.sift_up(pos);
        TimerHandle { key, seq }
    }

    /// Removes the timer if it has not fired yet.
    pub(crate) fn cancel(&mut self, handle: TimerHandle) -> bool {
        match self.entries.get(handle.key) {
            Some(e) if e.seq == handle.seq => {
                self.remove_at(e.pos);
                true
            }
            _ => false,
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.first().map(|&k| self.entries[k].deadline)
    }

    /// Pops the earliest timer if its deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerTarget> {
        let &k = self.heap.first()?;
        if self.entries[k].deadline > now {
            return None;
        }
        Some(self.remove_at(0))
    }

    fn remove_at(&mut self, pos: usize) -> TimerTarget {
        let last = self.heap.len() - 1;
        self.swap(pos, last);
        let key = self.heap.pop().expect("non-empty heap");
        let entry = self.entries.remove(key);
        if pos < self.heap.len() {
            self.sift_down(pos);
            self.sift_up(pos);
        }
        entry.target
    }

    fn less(&self, a: usize, b: usize) -> bool {
        let (ea, eb) = (&self.entries[self.heap[a]], &self.entries[self.heap[b]]);
        (ea.deadline, ea.seq) < (eb.deadline, eb.seq)
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        let (ka, kb) = (self.heap[a], self.heap[b]);
        self.entries[ka].pos = a;
        self.entries[kb].pos = b;
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if !self.less(pos, parent) {
                break;
            }
            self.swap(pos, parent);
            pos = parent;
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        loop {
            let (l, r) = (2 * pos + 1, 2 * pos + 2);
            let mut min = pos;
            if l < self.heap.len() && self.less(l, min) {
                min = l;
            }
            if r < self.heap.len() && self.less(r, min) {
                min = r;
            }
            if min == pos {
                break;
            }
            self.swap(pos, min);
            pos = min;
        }
    }
}

/// An operation that completes at a point in time: see [`after`] and [`at`].
#[derive(Debug)]
pub struct Timeout {
    when: When,
}

#[derive(Debug)]
enum When {
    After(Duration),
    At(Instant),
    /// At perform time: the deadline and the clock reading it was judged
    /// by. One reading serves the whole perform (the fast path and the
    /// registration compare against it); a deadline that passes meanwhile
    /// is caught by the timer, a few nanoseconds late, never early.
    Prepared {
        deadline: Instant,
        began: Instant,
    },
}

/// Completes `d` after the perform begins (CML's `timeOutEvt`).
///
/// ```
/// use selvedge::Op;
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// selvedge::run(|| selvedge::after(Duration::from_millis(5)).perform());
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
pub fn after(d: Duration) -> Timeout {
    Timeout {
        when: When::After(d),
    }
}

/// Completes once `deadline` has passed (at once if it already has).
pub fn at(deadline: Instant) -> Timeout {
    Timeout {
        when: When::At(deadline),
    }
}

impl Timeout {
    /// The deadline, and whether it had passed when the perform began.
    fn deadline(&self) -> (Instant, bool) {
        match self.when {
            When::Prepared { deadline, began } => (deadline, deadline <= began),
            _ => unreachable!("timeout enumerated before it was prepared"),
        }
    }
}

impl Leaf for Timeout {
    fn try_now(&mut self) -> bool {
        let (deadline, passed) = self.deadline();
        if !passed {
            return false;
        }
        crate::runtime::context::expire_in_order(deadline);
        true
    }
    fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
        let (deadline, passed) = self.deadline();
        if passed {
            return commit_own(cx.op, idx);
        }
        cx.offer_deadline(deadline, idx);
        Registered::Waiting
    }
    fn unregister(&mut self, _op: &OpState) {}
}

impl Op for Timeout {
    type Output = ();
    fn __prepare(&mut self) {
        let began = Instant::now();
        let deadline = match self.when {
            When::At(t) => t,
            When::After(d) => {
                // A duration too long to represent is as good as never.
                let far = began + Duration::from_secs(100 * 365 * 24 * 3600);
                began.checked_add(d).unwrap_or(far).min(far)
            }
            When::Prepared { .. } => return,
        };
        self.when = When::Prepared { deadline, began };
    }
    fn __leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        leaves.push(self);
    }
    fn perform(mut self) {
        self.__prepare();
        perform_leaf(&mut self);
    }
    fn __complete(self, _winner: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(idx: usize) -> TimerTarget {
        TimerTarget {
            op: std::ptr::null(),
            idx,
        }
    }

    #[test]
    fn pops_in_deadline_then_insertion_order_and_cancels_exactly() {
        let base = Instant::now();
        let mut h = TimerHeap::default();
        let ms = |n| base + Duration::from_millis(n);
        let _a = h.insert(ms(30), target(0));
        let b = h.insert(ms(10), target(1));
        let _c = h.insert(ms(20), target(2));
        let _d = h.insert(ms(10), target(3));
        assert!(h.cancel(b));
        assert_eq!(h.len(), 3);
        let order: Vec<usize> = std::iter::from_fn(|| h.pop_due(ms(100)).map(|t| t.idx)).collect();
        assert_eq!(order, vec![3, 2, 0]);
    }

    #[test]
    fn stale_handle_does_not_cancel_a_reused_slot() {
        let base = Instant::now();
        let mut h = TimerHeap::default();
        let a = h.insert(base, target(0));
        assert_eq!(h.pop_due(base).map(|t| t.idx), Some(0));
        let _b = h.insert(base, target(1));
        assert!(!h.cancel(a));
        assert_eq!(h.len(), 1);
    }
}
