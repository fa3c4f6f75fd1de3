//! A fiber's coroutine: a loop that runs one fiber body after another on
//! the same stack, owned through a record at the top of that stack.
//!
//! Creating a coroutine writes its entry frame onto the stack, and its
//! first resume goes through corosensei's trampoline and root
//! `catch_unwind`. A finished fiber therefore does not return from its
//! coroutine: it suspends with [`FiberYield::Finished`], and the pool keeps
//! the parked [`Runner`] for the next fiber to start. The next body is
//! handed over beside the resume (in the scheduler's `Local::starting`),
//! not through its value: corosensei passes a resume value that is not zero-sized
//! through memory, on every resume of every fiber. A parked
//! coroutine resumed with no body returns, which is how the pool ends one.
//!
//! The coroutine itself (corosensei's handle: the stack, its saved stack
//! pointer) never moves. It sits in the stack's reserved top
//! (`stack::TOP_RESERVE`), on one cache line with corosensei's link to
//! the resumer, which every switch writes anyway; a fiber's slot and the
//! pool hold a one-word [`Runner`] pointing at it.

use std::cell::Cell;
use std::ptr::NonNull;

use corosensei::{Coroutine, CoroutineResult};

use crate::runtime::current::{self, FiberYield, FiberYielder};
use crate::runtime::fiber::head::HeadRef;
use crate::runtime::fiber::head::Start;
use crate::runtime::fiber::packet::Body;
use crate::runtime::fiber::stack::{FiberStack, TOP_RESERVE};
use crate::runtime::key::FiberKey;

/// Takes the body `Runner::start` handed over, if any (none outside a
/// scheduler: a pooled coroutine ended as its scheduler drops), with the
/// record of the coroutine it starts on.
#[inline(always)]
fn take_starting() -> Option<(Body, NonNull<Record>)> {
    let (raw, record) = current::with_local(|l| {
        (
            l.starting.replace(std::ptr::null_mut()),
            l.starting_record.get(),
        )
    })?;
    // SAFETY: `start` stored it from `Body::into_raw`, and it is taken
    // once (the cell is null again).
    let body = NonNull::new(raw).map(|raw| unsafe { Body::from_raw(raw) })?;
    Some((body, NonNull::new(record.cast_mut().cast())?))
}

/// What a running fiber knows of itself (`current::running_self`): the
/// packet of the body it runs, and the record of its coroutine, whose
/// stack bounds a stack overflow is told by. Lives in the coroutine's
/// first frame (`fiber_main`), so it costs no allocation and no memory the
/// hot paths touch.
#[derive(Debug)]
pub(crate) struct FiberSelf {
    /// Set as each body starts; stale once it finished, until the next
    /// starts, and read only while one runs.
    packet: Cell<Option<HeadRef>>,
    record: NonNull<Record>,
}

impl FiberSelf {
    /// The running fiber's view of itself, if a fiber runs.
    ///
    /// # Safety
    ///
    /// The reference is used only while that fiber runs (its frame, and
    /// its packet, live at least that long).
    pub(crate) unsafe fn running<'a>() -> Option<&'a FiberSelf> {
        let me = current::running_self().cast::<FiberSelf>();
        // SAFETY: `SELF` holds the running fiber's `FiberSelf`, which
        // lives in its coroutine's first frame, alive while it runs.
        unsafe { me.as_ref() }
    }

    /// The view of itself a fiber gave in an answer (`current::Answer`).
    ///
    /// # Safety
    ///
    /// `raw` came from an answer of a fiber still suspended, and the
    /// reference is used before it resumes.
    pub(crate) unsafe fn from_answer<'a>(raw: *const ()) -> Option<&'a FiberSelf> {
        // SAFETY: the caller's promise.
        unsafe { raw.cast::<FiberSelf>().as_ref() }
    }

    /// The packet of the body this fiber runs: alive while it runs, and
    /// while it is suspended in that body.
    pub(crate) fn packet(&self) -> Option<HeadRef> {
        self.packet.get()
    }

    /// Its stack's usable bytes, `[limit, top)`, as `(limit, top)`; the
    /// guard page (if any) lies just below `limit`.
    pub(crate) fn stack_bounds(&self) -> (usize, usize) {
        let top = self.record.as_ptr() as usize + TOP_RESERVE;
        // SAFETY: the record lives at the top of the running coroutine's
        // stack for as long as the coroutine does; `span` never changes.
        let span = unsafe { self.record.as_ref() }.span;
        (top - span, top)
    }
}

/// Whether no body waits to be taken.
fn nothing_starting() -> bool {
    current::with_local(|l| l.starting.get().is_null()).unwrap_or(true)
}

/// Returns only when resumed with no body to run (`Runner::retire`):
/// bodies end by suspending (`Finished`), and a teardown unwinds the
/// coroutine by force, which corosensei catches at its root.
type FiberCoroutine = Coroutine<(), FiberYield, (), FiberStack>;

