//! Dumps: each fiber of this scheduler, described between runs.

use super::*;

impl Scheduler {
    /// Every fiber of this scheduler, for a dump: between fiber runs, each
    /// suspended fiber is asked to describe itself (see `dump`).
    #[cold]
    #[inline(never)]
    pub(crate) fn describe_fibers(&self) -> Vec<FiberInfo> {
        let queued: std::collections::HashSet<FiberKey> =
            self.local.queue.borrow().queued().collect();
        let mut fibers = Vec::new();
        let mut from = 0;
        while let Some(key) = self.fibers.next_live(from) {
            from = key.index + 1;
            let Some(slot) = self.fibers.get(key) else {
                continue;
            };
            // SAFETY: as in `run_fiber`: between runs, no coroutine borrows
            // a slot's state, and the table's slots never move.
            let state = unsafe { &mut *slot.state.get() };
            let info = match state {
                FiberState::Unstarted(body) => {
                    // SAFETY: an unstarted body keeps its packet alive.
                    let head = unsafe { body.head().get() };
                    Some(FiberInfo::new(head, self.index, DumpState::NotStarted))
                }
                FiberState::Started(runner) => {
                    let runner = runner as *mut Runner;
                    let answer = current::describe(|| {
                        // SAFETY: as in `run_fiber`; the fiber answers and
                        // suspends again at once (see `current::suspend`).
                        let why = unsafe { (*runner).resume(key) };
                        debug_assert_eq!(why, FiberYield::Suspended);
                    });
                    answer.and_then(|answer| {
                        // SAFETY: the fiber is suspended in its body, whose
                        // packet it keeps alive, and stays so meanwhile.
                        let me = unsafe { FiberSelf::from_answer(answer.fiber) }?;
                        // SAFETY: as just above.
                        let head = unsafe { me.packet()?.get() };
                        let queued = queued.contains(&key);
                        let state = if queued {
                            DumpState::Runnable
                        } else {
                            DumpState::Waiting
                        };
                        let mut info = FiberInfo::new(head, self.index, state);
                        if !queued {
                            info.waiting_on = answer.waiting_on;
                        }
                        info.location = answer.location;
                        Some(info)
                    })
                }
                _ => None,
            };
            fibers.extend(info);
        }
        fibers
    }
}
