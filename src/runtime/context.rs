//! The seam between the runtime and the code above it: the scheduler of
//! this thread, and what user-facing and operation code asks of it (yield,
//! arm a timer, run a fiber it waits for). The running fiber itself is
//! `current`'s.

use std::cell::Cell;
use std::ptr;
use std::time::Instant;

use crate::runtime::current;
use crate::runtime::fiber::packet::PacketId;
use crate::runtime::scheduler::Scheduler;
use crate::timer::{PendingTimer, TimerHandle, TimerTarget};

pub(crate) use crate::runtime::current::{in_fiber, suspend};

thread_local! {
    static SCHEDULER: Cell<*const Scheduler> = const { Cell::new(ptr::null()) };
}

/// Installs `sched` as this thread's scheduler until the guard drops.
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
pub(crate) fn with_scheduler<R>(f: impl FnOnce(&Scheduler) -> R) -> Option<R> {
    let p = SCHEDULER.with(Cell::get);
    // SAFETY: `SCHEDULER` is non-null only between `enter` and the drop of
    // its guard, during which the scheduler lives on the stack of `run`
    // below every fiber and every scheduler call.
    (!p.is_null()).then(|| f(unsafe { &*p }))
}

pub(crate) fn in_runtime() -> bool {
    !SCHEDULER.with(Cell::get).is_null()
}

/// In a fiber, while a partner waits in the hand-off slot (usually one
/// the fiber woke): goes behind the woken fibers, the partner first, and
/// returns true once it runs again. False, having done nothing, otherwise.
#[inline]
pub(crate) fn yield_to_woken() -> bool {
    with_scheduler(Scheduler::yield_to_woken).unwrap_or(false)
}

/// In a fiber: runs the fiber of `packet` now if it has not started and
/// the scheduler would pick it next anyway (`Scheduler::run_next_fresh`).
#[inline]
pub(crate) fn run_next_fresh(packet: PacketId) {
    with_scheduler(|s| s.run_next_fresh(packet));
}

pub(crate) fn insert_timer(at: Instant, target: TimerTarget) -> TimerHandle {
    with_scheduler(|s| s.insert_timer(at, target)).expect("timer armed outside a runtime")
}

/// Arms a relative timer on this thread's scheduler (see `PendingTimer`).
///
/// # Safety
///
/// As `TimerHeap::link_pending`: `timer` stays put and is given to
/// `cancel_pending` before it moves or is dropped.
pub(crate) unsafe fn link_pending(timer: &PendingTimer) {
    // SAFETY: the caller's promise.
    with_scheduler(|s| unsafe { s.link_pending_timer(timer) })
        .expect("timer armed outside a runtime");
}

/// # Safety
///
/// `timer` was armed with `link_pending` on this thread and not yet
/// cancelled.
pub(crate) unsafe fn cancel_pending(timer: &PendingTimer) {
    // SAFETY: the caller's promise; fibers never leave their scheduler.
    with_scheduler(|s| unsafe { s.cancel_pending_timer(timer) });
}

/// Whether the running fiber's scheduler has a timer due at or before
/// `at` (false outside a fiber: a thread waits for its own deadlines).
pub(crate) fn timer_due_by(at: Instant) -> bool {
    current::in_fiber() && with_scheduler(|s| s.timer_due_by(at)).unwrap_or(false)
}

pub(crate) fn cancel_timer(handle: TimerHandle) {
    with_scheduler(|s| s.cancel_timer(handle));
}
