//! The seam between the runtime and the code above it: the scheduler of
//! this thread, and what user-facing and operation code asks of it (park,
//! yield, arm a timer, watch a descriptor, run a fiber it waits for). The
//! running fiber itself is `current`'s.

use std::cell::Cell;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::panic::Location;
use std::ptr;
use std::sync::Arc;
use std::time::Instant;

use crate::op::state::OpState;
use crate::runtime::blocking::BlockingPool;
use crate::runtime::current;
use crate::runtime::fiber::coroutine::FiberSelf;
use crate::runtime::fiber::head::Head;
use crate::runtime::fiber::packet::{Body, PacketId};
use crate::runtime::io::reactor;
use crate::runtime::io::table::{Dir, Waiter};
use crate::runtime::key::FiberKey;
use crate::runtime::scheduler::Scheduler;
use crate::runtime::time::{PendingTimer, TimerHandle, TimerTarget};
use crate::runtime::waker::Waker;

pub(crate) use crate::runtime::current::{
    in_fiber, suspend, tearing_down, unwind_cancelled, CANCELLED,
};
pub(crate) use crate::runtime::deadlock::ThreadBlocked;
pub(crate) use crate::runtime::inner::PendingWake;

thread_local! {
    static SCHEDULER: Cell<*const Scheduler> = const { Cell::new(ptr::null()) };
}

/// Installs `sched` as this thread's scheduler until the guard drops.
#[track_caller]
pub(crate) fn enter(sched: &Scheduler) -> EnterGuard<'_> {
    SCHEDULER.with(|s| {
        assert!(
            s.get().is_null(),
            "selvedge: a runtime is already running on this thread; \
             use selvedge::spawn to start more fibers instead of nesting run()"
        );
        s.set(sched);
    });
    // SAFETY: the local half is a field of the scheduler, which stays where
    // it is (on `run`'s stack) until the guard's drop uninstalls it.
    unsafe { current::install(&sched.local) };
    EnterGuard { sched }
}

/// Keeps a scheduler installed. Dropping it, as its `run` returns or
/// unwinds, tears the scheduler's fibers down while the scheduler is still
/// installed (their destructors may spawn, and their timers and
/// descriptors are withdrawn from it), then uninstalls it.
#[derive(Debug)]
pub(crate) struct EnterGuard<'a> {
    sched: &'a Scheduler,
}

impl Drop for EnterGuard<'_> {
    fn drop(&mut self) {
        self.sched.teardown();
        SCHEDULER.with(|s| s.set(ptr::null()));
        current::uninstall();
    }
}

/// Runs `f` with this thread's scheduler, if there is one.
#[inline]
pub(in crate::runtime) fn with_scheduler<R>(f: impl FnOnce(&Scheduler) -> R) -> Option<R> {
    let p = SCHEDULER.with(Cell::get);
    // SAFETY: `SCHEDULER` is non-null only between `enter` and the drop of
    // its guard, during which the scheduler lives on the stack of `run`
    // below every fiber and every scheduler call.
    (!p.is_null()).then(|| f(unsafe { &*p }))
}

/// Answers what a fiber waiting in a perform (`op`, or none for a plain
/// suspension) was asked when `suspend` returned true: to describe itself
/// (`waiting_on`, at `at`: false, to wait on), or to be cancelled: the
/// perform commits itself to `CANCELLED` (true, to see the commit; also
/// true if a partner committed it first), and a plain suspension unwinds.
#[cold]
#[inline(never)]
pub(crate) fn answer(
    op: Option<&OpState>,
    waiting_on: Option<String>,
    at: Option<&'static Location<'static>>,
) -> bool {
    match current::asked() {
        current::Asked::Describe => {
            current::answer(waiting_on, at);
            false
        }
        current::Asked::Cancel => {
            let Some(op) = op else {
                current::cancel_taken();
                current::unwind_cancelled();
            };
            if let Some(claim) = op.claim() {
                claim.commit_own(CANCELLED);
                current::cancel_taken();
            }
            true
        }
        current::Asked::Nothing => {
            current::cancel_taken(); // nothing more to ask of it
            false
        }
    }
}

