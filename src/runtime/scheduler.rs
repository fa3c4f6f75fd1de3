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
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polling::Events;

use crate::runtime::current::{self, FiberYield, Local};
use crate::runtime::deadlock::GRACE;
use crate::runtime::dump::{FiberInfo, State as DumpState, PATIENCE};
use crate::runtime::fiber::coroutine::{FiberSelf, Runner};
use crate::runtime::fiber::head::Head;
use crate::runtime::fiber::head::Start;
use crate::runtime::fiber::overflow::AltStack;
use crate::runtime::fiber::packet::{Body, PacketId, PacketRef, RemoteBody};
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
    /// Stacks taken at spawn (`spawn_with_stack`) for fibers not started
    /// yet, by packet.
    reserved: RefCell<Vec<(PacketId, Runner)>>,
    /// Fibers spawned by `scope`, in spawn order: teardown ends them
    /// first, the latest first, so that none outlives the frame of the
    /// fiber whose scope it borrows from (spawned before it).
    scoped: RefCell<Vec<FiberKey>>,
    events: RefCell<Events>,
    /// When timers and descriptors are next checked while fibers run.
    pace: PollPace,
    /// A signal stack for the overflow handler, if this thread had none.
    _alt_stack: Option<AltStack>,
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
        shared.set_thread();
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
            reserved: RefCell::new(Vec::new()),
            scoped: RefCell::new(Vec::new()),
            events: RefCell::new(Events::new()),
            pace: PollPace::new(),
            _alt_stack: AltStack::ensure(),
            #[cfg(test)]
            nested_runs: std::cell::Cell::new(0),
            #[cfg(test)]
            busy_checks: std::cell::Cell::new(0),
        }
    }

    /// Adds a fiber. Spawned from a fiber, it joins that fiber's batch of
    /// fresh children; otherwise it goes to the back of the ready queue.
    pub(crate) fn spawn(&self, body: Body) -> FiberKey {
        self.runtime.fiber_spawned();
        self.place(body)
    }

    /// `spawn` of a fiber already counted.
    fn place(&self, body: Body) -> FiberKey {
        let head: *const Head = body.head_ref();
        let key = self.fibers.insert(body);
        // SAFETY: the body, now in the table, keeps its packet alive.
        unsafe { (*head).place(self.shared.id(), current::pack(Some(key))) };
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

    /// `spawn`, taking the fiber's stack now (`fiber::Builder::spawn`): an
    /// error, naming the limit, if none can be had.
    pub(crate) fn spawn_with_stack(&self, body: Body) -> io::Result<FiberKey> {
        let runner = {
            let mut stacks = self.stacks.borrow_mut();
            let size = body
                .spec()
                .and_then(|s| s.stack_size)
                .unwrap_or(stacks.size());
            stacks.get_sized(size)
        };
        let runner =
            runner.map_err(|message| io::Error::new(io::ErrorKind::OutOfMemory, message))?;
        body.mark_reserved();
        self.reserved.borrow_mut().push((body.id(), runner));
        Ok(self.spawn(body))
    }

    /// The running fiber goes behind every other runnable fiber; `at` is
    /// the caller of the yield.
    pub(crate) fn yield_current(&self, at: &'static Location<'static>) {
        if let Some(key) = current::current_key() {
            self.local.queue.borrow_mut().push_yielded(key);
            current::suspend_yielding(at);
        }
    }

    /// If a fiber waits in the hand-off slot (usually one the running
    /// fiber woke), the running fiber goes behind the woken ones and
    /// suspends: the partner, then every other woken fiber, runs first.
    /// True if it did. A choice with nothing ready does this before it
    /// registers.
    pub(crate) fn yield_to_woken(&self, at: &'static Location<'static>) -> bool {
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
        current::suspend_yielding(at);
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
                    self.shared.publish_beat();
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
            // Counted as it was sent (`Handle::spawn`).
            self.place(body.into_local());
        }
        drop((inbox, spawns));
        let mut cancels = Vec::new();
        self.shared.take_cancels(&mut cancels);
        for packet in cancels {
            self.cancel_fiber(packet);
        }
        for request in self.runtime.dumps.owed_by(self.index) {
            let fibers = self.describe_fibers();
            if request.answer(self.index, fibers) {
                self.runtime.dumps.remove(&request);
            }
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
        self.shared.publish_beat();
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
        // Nothing left to wait for: count as stuck (see `deadlock`); the
        // last scheduler to get stuck sleeps only for the grace period.
        let schedulers = self.runtime.schedulers.len();
        let stuck = (deadline.is_none() && !self.io.borrow().has_waiters())
            .then(|| self.runtime.detector.going_idle(schedulers))
            .flatten();
        let grace = stuck
            .as_ref()
            .is_some_and(|s| s.last)
            .then(|| Instant::now() + GRACE);
        let mut events = self.events.borrow_mut();
        events.clear();
        let slept = self.shared.sleep(&mut events, grace.or(deadline));
        if let Some(stuck) = stuck {
            let timed_out = grace.is_some_and(|g| Instant::now() >= g)
                && events.is_empty()
                && !self.shared.has_inbox();
            if self.runtime.detector.woke(stuck, timed_out, schedulers) {
                drop(events);
                self.report_deadlock();
                return Ok(());
            }
        }
        slept?;
        self.dispatch_io(&events);
        drop(events);
        self.fire_timers(Instant::now());
        Ok(())
    }

    /// Every fiber waits and nothing can wake them: prints the report (a
    /// dump of every scheduler's fibers) and, by default, stops the run,
    /// which then panics with a message naming them.
    #[cold]
    #[inline(never)]
    fn report_deadlock(&self) {
        let request = self.runtime.request_dump();
        request.answer(self.index, self.describe_fibers());
        request.wait_on_thread(PATIENCE);
        self.runtime.dumps.remove(&request);
        let dump = request.take();
        if let Some(message) = self.runtime.detector.report(&dump) {
            self.runtime.detector.stop_with(message);
            self.runtime.schedulers[0].interrupt();
        }
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
        let (yielder, me) = current::running_fiber_state();
        self.start_fiber_inline(key, slot);
        current::set_running(Some(running));
        current::enter_fiber(yielder, me);
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
    /// (`run_next_fresh`).
    #[inline(always)]
    fn start_fiber_inline(&self, key: FiberKey, slot: &FiberSlot) -> bool {
        // SAFETY: as in `run_fiber`: the fiber is not running.
        let state = unsafe { &mut *slot.state.get() };
        let FiberState::Unstarted(body) = std::mem::replace(state, FiberState::Starting) else {
            unreachable!("a fiber starts once")
        };
        if body.head_ref().is_cancelled() {
            return self.start_cancelled(key, body);
        }
        let runner = match body.spec() {
            None => self.stacks.borrow_mut().get(),
            Some(_) => self.runner_for(&body),
        };
        let runner = match runner {
            Ok(runner) => runner,
            Err(message) => {
                if self.stacks.borrow_mut().first_failure() {
                    eprintln!("{message}");
                }
                drop(self.fibers.take(key.index));
                body.enter(Start::Failed(message));
                self.runtime.fiber_finished();
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
        self.after_run(key, slot, why)
    }

    /// The coroutine for a fiber `fiber::Builder` made: the stack taken at
    /// its spawn, or one of the size it asked for.
    #[cold]
    #[inline(never)]
    fn runner_for(&self, body: &Body) -> Result<Runner, String> {
        if body.is_reserved() {
            let mut reserved = self.reserved.borrow_mut();
            let i = reserved
                .iter()
                .position(|(id, _)| *id == body.id())
                .expect("a reserved stack for a fiber marked reserved");
            return Ok(reserved.swap_remove(i).1);
        }
        let mut stacks = self.stacks.borrow_mut();
        match body.spec().and_then(|s| s.stack_size) {
            Some(size) => stacks.get_sized(size),
            None => stacks.get(),
        }
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
        self.runtime.fiber_finished();
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.teardown();
        self.shared
            .set_last_generation(self.fibers.last_generation());
    }
}

mod describe;
mod ends;
#[cfg(test)]
mod tests;
