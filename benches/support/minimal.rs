//! A minimal runtime of selvedge's own design, as a peer: fibers on
//! corosensei coroutines with pooled stacks, one FIFO run queue drained by
//! a loop, and blocking by the same thread-safe matching (a waiting /
//! claimed / synced state per blocked party, claimed with a
//! compare-and-swap; channels add a spin lock), and a receive from any of
//! several channels. Nothing else: no general choice (no sends, wraps,
//! guards or nacks in it), timers, fiber-table generations, scheduling policy, fairness, polling,
//! disconnection, panics or teardown. It answers "what does the design
//! itself cost here?", so the suite can tell the cost of selvedge's
//! generality from the design's.
//!
//! The channels and workloads are written against [`Fibers`], the little
//! they need of a fiber mechanism, so the same code also runs on a
//! symmetric switch (`symmetric.rs`): what a design whose fibers switch
//! straight to each other, without the loop, would gain.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

use crate::support::time_round_trips;

pub(crate) const WAITING: u8 = 0;
const CLAIMED: u8 = 1;
pub(crate) const SYNCED: u8 = 2;

/// selvedge's default fiber stack size.
pub(crate) const STACK_SIZE: usize = 256 * 1024;

/// A channel's spin lock, as selvedge's: one compare-and-swap to take it,
/// one store to give it back.
#[derive(Default)]
pub(crate) struct SpinFlag(AtomicBool);

impl SpinFlag {
    #[inline(always)]
    pub(crate) fn lock(&self) {
        while self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
    }

    #[inline(always)]
    pub(crate) fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}

type Fiber = Coroutine<(), (), (), DefaultStack>;

/// The scheduler: fibers by index, the free indices, the run queue and the
/// pool of stacks that finished fibers gave back.
#[derive(Default)]
struct Sched {
    fibers: RefCell<Vec<Option<Fiber>>>,
    free: RefCell<Vec<usize>>,
    queue: RefCell<VecDeque<usize>>,
    stacks: RefCell<Vec<DefaultStack>>,
}

impl Sched {
    /// Starts `body` as a new fiber, queued behind every runnable one.
    fn spawn(self: &Rc<Self>, body: impl FnOnce(&CoroutineCx) + 'static) {
        let me = self.free.borrow_mut().pop().unwrap_or_else(|| {
            let mut fibers = self.fibers.borrow_mut();
            fibers.push(None);
            fibers.len() - 1
        });
        let stack = self.stacks.borrow_mut().pop();
        let stack = stack.unwrap_or_else(|| DefaultStack::new(STACK_SIZE).expect("a stack"));
        let sched = self.clone();
        let fiber = Coroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
            body(&CoroutineCx { me, yielder, sched })
        });
        self.fibers.borrow_mut()[me] = Some(fiber);
        self.queue.borrow_mut().push_back(me);
    }

    /// Runs fibers until none is runnable.
    fn run(&self) {
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some(i) = next else { break };
            // Out of the table while it runs, which may spawn into it.
            let mut fiber = self.fibers.borrow_mut()[i].take().expect("queued fiber");
            match fiber.resume(()) {
                CoroutineResult::Yield(()) => self.fibers.borrow_mut()[i] = Some(fiber),
                CoroutineResult::Return(()) => {
                    self.stacks.borrow_mut().push(fiber.into_stack());
                    self.free.borrow_mut().push(i);
                }
            }
        }
    }
}

