//! One scheduler's timers: an indexed 4-ary heap (exact O(log n) cancel,
//! so a loop of `recv or timeout` never accumulates dead entries), and the
//! list of relative timers not yet given a deadline. The scheduler fires
//! them between fiber runs (`fire_due`), committing their performs.

use std::cell::Cell;
use std::fmt;
use std::ptr;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::op::leaf::deadline_after;
use crate::op::state::OpState;

/// A blocked perform to commit when the deadline passes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimerTarget {
    pub(crate) op: *const OpState,
    pub(crate) idx: usize,
}

/// Names one inserted timer; stale handles (already fired) are recognised.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimerHandle {
    key: usize,
    seq: u64,
}

struct Entry {
    seq: u64,
    /// Index in `heap`.
    pos: usize,
    target: TimerTarget,
}

/// A relative timer a blocked perform armed. It lives in the perform's
/// frame and sits in its scheduler's pending list, linked like a channel
/// waiter, until the scheduler's next clock reading gives it a deadline
/// (`TimerHeap::settle`) or the perform cancels it. So arming and
/// cancelling one that never settles, the usual fate of the timeout in
/// `recv or after(d)`, is a few stores each: no heap entry, no call out.
pub(crate) struct PendingTimer {
    after: Duration,
    target: TimerTarget,
    /// Its place in the insertion order, which breaks deadline ties.
    seq: Cell<u64>,
    prev: Cell<*const PendingTimer>,
    next: Cell<*const PendingTimer>,
    /// Its heap entry, once settled.
    settled: Cell<Option<TimerHandle>>,
}

impl PendingTimer {
    pub(crate) fn new(after: Duration, target: TimerTarget) -> PendingTimer {
        PendingTimer {
            after,
            target,
            seq: Cell::new(0),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            settled: Cell::new(None),
        }
    }
}

/// Children per heap node. Four children of 32 bytes fill two cache lines,
/// and the heap is half as deep as a binary one: with 100k sleepers most
/// of a timer's cost was cache misses on the way down.
const ARITY: usize = 4;

/// A heap node carries its own ordering key, so sifting reads only the
/// heap array; the entry is touched only to record where its node moved.
#[derive(Clone, Copy)]
struct Node {
    deadline: Instant,
    seq: u64,
    key: usize,
}

impl Node {
    /// Earlier deadline first; equal deadlines in insertion order.
    #[inline]
    fn before(&self, other: &Node) -> bool {
        (self.deadline, self.seq) < (other.deadline, other.seq)
    }
}

/// The timers of one scheduler, ordered by (deadline, insertion order).
pub(crate) struct TimerHeap {
    heap: Vec<Node>,
    entries: Slab<Entry>,
    /// The head of the list of pending timers (see `PendingTimer`).
    pending: *const PendingTimer,
    pending_len: usize,
    next_seq: u64,
}

impl Default for TimerHeap {
    fn default() -> TimerHeap {
        TimerHeap {
            heap: Vec::new(),
            entries: Slab::new(),
            pending: ptr::null(),
            pending_len: 0,
            next_seq: 0,
        }
    }
}

impl fmt::Debug for TimerHeap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHeap")
            .field("len", &self.heap.len())
            .field("pending", &self.pending_len)
            .finish()
    }
}

