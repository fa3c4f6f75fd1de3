//! Which fiber runs next: the scheduling policy, kept apart from the loop.
//!
//! Stacks are the scarce resource, so the policy keeps the number of started
//! fibers proportional to a computation's depth, not its size, by running
//! fibers that already hold a stack before starting new ones:
//! 1. **Hand-off**: a fiber woken by the running one (a rendezvous partner)
//!    runs next, while its data is hot and before it costs a new stack.
//! 2. **Woken** (FIFO): every other wake (a timer, a descriptor, another
//!    thread, a second partner), and fibers spawned from outside a fiber.
//! 3. **Fresh children, newest batch first**: the not-yet-started fibers that
//!    one fiber spawned form a batch; batches are a stack (LIFO), each batch
//!    a FIFO. A spawn tree thus runs depth-first while every fiber's children
//!    start in spawn order.
//! 4. **Yielded** (FIFO): `yield_now` goes behind every runnable fiber,
//!    started or not.
//!
//! Fairness: every `FAIRNESS`-th pick takes the oldest of the heads of the
//! woken queue, the newest batch and the yielded queue instead, so a pair
//! of fibers handing off forever cannot starve anyone. It looks at the
//! newest batch, not the oldest, so that fairness never starts a second
//! subtree of a spawn tree early: looking at the oldest would start a
//! fresh subtree every `FAIRNESS` picks, and live stacks would grow with
//! the tree's size instead of its depth.

use std::collections::VecDeque;

use crate::runtime::key::FiberKey;

/// Every this many picks, the oldest waiting fiber goes first.
pub(crate) const FAIRNESS: u32 = 16;

#[derive(Debug, Clone, Copy)]
struct Queued {
    key: FiberKey,
    seq: u64,
}

/// Names a batch of fresh fibers (ids start at 1, so a fiber slot keeps
/// its open batch in one word).
pub(crate) type BatchId = std::num::NonZeroU64;

#[derive(Debug)]
struct Batch {
    id: u64,
    fibers: VecDeque<Queued>,
}

/// Where a pick comes from.
#[derive(Clone, Copy)]
enum Source {
    Handoff,
    Woken,
    TopBatch,
    Yielded,
}

/// The run queue of one scheduler.
#[derive(Debug, Default)]
pub(crate) struct RunQueue {
    /// Not stamped: fairness compares only the other queues' heads.
    handoff: Option<FiberKey>,
    woken: VecDeque<Queued>,
    /// The first `live` batches form the stack; the ones above it are empty
    /// and kept, with their buffers, for the next batches to reuse in place
    /// (a spawn+join opens and closes one batch per fiber).
    batches: Vec<Batch>,
    live: usize,
    yielded: VecDeque<Queued>,
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

    /// A fiber woken by the running fiber: hand-off if free.
    #[inline]
    pub(crate) fn wake(&mut self, key: FiberKey) {
        if self.handoff.is_none() {
            self.handoff = Some(key);
        } else {
            self.push_woken(key);
        }
    }

