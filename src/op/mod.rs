//! Operations (Concurrent ML events): the `Op` trait, its combinators and `perform`.
//!
//! An operation is a tree: inner nodes (`wrap`, `or`, `choice`, `guard`,
//! `with_nack`) and leaves (a channel end, a timer, a signal). Performing it
//! runs the guards, flattens the leaves into one list (a tree whose type
//! fixes its leaf count tries them in place first), and commits exactly
//! one leaf through the protocol in [`state`]; then the winning path's wrap
//! functions run, and every losing `with_nack` branch signals its [`Nack`].

pub mod arms;
pub(crate) mod combinators;
pub(crate) mod leaf;
mod nack;
pub(crate) mod oneshot;
pub(crate) mod perform;
pub(crate) mod signal;
pub(crate) mod state;
pub(crate) mod tree;

pub use combinators::{
    always, choice, guard, never, Always, BoxOp, Choice, Guard, Never, Or, Wrap,
};
pub use nack::{with_nack, Nack, WithNack};

use tree::Tree;

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
    fn perform(self) -> Self::Output
    where
        Self: Sized,
    {
        perform::perform(self)
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
