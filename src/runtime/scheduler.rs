//! One scheduler: the fibers of one OS thread and the turn that runs them.
//!
//! The loop: pick a runnable fiber and resume it until it suspends; every
//! so often (`poll_pace`: a number of runs, or a budget of time) fire due
//! timers and poll descriptors without blocking; when nothing is runnable,
//! block in the poller until the next timer deadline, an I/O event, or a
//! remote wake.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polling::Events;

use crate::runtime::current::{self, FiberYield, Local};
use crate::runtime::fiber::coroutine::Runner;
use crate::runtime::fiber::packet::Start;
use crate::runtime::fiber::packet::{Body, PacketId, RemoteBody};
use crate::runtime::fiber::slot::{FiberSlot, FiberState};
use crate::runtime::fiber::stack_pool::StackPool;
use crate::runtime::fiber::table::FiberTable;
use crate::runtime::inner::RuntimeInner;
use crate::runtime::io::table::IoTable;
use crate::runtime::key::FiberKey;
use crate::runtime::poll_pace::PollPace;
use crate::runtime::time::TimerHeap;
use crate::runtime::Shared;

/// The per-thread scheduler. Lives on the stack of `run`; reached through
/// `context`. Fields are `RefCell`s borrowed only for short, non-reentrant
/// sections, never across a fiber switch.
pub(crate) struct Scheduler {
    /// This scheduler's place among its runtime's.
    index: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) runtime: Arc<RuntimeInner>,
    fibers: FiberTable,
    /// The run queue and teardown state, which `current` reaches.
    pub(crate) local: Local,
    /// The timer driver, which `context` arms and cancels.
    pub(crate) timers: RefCell<TimerHeap>,
    /// The I/O driver, which `context` registers descriptors with.
    pub(crate) io: RefCell<IoTable>,
    stacks: RefCell<StackPool>,
    inbox: RefCell<Vec<FiberKey>>,
    spawns: RefCell<Vec<RemoteBody>>,
    events: RefCell<Events>,
    /// When timers and descriptors are next checked while fibers run.
    pace: PollPace,
    /// Fibers `run_next_fresh` ran.
    #[cfg(test)]
    nested_runs: std::cell::Cell<usize>,
    /// Checks of timers and descriptors made while fibers ran.
    #[cfg(test)]
    busy_checks: std::cell::Cell<usize>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("fibers", &self.fibers.len())
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Scheduler `index` of `runtime`.
    pub(crate) fn new(index: usize, runtime: Arc<RuntimeInner>) -> Scheduler {
        let shared = runtime.schedulers[index].clone();
        let stacks = StackPool::new(runtime.config.stack_size, runtime.config.layout);
        Scheduler {
            index,
            fibers: FiberTable::continuing(shared.last_generation()),
            local: Local::new(&shared),
            shared,
            runtime,
            timers: RefCell::new(TimerHeap::default()),
            io: RefCell::new(IoTable::new(true)),
            stacks: RefCell::new(stacks),
            inbox: RefCell::new(Vec::new()),
            spawns: RefCell::new(Vec::new()),
            events: RefCell::new(Events::new()),
            pace: PollPace::new(),
            #[cfg(test)]
            nested_runs: std::cell::Cell::new(0),
            #[cfg(test)]
            busy_checks: std::cell::Cell::new(0),
        }
    }

    /// Adds a fiber. Spawned from a fiber, it joins that fiber's batch of
    /// fresh children; otherwise it goes to the back of the ready queue.
    pub(crate) fn spawn(&self, body: Body) -> FiberKey {
        let key = self.fibers.insert(body);
        let mut queue = self.local.queue.borrow_mut();
        match current::current_key().and_then(|p| self.fibers.get(p)) {
            Some(parent) => {
                let mut open = parent.open_batch.get();
                queue.push_fresh(&mut open, key);
                parent.open_batch.set(open);
            }
            None => queue.push_woken(key),
        }
        key
    }

    /// The running fiber goes behind every other runnable fiber.
    pub(crate) fn yield_current(&self) {
        if let Some(key) = current::current_key() {
            self.local.queue.borrow_mut().push_yielded(key);
            current::suspend();
        }
    }

    /// If a fiber waits in the hand-off slot (usually one the running
    /// fiber woke), the running fiber goes behind the woken ones and
    /// suspends: the partner, then every other woken fiber, runs first.
    /// True if it did. A choice with nothing ready does this before it
    /// registers.
    pub(crate) fn yield_to_woken(&self) -> bool {
        let Some(key) = current::current_key() else {
            return false;
        };
        {
            let mut queue = self.local.queue.borrow_mut();
            if !queue.has_handoff() {
                return false;
            }
            queue.push_woken(key);
        }
        current::suspend();
        true
    }

    /// Runs fibers until `done()` holds: checked after every fiber that
    /// returns, and at least every `FAIRNESS` runs otherwise.
    pub(crate) fn run_until(&self, done: impl Fn() -> bool) -> io::Result<()> {
        self.pace.restart(Instant::now());
        while !done() {
            #[cfg(test)]
            tests::fail_here_if_asked();
            if self.shared.has_inbox() {
                self.drain_inbox();
            }
            let next = self.local.queue.borrow_mut().pick();
            match next {
                Some(mut key) => {
                    // The hand-off chain: while each fiber suspends, or
                    // returns, after waking a partner into the hand-off
                    // slot, run the partner straight away. `done()` turns
                    // true as a fiber returns (the main fiber), so it is
                    // checked then; or for a worker's stop flag, which the
                    // fairness turn ending the chain every `FAIRNESS`
                    // picks observes soon enough. Polling and the inbox end
                    // the chain on their turn.
                    loop {
                        let suspended = self.run_fiber(key);
                        self.count_run();
                        if !suspended && done() {
                            break;
                        }
                        let partner = self
                            .local
                            .queue
                            .borrow_mut()
                            .pick_handoff(|| !self.poll_or_inbox_due());
                        match partner {
                            Some(partner) => key = partner,
                            None => break,
                        }
                    }
                    if self.pace.is_due() {
                        #[cfg(test)]
                        self.busy_checks.set(self.busy_checks.get() + 1);
                        self.check_timers_and_io()?;
                    }
                }
                None => {
                    if !self.fire_timers(Instant::now()) && !self.spin_for_work() {
                        self.block()?;
                    }
                    // Idle time says nothing of how long runs take.
                    self.pace.restart(Instant::now());
                }
            }
        }
        Ok(())
    }

    fn drain_inbox(&self) {
        let mut inbox = self.inbox.borrow_mut();
        let mut spawns = self.spawns.borrow_mut();
        self.shared.take_announcement();
        self.shared.take_wakes(&mut inbox);
        self.runtime.spawns[self.index].take(&mut spawns);
        {
            let mut queue = self.local.queue.borrow_mut();
            for key in inbox.drain(..) {
                queue.push_woken(key);
            }
        }
        for body in spawns.drain(..) {
            self.spawn(body.into_local());
        }
    }

    /// Commits the performs whose deadline has come (see
    /// `TimerHeap::fire_due`); true if any fiber woke.
    fn fire_timers(&self, now: Instant) -> bool {
        self.timers.borrow_mut().fire_due(now)
    }

    /// Counts a fiber run for the pace of checks. When the pace reads the
    /// clock between runs (as it does after every run while runs are slow),
    /// relative timers armed meanwhile count from that reading, rather
    /// than from the next check, a slow run later.
    #[inline]
    fn count_run(&self) {
        if self.pace.count_run() {
            self.settle_timers(self.pace.last_reading());
        }
    }

    /// Gives the pending relative timers their deadlines, counted from
    /// `now`, a reading taken after they were armed.
    #[cold]
    #[inline(never)]
    fn settle_timers(&self, now: Instant) {
        let mut timers = self.timers.borrow_mut();
        if timers.has_pending() {
            timers.settle(now);
        }
    }

    /// The check the pace calls for while fibers run: fires due timers and
    /// polls descriptors without blocking. With neither a timer nor a
    /// descriptor waited on, there is nothing to check, and no clock is
    /// read.
    fn check_timers_and_io(&self) -> io::Result<()> {
        if self.timers.borrow().len() == 0 && !self.io.borrow().has_waiters() {
            self.pace.nothing_to_check();
            return Ok(());
        }
        let now = Instant::now();
        self.fire_timers(now);
        self.poll_io_now()?;
        self.pace.checked(now);
        Ok(())
    }

    /// Nothing is runnable: poll the inbox for a short, bounded time before
    /// paying for a sleep and a wake (see `Builder::spin_before_sleep`).
    /// True if work arrived.
    fn spin_for_work(&self) -> bool {
        let spin = self.runtime.config.spin;
        if spin.is_zero() {
            return false;
        }
        let mut until = Instant::now() + spin;
        if let Some(deadline) = self.timers.borrow().next_deadline() {
            until = until.min(deadline);
        }
        loop {
            for _ in 0..64 {
                if self.shared.has_inbox() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= until {
                return self.shared.has_inbox();
            }
        }
    }

    /// Nothing is runnable: sleep until the next deadline, an I/O event or
    /// a wake. With idle stacks to unmap, unmaps one batch and only polls,
    /// so the loop comes back for the next batch after serving what arrived.
    fn block(&self) -> io::Result<()> {
        // `fire_timers`, called just before, settled the pending timers.
        debug_assert!(!self.timers.borrow().has_pending());
        let mut deadline = self.timers.borrow().next_deadline();
        if let Some(check) = self.io.borrow().next_check() {
            deadline = Some(deadline.map_or(check, |d| d.min(check)));
        }
        if self.stacks.borrow().needs_trim() {
            self.stacks.borrow_mut().trim();
            deadline = Some(Instant::now());
        }
        let mut events = self.events.borrow_mut();
        events.clear();
        self.shared.sleep(&mut events, deadline)?;
        self.dispatch_io(&events);
        drop(events);
        self.fire_timers(Instant::now());
        Ok(())
    }

    /// The turn's look at descriptors, without blocking; skipped (no system
    /// call) while no fiber waits on one.
    fn poll_io_now(&self) -> io::Result<()> {
        if !self.io.borrow().has_waiters() {
            return Ok(());
        }
        let mut events = self.events.borrow_mut();
        events.clear();
        match self.shared.poller.wait(&mut events, Some(Duration::ZERO)) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e),
            _ => {}
        }
        self.dispatch_io(&events);
        Ok(())
    }

    /// Commits the performs waiting on the descriptors in `events`.
    fn dispatch_io(&self, events: &Events) {
        self.io
            .borrow_mut()
            .dispatch_all(&self.shared.poller, events.iter());
    }

    /// True when the loop owes timers and descriptors a check, or the
    /// inbox a drain, before it runs another fiber: then neither the
    /// hand-off chain nor a join may run one without going through it.
    #[inline]
    fn poll_or_inbox_due(&self) -> bool {
        self.pace.is_due() || self.shared.has_inbox()
    }

    /// Runs the fiber of `packet` from the running fiber, which is about
    /// to wait for it, if that fiber has not started and is what the loop
    /// would run next once the running fiber suspends, with no poll or
    /// inbox due: the loop's own next step, without the two switches
    /// through it and back. The fiber runs on its own stack as ever, its
    /// coroutine resumed from the running fiber's; when it suspends or
    /// finishes, the running fiber goes on.
    pub(crate) fn run_next_fresh(&self, packet: PacketId) {
        let Some(running) = current::current_key() else {
            return; // a thread
        };
        if self.local.tearing_down.get() || self.poll_or_inbox_due() {
            return;
        }
        let joined_slot = |key| {
            let slot = self.fibers.get(key)?;
            // SAFETY: the key is the head of a batch, and a fiber leaves
            // its batch when it is picked to start, so it has not started
            // and no coroutine borrows its state. Nothing else can start
            // it: a wake names a key, and a key's generation is never
            // handed out twice by one scheduler, across runs too (see
            // `FiberKey`), so no wake names a fiber that has not run.
            let state = unsafe { &*slot.state.get() };
            matches!(state, FiberState::Unstarted(body) if body.id() == packet).then_some(slot)
        };
        let Some((key, slot)) = self.local.queue.borrow_mut().pick_fresh_if(joined_slot) else {
            return;
        };
        self.count_run();
        #[cfg(test)]
        self.nested_runs.set(self.nested_runs.get() + 1);
        let yielder = current::current_yielder();
        self.start_fiber_inline(key, slot);
        current::set_running(Some(running), yielder);
    }

    /// Resumes a fiber until it suspends or finishes. The common case, a
    /// started fiber, stays short; the first run takes `start_fiber`.
    /// True if the fiber suspended (it is still alive).
    #[inline]
    fn run_fiber(&self, key: FiberKey) -> bool {
        let Some(slot) = self.fibers.get(key) else {
            return false; // a late wake for a fiber that is gone
        };
        // SAFETY: fibers run one at a time, resumed by this loop (which
        // `context::enter` keeps from nesting) or, while the running fiber
        // waits in `run_next_fresh`, by that fiber, which resumes only a
        // fiber that has not started; so no coroutine borrows this slot's
        // state now.
        let runner = match unsafe { &mut *slot.state.get() } {
            FiberState::Started(runner) => runner as *mut Runner,
            _ => return self.start_fiber(key, slot),
        };
        // SAFETY: the table's slots never move, and only `finish_fiber`
        // (after a run) and `teardown` (after the loop) empty a slot, never
        // while its fiber runs; nothing else touches a running fiber's
        // state, so this is the only reference to the runner.
        let why = unsafe { (*runner).resume(key) };
        self.after_run(key, slot, why)
    }

    /// A fiber's first run: gives it a coroutine (parked by a finished
    /// fiber, or new on a fresh stack), hands it the body and runs it. Out
    /// of line for the loop, whose common case is a started fiber.
    #[inline(never)]
    fn start_fiber(&self, key: FiberKey, slot: &FiberSlot) -> bool {
        self.start_fiber_inline(key, slot)
    }

    /// `start_fiber`, inlined where a first run is the whole point
    /// (`run_next_fresh`: 9 instructions a spawn+join).
    #[inline(always)]
    fn start_fiber_inline(&self, key: FiberKey, slot: &FiberSlot) -> bool {
        // SAFETY: as in `run_fiber`: the fiber is not running.
        let state = unsafe { &mut *slot.state.get() };
        let FiberState::Unstarted(body) = std::mem::replace(state, FiberState::Starting) else {
            unreachable!("a fiber starts once")
        };
        let runner = self.stacks.borrow_mut().get();
        let runner = match runner {
            Ok(runner) => runner,
            Err(message) => {
                if self.stacks.borrow_mut().first_failure() {
                    eprintln!("{message}");
                }
                drop(self.fibers.take(key.index));
                body.enter(Start::Failed(message));
                return false;
            }
        };
        // SAFETY: `state` is a valid place holding `Starting`, which owns
        // nothing, so overwriting it without a drop leaks nothing.
        unsafe { std::ptr::write(state, FiberState::Started(runner)) };
        let FiberState::Started(runner) = state else {
            unreachable!("started just above")
        };
        // SAFETY: as in `run_fiber`.
        let runner = unsafe { &mut *(runner as *mut Runner) };
        let why = runner.start(body, key);
        runner.set_yielder(current::current_yielder());
        self.after_run(key, slot, why)
    }

    #[cfg(test)]
    pub(crate) fn stacks_for_test(&self) -> std::cell::RefMut<'_, StackPool> {
        self.stacks.borrow_mut()
    }

    /// After a fiber ran: true if it suspended; if it finished, its slot
    /// goes and its coroutine, parked on its stack, back to the pool.
    #[inline(always)]
    fn after_run(&self, key: FiberKey, slot: &FiberSlot, why: FiberYield) -> bool {
        match why {
            FiberYield::Suspended => true,
            FiberYield::Finished => {
                self.finish_fiber(key, slot);
                false
            }
        }
    }

    #[inline]
    fn finish_fiber(&self, key: FiberKey, slot: &FiberSlot) {
        if let FiberState::Started(runner) = self.fibers.vacate(slot, key.index) {
            // SAFETY: the runner's last resume returned `Finished`.
            unsafe { self.stacks.borrow_mut().put(runner) };
        }
    }

    /// Drops every remaining fiber, unwinding the stacks of started ones so
    /// their destructors run (and their performs withdraw from queues).
    /// Fibers those destructors spawn are dropped too.
    ///
    /// The destructors run outside any fiber, whether on the scheduler's
    /// stack (an unstarted fiber's closure) or on the unwinding fiber's
    /// own: no fiber of this scheduler runs again, so nothing may switch
    /// to one. An operation they perform therefore blocks the OS thread,
    /// as on a plain thread, and `yield_now` yields the thread.
    pub(crate) fn teardown(&self) {
        self.local.tearing_down.set(true);
        current::set_running(None, std::ptr::null());
        let mut from = 0;
        loop {
            let Some(key) = self.fibers.next_live(from) else {
                if from == 0 {
                    break;
                }
                from = 0; // a destructor may have spawned into a lower slot
                continue;
            };
            from = key.index + 1;
            drop(self.fibers.take(key.index));
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.teardown();
        self.shared
            .set_last_generation(self.fibers.last_generation());
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use crate::runtime::fiber::stack::Layout;
    use crate::runtime::run_queue::FAIRNESS;
    use crate::{channel, run, spawn, yield_now};

    fn nested_runs() -> usize {
        crate::runtime::context::with_scheduler(|s| s.nested_runs.get()).unwrap()
    }

    fn busy_checks() -> usize {
        crate::runtime::context::with_scheduler(|s| s.busy_checks.get()).unwrap()
    }

    /// Joining a fiber that has not started and would run next anyway runs
    /// it from the joiner, without the trip through the loop: every join
    /// of a spawn+join loop, fairness turns included (with nothing else
    /// runnable they pick the same fiber), but for the loop's checks of
    /// timers and descriptors: a check that comes due sends at most one
    /// join through the loop, which then runs the joined fiber and the
    /// joiner. (Checks come every 61 runs, and sooner on a slow host.)
    #[test]
    fn a_join_runs_the_fresh_fiber_the_loop_would_run_next() {
        let (nested, checks) = run(|| {
            for i in 0..160u32 {
                assert_eq!(spawn(move || i + 1).join().unwrap(), i + 1);
            }
            (nested_runs(), busy_checks())
        });
        assert!(checks >= 160 / 61, "at least one check every 61 runs");
        assert!(
            160 - nested <= checks,
            "{} joins went through the loop, {checks} checks sent them",
            160 - nested
        );
    }

    /// A fairness turn picks the fiber that has waited longest: a join then
    /// runs the fiber it waits for only if that is the one; a yielded fiber
    /// that waited longer runs first.
    #[test]
    fn a_join_on_a_fairness_turn_lets_a_fiber_that_waited_longer_go_first() {
        let (log, nested) = run(|| {
            let log = Rc::new(RefCell::new(Vec::new()));
            let yielder = spawn({
                let log = log.clone();
                move || {
                    yield_now();
                    log.borrow_mut().push("yielder");
                }
            });
            yield_now(); // the yielder starts and yields: it waits
            let checks_before = busy_checks();
            let mut joins = 0;
            while !log.borrow().contains(&"yielder") {
                let log = log.clone();
                spawn(move || log.borrow_mut().push("child"))
                    .join()
                    .unwrap();
                joins += 1;
                assert!(joins <= FAIRNESS, "the yielder never got its turn");
            }
            let checks = busy_checks() - checks_before;
            yielder.join().unwrap();
            (log.take(), (nested_runs(), checks))
        });
        let (nested, checks) = nested;
        // The yielder waits behind fresh fibers until a fairness turn,
        // which comes within `FAIRNESS` picks and goes to it; the child
        // joined then runs after it, from the loop.
        let (yielder_at, children) = (log.len() - 2, log.len() - 1);
        assert_eq!(log[yielder_at], "yielder", "{log:?}");
        assert_eq!(log.iter().filter(|&&e| e == "child").count(), children);
        assert!(children > 1 && children as u32 <= FAIRNESS, "{log:?}");
        // All but the fairness turn's join, and any a check sent through
        // the loop (none where the host is fast enough).
        assert!(nested < children, "{nested} of {children}");
        assert!(
            nested + checks >= children - 1,
            "{nested} of {children}, {checks} checks"
        );
    }

    /// Only the fiber the loop would pick next runs early: an older
    /// sibling that has not started, and a partner in the hand-off slot,
    /// keep their turns, and the joined fiber waits for them.
    #[test]
    fn a_join_never_runs_a_fiber_ahead_of_its_turn() {
        let (log, nested) = run(|| {
            let log = Rc::new(RefCell::new(Vec::new()));
            let logger = |name: &'static str| {
                let log = log.clone();
                move || log.borrow_mut().push(name)
            };
            let older = spawn(logger("older sibling"));
            let younger = spawn(logger("younger sibling"));
            younger.join().unwrap();
            older.join().unwrap();

            let (tx, rx) = channel::<()>();
            let partner = spawn({
                let log = log.clone();
                move || {
                    rx.recv().unwrap();
                    log.borrow_mut().push("partner");
                }
            });
            yield_now(); // the partner waits in recv
            tx.send(()).unwrap(); // and now in the hand-off slot
            spawn(logger("child")).join().unwrap();
            partner.join().unwrap();
            (log.take(), nested_runs())
        });
        assert_eq!(
            log,
            ["older sibling", "younger sibling", "partner", "child"]
        );
        assert_eq!(nested, 0, "every fiber waited for its turn in the loop");
    }

    thread_local! {
        /// Makes the next turn of this thread's scheduler loop panic.
        static FAIL_NEXT_TURN: Cell<bool> = const { Cell::new(false) };
    }

    /// Panics if a test asked the loop to (see `FAIL_NEXT_TURN`).
    pub(super) fn fail_here_if_asked() {
        if FAIL_NEXT_TURN.with(|f| f.replace(false)) {
            panic!("a turn of the scheduler loop failed");
        }
    }

    /// A scheduler that unwinds out of its loop tears its fibers down while
    /// it is still installed: the destructors of a fiber waiting with a
    /// timer and a descriptor may spawn, its timer and descriptor are
    /// withdrawn from that scheduler, and the thread runs again.
    #[test]
    fn unwinding_out_of_run_tears_down_while_the_scheduler_is_installed() {
        use crate::{after, io, Op};
        use std::os::unix::net::UnixStream;
        struct SpawnsOnDrop(Rc<Cell<bool>>);
        impl Drop for SpawnsOnDrop {
            fn drop(&mut self) {
                drop(spawn(|| ()));
                self.0.set(true);
            }
        }
        let dropped = Rc::new(Cell::new(false));
        let d = dropped.clone();
        let (a, _b) = UnixStream::pair().unwrap();
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(|| {
                spawn(move || {
                    let _guard = SpawnsOnDrop(d);
                    let waited = io::readable(&a)
                        .or(after(std::time::Duration::from_secs(3600)).wrap(|()| Ok(())))
                        .perform();
                    unreachable!("nothing is written: {waited:?}");
                });
                yield_now(); // it waits on its descriptor and its timer
                FAIL_NEXT_TURN.with(|f| f.set(true));
                yield_now();
                unreachable!("the loop failed");
            })
        }));
        assert!(unwound.is_err());
        assert!(dropped.get(), "the waiting fiber was torn down");
        assert!(!crate::runtime::context::in_runtime());
        assert_eq!(run(|| spawn(|| 6 * 7).join().unwrap()), 42);
    }

    /// A wake from an earlier run that arrives late (a slow thread still
    /// holding its token) names a key of that run: it must wake nothing in
    /// the next run, where a fiber may sit in the same slot. Here it would
    /// have started `b` ahead of `a`, spawned before it.
    #[test]
    fn a_late_wake_from_an_earlier_run_wakes_nothing_in_the_next() {
        use crate::runtime::context::with_scheduler;
        use crate::runtime::current::current_key;
        let rt = crate::Runtime::builder().build().unwrap();
        let spawn_two = |log: Rc<RefCell<Vec<&'static str>>>| {
            let logger = |name| {
                let log = log.clone();
                move || {
                    log.borrow_mut().push(name);
                    current_key().unwrap()
                }
            };
            (spawn(logger("a")), spawn(logger("b")))
        };
        let stale = rt.run(|| {
            let (a, b) = spawn_two(Rc::default());
            a.join().unwrap();
            b.join().unwrap()
        });
        let log = rt.run(|| {
            let log = Rc::new(RefCell::new(Vec::new()));
            let (a, b) = spawn_two(log.clone());
            with_scheduler(|s| s.shared.wake_remote(stale)); // delivered late
            a.join().unwrap();
            b.join().unwrap();
            log.take()
        });
        assert_eq!(log, ["a", "b"]);
    }

    /// The whole runtime on stacks mapped one by one (kernels without
    /// guard regions): fibers start, reuse parked coroutines, switch,
    /// finish, are trimmed and are torn down while parked.
    #[test]
    fn fibers_run_on_mapped_stacks() {
        let rt = crate::Runtime::builder()
            .layout(Layout::Mapped)
            .build()
            .unwrap();
        let (sum, layout) = rt.run(|| {
            let (tx, rx) = channel::<u64>();
            let senders: Vec<_> = (0..1100u64)
                .map(|i| {
                    let tx = tx.clone();
                    spawn(move || {
                        yield_now();
                        tx.send(i).unwrap();
                    })
                })
                .collect();
            drop(tx);
            let sum: u64 = rx.iter().sum();
            for h in senders {
                h.join().unwrap();
            }
            for i in 0..100u64 {
                assert_eq!(spawn(move || i * 2).join().unwrap(), i * 2);
            }
            let layout = crate::runtime::context::with_scheduler(|s| {
                let mut stacks = s.stacks_for_test();
                while stacks.needs_trim() {
                    stacks.trim(); // unmaps the excess mapped stacks
                }
                stacks.counts()
            });
            let (_parked_tx, parked_rx) = channel::<()>();
            spawn(move || {
                let _ = parked_rx.recv(); // torn down when main returns
            });
            yield_now();
            (sum, layout)
        });
        assert_eq!(sum, (0..1100).sum::<u64>());
        let (idle, fresh, created) = layout.unwrap();
        assert_eq!(
            (fresh, created),
            (0, 1101),
            "mapped stacks are never carved"
        );
        assert_eq!(idle, crate::runtime::fiber::stack_pool::MAX_IDLE);
    }
}
