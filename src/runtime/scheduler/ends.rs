//! How fibers end other than by returning: cancelled (before they start,
//! or resumed to unwind where they wait), and torn down when a run ends
//! (scoped fibers first, the latest first).

use super::*;

impl Scheduler {
    /// `spawn` for a fiber of a scope (see `scoped`).
    pub(crate) fn spawn_scoped(&self, body: Body) -> FiberKey {
        let key = self.spawn(body);
        self.scoped.borrow_mut().push(key);
        key
    }

    /// A scope ended: its fibers, finished, need no early teardown.
    pub(crate) fn forget_scoped(&self, keys: &[FiberKey]) {
        self.scoped.borrow_mut().retain(|k| !keys.contains(k));
    }

    /// A fiber cancelled before it started: it never runs; its joiner
    /// gets `Cancelled`.
    #[cold]
    #[inline(never)]
    pub(super) fn start_cancelled(&self, key: FiberKey, body: Body) -> bool {
        drop(self.fibers.take(key.index));
        if body.is_reserved() {
            let mut reserved = self.reserved.borrow_mut();
            if let Some(i) = reserved.iter().position(|(id, _)| *id == body.id()) {
                let (_, runner) = reserved.swap_remove(i);
                // SAFETY: a reserved runner never ran.
                unsafe { self.stacks.borrow_mut().put(runner) };
            }
        }
        body.enter(Start::Cancelled);
        self.runtime.fiber_finished();
        false
    }

    /// Cancels the fiber of `packet` (`JoinHandle::cancel`), if it is
    /// here and suspended: it is resumed to unwind from where it waits. An
    /// unstarted one is stopped as it starts (`start_cancelled`); a
    /// finished one keeps its result.
    #[cold]
    #[inline(never)]
    pub(super) fn cancel_fiber(&self, packet: PacketRef) {
        let Some(key) = current::unpack(packet.head().key()) else {
            return; // not placed here yet: stopped as it starts
        };
        let Some(slot) = self.fibers.get(key) else {
            return; // finished
        };
        // SAFETY: as in `run_fiber`: between runs, no coroutine borrows a
        // slot's state, and the table's slots never move.
        let runner = match unsafe { &mut *slot.state.get() } {
            FiberState::Started(runner) => runner as *mut Runner,
            _ => return,
        };
        if !packet.head().begin_cancelling() {
            return; // unwinding already
        }
        loop {
            let (why, taken) = current::cancel(|| {
                // SAFETY: as in `run_fiber`: the fiber is suspended, and
                // this is the only reference to its runner.
                unsafe { (*runner).resume(key) }
            });
            // A fiber whose perform had committed went on to its next
            // suspension point: it is asked again there.
            if !self.after_run(key, slot, why) || taken {
                return;
            }
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
        current::set_running(None);
        // Scoped fibers first, the latest first: each ends before the
        // fiber whose stack it borrows from unwinds.
        loop {
            let Some(key) = self.scoped.borrow_mut().pop() else {
                break;
            };
            if self.fibers.get(key).is_some() {
                drop(self.fibers.take(key.index));
            }
        }
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
        // The stacks taken for fibers that never started (none is left).
        for (_, runner) in self.reserved.borrow_mut().drain(..) {
            // SAFETY: never resumed.
            unsafe { self.stacks.borrow_mut().put(runner) };
        }
    }
}
