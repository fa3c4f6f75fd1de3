//! The leaf interface: what every primitive operation (a channel end, a
//! timer, a signal) implements so `perform` can try, register and cancel it.

use std::time::{Duration, Instant};

use crate::op::state::OpState;

/// When a blocked perform's earliest timer leaf is due.
#[derive(Clone, Copy, Debug)]
pub enum Deadline {
    /// At this instant.
    At(Instant),
    /// Counted from when the scheduler next reads its clock (see the timer
    /// driver's pending timers).
    After(Duration),
}

impl Deadline {
    /// The instant, for a relative deadline counted from `now`.
    pub(crate) fn resolve(self, now: Instant) -> Instant {
        match self {
            Deadline::At(at) => at,
            Deadline::After(d) => deadline_after(now, d),
        }
    }

    /// `timer in 1.2s`, or `timer of 5s` for one not yet counted from a
    /// clock reading (a perform that only just began to wait).
    pub(crate) fn describe(self, out: &mut String) {
        use std::fmt::Write;
        let _ = match self {
            Deadline::At(at) => {
                let left = at.saturating_duration_since(Instant::now());
                write!(out, "timer in {left:.1?}")
            }
            Deadline::After(d) => write!(out, "timer of {d:.1?}"),
        };
    }
}

/// `now + d`, where a duration too long to represent is as good as never.
pub(crate) fn deadline_after(now: Instant, d: Duration) -> Instant {
    let far = now + Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(d).unwrap_or(far).min(far)
}

/// A blocked perform's earliest timer: when it is due, and the index of
/// the timer leaf it then commits.
pub(crate) type LeafDeadline = (Deadline, usize);

/// What registering a leaf achieved.
#[derive(Debug)]
pub enum Registered {
    /// Queued; the perform must wait.
    Waiting,
    /// This leaf committed the perform itself (it found a partner while
    /// registering, and has woken it). A unit variant, so the whole enum
    /// comes back in a register: with the partner's wake token inside, a
    /// choice would read it back from memory right after the leaf's dynamic
    /// call wrote it, a store-forwarding stall.
    Committed,
    /// Another party committed the perform while we were registering.
    CommittedByOther,
}

/// Per-perform context handed to leaves while they register.
#[derive(Debug)]
pub struct RegisterCx<'a> {
    pub(crate) op: &'a OpState,
    pub(crate) deadline: Option<LeafDeadline>,
}

impl RegisterCx<'_> {
    /// A timer leaf asks to be woken at `deadline`; only the earliest
    /// deadline of a perform needs a real timer. Two relative deadlines
    /// compare without the clock; a mix reads it once.
    pub(crate) fn offer_deadline(&mut self, deadline: Deadline, idx: usize) {
        let earlier = match (self.deadline, deadline) {
            (None, _) => true,
            (Some((Deadline::After(cur), _)), Deadline::After(new)) => new < cur,
            (Some((Deadline::At(cur), _)), Deadline::At(new)) => new < cur,
            (Some((cur, _)), new) => {
                let now = Instant::now();
                new.resolve(now) < cur.resolve(now)
            }
        };
        if earlier {
            self.deadline = Some((deadline, idx));
        }
    }
}

/// A primitive operation inside a perform.
///
/// Implementations keep their result (a received value, a returned send
/// value) in themselves; the typed `Op::__complete` reads it afterwards.
pub trait Leaf {
    /// Fast path: commit now if ready, without publishing anything. Returns
    /// `true` when this leaf committed.
    fn try_now(&mut self) -> bool;
    /// False only if `try_now` would fail now; cheap, with no effect. A
    /// choice asks every leaf first and tries only those that may complete,
    /// drawing among them at random, so that its branches follow the few
    /// leaves that can win rather than a random order of them all.
    #[inline]
    fn may_complete(&self) -> bool {
        true
    }
    /// Publishes interest, committing at once if a partner is already there.
    fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered;
    /// Withdraws the interest published by `register` (no-op if a partner
    /// already removed it).
    fn unregister(&mut self, op: &OpState);
    /// The deadline of a timer leaf whose time has not come; `None` for
    /// any other leaf. Registering such a leaf only offers the deadline,
    /// so a choice of it and one other leaf performs like that leaf alone,
    /// with the deadline attached (see `perform`).
    #[inline]
    fn pending_deadline(&self) -> Option<Deadline> {
        None
    }
    /// For a perform in which this leaf, index `idx`, is the only one that
    /// can become ready without a clock (see `LeafList::push_timer`):
    /// `try_now`, else `register`. `cx.op` is not yet visible to any other
    /// party, which lets a leaf do both in one step (a channel takes its
    /// lock once).
    fn try_or_register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
        if self.try_now() {
            Registered::Committed
        } else {
            self.register(cx, idx)
        }
    }
    /// Called on a registered leaf, in its performer's context, when the
    /// performer was woken but nothing committed: a leaf that asks for
    /// such wakes (a future's waker) looks again, and commits its own
    /// perform (`commit_own`) if it is ready now. True if it committed.
    #[inline]
    fn repoll(&mut self, op: &OpState, idx: usize) -> bool {
        let _ = (op, idx);
        false
    }
    /// Appends what this leaf waits for, in words (`recv on channel@0x..
    /// (created at src/hub.rs:12:5)`), for dumps and deadlock reports.
    /// Asked only while the perform waits, on its own thread, and may read
    /// only what partners never write (a leaf's value slot and queue node
    /// change under other threads).
    fn describe(&self, out: &mut String) {
        out.push_str("an operation");
    }
}

