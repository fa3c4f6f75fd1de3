//! Which fiber runs next: the scheduling policy, kept apart from the loop.
//!
//! Stacks are the scarce resource, so the policy keeps the number of started
//! fibers proportional to a computation's depth, not its size:
//! 1. **Hand-off**: a fiber woken by the running one (a rendezvous partner)
//!    runs next, while its data is hot and before it costs a new stack.
//! 2. **Fresh children, newest batch first**: the not-yet-started fibers that
//!    one fiber spawned form a batch; batches are a stack (LIFO), each batch
//!    a FIFO. A spawn tree thus runs depth-first while every fiber's children
//!    start in spawn order.
//! 3. **Ready queue** (FIFO): everything else woken, and `yield_now`.
//!
//! Fairness: every `FAIRNESS`-th pick takes the older of the ready queue's
//! head and the newest batch's head instead of the hand-off, so a pair of
//! fibers handing off forever cannot starve anyone, and no ready fiber waits
//! more than `FAIRNESS` picks per fiber queued ahead of it. It is the newest
//! batch, not the oldest, so that fairness never starts a second subtree of
//! a spawn tree early: taking the oldest let skynet-1M hold 26,510 stacks
//! instead of 8.

use std::collections::VecDeque;

use crate::waker::FiberKey;

/// Every this many picks, the oldest waiting fiber goes first.
pub(crate) const FAIRNESS: u32 = 16;

#[derive(Debug, Clone, Copy)]
struct Queued {
    key: FiberKey,
    seq: u64,
}

#[derive(Debug)]
struct Batch {
    id: u64,
    fibers: VecDeque<Queued>,
}

/// The run queue of one scheduler.
#[derive(Debug, Default)]
pub(crate) struct RunQueue {
    handoff: Option<Queued>,
    ready: VecDeque<Queued>,
    batches: Vec<Batch>,
    spare: Vec<VecDeque<Queued>>,
    next_seq: u64,
    next_batch: u64,
    picks: u32,
}

impl RunQueue {
    fn stamp(&mut self, key: FiberKey) -> Queued {
        self.next_seq += 1;
        Queued {
            key,
            seq: self.next_seq,
        }
    }

    /// A fiber woken by the running fiber (or a timer): hand-off if free.
    pub(crate) fn wake(&mut self, key: FiberKey) {
        let q = self.stamp(key);
        if self.handoff.is_none() {
            self.handoff = Some(q);
        } else {
            self.ready.push_back(q);
        }
    }

    /// A fiber that yielded, or was woken from another thread.
    pub(crate) fn push_ready(&mut self, key: FiberKey) {
        let q = self.stamp(key);
        self.ready.push_back(q);
    }

    /// A fiber spawned by a fiber whose open batch is `*open`.
    pub(crate) fn push_fresh(&mut self, open: &mut Option<u64>, key: FiberKey) {
        let q = self.stamp(key);
        if let Some(id) = *open {
            if let Some(b) = self.batches.iter_mut().rev().find(|b| b.id == id) {
                b.fibers.push_back(q);
                return;
            }
        }
        self.next_batch += 1;
        let mut fibers = self.spare.pop().unwrap_or_default();
        fibers.push_back(q);
        self.batches.push(Batch {
            id: self.next_batch,
            fibers,
        });
        *open = Some(self.next_batch);
    }

    /// The next fiber to run.
    pub(crate) fn pick(&mut self) -> Option<FiberKey> {
        self.picks += 1;
        if self.picks >= FAIRNESS {
            self.picks = 0;
            let top = self
                .batches
                .last()
                .and_then(|b| b.fibers.front())
                .map(|q| q.seq);
            let ready = self.ready.front().map(|q| q.seq);
            match (ready, top) {
                (Some(r), Some(t)) if t < r => return self.pop_batch(self.batches.len() - 1),
                (Some(_), _) => return self.ready.pop_front().map(|q| q.key),
                (None, Some(_)) => return self.pop_batch(self.batches.len() - 1),
                (None, None) => {}
            }
        }
        if let Some(q) = self.handoff.take() {
            return Some(q.key);
        }
        if !self.batches.is_empty() {
            return self.pop_batch(self.batches.len() - 1);
        }
        self.ready.pop_front().map(|q| q.key)
    }

