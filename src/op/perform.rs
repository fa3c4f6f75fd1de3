//! `perform`: try the leaves that may complete, in random order, else
//! register on all and wait for exactly one to commit, then withdraw from
//! the others.

use std::mem::MaybeUninit;
use std::time::Instant;

use crate::op::leaf::{Deadline, Leaf, LeafDeadline, LeafList, RegisterCx, Registered, LONE_MAX};
use crate::op::order::Order;
use crate::op::state::OpState;
use crate::op::tree::{Token, Tree, Visit};
use crate::runtime::context::{self, CANCELLED};
use crate::runtime::site::Site;
use crate::runtime::time::{PendingTimer, TimerHandle, TimerTarget};
use crate::runtime::waker::Waker;
use fast_path::{ready_now, ready_now_or_after_yield, FastPath, InPlace};

/// Performs `op`, blocking the fiber (or thread) until one leaf commits.
/// Always inlined, with `commit`: as calls, `op` would be moved in through
/// memory and the lone leaf's perform would sit out of line.
#[inline(always)]
pub(crate) fn perform<Out, O: Tree<Out>>(mut op: O, at: Site) -> Out {
    let winner = commit(&mut op, at);
    op.complete(winner, Token::NEW)
}

/// `perform` up to the commit: prepares `op`, blocks until one leaf
/// commits, and returns that leaf, leaving `op` to be completed.
#[inline(always)]
pub(crate) fn commit<Out, O: Tree<Out>>(op: &mut O, at: Site) -> usize {
    op.prepare(Token::NEW);
    match O::LEAF_COUNT {
        Some(n) => match lone_leaf(&mut InPlace::new(op), n, O::HAS_TIMER_LEAF) {
            Some((i, deadline)) => op.with_leaf(
                i,
                PerformAlone {
                    idx: i,
                    deadline,
                    at,
                },
            ),
            None => commit_in_place(op, n, at),
        },
        None => {
            let mut leaves = LeafList::new();
            op.leaves(&mut leaves);
            commit_one(&mut leaves, at)
        }
    }
}

/// Performs a leaf alone as the perform's leaf `idx`, racing `deadline`:
/// see `perform_one`.
struct PerformAlone {
    idx: usize,
    deadline: Option<LeafDeadline>,
    at: Site,
}

impl Visit for PerformAlone {
    type Output = usize;
    #[inline(always)]
    fn visit<L: Leaf + ?Sized>(self, leaf: &mut L) -> usize {
        perform_one(leaf, self.idx, self.deadline, self.at)
    }
}

/// Performs leaf `idx` alone, racing it against `deadline` (a timer leaf
/// not yet due): try and register in one step, then wait. Returns the
/// winner: `idx`, or the timer's leaf.
#[inline(always)]
pub(crate) fn perform_one<L: Leaf + ?Sized>(
    leaf: &mut L,
    idx: usize,
    deadline: Option<LeafDeadline>,
    at: Site,
) -> usize {
    let op = OpState::new(Waker::current());
    let mut cx = RegisterCx { op: &op, deadline };
    match leaf.try_or_register(&mut cx, idx) {
        Registered::Waiting => {}
        Registered::Committed => return idx,
        Registered::CommittedByOther => return op.winner(),
    }
    // Whoever commits the leaf also removes its entry; the guard withdraws
    // it if the timer won, or if the fiber is torn down while waiting. The
    // timer's storage outlives the guard, which cancels it.
    let mut timer = MaybeUninit::uninit();
    let mut guard = WithdrawLeaf {
        leaf,
        op: &op,
        timer: Armed::None,
        committed: false,
    };
    let deadline = cx.deadline;
    let leaf = &mut *guard.leaf;
    wait(
        &op,
        deadline,
        &mut guard.timer,
        &mut timer,
        at,
        |hook| match hook {
            Hook::Describe(out) => describe_one(&*leaf, idx, deadline, out),
            Hook::Repoll => {
                leaf.repoll(&op, idx);
            }
        },
    );
    let winner = op.winner();
    guard.committed = winner == idx;
    drop(guard);
    unwind_if_cancelled(winner);
    winner
}

/// What a wait on leaf `idx` waits for, raced against another leaf's
/// deadline if it has one. Reached only when the fiber is asked, while it
/// waits: the leaf then reads only what partners never write
/// (`Leaf::describe`).
fn describe_one<L: Leaf + ?Sized>(
    leaf: &L,
    idx: usize,
    deadline: Option<LeafDeadline>,
    out: &mut String,
) {
    leaf.describe(out);
    match deadline {
        Some((deadline, timer)) if timer != idx => {
            out.push_str(", or ");
            deadline.describe(out);
        }
        _ => {}
    }
}

/// What a wait on every leaf of a choice (each registered) waits for.
fn describe_choice(leaves: &LeafList<'_>, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(out, "choice of {}: ", leaves.len());
    for i in 0..leaves.len() {
        if i > 0 {
            out.push_str(", ");
        }
        leaves.describe(i, out);
    }
}

