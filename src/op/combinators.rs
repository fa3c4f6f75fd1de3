//! The structural operations: `wrap`, `or`, `choice`, `always`, `never`,
//! `guard` and `BoxOp`. They only route leaves and results; the protocol
//! lives in `perform` and the leaves.

use std::fmt;
use std::marker::PhantomData;

use crate::op::leaf::{one_leaf, Leaf, LeafList, RegisterCx, Registered};
use crate::op::state::OpState;
use crate::op::Op;
use crate::timer::{Deadline, LeafDeadline};

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

impl<O: Op, U, F: FnOnce(O::Output) -> U> Op for Wrap<O, F> {
    type Output = U;
    const __LEAF_COUNT: Option<usize> = O::__LEAF_COUNT;
    const __HAS_TIMER_LEAF: bool = O::__HAS_TIMER_LEAF;
    fn __prepare(&mut self) {
        self.op.__prepare();
    }
    fn __leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        self.op.__leaves(leaves);
    }
    #[inline]
    fn __try_leaf(&mut self, i: usize) -> bool {
        self.op.__try_leaf(i)
    }
    #[inline]
    fn __may_complete(&self, i: usize) -> bool {
        self.op.__may_complete(i)
    }
    #[inline]
    fn __pending_deadline(&self, i: usize) -> Option<Deadline> {
        self.op.__pending_deadline(i)
    }
    #[inline]
    fn __perform_leaf(&mut self, i: usize, idx: usize, deadline: Option<LeafDeadline>) -> usize {
        self.op.__perform_leaf(i, idx, deadline)
    }
    fn __complete(self, winner: usize) -> U {
        (self.f)(self.op.__complete(winner))
    }
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

/// The `Op` items, but for `Output` and `__complete`, of a node whose
/// leaves are those of two operations, each in a field of the node, the
/// first's leaves first, with the first's leaf count in a field `split`
/// once listed: `or`, and `select!`'s arms (`arms::Arms`).
macro_rules! two_children {
    ($A:ident $a:ident, $B:ident $b:ident) => {
        const __LEAF_COUNT: Option<usize> = match ($A::__LEAF_COUNT, $B::__LEAF_COUNT) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        const __HAS_TIMER_LEAF: bool = $A::__HAS_TIMER_LEAF || $B::__HAS_TIMER_LEAF;
        fn __prepare(&mut self) {
            self.$a.__prepare();
            self.$b.__prepare();
        }
        fn __leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
            let start = leaves.len();
            self.$a.__leaves(leaves);
            self.split = leaves.len() - start;
            self.$b.__leaves(leaves);
        }
        #[inline]
        fn __try_leaf(&mut self, i: usize) -> bool {
            match $A::__LEAF_COUNT {
                Some(split) if i >= split => self.$b.__try_leaf(i - split),
                _ => self.$a.__try_leaf(i),
            }
        }
        #[inline]
        fn __may_complete(&self, i: usize) -> bool {
            match $A::__LEAF_COUNT {
                Some(split) if i >= split => self.$b.__may_complete(i - split),
                _ => self.$a.__may_complete(i),
            }
        }
        #[inline]
        fn __pending_deadline(&self, i: usize) -> Option<Deadline> {
            match $A::__LEAF_COUNT {
                Some(split) if i >= split => self.$b.__pending_deadline(i - split),
                _ => self.$a.__pending_deadline(i),
            }
        }
        #[inline]
        fn __perform_leaf(
            &mut self,
            i: usize,
            idx: usize,
            deadline: Option<LeafDeadline>,
        ) -> usize {
            match $A::__LEAF_COUNT {
                Some(split) if i >= split => self.$b.__perform_leaf(i - split, idx, deadline),
                _ => self.$a.__perform_leaf(i, idx, deadline),
            }
        }
    };
}
pub(crate) use two_children;

impl<A: Op, B: Op<Output = A::Output>> Op for Or<A, B> {
    type Output = A::Output;
    two_children!(A a, B b);
    fn __complete(self, winner: usize) -> A::Output {
        // A perform that tried the leaves in place never listed them, so
        // `split` is unset then; a fixed count is the same number.
        let split = A::__LEAF_COUNT.unwrap_or(self.split);
        if winner < split {
            self.a.__complete(winner)
        } else {
            self.b.__complete(winner - split)
        }
    }
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

impl<O: Op> Op for Choice<O> {
    type Output = O::Output;
    fn __prepare(&mut self) {
        self.ops.iter_mut().for_each(Op::__prepare);
    }
    fn __leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        let start = leaves.len();
        self.ends.clear();
        self.ends.reserve(self.ops.len());
        for op in self.ops.iter_mut() {
            op.__leaves(leaves);
            self.ends.push(leaves.len() - start);
        }
    }
    fn __complete(self, winner: usize) -> O::Output {
        let child = self.ends.partition_point(|&end| end <= winner);
        let begin = if child == 0 { 0 } else { self.ends[child - 1] };
        let op = self
            .ops
            .into_iter()
            .nth(child)
            .expect("winner is one of the choice's leaves");
        op.__complete(winner - begin)
    }
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

impl<T> Op for Always<T> {
    type Output = T;
    one_leaf!();
    fn __prepare(&mut self) {}
    fn __leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        leaves.push(self);
    }
    fn __complete(mut self, _winner: usize) -> T {
        self.value.take().expect("always performed once")
    }
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

impl<T> Op for Never<T> {
    type Output = T;
    const __LEAF_COUNT: Option<usize> = Some(0);
    fn __prepare(&mut self) {}
    fn __leaves<'s>(&'s mut self, _leaves: &mut LeafList<'s>) {}
    fn __complete(self, _winner: usize) -> T {
        unreachable!("never() has no leaf that could commit")
    }
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

impl<O: Op, F: FnOnce() -> O> Op for Guard<F, O> {
    type Output = O::Output;
    fn __prepare(&mut self) {
        if let GuardState::Pending(f) = std::mem::replace(&mut self.state, GuardState::Empty) {
            let mut op = f();
            op.__prepare();
            self.state = GuardState::Ready(op);
        }
    }
    fn __leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        match &mut self.state {
            GuardState::Ready(op) => op.__leaves(leaves),
            _ => unreachable!("guard enumerated before it was prepared"),
        }
    }
    fn __complete(self, winner: usize) -> O::Output {
        match self.state {
            GuardState::Ready(op) => op.__complete(winner),
            _ => unreachable!("guard completed before it was prepared"),
        }
    }
}

/// The object-safe face of an operation, for `BoxOp`.
trait DynOp<T> {
    fn prepare(&mut self);
    fn leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>);
    fn complete(self: Box<Self>, winner: usize) -> T;
}

impl<O: Op> DynOp<O::Output> for O {
    fn prepare(&mut self) {
        self.__prepare();
    }
    fn leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        self.__leaves(leaves);
    }
    fn complete(self: Box<Self>, winner: usize) -> O::Output {
        (*self).__complete(winner)
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

impl<T> Op for BoxOp<'_, T> {
    type Output = T;
    fn __prepare(&mut self) {
        self.inner.prepare();
    }
    fn __leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        self.inner.leaves(leaves);
    }
    fn __complete(self, winner: usize) -> T {
        self.inner.complete(winner)
    }
}
