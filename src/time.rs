//! Time as operations: `after` and `at`, and the `Timeout` they build.
//!
//! A user-facing layer: a timeout is a leaf of the operation protocol, and
//! a blocked perform arms the scheduler's timer driver (`runtime::time`)
//! through `runtime::context`.

use std::time::{Duration, Instant};

use crate::op::leaf::{commit_own, Deadline, Leaf, LeafList, RegisterCx, Registered};
use crate::op::state::OpState;
use crate::op::tree::{Token, Tree, Visit};
use crate::op::Op;
use crate::runtime::context;

/// An operation that completes at a point in time: see [`after`] and [`at`].
#[derive(Debug)]
pub struct Timeout {
    when: When,
}

#[derive(Debug)]
enum When {
    /// A positive duration: it cannot have passed while the perform tries
    /// its leaves, so no clock is read then. If the perform waits, the
    /// deadline counts from a clock reading taken after it began to wait
    /// (`TimerHeap::settle`), so the wait is never shorter than asked;
    /// a `recv or after(d)` whose message comes first reads no clock at all.
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
#[inline]
pub fn after(d: Duration) -> Timeout {
    Timeout {
        when: When::After(d),
    }
}

/// Completes once `deadline` has passed (at once if it already has).
#[inline]
pub fn at(deadline: Instant) -> Timeout {
    Timeout {
        when: When::At(deadline),
    }
}

impl Timeout {
    /// The deadline, and whether it had passed when the perform began.
    #[inline]
    fn deadline(&self) -> (Instant, bool) {
        match self.when {
            When::Prepared { deadline, began } => (deadline, deadline <= began),
            When::After(_) | When::At(_) => {
                unreachable!("a positive `after` has no deadline until it waits")
            }
        }
    }

    /// Its deadline, if it has not come yet (a positive `after` counts as
    /// not yet come: see `When::After`).
    #[inline]
    fn pending(&self) -> Option<Deadline> {
        if let When::After(d) = self.when {
            return Some(Deadline::After(d)); // positive: see `When::After`
        }
        let (deadline, passed) = self.deadline();
        (!passed).then_some(Deadline::At(deadline))
    }
}

impl Leaf for Timeout {
    fn may_complete(&self) -> bool {
        match self.when {
            When::After(_) => false, // positive: see `When::After`
            When::Prepared { deadline, began } => deadline <= began,
            When::At(_) => true, // not prepared: let `try_now` say
        }
    }
    fn try_now(&mut self) -> bool {
        if let When::After(_) = self.when {
            return false; // positive: see `When::After`
        }
        let (deadline, passed) = self.deadline();
        if !passed {
            return false;
        }
        if context::timer_due_by(deadline) {
            context::wait_behind_earlier_deadlines(deadline);
        }
        true
    }
    fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
        match self.pending() {
            Some(deadline) => {
                cx.offer_deadline(deadline, idx);
                Registered::Waiting
            }
            None => commit_own(cx.op, idx),
        }
    }
    fn unregister(&mut self, _op: &OpState) {}
    #[inline]
    fn pending_deadline(&self) -> Option<Deadline> {
        self.pending()
    }
    fn describe(&self, out: &mut String) {
        match self.when {
            When::After(d) => Deadline::After(d).describe(out),
            When::At(at) | When::Prepared { deadline: at, .. } => Deadline::At(at).describe(out),
        }
    }
}

impl Tree<()> for Timeout {
    const LEAF_COUNT: Option<usize> = Some(1);
    const HAS_TIMER_LEAF: bool = true;
    #[inline]
    fn prepare(&mut self, _: Token) {
        let deadline = match self.when {
            When::At(t) => Some(t),
            When::After(d) if d.is_zero() => None, // due now
            When::After(_) | When::Prepared { .. } => return,
        };
        let began = Instant::now();
        let deadline = deadline.unwrap_or(began);
        self.when = When::Prepared { deadline, began };
    }
    #[inline]
    fn leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        let pending = self.pending();
        leaves.push_timer(self, pending);
    }
    #[inline(always)]
    fn with_leaf<V: Visit>(&mut self, _i: usize, visit: V) -> V::Output {
        visit.visit(self)
    }
    fn complete(self, _winner: usize, _: Token) {}
}

impl Op for Timeout {
    type Output = ();
}