/// The one-leaf `Withdraw`: cancels the timer, and withdraws the leaf when
/// unwinding out of `wait`.
struct WithdrawLeaf<'a, L: Leaf + ?Sized> {
    leaf: &'a mut L,
    op: &'a OpState,
    timer: Armed<'a>,
    committed: bool,
}

impl<L: Leaf + ?Sized> Drop for WithdrawLeaf<'_, L> {
    fn drop(&mut self) {
        self.timer.cancel();
        if !self.committed {
            self.leaf.unregister(self.op);
        }
    }
}

/// Performs `op` only if some leaf is ready now.
pub(crate) fn try_perform<Out, O: Tree<Out>>(mut op: O) -> Option<Out> {
    try_commit(&mut op).map(|w| op.complete(w, Token::NEW))
}

/// `try_perform` up to the commit: prepares `op` and commits a leaf that
/// is ready now, if any, leaving `op` to be completed.
pub(crate) fn try_commit<Out, O: Tree<Out>>(op: &mut O) -> Option<usize> {
    op.prepare(Token::NEW);
    match O::LEAF_COUNT {
        Some(n) => ready_now(&mut InPlace::new(op), n),
        None => {
            let mut leaves = LeafList::new();
            op.leaves(&mut leaves);
            let n = leaves.len();
            ready_now(&mut leaves, n)
        }
    }
}

#[inline]
fn commit_one(leaves: &mut LeafList<'_>, at: Site) -> usize {
    let n = leaves.len();
    if let Some((i, deadline)) = lone_leaf(leaves, n, true) {
        return perform_one(leaves.get(i), i, deadline, at);
    }
    if let Some(i) = ready_now_or_after_yield(|| ready_now(leaves, n), at) {
        return i;
    }
    register_and_wait(leaves, &Order::shuffled(n), at)
}

/// `commit_one` for an operation of `n` leaves, a count its type fixes,
/// that is not a lone leaf with a deadline (`lone_leaf`): the
/// leaves are listed only if none is ready.
#[inline]
fn commit_in_place<Out, O: Tree<Out>>(op: &mut O, n: usize, at: Site) -> usize {
    if let Some(i) = ready_now_or_after_yield(|| ready_now(&mut InPlace::new(op), n), at) {
        return i;
    }
    let mut leaves = LeafList::new();
    op.leaves(&mut leaves);
    debug_assert_eq!(leaves.len(), n, "LEAF_COUNT disagrees with leaves");
    register_and_wait(&mut leaves, &Order::shuffled(n), at)
}

/// The slow path: registers every leaf in `order` (stopping at one that
/// commits at once), waits for one to commit, and withdraws the others.
fn register_and_wait(leaves: &mut LeafList<'_>, order: &Order, at: Site) -> usize {
    let op = OpState::new(Waker::current());
    let mut cx = RegisterCx {
        op: &op,
        deadline: None,
    };
    let mut timer = MaybeUninit::uninit(); // outlives the guard, which cancels it
    let mut guard = Withdraw {
        leaves,
        order,
        registered: 0,
        winner: None,
        timer: Armed::None,
        op: &op,
    };
    let mut committed = None;
    for (pos, i) in order.iter().enumerate() {
        match guard.leaves.get(i).register(&mut cx, i) {
            Registered::Waiting => guard.registered = pos + 1,
            Registered::Committed => {
                committed = Some(i);
                guard.registered = pos;
                break;
            }
            Registered::CommittedByOther => break,
        }
    }
    let winner = match committed {
        Some(i) => i,
        None => {
            let (leaves, registered) = (&mut *guard.leaves, guard.registered);
            wait(
                &op,
                cx.deadline,
                &mut guard.timer,
                &mut timer,
                at,
                |hook| match hook {
                    Hook::Describe(out) => describe_choice(leaves, out),
                    Hook::Repoll => {
                        for i in order.iter().take(registered) {
                            if leaves.get(i).repoll(&op, i) {
                                break;
                            }
                        }
                    }
                },
            );
            op.winner()
        }
    };
    guard.winner = Some(winner);
    drop(guard);
    unwind_if_cancelled(winner);
    winner
}