const INLINE: usize = 4;

/// The flattened leaves of one perform, in tree order. Holds up to four
/// leaves without allocating.
pub struct LeafList<'s> {
    inline: [Option<&'s mut dyn Leaf>; INLINE],
    len: usize,
    spill: Vec<&'s mut dyn Leaf>,
    /// The deadlines of the first two leaves, for each that is a timer
    /// waiting for a time not yet come: all a perform asks of a list when
    /// it looks for one leaf racing a pending timer.
    pending: [Option<Deadline>; LONE_MAX],
}

/// A perform is one leaf racing a pending timer only if it has at most
/// this many leaves.
pub(crate) const LONE_MAX: usize = 2;

impl std::fmt::Debug for LeafList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafList").field("len", &self.len).finish()
    }
}

impl<'s> LeafList<'s> {
    #[inline]
    pub(crate) fn new() -> Self {
        LeafList {
            inline: Default::default(),
            len: 0,
            spill: Vec::new(),
            pending: [None; LONE_MAX],
        }
    }

    /// Appends a timer leaf; `pending` is its deadline if that has not come
    /// yet. Registering such a leaf only offers its deadline, so a choice
    /// of one other leaf and such a timer performs like that leaf alone,
    /// with the deadline attached. Recorded here, at push time, rather than
    /// asked of every leaf through a dynamic call, whose answer would come
    /// back through memory, a store-forwarding stall.
    #[inline]
    pub(crate) fn push_timer(&mut self, leaf: &'s mut dyn Leaf, pending: Option<Deadline>) {
        if self.len < LONE_MAX {
            self.pending[self.len] = pending;
        }
        self.push(leaf);
    }

    /// The deadline `push_timer` recorded for leaf `i < LONE_MAX`.
    #[inline]
    pub(crate) fn pending_deadline(&self, i: usize) -> Option<Deadline> {
        self.pending[i]
    }

    /// Appends one leaf.
    #[inline]
    pub fn push(&mut self, leaf: &'s mut dyn Leaf) {
        if self.len < INLINE {
            self.inline[self.len] = Some(leaf);
        } else {
            self.spill.push(leaf);
        }
        self.len += 1;
    }

    /// Number of leaves pushed so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no leaf was pushed.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `Leaf::describe` of leaf `i`.
    pub(crate) fn describe(&self, i: usize, out: &mut String) {
        let leaf: &dyn Leaf = if i < INLINE {
            match &self.inline[i] {
                Some(l) => &**l,
                None => unreachable!("leaf index out of range"),
            }
        } else {
            &*self.spill[i - INLINE]
        };
        leaf.describe(out);
    }

    #[inline]
    pub(crate) fn get(&mut self, i: usize) -> &mut dyn Leaf {
        if i < INLINE {
            match &mut self.inline[i] {
                Some(l) => &mut **l,
                None => unreachable!("leaf index out of range"),
            }
        } else {
            &mut *self.spill[i - INLINE]
        }
    }
}

/// Commits our own perform to `idx` (a leaf found itself ready while
/// registering). If another party got there first, says so instead.
pub(crate) fn commit_own(op: &OpState, idx: usize) -> Registered {
    use crate::op::state::TryClaim;
    match op.try_claim() {
        TryClaim::Claimed(c) => {
            c.commit_own(idx);
            Registered::Committed
        }
        // Busy: another party holds the claim and will commit it.
        TryClaim::Synced | TryClaim::Busy => Registered::CommittedByOther,
    }
}