/// Counts a wake that something outside the runtime may still deliver
/// (a completer of a user's operation) against this thread's runtime, so
/// its fibers are not declared deadlocked meanwhile; `None` outside one.
pub(crate) fn pending_wake() -> Option<PendingWake> {
    with_scheduler(|s| PendingWake::new(s.runtime.clone()))
}

/// The pool a `blocking` call goes to: this thread's runtime's, or the
/// process-wide one outside a runtime.
pub(crate) fn blocking_pool() -> Arc<BlockingPool> {
    with_scheduler(|s| s.runtime.blocking.clone()).unwrap_or_else(|| BlockingPool::global().clone())
}

pub(crate) fn in_runtime() -> bool {
    !SCHEDULER.with(Cell::get).is_null()
}

/// Queues a new fiber's body on this thread's scheduler (behind its
/// parent's earlier children, or with the woken fibers when spawned from
/// outside a fiber); `None` outside a runtime.
#[inline]
pub(crate) fn spawn(body: Body) -> Option<FiberKey> {
    with_scheduler(|s| s.spawn(body))
}

/// `spawn` for a fiber of a scope, which teardown ends before the fibers
/// spawned before it; `None` outside a runtime.
pub(crate) fn spawn_scoped(body: Body) -> Option<FiberKey> {
    with_scheduler(|s| s.spawn_scoped(body))
}

/// A scope's fibers have all finished.
pub(crate) fn forget_scoped(keys: &[FiberKey]) {
    with_scheduler(|s| s.forget_scoped(keys));
}

/// `spawn`, taking the fiber's stack now, so that a stack that cannot be
/// had is an error here (`fiber::Builder::spawn`).
pub(crate) fn spawn_with_stack(body: Body) -> Option<io::Result<FiberKey>> {
    with_scheduler(|s| s.spawn_with_stack(body))
}

/// Runs `f` with the running fiber's packet head (its id, name and spawn
/// site); `None` outside a fiber.
pub(crate) fn running_fiber<R>(f: impl FnOnce(&Head) -> R) -> Option<R> {
    // SAFETY: used only within this call, while the fiber runs.
    let me = unsafe { FiberSelf::running() }?;
    // SAFETY: a running fiber's packet lives until it finishes.
    Some(f(unsafe { me.packet()?.get() }))
}

/// In a fiber: goes behind every other runnable fiber, and returns once
/// it runs again. Does nothing outside a fiber.
pub(crate) fn yield_current(at: &'static Location<'static>) {
    with_scheduler(|s| s.yield_current(at));
}

/// In a fiber, while a partner waits in the hand-off slot (usually one
/// the fiber woke): goes behind the woken fibers, the partner first, and
/// returns true once it runs again. False, having done nothing, otherwise.
#[inline]
pub(crate) fn yield_to_woken(at: &'static Location<'static>) -> bool {
    with_scheduler(|s| s.yield_to_woken(at)).unwrap_or(false)
}

/// In a fiber: runs the fiber of `packet` now if it has not started and
/// the scheduler would pick it next anyway (`Scheduler::run_next_fresh`).
#[inline]
pub(crate) fn run_next_fresh(packet: PacketId) {
    with_scheduler(|s| s.run_next_fresh(packet));
}

/// Arms a timer at `at` for `target`, on this thread's scheduler.
pub(crate) fn insert_timer(at: Instant, target: TimerTarget) -> TimerHandle {
    with_scheduler(|s| s.timers.borrow_mut().insert(at, target))
        .expect("timer armed outside a runtime")
}

/// Cancels a timer `insert_timer` armed, unless it fired.
pub(crate) fn cancel_timer(handle: TimerHandle) {
    with_scheduler(|s| s.timers.borrow_mut().cancel(handle));
}

/// Arms a relative timer on this thread's scheduler (see `PendingTimer`).
///
/// # Safety
///
/// As `TimerHeap::link_pending`, whose contract this is.
pub(crate) unsafe fn link_pending(timer: &PendingTimer) {
    // SAFETY: the caller's promise.
    with_scheduler(|s| unsafe { s.timers.borrow_mut().link_pending(timer) })
        .expect("timer armed outside a runtime");
}

/// Cancels a relative timer `link_pending` armed.
///
/// # Safety
///
/// As `TimerHeap::cancel_pending`, whose contract this is; a fiber's timers
/// are on its own scheduler, as fibers never leave it.
pub(crate) unsafe fn cancel_pending(timer: &PendingTimer) {
    // SAFETY: the caller's promise.
    with_scheduler(|s| unsafe { s.timers.borrow_mut().cancel_pending(timer) });
}