/// What lives in a stack's reserved top.
pub(crate) struct Record {
    coroutine: FiberCoroutine,
    /// Usable bytes of the stack below (its guard page, if any, is below
    /// those): read only to tell a stack overflow.
    span: usize,
}

const _: () = assert!(
    size_of::<Record>() <= TOP_RESERVE && align_of::<Record>() <= 16,
    "the coroutine record fits the stack's reserved top"
);

/// Owns a fiber coroutine whose record lives on its own stack: dropping it
/// unwinds the coroutine (the body on it, a fiber torn down while
/// suspended) and frees the stack. Idle ones are `retire`d instead.
pub(crate) struct Runner(NonNull<Record>);

impl Runner {
    /// A coroutine on `stack` that has not run: its first resume enters
    /// [`fiber_main`].
    pub(crate) fn new(stack: FiberStack) -> Runner {
        let at = stack.reserved_top().cast::<Record>();
        let span = stack.span();
        let record = Record {
            coroutine: Coroutine::with_stack(stack, fiber_main),
            span,
        };
        // SAFETY: the reserved top is mapped, writable, aligned for a
        // `Record` and big enough (asserted above), and no code running
        // on the stack writes there; the record keeps the stack, hence
        // that memory, alive until `Drop` or `retire` moves it out.
        unsafe { at.as_ptr().write(record) };
        Runner(at)
    }

    /// Usable bytes of this runner's stack.
    #[inline]
    pub(crate) fn span(&self) -> usize {
        // SAFETY: the record stays initialised where `new` put it for as
        // long as this `Runner` lives.
        unsafe { self.0.as_ref() }.span
    }

    /// Starts `body` as fiber `key` on this coroutine (new, or parked by
    /// a finished fiber) and runs it until it suspends or finishes.
    #[inline(always)]
    pub(crate) fn start(&mut self, body: Body, key: FiberKey) -> FiberYield {
        let raw = body.into_raw().as_ptr();
        let record = self.0.as_ptr().cast_const().cast();
        current::with_local(|l| {
            l.starting.set(raw);
            l.starting_record.set(record);
        })
        .expect("a fiber starts on a scheduler");
        let why = self.resume(key);
        debug_assert!(nothing_starting(), "the coroutine took its body");
        why
    }

    /// Runs fiber `key` on this coroutine until it suspends or finishes
    /// its body. A parked (or new) coroutine first takes the body `start`
    /// hands over. Always inlined: the join's nested start
    /// (`Scheduler::run_next_fresh`) called it out of line otherwise.
    #[inline(always)]
    pub(crate) fn resume(&mut self, key: FiberKey) -> FiberYield {
        // Read once, before the thread-local stores below, which the
        // compiler cannot tell apart from stores to the slot holding `self`.
        let record = self.0.as_ptr();
        // SAFETY: `&mut self` is the only way to the record (a `Runner` is
        // not `Clone`), so this is the only reference to it.
        let record = unsafe { &mut *record };
        current::set_running(Some(key));
        let why = match record.coroutine.resume(()) {
            CoroutineResult::Yield(why) => why,
            CoroutineResult::Return(()) => unreachable!("a fiber coroutine resumed without a body"),
        };
        current::set_running(None);
        why
    }

    /// Ends the coroutine and hands back its stack: a parked one is
    /// resumed with no body, so `fiber_main` returns (dropping a started
    /// coroutine would unwind it by force instead, a panic payload thrown
    /// through the loop, microseconds each, for the 1,024 idle fibers a
    /// pool keeps); a new one's initial object is dropped unrun.
    ///
    /// # Safety
    ///
    /// The coroutine must not be inside a body: new, or parked after a
    /// resume returned [`FiberYield::Finished`]. (Resuming a fiber
    /// suspended in its body here would run it outside its scheduler.)
    pub(crate) unsafe fn retire(self) -> FiberStack {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: the record is initialised and, with `Drop` skipped,
        // moved out exactly once; it no longer lives on the stack after.
        let mut record = unsafe { this.0.as_ptr().read() };
        let coroutine = &mut record.coroutine;
        if coroutine.started() {
            // Parked in `fiber_main` (the caller's promise), which finds
            // no starting body: only `start` sets one, and its coroutine
            // takes it at once.
            debug_assert!(nothing_starting());
            let ended = coroutine.resume(());
            debug_assert!(matches!(ended, CoroutineResult::Return(())));
        } else {
            coroutine.force_unwind(); // drops `fiber_main`, which never ran
        }
        record.coroutine.into_stack()
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        // SAFETY: as in `retire`: moved out exactly once. Dropping the
        // coroutine then unwinds a body still on its stack (a fiber torn
        // down while suspended) and frees the stack last.
        drop(unsafe { self.0.as_ptr().read() });
    }
}

