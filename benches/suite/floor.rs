//! The floor under any thread-safe rendezvous on corosensei here: fibers
//! that exchange values through channels with a spin lock and a waiting /
//! synced state, as selvedge's do, but with no
//! logic around them. No queues (each channel holds one waiter), no
//! claims, no scheduler (a loop resumes the fibers in the one order that
//! works), no op states beyond one byte, no wakes. What is left is what no
//! such design can drop: per message, the sender's lock and the receiver's
//! lock to register (two locked instructions), the stores that publish
//! them, and a switch out of the blocked fiber and into the next. A target
//! near this floor leaves the design nothing for its own work.

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};

/// The receiver has registered and waits.
const WAITING: u8 = 0;
/// A sender has handed over the value.
const SYNCED: u8 = 2;

/// selvedge's default fiber stack size.
const STACK_SIZE: usize = 256 * 1024;

/// A channel's spin lock, as selvedge's: one compare-and-swap to take it,
/// one store to give it back.
#[derive(Default)]
struct SpinFlag(AtomicBool);

impl SpinFlag {
    #[inline(always)]
    fn lock(&self) {
        while self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
    }

    #[inline(always)]
    fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}

type Fiber = Coroutine<(), (), (), DefaultStack>;

/// A channel that one receiver waits on at a time.
struct Chan {
    lock: SpinFlag,
    /// The waiting receiver's state: `WAITING` once it registers, `SYNCED`
    /// once a sender filled `slot`.
    state: AtomicU8,
    slot: Cell<u64>,
}

impl Chan {
    fn new() -> Self {
        Chan {
            lock: SpinFlag::default(),
            state: AtomicU8::new(SYNCED),
            slot: Cell::new(0),
        }
    }

    /// Hands `v` to the receiver waiting here.
    #[inline(always)]
    fn send(&self, v: u64) {
        self.lock.lock();
        debug_assert_eq!(self.state.load(Ordering::Relaxed), WAITING);
        self.slot.set(black_box(v));
        self.state.store(SYNCED, Ordering::Release);
        self.lock.unlock();
    }

    /// Registers as its receiver and blocks until a sender fills the slot.
    #[inline(always)]
    fn recv(&self, yielder: &Yielder<(), ()>) -> u64 {
        self.lock.lock();
        self.state.store(WAITING, Ordering::Relaxed);
        self.lock.unlock();
        while self.state.load(Ordering::Acquire) != SYNCED {
            yielder.suspend(());
        }
        self.slot.get()
    }
}

fn fiber(body: impl FnOnce(&Yielder<(), ()>) + 'static) -> Fiber {
    let stack = DefaultStack::new(STACK_SIZE).expect("a stack");
    Coroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
        body(yielder);
    })
}

/// Two fibers bounce a counter `rounds` times: per round trip, four locked
/// instructions and two switches out of a fiber and into the other.
pub(crate) fn floor_round_trips(rounds: u64) -> Duration {
    let chans = Rc::new([Chan::new(), Chan::new()]);
    let (ping, pong) = (0, 1);
    let echo_chans = chans.clone();
    let mut echo = fiber(move |y| loop {
        let v = echo_chans[ping].recv(y);
        echo_chans[pong].send(v + 1);
    });
    let main_chans = chans.clone();
    let mut main = fiber(move |y| {
        let mut v = 0;
        loop {
            main_chans[ping].send(v);
            v = main_chans[pong].recv(y);
        }
    });
    echo.resume(()); // waits on ping
    let start = Instant::now();
    for _ in 0..rounds {
        main.resume(()); // sends v, waits on pong
        echo.resume(()); // echoes v + 1, waits on ping
    }
    let elapsed = start.elapsed();
    assert_eq!(chans[pong].slot.get(), rounds, "lost round trips");
    // Both fibers are suspended, holding nothing but `Rc`s of the channels:
    // dropping them unwinds their stacks.
    elapsed
}

/// `fibers` fibers pass a counter round a ring `hops` times: per hop, two
/// locked instructions and a switch out of a fiber and into the next.
pub(crate) fn floor_ring(fibers: usize, hops: u64) -> Duration {
    let chans: Rc<Vec<Chan>> = Rc::new((0..fibers).map(|_| Chan::new()).collect());
    let mut ring: Vec<Fiber> = (0..fibers)
        .map(|i| {
            let chans = chans.clone();
            let next = (i + 1) % fibers;
            fiber(move |y| loop {
                let v = chans[i].recv(y);
                chans[next].send(v + 1);
            })
        })
        .collect();
    for f in &mut ring {
        f.resume(()); // every fiber waits on its channel
    }
    let start = Instant::now();
    chans[0].send(0);
    let mut next = 0;
    for _ in 0..hops {
        ring[next].resume(());
        next += 1;
        if next == fibers {
            next = 0;
        }
    }
    let elapsed = start.elapsed();
    let last = chans[hops as usize % fibers].slot.get();
    assert_eq!(last, hops, "lost hops");
    elapsed
}
