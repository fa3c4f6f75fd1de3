//! Thread-local state: the scheduler of this thread, the running fiber and
//! its yielder. Everything that asks "where am I running?" goes through here.

use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::time::Instant;

use crate::fiber::coroutine::{FiberYield, FiberYielder};
use crate::fiber::packet::PacketId;
use crate::runtime::scheduler::Scheduler;
use crate::runtime::Shared;
use crate::timer::{PendingTimer, TimerHandle, TimerTarget};
use crate::waker::FiberKey;

thread_local! {
    static SCHEDULER: Cell<*const Scheduler> = const { Cell::new(ptr::null()) };
    /// The running fiber's key (`pack`), or 0 outside a fiber: a plain
    /// word, read with one load and one test. As an `Option<FiberKey>`,
    /// every read also tested for a tag value the type cannot hold.
    static FIBER: Cell<u64> = const { Cell::new(0) };
    static YIELDER: Cell<*const FiberYielder> = const { Cell::new(ptr::null()) };
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
        FIBER.with(|f| f.set(0));
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

#[inline]
pub(crate) fn in_fiber() -> bool {
    FIBER.with(Cell::get) != 0
}

#[inline]
pub(crate) fn current_key() -> Option<FiberKey> {
    unpack(FIBER.with(Cell::get))
}

/// A live fiber's key as a non-zero word: live fibers never have
/// generation 0, the fiber table's mark for a vacant slot.
#[inline]
fn pack(key: Option<FiberKey>) -> u64 {
    key.map_or(0, |k| {
        debug_assert_ne!(k.generation, 0, "a live fiber's generation");
        u64::from(k.generation) << 32 | u64::from(k.index)
    })
}

#[inline]
fn unpack(word: u64) -> Option<FiberKey> {
    (word != 0).then_some(FiberKey {
        index: word as u32,
        generation: (word >> 32) as u32,
    })
}

/// The running fiber and its scheduler's shared half.
#[inline]
pub(crate) fn current_fiber() -> Option<(NonNull<Shared>, FiberKey)> {
    let key = current_key()?;
    with_scheduler(|s| (s.shared_ptr(), key))
}

#[inline]
pub(crate) fn is_current_home(home: NonNull<Shared>) -> bool {
    with_scheduler(|s| s.shared_ptr() == home).unwrap_or(false)
}

/// Marks the running fiber as the one `suspend` switches away from.
#[inline]
pub(crate) fn set_running(key: Option<FiberKey>, yielder: *const FiberYielder) {
    FIBER.with(|f| f.set(pack(key)));
    if !yielder.is_null() {
        YIELDER.with(|y| y.set(yielder));
    }
}

#[inline]
pub(crate) fn current_yielder() -> *const FiberYielder {
    YIELDER.with(Cell::get)
}

/// Switches from the running fiber back to its scheduler. The fiber runs
/// again only once something puts it back on the run queue.
#[inline]
pub(crate) fn suspend() {
    let y = YIELDER.with(Cell::get);
    assert!(!y.is_null() && in_fiber(), "suspend outside a fiber");
    // SAFETY: the scheduler (or `fiber_main`, on a coroutine's first run)
    // sets `YIELDER` to the running fiber's yielder before any of its code
    // runs; the yielder lives on that fiber's stack, which is alive while
    // it runs.
    unsafe { (*y).suspend(FiberYield::Suspended) };
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

/// Puts a fiber of `home` back on its run queue, if `home` is this
/// thread's scheduler; false (and nothing done) otherwise.
#[inline]
pub(crate) fn wake_if_local(home: NonNull<Shared>, key: FiberKey) -> bool {
    with_scheduler(|s| {
        let local = s.shared_ptr() == home;
        if local {
            s.wake(key);
        }
        local
    })
    .unwrap_or(false)
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
    in_fiber() && with_scheduler(|s| s.timer_due_by(at)).unwrap_or(false)
}

pub(crate) fn cancel_timer(handle: TimerHandle) {
    with_scheduler(|s| s.cancel_timer(handle));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_key_round_trips_and_zero_means_no_fiber() {
        assert_eq!(pack(None), 0);
        assert_eq!(unpack(0), None);
        for (index, generation) in [(0, 1), (7, u32::MAX), (u32::MAX, 1), (u32::MAX, u32::MAX)] {
            let key = FiberKey { index, generation };
            assert_ne!(pack(Some(key)), 0);
            assert_eq!(unpack(pack(Some(key))), Some(key));
        }
        assert!(!in_fiber());
        set_running(
            Some(FiberKey {
                index: 0,
                generation: 1,
            }),
            ptr::null(),
        );
        assert!(in_fiber());
        assert_eq!(
            current_key(),
            Some(FiberKey {
                index: 0,
                generation: 1
            })
        );
        set_running(None, ptr::null());
        assert!(!in_fiber());
    }
}