impl TimerHeap {
    pub(crate) fn len(&self) -> usize {
        self.heap.len() + self.pending_len
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Adds a timer due at `at`.
    pub(crate) fn insert(&mut self, at: Instant, target: TimerTarget) -> TimerHandle {
        let seq = self.take_seq();
        self.insert_seq(at, seq, target)
    }

    fn insert_seq(&mut self, at: Instant, seq: u64, target: TimerTarget) -> TimerHandle {
        let key = self.entries.insert(Entry {
            seq,
            pos: 0, // set by `place`
            target,
        });
        self.heap.push(Node {
            deadline: at,
            seq,
            key,
        });
        self.sift_up(self.heap.len() - 1);
        TimerHandle { key, seq }
    }

    /// Adds a timer due `timer.after` from the next `settle`, which comes
    /// before the scheduler next looks at its timers (see the scheduler's
    /// `poll_pace`, and before it sleeps): it never fires early,
    /// is late by no more than the timers' own check interval, and costs no
    /// clock read and no heap work if it is cancelled first.
    ///
    /// # Safety
    ///
    /// `timer` stays where it is, and is given to `cancel_pending` before
    /// it moves or is dropped, whether or not it fired.
    pub(crate) unsafe fn link_pending(&mut self, timer: &PendingTimer) {
        timer.seq.set(self.take_seq());
        timer.prev.set(ptr::null());
        timer.next.set(self.pending);
        if !self.pending.is_null() {
            // SAFETY: linked timers are alive and unmoved (see above).
            unsafe { (*self.pending).prev.set(timer) };
        }
        self.pending = timer;
        self.pending_len += 1;
    }

    /// Gives every pending timer its deadline, counted from `now`, and its
    /// place in the heap.
    pub(crate) fn settle(&mut self, now: Instant) {
        let mut next = std::mem::replace(&mut self.pending, ptr::null());
        self.pending_len = 0;
        while !next.is_null() {
            // SAFETY: linked timers are alive and unmoved (`link_pending`).
            let timer = unsafe { &*next };
            next = timer.next.get();
            let at = deadline_after(now, timer.after);
            let handle = self.insert_seq(at, timer.seq.get(), timer.target);
            timer.settled.set(Some(handle));
        }
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

    /// Removes a timer `link_pending` added, wherever it is now; false if
    /// it fired.
    ///
    /// # Safety
    ///
    /// `timer` was linked into this heap, and not yet cancelled.
    pub(crate) unsafe fn cancel_pending(&mut self, timer: &PendingTimer) -> bool {
        if let Some(handle) = timer.settled.take() {
            return self.cancel(handle);
        }
        let (prev, next) = (timer.prev.get(), timer.next.get());
        // SAFETY: `timer` is linked (the caller's promise), so its
        // neighbours are linked timers, alive and unmoved.
        unsafe {
            match prev.is_null() {
                true => self.pending = next,
                false => (*prev).next.set(next),
            }
            if !next.is_null() {
                (*next).prev.set(prev);
            }
        }
        self.pending_len -= 1;
        true
    }

    /// Whether `settle` has work to do.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_null()
    }

    /// The earliest settled deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.first().map(|n| n.deadline)
    }

    /// Settles the pending timers at `now`, then commits the performs
    /// whose deadline has come, in deadline order (ties in the order they
    /// were armed). True if it committed any. Called by the scheduler
    /// between fiber runs, so every wake goes to the woken FIFO (never the
    /// hand-off slot) and keeps that order.
    pub(crate) fn fire_due(&mut self, now: Instant) -> bool {
        if self.len() == 0 {
            return false;
        }
        self.settle(now);
        let mut woke = false;
        while let Some(t) = self.pop_due(now) {
            // SAFETY: a timer is cancelled by its perform (on this thread)
            // before the perform's frame ends, and fires only on this
            // thread between fiber runs, so the `OpState` it names is
            // alive.
            let op = unsafe { &*t.op };
            if let Some(claim) = op.claim() {
                if let Some(token) = claim.commit(t.idx) {
                    token.wake();
                }
                woke = true;
            }
        }
        woke
    }