/// The code every fiber coroutine runs: the bodies the scheduler starts on
/// it, one after another, until it is resumed with none (`retire`).
fn fiber_main(yielder: &FiberYielder, (): ()) {
    let mut me: Option<FiberSelf> = None;
    while let Some((body, record)) = take_starting() {
        let me = me.get_or_insert(FiberSelf {
            packet: Cell::new(None),
            record,
        });
        me.packet.set(Some(body.head()));
        current::enter_fiber(yielder, (me as *const FiberSelf).cast());
        body.enter(Start::Run);
        yielder.suspend(FiberYield::Finished);
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::context;
    use crate::runtime::fiber::stack::Layout;
    use crate::runtime::fiber::stack_pool::MAX_IDLE;
    use crate::{channel, run, spawn, yield_now};

    /// Idle runners, fresh stacks and coroutines created by this thread's
    /// scheduler.
    fn pool() -> (usize, usize, usize) {
        context::with_scheduler(|s| s.stacks_for_test().counts()).expect("in a runtime")
    }

    #[test]
    fn fibers_started_one_after_another_share_one_coroutine() {
        let created = run(|| {
            for i in 0..100 {
                assert_eq!(spawn(move || i).join().unwrap(), i);
            }
            pool().2
        });
        assert_eq!(created, 2, "main's coroutine and one for every child");
    }

    #[test]
    fn a_panicking_fiber_parks_its_coroutine_for_the_next_fiber() {
        let created = run(|| {
            for i in 0..10 {
                let h = spawn(move || {
                    yield_now();
                    if i % 2 == 0 {
                        panic!("fiber {i}");
                    }
                    i
                });
                match h.join() {
                    Ok(v) => assert_eq!(v, i),
                    Err(e) => {
                        assert_eq!(e.downcast_ref::<String>().unwrap(), &format!("fiber {i}"))
                    }
                }
            }
            pool().2
        });
        assert_eq!(created, 2);
    }

    /// Two fibers on reused coroutines suspend and resume many times,
    /// interleaved: each must come back on its own stack with its own
    /// yielder (a mixed-up yielder would switch to the wrong fiber).
    #[test]
    fn fibers_on_reused_coroutines_suspend_and_resume_on_their_own_stacks() {
        let (log, created) = run(|| {
            let warm: Vec<_> = (0..2).map(|i| spawn(move || i)).collect();
            for h in warm {
                h.join().unwrap();
            }
            let (tx, rx) = channel::<(u32, u32)>();
            let fibers: Vec<_> = (0..2u32)
                .map(|id| {
                    let tx = tx.clone();
                    spawn(move || {
                        let mut local = [id; 64]; // lives on this fiber's stack
                        for round in 0..50 {
                            tx.send((id, round)).unwrap();
                            yield_now();
                            assert!(local.iter().all(|&v| v == id + round));
                            local.iter_mut().for_each(|v| *v += 1);
                        }
                        id
                    })
                })
                .collect();
            drop(tx);
            let log: Vec<_> = rx.iter().collect();
            for (id, h) in fibers.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), id as u32);
            }
            (log, pool().2)
        });
        let expected: Vec<_> = (0..50).flat_map(|r| [(0, r), (1, r)]).collect();
        assert_eq!(log, expected);
        assert_eq!(created, 3, "the two warm-up coroutines were reused");
    }

    /// Trimming ends parked coroutines and recycles their stacks: the
    /// trimmed stacks serve new coroutines, the kept ones are reused as
    /// they are, and every fiber on either kind runs.
    #[test]
    fn trimmed_coroutines_give_back_stacks_that_serve_new_ones() {
        let many = MAX_IDLE + 100;
        run(move || {
            let wave = |base: usize| {
                let (go_tx, go_rx) = channel::<()>();
                let hs: Vec<_> = (0..many)
                    .map(|i| {
                        let go = go_rx.clone();
                        spawn(move || {
                            go.recv().unwrap();
                            base + i
                        })
                    })
                    .collect();
                yield_now(); // every fiber started and waits
                for _ in 0..many {
                    go_tx.send(()).unwrap();
                }
                for (i, h) in hs.into_iter().enumerate() {
                    assert_eq!(h.join().unwrap(), base + i);
                }
            };
            wave(0);
            let (idle, fresh_before, created) = pool();
            assert_eq!((idle, created), (many, many + 1));
            context::with_scheduler(|s| {
                let mut stacks = s.stacks_for_test();
                while stacks.needs_trim() {
                    stacks.trim();
                }
            });
            let (idle, fresh, _) = pool();
            assert_eq!(idle, MAX_IDLE);
            if Layout::guarded() == Layout::CarvedGuarded {
                assert_eq!(fresh, fresh_before + 100, "trimmed stacks are kept");
            } // else each stack is a mapping of its own, and trimming unmaps it
            wave(many);
            let (_, _, created) = pool();
            assert_eq!(created, many + 1 + 100, "100 coroutines rebuilt");
        });
    }
}
