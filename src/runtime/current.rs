//! What runs on this thread now, as the mechanisms need to know it: the
//! running fiber, the yielder that suspends it and its view of itself,
//! and the local half of this thread's scheduler (its run queue, which a
//! wake from this thread goes straight onto, and whether it is tearing its
//! fibers down).
//!
//! The scheduler sets only which fiber runs (`set_running`). A fiber keeps
//! its yielder and its view of itself in registers across each switch and
//! puts them back when it resumes (`suspend`), so no resume reads them
//! from memory the switch does not touch anyway.
//!
//! The fiber mechanics, the waker and the scheduler read this; it imports
//! nothing above the run queue. (The scheduler as a whole is reached
//! through `context`, the seam above it.)

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::ptr::{self, NonNull};

use corosensei::Yielder;

use crate::runtime::cancelled::Cancelled;
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
    /// The coroutine record of the runner that starts it (`coroutine`'s
    /// `Record`, erased), handed over with the body.
    pub(crate) starting_record: Cell<*const ()>,
}

impl Local {
    pub(crate) fn new(home: &Shared) -> Local {
        Local {
            home: NonNull::from(home),
            queue: RefCell::new(RunQueue::default()),
            tearing_down: Cell::new(false),
            starting: Cell::new(ptr::null_mut()),
            starting_record: Cell::new(ptr::null()),
        }
    }
}

thread_local! {
    static LOCAL: Cell<*const Local> = const { Cell::new(ptr::null()) };
    /// The running fiber's key (`pack`), or 0 outside a fiber: a plain
    /// word, read with one load and one test. As an `Option<FiberKey>`,
    /// every read also tested for a tag value the type cannot hold.
    static FIBER: Cell<u64> = const { Cell::new(0) };
    /// The running fiber's yielder: valid while `FIBER` is not 0.
    static YIELDER: Cell<*const FiberYielder> = const { Cell::new(ptr::null()) };
    /// The running fiber's view of itself (`coroutine::FiberSelf`, erased:
    /// it is defined above this module): valid while `FIBER` is not 0.
    static SELF: Cell<*const ()> = const { Cell::new(ptr::null()) };
    /// Set while this thread's scheduler asks its fibers to describe
    /// themselves (`describe`): a fiber resumed then answers and suspends
    /// again instead of going on.
    static ASKED: Cell<*mut Answer> = const { Cell::new(ptr::null_mut()) };
    /// Set by a fiber resumed to be cancelled once it takes the
    /// cancellation (see `cancel`).
    static CANCEL_TAKEN: Cell<bool> = const { Cell::new(false) };
}