    fn pop_batch(&mut self, i: usize) -> Option<FiberKey> {
        let batch = &mut self.batches[i];
        let q = batch.fibers.pop_front();
        if batch.fibers.is_empty() {
            let b = self.batches.remove(i);
            self.spare.push(b.fibers);
        }
        q.map(|q| q.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: u32) -> FiberKey {
        FiberKey {
            index: i,
            generation: 0,
        }
    }

    fn drain(q: &mut RunQueue) -> Vec<u32> {
        std::iter::from_fn(|| q.pick().map(|k| k.index)).collect()
    }

    #[test]
    fn children_run_in_spawn_order_and_newest_batch_first() {
        let mut q = RunQueue::default();
        let (mut parent, mut child) = (None, None);
        q.push_fresh(&mut parent, k(1));
        q.push_fresh(&mut parent, k(2));
        assert_eq!(q.pick(), Some(k(1)));
        q.push_fresh(&mut child, k(10));
        q.push_fresh(&mut child, k(11));
        q.push_fresh(&mut parent, k(3));
        assert_eq!(drain(&mut q), vec![10, 11, 2, 3]);
    }

    #[test]
    fn handoff_beats_fresh_and_ready() {
        let mut q = RunQueue::default();
        let mut open = None;
        q.push_ready(k(1));
        q.push_fresh(&mut open, k(2));
        q.wake(k(3));
        assert_eq!(drain(&mut q), vec![3, 2, 1]);
    }

    /// A 10-ary spawn tree whose leaves hand their result to their parent:
    /// however fairness interleaves, the started-but-unfinished fibers stay
    /// near the tree's depth.
    #[test]
    fn spawn_tree_keeps_live_fibers_near_its_depth() {
        const WIDTH: u32 = 10;
        const DEPTH: u32 = 5;
        struct Node {
            parent: Option<u32>,
            level: u32,
            started: bool,
            waiting_for: u32,
            open: Option<u64>,
        }
        let mut nodes = vec![Node {
            parent: None,
            level: 0,
            started: false,
            waiting_for: 0,
            open: None,
        }];
        let mut q = RunQueue::default();
        q.push_ready(k(0));
        let (mut live, mut peak, mut finished) = (0u32, 0u32, 0u32);
        while let Some(key) = q.pick() {
            let i = key.index as usize;
            if !nodes[i].started {
                nodes[i].started = true;
                live += 1;
                peak = peak.max(live);
                if nodes[i].level < DEPTH {
                    for _ in 0..WIDTH {
                        let child = nodes.len() as u32;
                        let level = nodes[i].level + 1;
                        nodes.push(Node {
                            parent: Some(i as u32),
                            level,
                            started: false,
                            waiting_for: 0,
                            open: None,
                        });
                        let mut open = nodes[i].open.take();
                        q.push_fresh(&mut open, k(child));
                        nodes[i].open = open;
                    }
                    nodes[i].waiting_for = WIDTH;
                    continue;
                }
            } else {
                nodes[i].waiting_for -= 1;
                if nodes[i].waiting_for > 0 {
                    continue;
                }
            }
            live -= 1;
            finished += 1;
            if let Some(p) = nodes[i].parent {
                q.wake(k(p));
            }
        }
        assert_eq!(finished, nodes.len() as u32);
        assert!(peak <= 2 * DEPTH + 2, "{peak} fibers live at once");
    }

    #[test]
    fn ready_fiber_runs_within_fairness_bound_despite_endless_handoffs() {
        let mut q = RunQueue::default();
        q.push_ready(k(99));
        let mut picks = 0;
        loop {
            q.wake(k(1));
            picks += 1;
            if q.pick() == Some(k(99)) {
                break;
            }
        }
        assert!(picks <= FAIRNESS as usize, "waited {picks} picks");
    }
}
