//! The structural operations that are not methods of `Op`: `choice`,
//! `always`, `never` and `guard`. They only route leaves and results; the
//! protocol lives in `perform` and the leaves.

use std::fmt;
use std::marker::PhantomData;

use crate::op::algebra::Op;
use crate::op::leaf::{Leaf, LeafList, RegisterCx, Registered};
use crate::op::state::OpState;
use crate::op::tree::{one_leaf, Token, Tree};

/// A choice among any number of operations of one type: see [`choice`].
#[derive(Debug)]
pub struct Choice<O> {
    ops: Vec<O>,
    ends: Vec<usize>,
}

/// Performs exactly one of `ops`; when several are ready, each is equally
/// likely. An empty choice never completes.
///
/// ```
/// use selvedge::{always, choice, Op};
/// let n = choice([always(1), always(2), always(3)]).perform();
/// assert!((1..=3).contains(&n));
/// ```
pub fn choice<I>(ops: I) -> Choice<I::Item>
where
    I: IntoIterator,
    I::Item: Op,
{
    Choice {
        ops: ops.into_iter().collect(),
        ends: Vec::new(),
    }
}

impl<O: Op> Tree<O::Output> for Choice<O> {
    fn prepare(&mut self, t: Token) {
        self.ops.iter_mut().for_each(|op| op.prepare(t));
    }
    fn leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        let start = leaves.len();
        self.ends.clear();
        self.ends.reserve(self.ops.len());
        for op in self.ops.iter_mut() {
            op.leaves(leaves);
            self.ends.push(leaves.len() - start);
        }
    }
    fn complete(self, winner: usize, t: Token) -> O::Output {
        let child = self.ends.partition_point(|&end| end <= winner);
        let begin = if child == 0 { 0 } else { self.ends[child - 1] };
        let op = self
            .ops
            .into_iter()
            .nth(child)
            .expect("winner is one of the choice's leaves");
        op.complete(winner - begin, t)
    }
}

impl<O: Op> Op for Choice<O> {
    type Output = O::Output;
}

/// An operation that is always ready with `value`.
pub struct Always<T> {
    value: Option<T>,
}

/// An operation that completes at once with `value` (useful as the base
/// case of a guard, or for an operation that must be one of a kind).
///
/// It is not a default branch: in a choice, ready branches are equally
/// likely, so `always` wins about half the time against a ready channel.
/// For "this, or else that at once", use [`Op::try_perform`] or a
/// `default` arm of [`select!`](crate::select).
///
/// ```
/// use selvedge::{always, Op};
///
/// selvedge::run(|| {
///     let (tx, rx) = selvedge::bounded(1);
///     tx.send(1).unwrap();
///     // Both are ready: either may win.
///     let got = rx.recv_op().wrap(|r| r.ok()).or(always(None)).perform();
///     assert!(got == Some(1) || got.is_none());
/// });
/// ```
pub fn always<T>(value: T) -> Always<T> {
    Always { value: Some(value) }
}

impl<T> fmt::Debug for Always<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Always")
    }
}

impl<T> Leaf for Always<T> {
    fn try_now(&mut self) -> bool {
        true
    }
    fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
        crate::op::leaf::commit_own(cx.op, idx)
    }
    fn unregister(&mut self, _op: &OpState) {}
}

impl<T> Tree<T> for Always<T> {
    one_leaf!();
    fn complete(mut self, _winner: usize, _: Token) -> T {
        self.value.take().expect("always performed once")
    }
}

impl<T> Op for Always<T> {
    type Output = T;
}

/// An operation that never completes.
pub struct Never<T> {
    _marker: PhantomData<fn() -> T>,
}

/// An operation that never completes (a choice branch that is switched off).
pub fn never<T>() -> Never<T> {
    Never {
        _marker: PhantomData,
    }
}

impl<T> fmt::Debug for Never<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Never")
    }
}

impl<T> Tree<T> for Never<T> {
    const LEAF_COUNT: Option<usize> = Some(0);
    fn leaves<'s>(&'s mut self, _leaves: &mut LeafList<'s>) {}
    fn complete(self, _winner: usize, _: Token) -> T {
        unreachable!("never() has no leaf that could commit")
    }
}

impl<T> Op for Never<T> {
    type Output = T;
}

/// An operation built at perform time: see [`guard`].
pub struct Guard<F, O> {
    state: GuardState<F, O>,
}

enum GuardState<F, O> {
    Pending(F),
    Ready(O),
    Empty,
}

/// Delays building an operation until it is performed: `f` runs each time
/// the guard is performed (CML's `guard`), e.g. to read the clock.
///
/// ```
/// use selvedge::{always, guard, Op};
/// use std::cell::Cell;
/// let calls = Cell::new(0);
/// let op = guard(|| { calls.set(calls.get() + 1); always(calls.get()) });
/// assert_eq!(calls.get(), 0);
/// assert_eq!(op.perform(), 1);
/// ```
pub fn guard<O: Op, F: FnOnce() -> O>(f: F) -> Guard<F, O> {
    Guard {
        state: GuardState::Pending(f),
    }
}

impl<F, O> fmt::Debug for Guard<F, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            GuardState::Pending(_) => "pending",
            GuardState::Ready(_) => "ready",
            GuardState::Empty => "empty",
        };
        f.debug_struct("Guard").field("state", &state).finish()
    }
}

impl<O: Op, F: FnOnce() -> O> Tree<O::Output> for Guard<F, O> {
    fn prepare(&mut self, t: Token) {
        if let GuardState::Pending(f) = std::mem::replace(&mut self.state, GuardState::Empty) {
            let mut op = f();
            op.prepare(t);
            self.state = GuardState::Ready(op);
        }
    }
    fn leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        match &mut self.state {
            GuardState::Ready(op) => op.leaves(leaves),
            _ => unreachable!("guard enumerated before it was prepared"),
        }
    }
    fn complete(self, winner: usize, t: Token) -> O::Output {
        match self.state {
            GuardState::Ready(op) => op.complete(winner, t),
            _ => unreachable!("guard completed before it was prepared"),
        }
    }
}

impl<O: Op, F: FnOnce() -> O> Op for Guard<F, O> {
    type Output = O::Output;
}
