//! The fast path: which of a perform's leaves commits now, without
//! waiting. Leaves are asked through `FastPath`, listed or in place, and
//! the winner is drawn uniformly among those ready.

use std::marker::PhantomData;

use crate::op::leaf::{Deadline, Leaf, LeafList};
use crate::op::order::{self, Order, PICK_MAX};
use crate::op::tree::{Tree, Visit};
use crate::runtime::context;
use crate::runtime::site::Site;

/// `Leaf::try_now`.
struct TryNow;

impl Visit for TryNow {
    type Output = bool;
    #[inline(always)]
    fn visit<L: Leaf + ?Sized>(self, leaf: &mut L) -> bool {
        leaf.try_now()
    }
}

/// `Leaf::may_complete`.
struct MayComplete;

impl Visit for MayComplete {
    type Output = bool;
    #[inline(always)]
    fn visit<L: Leaf + ?Sized>(self, leaf: &mut L) -> bool {
        leaf.may_complete()
    }
}

/// `Leaf::pending_deadline`.
struct PendingDeadline;

impl Visit for PendingDeadline {
    type Output = Option<Deadline>;
    #[inline(always)]
    fn visit<L: Leaf + ?Sized>(self, leaf: &mut L) -> Option<Deadline> {
        leaf.pending_deadline()
    }
}

/// A perform's leaves by index, as the fast path asks and tries them:
/// listed, through dynamic calls, or where they are in an operation whose
/// type fixes their count (`InPlace`), through static ones, which spares
/// building the list and calling through `dyn Leaf`.
pub(super) trait FastPath {
    /// `Leaf::may_complete` of leaf `i`.
    fn may_complete(&mut self, i: usize) -> bool;
    /// `Leaf::try_now` of leaf `i`.
    fn try_now(&mut self, i: usize) -> bool;
    /// The deadline of leaf `i < LONE_MAX` if it is a timer not yet due.
    fn pending_deadline(&mut self, i: usize) -> Option<Deadline>;
}

impl FastPath for LeafList<'_> {
    #[inline]
    fn may_complete(&mut self, i: usize) -> bool {
        self.get(i).may_complete()
    }
    #[inline]
    fn try_now(&mut self, i: usize) -> bool {
        self.get(i).try_now()
    }
    #[inline]
    fn pending_deadline(&mut self, i: usize) -> Option<Deadline> {
        LeafList::pending_deadline(self, i)
    }
}

/// The leaves of an operation with a fixed leaf count, where they are.
pub(super) struct InPlace<'a, O, Out>(&'a mut O, PhantomData<fn() -> Out>);

impl<'a, O: Tree<Out>, Out> InPlace<'a, O, Out> {
    #[inline(always)]
    pub(super) fn new(op: &'a mut O) -> Self {
        InPlace(op, PhantomData)
    }
}

impl<O: Tree<Out>, Out> FastPath for InPlace<'_, O, Out> {
    #[inline]
    fn may_complete(&mut self, i: usize) -> bool {
        self.0.with_leaf(i, MayComplete)
    }
    #[inline]
    fn try_now(&mut self, i: usize) -> bool {
        self.0.with_leaf(i, TryNow)
    }
    #[inline]
    fn pending_deadline(&mut self, i: usize) -> Option<Deadline> {
        self.0.with_leaf(i, PendingDeadline)
    }
}

/// The fast path: a leaf of the `n` that commits without waiting, each
/// ready one as likely as the others. Up to `PICK_MAX` leaves draw among
/// those that may complete (`pick_ready`); more try all in a random order.
#[inline(always)]
pub(super) fn ready_now(leaves: &mut impl FastPath, n: usize) -> Option<usize> {
    if n <= PICK_MAX {
        pick_ready(leaves, n)
    } else {
        let order = Order::shuffled(n);
        order.iter().find(|&i| leaves.try_now(i))
    }
}

/// The fast path for `n <= PICK_MAX` leaves: asks every leaf whether it
/// may complete, then tries those that may, drawn at random until one
/// commits. The winner is uniform among the leaves ready now, as with a
/// random order of all of them; but a random order made every try's hit
/// or miss a coin toss for the branch predictor (see docs/design.md,
/// "Fast path").
#[inline(always)]
pub(super) fn pick_ready(leaves: &mut impl FastPath, n: usize) -> Option<usize> {
    debug_assert!(n <= PICK_MAX);
    let mut candidates = 0;
    for i in 0..n {
        candidates |= usize::from(leaves.may_complete(i)) << i;
    }
    let mut r = order::random();
    while candidates != 0 {
        let i = order::draw_member(&mut r, candidates);
        if leaves.try_now(i) {
            return Some(i);
        }
        candidates &= !(1 << i);
    }
    None
}

/// The fast path, and if it finds nothing while a partner this fiber woke
/// waits to run, the fast path once more after letting it run: it is
/// likely to offer again, which spares a registration on every leaf and a
/// withdrawal from all but one. A loop, so that `first_ready` has one call
/// site and is inlined: with two, it was compiled out of line.
#[inline(always)]
pub(super) fn ready_now_or_after_yield(
    mut first_ready: impl FnMut() -> Option<usize>,
    at: Site,
) -> Option<usize> {
    let mut yielded = false;
    loop {
        if let Some(i) = first_ready() {
            return Some(i);
        }
        if yielded || !context::yield_to_woken(at) {
            return None;
        }
        yielded = true;
    }
}
