//! The `Op` trait, and the combinators its own methods build: `wrap`,
//! `or` and `boxed`. (The others, `choice`, `always`, `never` and `guard`,
//! are in `combinators`; the protocol a perform drives, in `tree`.)

use std::fmt;

use crate::op::leaf::LeafList;
use crate::op::perform;
use crate::op::tree::{two_children, Token, Tree, Visit};

/// Something that may happen: a message exchanged, a time reached, a signal
/// raised. Building an operation does nothing; [`perform`](Op::perform)
/// blocks until exactly one of its underlying events happens.
///
/// ```
/// use selvedge::{after, channel, Op};
/// use std::time::Duration;
///
/// selvedge::run(|| {
///     let (tx, rx) = channel::<u32>();
///     selvedge::spawn(move || tx.send(7).unwrap());
///     let got = rx
///         .recv_op()
///         .wrap(|r| r.ok())
///         .or(after(Duration::from_secs(5)).wrap(|()| None))
///         .perform();
///     assert_eq!(got, Some(7));
/// });
/// ```
///
/// The trait is sealed: the operations are the ones this crate builds and
/// their combinations, so the commit protocol beneath them cannot be
/// broken from outside.
///
/// ```compile_fail,E0277
/// struct Mine;
/// impl selvedge::Op for Mine {
///     type Output = ();
/// }
/// ```
pub trait Op: Tree<<Self as Op>::Output> {
    /// What performing the operation returns.
    type Output;

    /// Blocks the calling fiber (or OS thread, outside any fiber) until one
    /// underlying event happens, and returns its result.
    #[track_caller]
    fn perform(self) -> Self::Output
    where
        Self: Sized,
    {
        perform::perform(self, std::panic::Location::caller())
    }

    /// Completes the operation only if it can complete right now, without
    /// blocking; `None` otherwise (and then it had no effect).
    fn try_perform(self) -> Option<Self::Output>
    where
        Self: Sized,
    {
        perform::try_perform(self)
    }

    /// An operation that, when performed, performs `self` and passes the
    /// result through `f` (run once, in the performing fiber, after commit).
    fn wrap<U, F: FnOnce(Self::Output) -> U>(self, f: F) -> Wrap<Self, F>
    where
        Self: Sized,
    {
        Wrap::new(self, f)
    }

    /// A choice between `self` and `other`: exactly one of them happens.
    fn or<B: Op<Output = Self::Output>>(self, other: B) -> Or<Self, B>
    where
        Self: Sized,
    {
        Or::new(self, other)
    }

    /// Erases the type, for storing operations of different shapes together.
    fn boxed<'a>(self) -> BoxOp<'a, Self::Output>
    where
        Self: Sized + 'a,
    {
        BoxOp::new(self)
    }
}

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