/// A choice of one leaf, or of one leaf and a timer not yet due (a receive
/// with a timeout): that leaf, and the timer's deadline. Such a timer cannot
/// be ready before the other leaf is tried, so trying that leaf alone is
/// fair. Asked where the leaves are when the type fixes their count (and
/// the lone leaf is then performed there, through static calls), else of
/// the list; `may_have_timer` is false when the type rules timers out.
/// Longer choices take the general path: checking them costs more than it
/// saves.
#[inline(always)]
fn lone_leaf(
    leaves: &mut impl FastPath,
    n: usize,
    may_have_timer: bool,
) -> Option<(usize, Option<LeafDeadline>)> {
    match n {
        1 => Some((0, None)),
        LONE_MAX if may_have_timer => {
            match (leaves.pending_deadline(0), leaves.pending_deadline(1)) {
                (Some(deadline), None) => Some((1, Some((deadline, 0)))),
                (None, Some(deadline)) => Some((0, Some((deadline, 1)))),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The timer a wait armed, for its guard to cancel.
enum Armed<'a> {
    None,
    /// An absolute deadline, in the heap.
    At(TimerHandle),
    /// A relative one, in the perform's frame (see `PendingTimer`).
    Pending(&'a PendingTimer),
}

impl Armed<'_> {
    #[inline]
    fn cancel(&mut self) {
        match std::mem::replace(self, Armed::None) {
            Armed::None => {}
            Armed::At(handle) => context::cancel_timer(handle),
            // SAFETY: `wait` armed it on this thread, and it is cancelled
            // once (`self` is now `None`).
            Armed::Pending(timer) => unsafe { context::cancel_pending(timer) },
        }
    }
}

/// What a waiting perform is asked to do besides waiting.
enum Hook<'a> {
    /// Append what it waits for, in words (its scheduler asks).
    Describe(&'a mut String),
    /// It was woken without a commit: let its registered leaves look
    /// again (`Leaf::repoll`: a future whose waker fired).
    Repoll,
}

/// Blocks until `op` is committed, arming one timer for the earliest
/// deadline (a relative one in `storage`). The fiber case is inlined into
/// every perform; a thread's wait stays out of line.
#[inline(always)]
fn wait<'a>(
    op: &OpState,
    deadline: Option<LeafDeadline>,
    armed: &mut Armed<'a>,
    storage: &'a mut MaybeUninit<PendingTimer>,
    at: Site,
    mut hooks: impl FnMut(Hook<'_>),
) {
    if !context::in_fiber() {
        let thread = ThreadWait::new(deadline);
        while !thread.park(op) {
            hooks(Hook::Repoll);
        }
        return;
    }
    if !op.is_synced() {
        if let Some((deadline, idx)) = deadline {
            let target = TimerTarget { op, idx };
            *armed = match deadline {
                Deadline::At(at) => Armed::At(context::insert_timer(at, target)),
                Deadline::After(after) => {
                    let timer: &'a PendingTimer = storage.write(PendingTimer::new(after, target));
                    // SAFETY: `storage` is a local of the perform's frame,
                    // which never moves it and outlives the guard holding
                    // `armed`; the guard cancels the timer when it drops,
                    // also when the fiber unwinds (teardown).
                    unsafe { context::link_pending(timer) };
                    Armed::Pending(timer)
                }
            };
        }
        loop {
            if context::suspend() {
                // Asked to describe itself: answers and waits on, even if
                // a partner on another thread committed meanwhile (its
                // wake is then on its way to the scheduler). Asked to be
                // cancelled, `answer` commits the perform to `CANCELLED`
                // (unless a partner committed it first), and the perform
                // goes on to see its commit.
                let mut out = String::new();
                hooks(Hook::Describe(&mut out));
                if !context::answer(Some(op), Some(out), Some(at)) {
                    continue;
                }
            }
            if op.is_synced() {
                break;
            }
            // Woken with no commit: a leaf's own wake.
            hooks(Hook::Repoll);
            if op.is_synced() {
                break;
            }
        }
    }
}

/// After a wait, once every leaf is withdrawn: a cancelled fiber unwinds.
#[inline(always)]
fn unwind_if_cancelled(winner: usize) {
    if winner == CANCELLED {
        context::unwind_cancelled();
    }
}

/// `wait` for a plain OS thread: parks until woken or the deadline passes.
struct ThreadWait {
    deadline: Option<(Instant, usize)>,
    /// A thread blocked here may wake a fiber once it is woken: no
    /// deadlock is declared meanwhile.
    _blocked: context::ThreadBlocked,
}

impl ThreadWait {
    #[cold]
    #[inline(never)]
    fn new(deadline: Option<LeafDeadline>) -> ThreadWait {
        ThreadWait {
            deadline: deadline.map(|(d, idx)| (d.resolve(Instant::now()), idx)),
            _blocked: context::ThreadBlocked::new(),
        }
    }

    /// Parks once (committing the deadline's leaf if it has passed): true
    /// once `op` is committed, false when woken without a commit, for the
    /// caller to let its leaves look again.
    #[cold]
    #[inline(never)]
    fn park(&self, op: &OpState) -> bool {
        if op.is_synced() {
            return true;
        }
        match self.deadline {
            None => crate::sync::thread::park(),
            Some((at, idx)) => {
                let now = Instant::now();
                if now >= at {
                    if let Some(claim) = op.claim() {
                        claim.commit_own(idx);
                    }
                    // Else another party committed first.
                } else {
                    crate::sync::thread::park_timeout(at - now);
                }
            }
        }
        op.is_synced()
    }
}

/// Withdraws every registered leaf but the winner, also when unwinding (a
/// fiber torn down mid-perform), so no queue keeps a pointer to this frame.
struct Withdraw<'a, 's> {
    leaves: &'a mut LeafList<'s>,
    order: &'a Order,
    registered: usize,
    winner: Option<usize>,
    timer: Armed<'a>,
    op: &'a OpState,
}

impl Drop for Withdraw<'_, '_> {
    fn drop(&mut self) {
        self.timer.cancel();
        for i in self.order.iter().take(self.registered) {
            if Some(i) != self.winner {
                self.leaves.get(i).unregister(self.op);
            }
        }
    }
}

mod fast_path;
#[cfg(test)]
mod tests;
