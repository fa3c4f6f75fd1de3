//! The arms of a `select!`: operations whose outputs may differ, performed
//! as one choice that tells which arm won. Only the winning arm's operation
//! completes; the others are dropped (a `with_nack` among them fires)
//! before its body runs.
//!
//! The perform leaves the operations in place and returns the winning
//! arm's number, which the macro dispatches on once. Joining the arms with
//! `or`, each wrapped to store its output in a slot, would route the winner
//! three times (through the `or` nodes, into a slot, and out of the slots),
//! each a chain of branches.

use std::fmt;
use std::marker::PhantomData;

use crate::op::algebra::Op;
use crate::op::combinators::Never;
use crate::op::tree::two_children;
use crate::op::tree::{Token, Tree};

/// A list of arms: the first arm's operation, then the rest. Its output,
/// when performed as an operation, is the number of the arm that won.
pub struct Arms<H, T> {
    head: H,
    tail: T,
    /// The head's leaf count when its type does not fix it (see `Or`).
    split: usize,
}

impl<H, T> Arms<H, T> {
    /// `head` before the arms of `tail`.
    #[inline]
    pub fn new(head: H, tail: T) -> Self {
        Arms {
            head,
            tail,
            split: 0,
        }
    }
}

impl<H, T> fmt::Debug for Arms<H, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Arms")
    }
}

/// Which arm won, and which of that arm's leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Won {
    /// The arm, counted from 0.
    pub arm: usize,
    /// The leaf, counted from the arm's first.
    pub leaf: usize,
}

/// Maps a leaf of the whole list to its arm.
pub trait Locate {
    /// True when every arm's type fixes it to exactly one leaf, so that
    /// leaf `i` is arm `i` (a `select!` over channel ends and timers).
    const ONE_LEAF_EACH: bool;
    /// The arm holding `leaf` (counted from this list's first leaf), after
    /// the list was performed or its leaves listed.
    fn locate(&self, leaf: usize) -> Won;
}

/// The end of a list of arms: `never()`, which has no leaf.
impl Locate for Never<usize> {
    const ONE_LEAF_EACH: bool = true;
    fn locate(&self, _leaf: usize) -> Won {
        unreachable!("a leaf past the last arm")
    }
}

impl<H: Op, T: Locate> Locate for Arms<H, T> {
    const ONE_LEAF_EACH: bool = matches!(H::LEAF_COUNT, Some(1)) && T::ONE_LEAF_EACH;
    #[inline]
    fn locate(&self, leaf: usize) -> Won {
        if Self::ONE_LEAF_EACH {
            return Won { arm: leaf, leaf: 0 };
        }
        let split = H::LEAF_COUNT.unwrap_or(self.split);
        if leaf < split {
            Won { arm: 0, leaf }
        } else {
            let won = self.tail.locate(leaf - split);
            Won {
                arm: won.arm + 1,
                leaf: won.leaf,
            }
        }
    }
}

impl<H: Op, T: Op<Output = usize> + Locate> Tree<usize> for Arms<H, T> {
    two_children!(H head, T tail);
    fn complete(self, winner: usize, _: Token) -> usize {
        self.locate(winner).arm
    }
}

impl<H: Op, T: Op<Output = usize> + Locate> Op for Arms<H, T> {
    type Output = usize;
}

/// Performs `arms`, blocking until one of their leaves commits, and says
/// which; the arms keep their state for `take`.
#[inline]
#[track_caller]
pub fn perform<L: Op + Locate>(arms: &mut L) -> Won {
    let leaf = crate::op::perform::commit(arms, std::panic::Location::caller());
    arms.locate(leaf)
}

/// Performs `arms` only if one of their leaves is ready now, and says
/// which; the arms keep their state for `take`.
#[inline]
pub fn try_perform<L: Op + Locate>(arms: &mut L) -> Option<Won> {
    let leaf = crate::op::perform::try_commit(arms)?;
    Some(arms.locate(leaf))
}

/// Drops the arms of a `select!` whose default arm runs, before it runs.
/// (A function, so a user's lints do not flag the macro's `drop`.)
#[inline]
pub fn discard<L>(arms: L) {
    drop(arms);
}

/// The index of the first arm of a list, as a type (see `Pick`).
#[derive(Debug)]
pub struct First;

/// The index of the arm after arm `I`.
#[derive(Debug)]
pub struct Next<I>(PhantomData<I>);

/// The arm at index `I` of a list.
pub trait Pick<I> {
    /// Its operation.
    type Op: Op;
    /// Its number, counted from 0.
    const ARM: usize;
    /// Its operation, taken out of the list; the other arms are dropped.
    fn pick(self) -> Self::Op;
}

impl<H: Op, T> Pick<First> for Arms<H, T> {
    type Op = H;
    const ARM: usize = 0;
    #[inline]
    fn pick(self) -> H {
        self.head
    }
}

impl<H, T: Pick<I>, I> Pick<Next<I>> for Arms<H, T> {
    type Op = T::Op;
    const ARM: usize = T::ARM + 1;
    #[inline]
    fn pick(self) -> T::Op {
        self.tail.pick()
    }
}

/// The number of arm `I` of `arms` (a constant; the value only names the
/// list's type, which `select!` cannot write out).
#[inline(always)]
pub fn arm<I, L: Pick<I>>(_arms: &L) -> usize {
    L::ARM
}

/// Completes arm `I`, which won with its leaf `leaf`, after dropping the
/// other arms: its output, as performing that arm alone would give.
#[inline(always)]
pub fn take<I, L: Pick<I>>(arms: L, leaf: usize) -> <L::Op as Op>::Output {
    arms.pick().complete(leaf, Token::NEW)
}
