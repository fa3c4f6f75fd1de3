//! The structural operations: `wrap`, `or`, `choice`, `always`, `never`,
//! `guard` and `BoxOp`. They only route leaves and results; the protocol
//! lives in `perform` and the leaves.

use std::fmt;
use std::marker::PhantomData;

use crate::op::leaf::{Leaf, LeafList, RegisterCx, Registered};
use crate::op::state::OpState;
use crate::op::tree::{one_leaf, Token, Tree, Visit};
use crate::op::Op;

/// `op.wrap(f)`: see [`Op::wrap`].
pub struct Wrap<O, F> {
    op: O,
    f: F,
}

impl<O, F> Wrap<O, F> {
    pub(crate) fn new(op: O, f: F) -> Self {
        Wrap { op, f }
    }
}

impl<O: fmt::Debug, F> fmt::Debug for Wrap<O, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wrap")
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}

impl<O: Op, U, F: FnOnce(O::Output) -> U> Tree<U> for Wrap<O, F> {
    const LEAF_COUNT: Option<usize> = O::LEAF_COUNT;
    const HAS_TIMER_LEAF: bool = O::HAS_TIMER_LEAF;
    fn prepare(&mut self, t: Token) {
        self.op.prepare(t);
    }
    fn leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        self.op.leaves(leaves);
    }
    #[inline]
    fn with_leaf<V: Visit>(&mut self, i: usize, visit: V) -> V::Output {
        self.op.with_leaf(i, visit)
    }
    fn complete(self, winner: usize, t: Token) -> U {
        (self.f)(self.op.complete(winner, t))
    }
}

impl<O: Op, U, F: FnOnce(O::Output) -> U> Op for Wrap<O, F> {
    type Output = U;
}

/// `a.or(b)`: see [`Op::or`].
#[derive(Debug)]
pub struct Or<A, B> {
    a: A,
    b: B,
    split: usize,
}

impl<A, B> Or<A, B> {
    pub(crate) fn new(a: A, b: B) -> Self {
        Or { a, b, split: 0 }
    }
}

/// The `Tree` items, but for `complete`, of a node whose leaves are those
/// of two operations, each in a field of the node, the first's leaves
/// first, with the first's leaf count in a field `split` once listed:
/// `or`, and `select!`'s arms (`arms::Arms`).
macro_rules! two_children {
    ($A:ident $a:ident, $B:ident $b:ident) => {
        const LEAF_COUNT: Option<usize> = match ($A::LEAF_COUNT, $B::LEAF_COUNT) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        const HAS_TIMER_LEAF: bool = $A::HAS_TIMER_LEAF || $B::HAS_TIMER_LEAF;
        fn prepare(&mut self, t: $crate::op::tree::Token) {
            self.$a.prepare(t);
            self.$b.prepare(t);
        }
        fn leaves<'s>(&'s mut self, leaves: &mut $crate::op::leaf::LeafList<'s>) {
            let start = leaves.len();
            self.$a.leaves(leaves);
            self.split = leaves.len() - start;
            self.$b.leaves(leaves);
        }
        #[inline]
        fn with_leaf<V: $crate::op::tree::Visit>(&mut self, i: usize, visit: V) -> V::Output {
            match $A::LEAF_COUNT {
                Some(split) if i >= split => self.$b.with_leaf(i - split, visit),
                _ => self.$a.with_leaf(i, visit),
            }
        }
    };
}
pub(crate) use two_children;

impl<A: Op, B: Op<Output = A::Output>> Tree<A::Output> for Or<A, B> {
    two_children!(A a, B b);
    fn complete(self, winner: usize, t: Token) -> A::Output {
        // A perform that tried the leaves in place never listed them, so
        // `split` is unset then; a fixed count is the same number.
        let split = A::LEAF_COUNT.unwrap_or(self.split);
        if winner < split {
            self.a.complete(winner, t)
        } else {
            self.b.complete(winner - split, t)
        }
    }
}

impl<A: Op, B: Op<Output = A::Output>> Op for Or<A, B> {
    type Output = A::Output;
}

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

/// An operation that completes at once with `value` (useful as a default
/// branch of a choice, or a base case of a guard).
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

/// The object-safe face of an operation, for `BoxOp`.
trait DynOp<T> {
    fn prepare(&mut self, t: Token);
    fn leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>);
    fn complete(self: Box<Self>, winner: usize, t: Token) -> T;
}

impl<O: Op> DynOp<O::Output> for O {
    fn prepare(&mut self, t: Token) {
        Tree::prepare(self, t);
    }
    fn leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        Tree::leaves(self, leaves);
    }
    fn complete(self: Box<Self>, winner: usize, t: Token) -> O::Output {
        Tree::complete(*self, winner, t)
    }
}

/// A type-erased operation: see [`Op::boxed`].
pub struct BoxOp<'a, T> {
    inner: Box<dyn DynOp<T> + 'a>,
}

impl<'a, T> BoxOp<'a, T> {
    pub(crate) fn new<O: Op<Output = T> + 'a>(op: O) -> Self {
        BoxOp {
            inner: Box::new(op),
        }
    }
}

impl<T> fmt::Debug for BoxOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxOp")
    }
}

impl<T> Tree<T> for BoxOp<'_, T> {
    fn prepare(&mut self, t: Token) {
        self.inner.prepare(t);
    }
    fn leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        self.inner.leaves(leaves);
    }
    fn complete(self, winner: usize, t: Token) -> T {
        self.inner.complete(winner, t)
    }
}

impl<T> Op for BoxOp<'_, T> {
    type Output = T;
}
