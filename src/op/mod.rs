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

pub use combinators::{
    always, choice, guard, never, Always, BoxOp, Choice, Guard, Never, Or, Wrap,
};
pub use nack::{with_nack, Nack, WithNack};

use crate::timer::{Deadline, LeafDeadline};
use leaf::LeafList;

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
pub trait Op {
    /// What performing the operation returns.
    type Output;

    #[doc(hidden)]
    /// Runs guards and `with_nack` functions; called once, at perform time.
    fn __prepare(&mut self);

    #[doc(hidden)]
    /// Pushes this operation's leaves, in order, after `prepare`.
    fn __leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>);

    #[doc(hidden)]
    /// How many leaves `__leaves` pushes, when the type alone decides it (a
    /// leaf, and `wrap` and `or` of such); `None` when values decide it
    /// (`choice`, `guard`, `with_nack`, `boxed`). A fixed count lets a
    /// perform try the leaves in place, without listing them first.
    const __LEAF_COUNT: Option<usize> = None;

    #[doc(hidden)]
    /// True when the type's fixed leaves include a timer: a choice of a
    /// timer and one other leaf is then listed first, so that it can take
    /// the one-leaf path with a deadline (see `perform`). Only consulted
    /// with a fixed `__LEAF_COUNT`; trying such a pair in place would be
    /// correct too, only slower.
    const __HAS_TIMER_LEAF: bool = false;

    #[doc(hidden)]
    /// Tries leaf `i` (counted from this node's first) as
    /// [`Leaf::try_now`](leaf::Leaf::try_now) does. Called after
    /// `__prepare`, and only on types whose `__LEAF_COUNT` is `Some`.
    fn __try_leaf(&mut self, _i: usize) -> bool {
        unreachable!("__try_leaf on an operation without a fixed leaf count")
    }

    #[doc(hidden)]
    /// Asks leaf `i` [`Leaf::may_complete`](leaf::Leaf::may_complete), as
    /// `__try_leaf` tries it.
    fn __may_complete(&self, _i: usize) -> bool {
        true
    }

    #[doc(hidden)]
    /// The deadline of leaf `i` if it is a timer whose time has not come
    /// (what `LeafList::push_timer` records of a listed one); `None` for
    /// any other leaf. Called after `__prepare`, on fixed leaf counts.
    fn __pending_deadline(&self, _i: usize) -> Option<Deadline> {
        None
    }

    #[doc(hidden)]
    /// Performs leaf `i` (counted from this node's first) alone, as the
    /// perform's leaf `idx`, racing `deadline` (see
    /// `perform::perform_one`); returns the winner. Called after
    /// `__prepare`, and only on types whose `__LEAF_COUNT` is `Some`.
    fn __perform_leaf(&mut self, _i: usize, _idx: usize, _deadline: Option<LeafDeadline>) -> usize {
        unreachable!("__perform_leaf on an operation without a fixed leaf count")
    }

    #[doc(hidden)]
    /// Produces the output once leaf `winner` (counted from this node's
    /// first leaf) has committed; runs the winning path's wrap functions.
    fn __complete(self, winner: usize) -> Self::Output
    where
        Self: Sized;

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
