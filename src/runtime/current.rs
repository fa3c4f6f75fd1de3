//! What runs on this thread now, as the mechanisms need to know it: the
//! running fiber and the yielder that suspends it, and the local half of
//! this thread's scheduler (its run queue, which a wake from this thread
//! goes straight onto, and whether it is tearing its fibers down).
//!
//! The fiber mechanics, the waker and the scheduler read this; it imports
//! nothing above the run queue. (The scheduler as a whole is reached
//! through `context`, the seam above it.)

use std::cell::{Cell, RefCell};
use std::ptr::{self, NonNull};

use corosensei::Yielder;

use crate::runtime::key::FiberKey;
use crate::runtime::run_queue::RunQueue;
use crate::runtime::Shared;

/// Why a fiber's coroutine handed control back to the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FiberYield {
    /// The fiber waits (or yielded).
    Suspended,
    /// The fiber's body returned or panicked (and delivered its result):
    /// the coroutine is parked between bodies, ready for the next one.
    Finished,
}

/// What suspends a running fiber.
pub(crate) type FiberYielder = Yielder<(), FiberYield>;

/// The part of a scheduler that wakes, yields and teardown touch on its
/// own thread: its run queue, and who it is to other threads.
#[derive(Debug)]
pub(crate) struct Local {
    /// The scheduler's shared half: a wake naming it as the fiber's home
    /// is for this scheduler.
    pub(crate) home: NonNull<Shared>,
    pub(crate) queue: RefCell<RunQueue>,
    /// True while the scheduler drops its remaining fibers.
    pub(crate) tearing_down: Cell<bool>,
    /// The body of the fiber being started, handed to its coroutine beside
    /// the resume (`Body::into_raw`), or null.
    pub(crate) starting: Cell<*mut ()>,
}

impl Local {
    pub(crate) fn new(home: &Shared) -> Local {
        Local {
            home: NonNull::from(home),
            queue: RefCell::new(RunQueue::default()),
            tearing_down: Cell::new(false),
            starting: Cell::new(ptr::null_mut()),
        }
    }
}

thread_local! {
    static LOCAL: Cell<*const Local> = const { Cell::new(ptr::null()) };
    /// The running fiber's key (`pack`), or 0 outside a fiber: a plain
    /// word, read with one load and one test. As an `Option<FiberKey>`,
    /// every read also tested for a tag value the type cannot hold.
    static FIBER: Cell<u64> = const { Cell::new(0) };
    static YIELDER: Cell<*const FiberYielder> = const { Cell::new(ptr::null()) };
}

/// Makes `local` this thread's until `uninstall`.
///
/// # Safety
///
/// `local` stays where it is, alive, until `uninstall` is called on this
/// thread (the scheduler that owns it lives on the stack of its `run`).
pub(crate) unsafe fn install(local: &Local) {
    LOCAL.with(|l| l.set(local));
}

/// Forgets this thread's scheduler, and any running fiber.
pub(crate) fn uninstall() {
    LOCAL.with(|l| l.set(ptr::null()));
    FIBER.with(|f| f.set(0));
}

/// Runs `f` with this thread's scheduler's local half, if there is one.
#[inline]
pub(crate) fn with_local<R>(f: impl FnOnce(&Local) -> R) -> Option<R> {
    let p = LOCAL.with(Cell::get);
    // SAFETY: `LOCAL` is non-null only between `install` and `uninstall`,
    // while the local half is alive and unmoved (`install`'s contract).
    (!p.is_null()).then(|| f(unsafe { &*p }))
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
    with_local(|l| (l.home, key))
}

/// Whether `home` is this thread's scheduler.
#[inline]
pub(crate) fn is_local_home(home: NonNull<Shared>) -> bool {
    with_local(|l| l.home == home).unwrap_or(false)
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

/// Puts fiber `key` of `home` back on its run queue, if `home` is this
/// thread's scheduler; false (and nothing done) otherwise. Woken by a fiber
/// (its rendezvous partner), it takes the hand-off slot; woken between
/// fiber runs (a timer, a descriptor), it queues in order.
#[inline]
pub(crate) fn wake_if_local(home: NonNull<Shared>, key: FiberKey) -> bool {
    with_local(|l| {
        let local = l.home == home;
        if local {
            let mut queue = l.queue.borrow_mut();
            if in_fiber() {
                queue.wake(key);
            } else {
                queue.push_woken(key);
            }
        }
        local
    })
    .unwrap_or(false)
}

/// Whether this thread's scheduler is tearing its fibers down: a forced
/// unwind caught in a fiber's body must then go on to the coroutine's root.
pub(crate) fn tearing_down() -> bool {
    with_local(|l| l.tearing_down.get()).unwrap_or(false)
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
        let key = FiberKey {
            index: 0,
            generation: 1,
        };
        set_running(Some(key), ptr::null());
        assert!(in_fiber());
        assert_eq!(current_key(), Some(key));
        set_running(None, ptr::null());
        assert!(!in_fiber());
    }
}