/// What a suspended fiber says of itself when its scheduler asks.
#[derive(Debug)]
pub(crate) struct Answer {
    /// Its view of itself (`coroutine::FiberSelf`, erased).
    pub(crate) fiber: *const (),
    /// What it waits for, in words, if it waits in an operation.
    pub(crate) waiting_on: Option<String>,
    /// Where it suspended: the caller of the operation or yield.
    pub(crate) location: Option<&'static Location<'static>>,
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
pub(crate) fn pack(key: Option<FiberKey>) -> u64 {
    key.map_or(0, |k| {
        debug_assert_ne!(k.generation, 0, "a live fiber's generation");
        u64::from(k.generation) << 32 | u64::from(k.index)
    })
}

#[inline]
pub(crate) fn unpack(word: u64) -> Option<FiberKey> {
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

/// Marks which fiber runs now (`None`: none, the scheduler's own code).
/// The fiber itself puts back its yielder and its view of itself as it
/// resumes (`suspend`), or as it starts (`enter_fiber`).
#[inline]
pub(crate) fn set_running(key: Option<FiberKey>) {
    FIBER.with(|f| f.set(pack(key)));
}

/// Installs the yielder and the view of itself of the fiber that runs on
/// this stack: as a coroutine starts a body, and as a fiber that resumed
/// another from its own stack (`Scheduler::run_next_fresh`) goes on.
#[inline]
pub(crate) fn enter_fiber(yielder: *const FiberYielder, me: *const ()) {
    YIELDER.with(|y| y.set(yielder));
    SELF.with(|s| s.set(me));
}

/// The running fiber's view of itself (`coroutine::FiberSelf`, erased), or
/// null outside a fiber.
#[inline]
pub(crate) fn running_self() -> *const () {
    if in_fiber() {
        SELF.with(Cell::get)
    } else {
        ptr::null()
    }
}

/// The running fiber's yielder and view of itself, to put back with
/// `enter_fiber` (see `Scheduler::run_next_fresh`).
#[inline]
pub(crate) fn running_fiber_state() -> (*const FiberYielder, *const ()) {
    (YIELDER.with(Cell::get), SELF.with(Cell::get))
}

/// Switches from the running fiber back to its scheduler. The fiber runs
/// again once something puts it back on the run queue, or when its
/// scheduler asks it to describe itself (`describe`): then this returns
/// true, and the caller must `answer` and suspend again, whatever else
/// happened meanwhile.
#[inline]
#[must_use = "a fiber that was asked must answer and suspend again"]
pub(crate) fn suspend() -> bool {
    let y = YIELDER.with(Cell::get);
    let me = SELF.with(Cell::get);
    assert!(!y.is_null() && in_fiber(), "suspend outside a fiber");
    // SAFETY: `fiber_main` installs the running fiber's yielder as the
    // coroutine starts a body, and every fiber puts its own back as it
    // resumes (just below); the yielder lives on that fiber's stack, which
    // is alive while it runs.
    unsafe { (*y).suspend(FiberYield::Suspended) };
    enter_fiber(y, me);
    !ASKED.with(Cell::get).is_null()
}

/// `ASKED` while a fiber is resumed to be cancelled: never a real answer
/// slot (those are on a scheduler's stack, aligned to their type).
const CANCEL: *mut Answer = NonNull::<Answer>::dangling().as_ptr();

/// What a fiber that `suspend` returned true to was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Asked {
    /// To describe itself (`answer`).
    Describe,
    /// To unwind with `Cancelled` (see `cancel`): a perform commits itself
    /// to `CANCELLED` and its caller unwinds once it has withdrawn, or,
    /// if it was committed already, goes on to its next suspension.
    Cancel,
    /// Nothing: it is unwinding already (a panic, waiting in a
    /// destructor), and goes on (a second unwind would abort the process).
    Nothing,
}

/// Called first when `suspend` returns true. Returns without unwinding,
/// so a perform's wait needs no cleanup path for it.
#[cold]
#[inline(never)]
pub(crate) fn asked() -> Asked {
    if ASKED.with(Cell::get) != CANCEL {
        return Asked::Describe;
    }
    ASKED.with(|a| a.set(ptr::null_mut()));
    if std::thread::panicking() {
        return Asked::Nothing;
    }
    Asked::Cancel
}

/// The leaf index a perform commits itself to when its fiber is
/// cancelled while it waits.
pub(crate) const CANCELLED: usize = usize::MAX;

/// The fiber took its cancellation: it unwinds now (or, from a perform,
/// as soon as the perform has withdrawn), or is unwinding already.
pub(crate) fn cancel_taken() {
    CANCEL_TAKEN.with(|t| t.set(true));
}

/// Unwinds the running fiber with `Cancelled`, not as a panic.
#[cold]
#[inline(never)]
pub(crate) fn unwind_cancelled() -> ! {
    std::panic::resume_unwind(Box::new(Cancelled))
}

/// Resumes a suspended fiber (`resume`) so that it unwinds from its
/// suspension point with `Cancelled` as its panic, as if the operation it
/// waited in had panicked.
/// Returns what the run returned, and whether the fiber took the
/// cancellation (`cancel_taken`); if not (its perform had committed), it
/// is now suspended at its next suspension point, to be asked again.
pub(crate) fn cancel<R>(resume: impl FnOnce() -> R) -> (R, bool) {
    ASKED.with(|a| a.set(CANCEL));
    CANCEL_TAKEN.with(|t| t.set(false));
    let r = resume();
    ASKED.with(|a| a.set(ptr::null_mut()));
    (r, CANCEL_TAKEN.with(|t| t.replace(false)))
}

/// Suspends for a yield: until the fiber runs again, answering (with no
/// operation) whenever its scheduler asks. Inlined, as `suspend` is: a
/// frame left between the caller and the switch costs every resume.
#[inline]
pub(crate) fn suspend_yielding(at: &'static Location<'static>) {
    while suspend() {
        match asked() {
            Asked::Describe => answer(None, Some(at)),
            Asked::Cancel => {
                cancel_taken();
                unwind_cancelled();
            }
            Asked::Nothing => cancel_taken(),
        }
    }
}

/// Tells the scheduler that asked (`suspend` returned true) what this
/// fiber waits for, if it waits in an operation, and where.
#[cold]
#[inline(never)]
pub(crate) fn answer(waiting_on: Option<String>, at: Option<&'static Location<'static>>) {
    let asked = ASKED.with(Cell::get);
    debug_assert!(!asked.is_null(), "an answer nobody asked for");
    // SAFETY: `describe` set `ASKED` to its own answer slot, alive until
    // the resume that asks returns, on this thread.
    if let Some(asked) = unsafe { asked.as_mut() } {
        *asked = Answer {
            fiber: SELF.with(Cell::get),
            waiting_on,
            location: at,
        };
    }
}

/// Resumes a suspended fiber with `resume` so that it describes itself
/// instead of going on: it answers and suspends again at once.
pub(crate) fn describe(resume: impl FnOnce()) -> Option<Answer> {
    let mut answer = Answer {
        fiber: ptr::null(),
        waiting_on: None,
        location: None,
    };
    ASKED.with(|a| a.set(&mut answer));
    resume();
    ASKED.with(|a| a.set(ptr::null_mut()));
    (!answer.fiber.is_null()).then_some(answer)
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
        set_running(Some(key));
        assert!(in_fiber());
        assert_eq!(current_key(), Some(key));
        set_running(None);
        assert!(!in_fiber());
    }
}