    /// Every fiber waiting to run, in no particular order (for dumps).
    pub(crate) fn queued(&self) -> impl Iterator<Item = FiberKey> + '_ {
        self.handoff
            .into_iter()
            .chain(self.woken.iter().map(|q| q.key))
            .chain(
                self.batches[..self.live]
                    .iter()
                    .flat_map(|b| b.fibers.iter().map(|q| q.key)),
            )
            .chain(self.yielded.iter().map(|q| q.key))
    }

    /// True if a fiber waits in the hand-off slot.
    #[inline]
    pub(crate) fn has_handoff(&self) -> bool {
        self.handoff.is_some()
    }

    /// A fiber woken by a timer, a descriptor or another thread, or spawned
    /// from outside any fiber.
    pub(crate) fn push_woken(&mut self, key: FiberKey) {
        let q = self.stamp(key);
        self.woken.push_back(q);
    }

    /// A fiber that called `yield_now`.
    pub(crate) fn push_yielded(&mut self, key: FiberKey) {
        let q = self.stamp(key);
        self.yielded.push_back(q);
    }

    /// A fiber spawned by a fiber whose open batch is `*open`.
    #[inline]
    pub(crate) fn push_fresh(&mut self, open: &mut Option<BatchId>, key: FiberKey) {
        let q = self.stamp(key);
        let live = &mut self.batches[..self.live];
        if let Some(id) = *open {
            if let Some(b) = live.iter_mut().rev().find(|b| b.id == id.get()) {
                b.fibers.push_back(q);
                return;
            }
        }
        self.next_batch += 1;
        let id = self.next_batch;
        if self.live == self.batches.len() {
            self.batches.push(Batch {
                id,
                fibers: VecDeque::new(),
            });
        }
        let batch = &mut self.batches[self.live];
        batch.id = id;
        batch.fibers.push_back(q);
        self.live += 1;
        *open = BatchId::new(id);
    }

    /// The next fiber to run.
    #[inline]
    pub(crate) fn pick(&mut self) -> Option<FiberKey> {
        if self.is_fairness_turn() {
            return self.pick_on_fairness_turn();
        }
        self.count_pick(false);
        self.pop(self.first_in_order()?)
    }

    /// `pick` on a fairness turn, one pick in `FAIRNESS`: out of line, so
    /// the loop that inlines `pick` carries no comparison of queue heads.
    #[inline(never)]
    fn pick_on_fairness_turn(&mut self) -> Option<FiberKey> {
        let (source, fairness_turn) = self.next_source();
        debug_assert!(fairness_turn);
        self.count_pick(fairness_turn);
        self.pop(source?)
    }

    /// The queue `pick` takes from now, and whether that pick is a
    /// fairness turn: on one, the queue whose head waited longest (the
    /// hand-off aside), else the first non-empty one in priority order.
    #[inline]
    fn next_source(&self) -> (Option<Source>, bool) {
        let fairness_turn = self.is_fairness_turn();
        if fairness_turn {
            if let Some(source) = self.oldest() {
                return (Some(source), true);
            }
        }
        (self.first_in_order(), fairness_turn)
    }

    /// True if the next pick is a fairness turn.
    #[inline]
    fn is_fairness_turn(&self) -> bool {
        self.picks + 1 >= FAIRNESS
    }

    /// Counts a pick: a fairness turn starts the count again.
    #[inline]
    fn count_pick(&mut self, fairness_turn: bool) {
        self.picks = if fairness_turn { 0 } else { self.picks + 1 };
    }

    /// The hand-off fiber, counted as a pick, if there is one, `pick` would
    /// choose it (no fairness turn is due) and `also()` holds; else `None`,
    /// leaving the queue as it was. `also` runs only when there is a
    /// hand-off, so a miss costs one test.
    #[inline]
    pub(crate) fn pick_handoff(&mut self, also: impl FnOnce() -> bool) -> Option<FiberKey> {
        let key = self.handoff?;
        if self.is_fairness_turn() || !also() {
            return None;
        }
        self.handoff = None;
        self.count_pick(false);
        Some(key)
    }

    /// The head of the newest batch, counted as a pick, with what `wanted`
    /// makes of it, if `pick` would choose it now and `wanted` returns
    /// `Some`; else `None`, leaving the queue as it was.
    #[inline]
    pub(crate) fn pick_fresh_if<R>(
        &mut self,
        wanted: impl FnOnce(FiberKey) -> Option<R>,
    ) -> Option<(FiberKey, R)> {
        let (Some(Source::TopBatch), fairness_turn) = self.next_source() else {
            return None;
        };
        let key = self.batches[self.live - 1].fibers.front()?.key;
        let wanted = wanted(key)?;
        self.count_pick(fairness_turn);
        self.pop_top_batch();
        Some((key, wanted))
    }

    /// The first queue with a fiber, by priority alone: hand-off, woken,
    /// newest batch, yielded.
    #[inline]
    fn first_in_order(&self) -> Option<Source> {
        if self.handoff.is_some() {
            Some(Source::Handoff)
        } else if !self.woken.is_empty() {
            Some(Source::Woken)
        } else if self.live > 0 {
            Some(Source::TopBatch)
        } else if !self.yielded.is_empty() {
            Some(Source::Yielded)
        } else {
            None
        }
    }

    /// The head of the newest batch, which must exist.
    #[inline]
    fn pop_top_batch(&mut self) -> FiberKey {
        let batch = &mut self.batches[self.live - 1];
        let q = batch
            .fibers
            .pop_front()
            .expect("live batches are not empty");
        if batch.fibers.is_empty() {
            self.live -= 1;
        }
        q.key
    }

    /// The queue whose head has waited longest (the hand-off aside).
    fn oldest(&self) -> Option<Source> {
        let top = self
            .live
            .checked_sub(1)
            .and_then(|i| self.batches[i].fibers.front());
        [
            (self.woken.front(), Source::Woken),
            (top, Source::TopBatch),
            (self.yielded.front(), Source::Yielded),
        ]
        .into_iter()
        .filter_map(|(q, source)| q.map(|q| (q.seq, source)))
        .min_by_key(|&(seq, _)| seq)
        .map(|(_, source)| source)
    }

    #[inline]
    fn pop(&mut self, source: Source) -> Option<FiberKey> {
        let q = match source {
            Source::Handoff => return self.handoff.take(),
            Source::Woken => self.woken.pop_front(),
            Source::Yielded => self.yielded.pop_front(),
            Source::TopBatch => return (self.live > 0).then(|| self.pop_top_batch()),
        };
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

    /// Batch slots are reused in place once their batch ran out; a fiber
    /// whose batch ran out opens a new one on top, and its old batch id
    /// never matches the batch that reuses the slot.
    #[test]
    fn a_batch_that_ran_out_is_never_extended_through_its_reused_slot() {
        let mut q = RunQueue::default();
        let (mut parent, mut child) = (None, None);
        q.push_fresh(&mut parent, k(1));
        assert_eq!(q.pick(), Some(k(1))); // the parent's batch ran out
        q.push_fresh(&mut child, k(10)); // reuses its slot
        q.push_fresh(&mut parent, k(2)); // a new batch, above the child's
        q.push_fresh(&mut child, k(11));
        assert_eq!(drain(&mut q), vec![2, 10, 11]);
        q.push_fresh(&mut child, k(12));
        q.push_fresh(&mut parent, k(3));
        assert_eq!(drain(&mut q), vec![3, 12]);
    }

    #[test]
    fn handoff_then_woken_then_fresh_then_yielded() {
        let mut q = RunQueue::default();
        let mut open = None;
        q.push_yielded(k(1));
        q.push_fresh(&mut open, k(2));
        q.push_woken(k(3));
        q.wake(k(4));
        assert_eq!(drain(&mut q), vec![4, 3, 2, 1]);
    }

    /// Fibers woken by timers while thousands of fresh fibers wait to start
    /// run first: they hold stacks already, and their deadlines are due.
    #[test]
    fn woken_fibers_do_not_wait_for_fresh_ones_to_start() {
        let mut q = RunQueue::default();
        let mut open = None;
        for i in 0..1000 {
            q.push_fresh(&mut open, k(i));
        }
        assert_eq!(q.pick(), Some(k(0)));
        q.push_woken(k(5000));
        assert_eq!(q.pick(), Some(k(5000)));
    }

    #[test]
    fn yield_goes_behind_fresh_children() {
        let mut q = RunQueue::default();
        let mut open = None;
        q.push_fresh(&mut open, k(1));
        q.push_yielded(k(0));
        q.push_fresh(&mut open, k(2));
        assert_eq!(drain(&mut q), vec![1, 2, 0]);
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
            open: Option<BatchId>,
        }
        let mut nodes = vec![Node {
            parent: None,
            level: 0,
            started: false,
            waiting_for: 0,
            open: None,
        }];
        let mut q = RunQueue::default();
        q.push_woken(k(0));
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
        q.push_yielded(k(99));
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

    /// A join starts its fiber through `pick_fresh_if` only when `pick`
    /// would have picked that fiber, and takes the pick `pick` would have
    /// taken: the order of everything after is the same either way.
    #[test]
    fn pick_fresh_if_takes_exactly_the_pick_pick_would_give_the_newest_batch() {
        type Setup = fn(&mut RunQueue);
        let setups: [(&str, Setup); 6] = [
            ("nothing queued", |_| {}),
            ("a batch alone", |q| q.push_fresh(&mut None, k(1))),
            ("a hand-off first", |q| {
                q.push_fresh(&mut None, k(1));
                q.wake(k(2));
            }),
            ("a woken fiber first", |q| {
                q.push_fresh(&mut None, k(1));
                q.push_woken(k(2));
            }),
            ("an older yielded fiber, no fairness turn", |q| {
                q.push_yielded(k(2));
                q.push_fresh(&mut None, k(1));
            }),
            ("an older yielded fiber on the fairness turn", |q| {
                q.push_yielded(k(2));
                q.push_fresh(&mut None, k(1));
                q.picks = FAIRNESS - 1;
            }),
        ];
        for (name, setup) in setups {
            let (mut fresh, mut plain) = (RunQueue::default(), RunQueue::default());
            setup(&mut fresh);
            setup(&mut plain);
            let top = fresh
                .live
                .checked_sub(1)
                .map(|i| fresh.batches[i].fibers[0].key);
            let taken = fresh.pick_fresh_if(Some).map(|(key, _)| key);
            let picked = plain.pick();
            match taken {
                Some(key) => assert_eq!(Some(key), picked, "{name}"),
                None => assert!(
                    picked.is_none() || picked != top,
                    "{name}: missed {picked:?}"
                ),
            }
            if taken.is_none() {
                // Declining leaves the queue as it was: replay the pick.
                assert_eq!(fresh.pick(), picked, "{name}");
            }
            assert_eq!(drain(&mut fresh), drain(&mut plain), "{name}");
        }
    }

    /// The scheduler's hand-off chain takes picks through `pick_handoff`
    /// and falls back to `pick` on its misses: together they keep `pick`'s
    /// order, fairness turns included.
    #[test]
    fn pick_handoff_takes_exactly_the_picks_pick_would_give_the_hand_off() {
        let mut q = RunQueue::default();
        assert_eq!(q.pick_handoff(|| true), None, "no hand-off");
        q.push_yielded(k(99));
        q.wake(k(1));
        assert_eq!(q.pick_handoff(|| false), None, "`also` vetoes");
        assert_eq!(q.pick_handoff(|| true), Some(k(1)));
        let mut picks = 1;
        loop {
            q.wake(k(1));
            picks += 1;
            match q.pick_handoff(|| true) {
                Some(key) => assert_eq!(key, k(1)),
                None => {
                    assert_eq!(picks, FAIRNESS, "the chain ends on the fairness turn");
                    assert_eq!(q.pick(), Some(k(99)), "which `pick` takes");
                    assert_eq!(q.pick(), Some(k(1)), "the hand-off waited");
                    break;
                }
            }
        }
    }
}
