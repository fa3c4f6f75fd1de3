//! An operation as `perform` drives it: a tree of leaves. Sealed: this
//! module is private, so code outside the crate can neither implement
//! [`Tree`] (and so not `Op`, whose supertrait it is) nor call the parts
//! of it that change an operation's state, which take a [`Token`].
//!
//! The leaf protocol cannot be implemented from outside:
//!
//! ```compile_fail,E0405
//! struct Evil;
//! impl selvedge::__private::Leaf for Evil {}
//! ```
//!
//! nor driven through an `Op` bound (the token cannot be made):
//!
//! ```compile_fail,E0061
//! fn complete_early<O: selvedge::Op>(op: O) -> O::Output {
//!     op.complete(0)
//! }
//! ```

use crate::op::leaf::{Leaf, LeafList};

/// Proof that a call comes from inside this crate: it has no public
/// constructor, so the methods that take one cannot be called from outside
/// even through an `Op` bound.
#[derive(Clone, Copy, Debug)]
pub struct Token(());

impl Token {
    /// The token, for this crate's callers.
    pub(crate) const NEW: Token = Token(());
}

/// What `perform` asks of an operation whose output is `Out`: run its
/// guards, list its leaves, reach a leaf by index, and produce the output
/// once a leaf has committed. Every `Op` implements it; see `Op`.
pub trait Tree<Out> {
    /// How many leaves `leaves` lists, when the type alone decides it (a
    /// leaf, and `wrap` and `or` of such); `None` when values decide it
    /// (`choice`, `guard`, `with_nack`, `boxed`). A fixed count lets a
    /// perform reach the leaves in place through `with_leaf`, without
    /// listing them first.
    const LEAF_COUNT: Option<usize> = None;

    /// True when the type's fixed leaves include a timer: a choice of a
    /// timer and one other leaf is then checked for the one-leaf path with
    /// a deadline (see `perform`).
    const HAS_TIMER_LEAF: bool = false;

    /// Runs guards and `with_nack` functions; called once, at perform time.
    fn prepare(&mut self, _: Token) {}

    /// Pushes this operation's leaves, in order, after `prepare`.
    fn leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>);

    /// Hands leaf `i` (counted from this node's first) to `visit`, by its
    /// own type, so that the call inlines. Called after `prepare`, and
    /// only on types whose `LEAF_COUNT` is `Some`.
    fn with_leaf<V: Visit>(&mut self, _i: usize, _visit: V) -> V::Output {
        unreachable!("with_leaf on an operation without a fixed leaf count")
    }

    /// Produces the output once leaf `winner` (counted from this node's
    /// first leaf) has committed; runs the winning path's wrap functions.
    fn complete(self, winner: usize, _: Token) -> Out
    where
        Self: Sized;
}

/// Something `perform` does to one leaf of an operation reached in place
/// (see `Tree::with_leaf`): ask it, try it, or perform it alone.
pub trait Visit {
    /// What the visit gives back.
    type Output;
    /// Does it to `leaf`.
    fn visit<L: Leaf + ?Sized>(self, leaf: &mut L) -> Self::Output;
}

/// The `Tree` items of an operation that is one leaf: `one_leaf!()` when
/// the operation is its own leaf, `one_leaf!(field)` when a field is.
macro_rules! one_leaf {
    ($($field:tt)?) => {
        const LEAF_COUNT: Option<usize> = Some(1);
        #[inline]
        fn leaves<'s>(&'s mut self, leaves: &mut $crate::op::leaf::LeafList<'s>) {
            leaves.push(&mut (*self)$(.$field)?);
        }
        // Always inlined: it is the whole of a plain `send` or `recv`.
        #[inline(always)]
        fn with_leaf<V: $crate::op::tree::Visit>(&mut self, _i: usize, visit: V) -> V::Output {
            visit.visit(&mut (*self)$(.$field)?)
        }
    };
}
pub(crate) use one_leaf;

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