    /// Pops the earliest timer if its deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerTarget> {
        if self.heap.first()?.deadline > now {
            return None;
        }
        Some(self.remove_at(0))
    }

    fn remove_at(&mut self, pos: usize) -> TimerTarget {
        let removed = self.heap.swap_remove(pos);
        let entry = self.entries.remove(removed.key);
        if let Some(&moved) = self.heap.get(pos) {
            // The last node took the hole: it may belong above or below it.
            if pos > 0 && moved.before(&self.heap[(pos - 1) / ARITY]) {
                self.sift_up(pos);
            } else {
                self.sift_down(pos);
            }
        }
        entry.target
    }

    /// Puts `node` at `pos` and tells its entry where it is.
    #[inline]
    fn place(&mut self, pos: usize, node: Node) {
        self.heap[pos] = node;
        self.entries[node.key].pos = pos;
    }

    /// Moves the node at `pos` up to its place, shifting parents down
    /// into the hole instead of swapping at each level.
    fn sift_up(&mut self, mut pos: usize) {
        let node = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / ARITY;
            if !node.before(&self.heap[parent]) {
                break;
            }
            self.place(pos, self.heap[parent]);
            pos = parent;
        }
        self.place(pos, node);
    }

    /// Moves the node at `pos` down to its place, shifting the earliest
    /// child up into the hole at each level.
    fn sift_down(&mut self, mut pos: usize) {
        let node = self.heap[pos];
        let len = self.heap.len();
        loop {
            let first = ARITY * pos + 1;
            if first >= len {
                break;
            }
            let mut min = first;
            for child in first + 1..(first + ARITY).min(len) {
                if self.heap[child].before(&self.heap[min]) {
                    min = child;
                }
            }
            if !self.heap[min].before(&node) {
                break;
            }
            self.place(pos, self.heap[min]);
            pos = min;
        }
        self.place(pos, node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn target(idx: usize) -> TimerTarget {
        TimerTarget {
            op: std::ptr::null(),
            idx,
        }
    }

    fn pending(after: Duration, idx: usize) -> Box<PendingTimer> {
        Box::new(PendingTimer::new(after, target(idx)))
    }

    #[test]
    fn relative_timers_count_from_settle_and_cancel_before_or_after_it() {
        let base = Instant::now();
        let ms = Duration::from_millis;
        let mut heap = TimerHeap::default();
        let (a, b, c, d) = (
            pending(ms(30), 1),
            pending(ms(10), 2),
            pending(ms(20), 3),
            pending(ms(5), 5),
        );
        // SAFETY: the timers are boxed, so they stay put, and each is
        // cancelled (or the heap dropped) before it is.
        unsafe {
            heap.link_pending(&a);
            heap.link_pending(&b);
            heap.link_pending(&c);
        }
        heap.insert(base + ms(25), target(4));
        // SAFETY: as above.
        unsafe { heap.link_pending(&d) };
        assert_eq!(heap.len(), 5);
        // SAFETY: `c` and `d` were linked and are cancelled once: the
        // middle of the list, then its head.
        let cancelled = unsafe { [heap.cancel_pending(&c), heap.cancel_pending(&d)] };
        assert_eq!(cancelled, [true, true], "pending timers cancel");
        assert_eq!(heap.len(), 3);
        let later = base + ms(5);
        heap.settle(later);
        assert!(!heap.has_pending());
        assert_eq!(heap.len(), 3);
        assert_eq!(heap.next_deadline(), Some(later + ms(10)));
        // Never early: nothing is due before `settle`'s time plus the wait.
        assert!(heap.pop_due(later + ms(9)).is_none());
        let order: Vec<usize> = std::iter::from_fn(|| heap.pop_due(base + ms(100)))
            .map(|t| t.idx)
            .collect();
        assert_eq!(order, [2, 4, 1]);
        // SAFETY: `a` and `b` were linked and not yet cancelled.
        let cancelled = unsafe { [heap.cancel_pending(&a), heap.cancel_pending(&b)] };
        assert_eq!(cancelled, [false, false], "fired timers are gone");
    }

    #[test]
    fn a_settled_timer_cancels_from_the_heap() {
        let base = Instant::now();
        let mut heap = TimerHeap::default();
        let a = pending(Duration::from_millis(10), 1);
        // SAFETY: boxed, and cancelled below.
        unsafe { heap.link_pending(&a) };
        heap.settle(base);
        assert_eq!((heap.len(), heap.has_pending()), (1, false));
        // SAFETY: linked, not yet cancelled.
        assert!(unsafe { heap.cancel_pending(&a) });
        assert_eq!(heap.len(), 0);
        assert!(heap.pop_due(base + Duration::from_secs(1)).is_none());
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

    /// The heap against a list sorted on every step: any mix of inserts
    /// (absolute and pending), cancels, settles and pops fires the same
    /// timers in the same order, and cancels the same ones.
    #[test]
    fn matches_a_sorted_list_model() {
        fn prop(ops: Vec<(u8, u8, u8)>) -> bool {
            let base = Instant::now();
            let ms = |n: u8| Duration::from_millis(n as u64);
            let mut heap = TimerHeap::default();
            // The model: (deadline or pending duration, id), in insertion order.
            let mut model: Vec<(Result<Instant, Duration>, usize)> = Vec::new();
            // `Rc`, not `Box`: the handle moves (into `handles`, out of it
            // to cancel), and moving a `Box` asserts it is the only way to
            // its timer, which the heap's link is too (Miri flags it).
            enum H {
                At(TimerHandle),
                Pending(Rc<PendingTimer>),
            }
            let mut handles: Vec<Option<H>> = Vec::new();
            let mut clock = base;
            for (kind, a, b) in ops {
                match kind % 5 {
                    0 | 1 => {
                        let id = handles.len();
                        let (h, m) = if kind % 5 == 0 {
                            let at = base + ms(a);
                            (H::At(heap.insert(at, target(id))), Ok(at))
                        } else {
                            let t = Rc::new(PendingTimer::new(ms(a), target(id)));
                            // SAFETY: on the heap, so it stays put, and
                            // cancelled (or the heap dropped, as the model
                            // ends, without reading it) before it is freed.
                            unsafe { heap.link_pending(&t) };
                            (H::Pending(t), Err(ms(a)))
                        };
                        handles.push(Some(h));
                        model.push((m, id));
                    }
                    2 => {
                        if handles.is_empty() {
                            continue;
                        }
                        let id = a as usize % handles.len();
                        let live = model.iter().position(|&(_, i)| i == id);
                        let cancelled = handles[id].take().is_some_and(|h| match h {
                            H::At(h) => heap.cancel(h),
                            // SAFETY: linked once, cancelled once (taken).
                            H::Pending(t) => unsafe { heap.cancel_pending(&t) },
                        });
                        if cancelled != live.is_some() {
                            return false;
                        }
                        if let Some(p) = live {
                            let _ = model.remove(p);
                        }
                    }
                    3 => {
                        clock += ms(b % 16);
                        heap.settle(clock);
                        for (m, _) in &mut model {
                            if let Err(d) = *m {
                                *m = Ok(clock + d);
                            }
                        }
                    }
                    _ => {
                        let limit = base + ms(b);
                        if heap.has_pending() {
                            continue; // the scheduler settles before it pops
                        }
                        let mut due: Vec<(Instant, usize)> = model
                            .iter()
                            .map(|&(m, id)| (m.expect("settled"), id))
                            .filter(|&(t, _)| t <= limit)
                            .collect();
                        due.sort(); // ids grow with insertion order
                        let fired: Vec<usize> =
                            std::iter::from_fn(|| heap.pop_due(limit).map(|t| t.idx)).collect();
                        if fired != due.iter().map(|&(_, id)| id).collect::<Vec<_>>() {
                            return false;
                        }
                        model.retain(|&(_, id)| !fired.contains(&id));
                    }
                }
                if heap.len() != model.len() {
                    return false;
                }
            }
            true
        }
        quickcheck::QuickCheck::new()
            // Fewer under Miri, which runs each case ~1,000 times slower.
            .tests(if cfg!(miri) { 40 } else { 500 })
            .quickcheck(prop as fn(Vec<(u8, u8, u8)>) -> bool);
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