/// Whether the running fiber's scheduler has a timer due at or before
/// `at` (false outside a fiber: a thread waits for its own deadlines).
pub(crate) fn timer_due_by(at: Instant) -> bool {
    in_fiber()
        && with_scheduler(|s| s.timers.borrow().next_deadline().is_some_and(|d| d <= at))
            .unwrap_or(false)
}

/// A fiber whose deadline had passed when its perform began, while an
/// earlier deadline (or an equal one armed before) still waits in its
/// scheduler's heap, waits as a timer armed at `deadline` would: the
/// scheduler then fires both in deadline order, and a later deadline that
/// passes meanwhile fires after it. (Yielding behind the earlier timers
/// instead let such a later one overtake it: a yielded fiber runs after
/// the woken ones.)
#[cold]
#[inline(never)]
pub(crate) fn wait_behind_earlier_deadlines(deadline: Instant) {
    let op = OpState::new(Waker::current());
    let timer = insert_timer(deadline, TimerTarget { op: &op, idx: 0 });
    // Cancels the timer if the fiber is torn down while it waits; once the
    // timer has fired, its handle is stale and the cancel does nothing.
    let cancel = CancelOnDrop(timer);
    loop {
        if suspend() {
            let mut out = String::new();
            crate::op::leaf::Deadline::At(deadline).describe(&mut out);
            if !answer(Some(&op), Some(out), None) {
                continue;
            }
        }
        if op.is_synced() {
            break;
        }
    }
    drop(cancel);
    if op.winner() == CANCELLED {
        unwind_cancelled();
    }
}

/// Cancels a timer when dropped.
struct CancelOnDrop(TimerHandle);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        cancel_timer(self.0);
    }
}

/// Where a registered readiness wait is kept: its fiber's scheduler, or,
/// for a plain thread, the reactor.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Watcher {
    Scheduler(usize),
    Reactor(usize),
}

/// Registers a wait for `dir` readiness of `fd` (`owner` as in
/// `IoTable::register`): with this fiber's scheduler, or, outside a fiber,
/// with the reactor.
pub(crate) fn watch(
    fd: BorrowedFd<'_>,
    dir: Dir,
    owner: u64,
    waiter: Waiter,
) -> io::Result<Watcher> {
    if in_fiber() {
        with_scheduler(|s| {
            s.io.borrow_mut()
                .register(&s.shared.poller, fd, dir, owner, waiter)
        })
        .expect("a fiber runs on a scheduler")
        .map(Watcher::Scheduler)
    } else {
        reactor::register(fd, dir, waiter).map(Watcher::Reactor)
    }
}

/// Withdraws the waits of perform `op` that `watch` registered.
pub(crate) fn unwatch(watcher: Watcher, dir: Dir, op: &OpState) {
    match watcher {
        Watcher::Scheduler(key) => {
            with_scheduler(|s| s.io.borrow_mut().unregister(key, dir, op));
        }
        Watcher::Reactor(key) => reactor::unregister(key, dir, op),
    }
}

/// Whether the `net` source `owner` may use `fd` in `dir` without
/// blocking, as this fiber's scheduler knows; `None` when it does not
/// track it (or outside a fiber).
#[inline]
pub(crate) fn source_is_ready(fd: RawFd, owner: u64, dir: Dir) -> Option<bool> {
    if !in_fiber() {
        return None;
    }
    with_scheduler(|s| s.io.borrow().is_ready(fd, owner, dir)).flatten()
}

/// The `net` source `owner` saw `WouldBlock` on `fd` in `dir`.
#[inline]
pub(crate) fn source_not_ready(fd: RawFd, owner: u64, dir: Dir) {
    if in_fiber() {
        with_scheduler(|s| s.io.borrow_mut().clear_ready(fd, owner, dir));
    }
}

/// The `net` source `owner` is closing `fd`: its scheduler forgets it.
pub(crate) fn forget_source(fd: BorrowedFd<'_>, owner: u64) {
    with_scheduler(|s| s.io.borrow_mut().forget(&s.shared.poller, fd, owner));
}