/// What the channels and workloads need of a fiber mechanism, as seen
/// from a running fiber.
pub(crate) trait Fibers: Sized + 'static {
    /// Runs `main` as the first fiber until no fiber is runnable.
    fn run(main: impl FnOnce(&Self) + 'static);
    /// Starts `body` as a new fiber, queued behind every runnable one.
    fn spawn(&self, body: impl FnOnce(&Self) + 'static);
    /// The running fiber's index.
    fn me(&self) -> usize;
    /// Suspends the running fiber until `state` is synced.
    fn wait(&self, state: &AtomicU8);
    /// Queues `fiber`, which was waiting, behind every runnable one.
    fn ready(&self, fiber: usize);
}

/// What a fiber body gets on corosensei coroutines, resumed by a loop: its
/// index, its yielder and its scheduler.
pub(crate) struct CoroutineCx {
    me: usize,
    /// The running coroutine's yielder, which outlives the body that holds
    /// this context (both live in the coroutine's closure call).
    yielder: *const Yielder<(), ()>,
    sched: Rc<Sched>,
}

impl Fibers for CoroutineCx {
    fn run(main: impl FnOnce(&CoroutineCx) + 'static) {
        run(main);
    }

    fn spawn(&self, body: impl FnOnce(&CoroutineCx) + 'static) {
        self.sched.spawn(body);
    }

    fn me(&self) -> usize {
        self.me
    }

    fn wait(&self, state: &AtomicU8) {
        while state.load(Ordering::Acquire) != SYNCED {
            // SAFETY: see `yielder`: the body that holds `self` runs.
            unsafe { &*self.yielder }.suspend(());
        }
    }

    fn ready(&self, fiber: usize) {
        self.sched.queue.borrow_mut().push_back(fiber);
    }
}

/// Claims a blocked party's `state`; on success, `fill` completes it and
/// its fiber is queued.
fn commit<C: Fibers>(cx: &C, state: &AtomicU8, fiber: usize, fill: impl FnOnce()) -> bool {
    let claimed = state
        .compare_exchange(WAITING, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
        .is_ok();
    if claimed {
        fill();
        state.store(SYNCED, Ordering::Release);
        cx.ready(fiber);
    }
    claimed
}

/// A blocked party: its state, its fiber and its value slot.
struct Waiter<T> {
    state: *const AtomicU8,
    fiber: usize,
    slot: *mut Option<T>,
}

struct Queues<T> {
    senders: VecDeque<Waiter<T>>,
    receivers: VecDeque<Waiter<T>>,
}

/// A rendezvous channel: a value moves only when a sender meets a receiver.
struct Chan<T> {
    lock: SpinFlag,
    queues: RefCell<Queues<T>>,
}

impl<T> Chan<T> {
    fn new() -> Self {
        Chan {
            lock: SpinFlag::default(),
            queues: RefCell::new(Queues {
                senders: VecDeque::new(),
                receivers: VecDeque::new(),
            }),
        }
    }

    fn send<C: Fibers>(&self, cx: &C, value: T) {
        self.exchange(cx, &mut Some(value), true);
    }

    fn recv<C: Fibers>(&self, cx: &C) -> T {
        let mut slot = None;
        self.exchange(cx, &mut slot, false);
        slot.expect("a sender filled the slot")
    }

    fn lock(&self) -> std::cell::RefMut<'_, Queues<T>> {
        self.lock.lock();
        self.queues.borrow_mut()
    }

    fn unlock(&self, q: std::cell::RefMut<'_, Queues<T>>) {
        drop(q);
        self.lock.unlock();
    }

    /// Matches a waiting partner (moving the value between the slots), or
    /// waits to be matched.
    fn exchange<C: Fibers>(&self, cx: &C, mine: &mut Option<T>, sending: bool) {
        let mut q = self.lock();
        if q.take_partner(cx, mine, sending, None) {
            self.unlock(q);
            return;
        }
        let state = AtomicU8::new(WAITING);
        q.own(sending).push_back(Waiter {
            state: &state,
            fiber: cx.me(),
            slot: mine,
        });
        self.unlock(q);
        cx.wait(&state);
    }
}

impl<T> Queues<T> {
    fn own(&mut self, sending: bool) -> &mut VecDeque<Waiter<T>> {
        if sending {
            &mut self.senders
        } else {
            &mut self.receivers
        }
    }

    /// Under the lock: commits the first waiting partner still unclaimed,
    /// moving the value. A party already waiting elsewhere (a choice
    /// registering) passes its own `state`, which it must claim first.
    fn take_partner<C: Fibers>(
        &mut self,
        cx: &C,
        mine: &mut Option<T>,
        sending: bool,
        own: Option<&AtomicU8>,
    ) -> bool {
        let partners = self.own(!sending);
        while let Some(w) = partners.pop_front() {
            if let Some(own) = own {
                if own
                    .compare_exchange(WAITING, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
                {
                    partners.push_front(w);
                    return false; // committed by someone else meanwhile
                }
            }
            // SAFETY: a queued waiter's fiber is suspended in `exchange` or
            // `recv_any`, which keeps its state and slot alive until they
            // are synced or it withdraws; only the lock holder touches them.
            let (state, theirs) = unsafe { (&*w.state, &mut *w.slot) };
            let moved = commit(cx, state, w.fiber, || {
                if sending {
                    *theirs = mine.take();
                } else {
                    *mine = theirs.take();
                }
            });
            if let Some(own) = own {
                own.store(if moved { SYNCED } else { WAITING }, Ordering::Release);
            }
            if moved {
                return true;
            }
        }
        false
    }
}

/// Receives from whichever of `chans` has a sender: tries them from
/// `start` on, else waits on all of them with one state (a sender claims
/// it, as in `exchange`) and withdraws from the others once woken.
fn recv_any<T, C: Fibers>(cx: &C, chans: &[&Chan<T>], start: usize) -> T {
    let mut slot = None;
    let n = chans.len();
    for k in 0..n {
        let chan = chans[(start + k) % n];
        let mut q = chan.lock();
        let got = q.take_partner(cx, &mut slot, false, None);
        chan.unlock(q);
        if got {
            return slot.expect("a sender filled the slot");
        }
    }
    let state = AtomicU8::new(WAITING);
    for chan in chans {
        let mut q = chan.lock();
        // Only a sender on another thread could have come since the tries.
        let got = !q.senders.is_empty() && q.take_partner(cx, &mut slot, false, Some(&state));
        if !got && state.load(Ordering::Acquire) == WAITING {
            q.receivers.push_back(Waiter {
                state: &state,
                fiber: cx.me(),
                slot: &mut slot,
            });
        }
        chan.unlock(q);
        if got {
            break;
        }
    }
    cx.wait(&state);
    for chan in chans {
        let mut q = chan.lock();
        q.receivers.retain(|w| !std::ptr::eq(w.state, &state));
        chan.unlock(q);
    }
    slot.expect("a sender filled the slot")
}

/// A spawned fiber's result, and the fiber waiting for it.
struct Join<T> {
    value: Cell<Option<T>>,
    done: AtomicBool,
    joiner: Cell<Option<(*const AtomicU8, usize)>>,
}

fn spawn<T: 'static, C: Fibers>(cx: &C, f: impl FnOnce() -> T + 'static) -> Rc<Join<T>> {
    let join = Rc::new(Join {
        value: Cell::new(None),
        done: AtomicBool::new(false),
        joiner: Cell::new(None),
    });
    let theirs = join.clone();
    cx.spawn(move |cx| {
        theirs.value.set(Some(f()));
        theirs.done.store(true, Ordering::Release);
        if let Some((state, fiber)) = theirs.joiner.take() {
            // SAFETY: the joiner is suspended in `join` until its state is
            // synced, which keeps the state alive; it is a fiber of this
            // thread, so it cannot run (and free it) before `commit` returns.
            commit(cx, unsafe { &*state }, fiber, || {});
        }
    });
    join
}

fn join<T, C: Fibers>(cx: &C, join: &Join<T>) -> T {
    if !join.done.load(Ordering::Acquire) {
        let state = AtomicU8::new(WAITING);
        join.joiner.set(Some((&state, cx.me())));
        cx.wait(&state);
    }
    join.value.take().expect("a finished fiber left its value")
}

/// Runs `main` as the first fiber until no fiber is runnable, then unwinds
/// the fibers still blocked (their frames hold the scheduler too).
fn run(main: impl FnOnce(&CoroutineCx) + 'static) {
    let sched = Rc::new(Sched::default());
    sched.spawn(main);
    sched.run();
    let blocked = std::mem::take(&mut *sched.fibers.borrow_mut());
    drop(blocked);
}

/// Two fibers bounce a counter over two channels.
pub(crate) fn minimal_round_trips<C: Fibers>(rounds: u64) -> Duration {
    let elapsed = Rc::new(Cell::new(Duration::ZERO));
    let out = elapsed.clone();
    C::run(move |cx| {
        let ping = Rc::new(Chan::<u64>::new());
        let pong = Rc::new(Chan::<u64>::new());
        let (ping2, pong2) = (ping.clone(), pong.clone());
        cx.spawn(move |cx| {
            for _ in 0..rounds {
                let v = ping2.recv(cx);
                pong2.send(cx, v + 1);
            }
        });
        out.set(time_round_trips(rounds, |v| {
            ping.send(cx, v);
            pong.recv(cx)
        }));
    });
    elapsed.get()
}

/// `fibers` relays in a ring pass a counter down from `hops` to 0; the
/// clock starts once every relay waits.
pub(crate) fn minimal_ring<C: Fibers>(fibers: usize, hops: u64) -> Duration {
    let elapsed = Rc::new(Cell::new(Duration::ZERO));
    let received = Rc::new(Cell::new(0u64));
    let (out, count) = (elapsed.clone(), received.clone());
    C::run(move |cx| {
        let chans: Vec<Rc<Chan<u64>>> = (0..fibers).map(|_| Rc::new(Chan::new())).collect();
        let started = Rc::new(Cell::new(None::<Instant>));
        for i in 0..fibers {
            let (input, next) = (chans[i].clone(), chans[(i + 1) % fibers].clone());
            let (started, out, count) = (started.clone(), out.clone(), count.clone());
            cx.spawn(move |cx| loop {
                let v = input.recv(cx);
                count.set(count.get() + 1);
                if v == 0 {
                    // The others stay blocked; `run` ends with this relay.
                    out.set(started.get().expect("the clock started").elapsed());
                    return;
                }
                next.send(cx, v - 1);
            });
        }
        // Behind every relay in the FIFO: they all wait in `recv` by now.
        cx.spawn(move |cx| {
            started.set(Some(Instant::now()));
            chans[0].send(cx, hops);
        });
    });
    assert_eq!(received.get(), hops + 1, "lost or duplicated hops");
    elapsed.get()
}

/// Spawns a fiber that returns a number and joins it, `n` times.
pub(crate) fn minimal_spawn_joins<C: Fibers>(n: u64) -> Duration {
    let elapsed = Rc::new(Cell::new(Duration::ZERO));
    let out = elapsed.clone();
    C::run(move |cx| {
        let first = spawn(cx, || ()); // one pooled stack
        join(cx, &first);
        let start = Instant::now();
        for i in 0..n {
            assert_eq!(join(cx, &spawn(cx, move || i)), i);
        }
        out.set(start.elapsed());
    });
    elapsed.get()
}

/// Four senders each send `n / 4` numbers on their own channel; one
/// receiver takes `n` messages with a receive from any of the four, from a
/// rotating start.
pub(crate) fn minimal_select4<C: Fibers>(n: u64) -> Duration {
    let elapsed = Rc::new(Cell::new(Duration::ZERO));
    let out = elapsed.clone();
    C::run(move |cx| {
        let chans: Vec<Rc<Chan<u64>>> = (0..4).map(|_| Rc::new(Chan::new())).collect();
        for chan in &chans {
            let chan = chan.clone();
            cx.spawn(move |cx| {
                for i in 0..n / 4 {
                    chan.send(cx, i);
                }
            });
        }
        let refs: Vec<&Chan<u64>> = chans.iter().map(|c| &**c).collect();
        let start = Instant::now();
        let mut sum = 0;
        for k in 0..n {
            sum += recv_any(cx, &refs, (k % 4) as usize);
        }
        out.set(start.elapsed());
        assert_eq!(sum, 4 * (n / 4) * (n / 4 - 1) / 2, "lost or duplicated");
    });
    elapsed.get()
}
