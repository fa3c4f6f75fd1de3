//! The hot paths allocate nothing in steady state: a rendezvous between two
//! fibers, a two-way choice of channel operations, a fiber switch.

use selvedge::{channel, run, spawn, yield_now, Op};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;
// Per thread, so tests running in parallel do not count each other's.
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counted<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.with(Cell::get) - before)
}

#[test]
fn steady_state_hot_paths_do_not_allocate() {
    run(|| {
        // Ping-pong over rendezvous channels.
        let (ping_tx, ping_rx) = channel::<u64>();
        let (pong_tx, pong_rx) = channel::<u64>();
        let echo = spawn(move || {
            for v in &ping_rx {
                pong_tx.send(v).unwrap();
            }
        });
        let round = |n: u64| {
            for i in 0..n {
                ping_tx.send(i).unwrap();
                assert_eq!(pong_rx.recv().unwrap(), i);
            }
        };
        round(1000); // warm up queues and pools
        let ((), n) = counted(|| round(10_000));
        assert_eq!(n, 0, "ping-pong allocated {n} times");

        // A two-way choice of channel receives.
        let (a_tx, a_rx) = channel::<u64>();
        let (b_tx, b_rx) = channel::<u64>();
        let feeder = spawn(move || {
            for i in 0..22_000u64 {
                let tx = if i % 2 == 0 { &a_tx } else { &b_tx };
                tx.send(i).unwrap();
            }
        });
        let pick = |n: usize| {
            for _ in 0..n {
                a_rx.recv_op().or(b_rx.recv_op()).perform().unwrap();
            }
        };
        pick(2_000);
        let ((), n) = counted(|| pick(20_000));
        assert_eq!(n, 0, "choice allocated {n} times");
        feeder.join().unwrap();

        // select4: a four-way `select!`, whose leaves are tried in place
        // and listed only when it registers.
        let four: Vec<_> = (0..4).map(|_| channel::<u64>()).collect();
        let feeders: Vec<_> = four
            .iter()
            .map(|(tx, _)| {
                let tx = tx.clone();
                spawn(move || (0..5_500u64).for_each(|i| tx.send(i).unwrap()))
            })
            .collect();
        let select4 = |n: usize| {
            for _ in 0..n {
                selvedge::select! {
                    v = four[0].1.recv_op() => v.unwrap(),
                    v = four[1].1.recv_op() => v.unwrap(),
                    v = four[2].1.recv_op() => v.unwrap(),
                    v = four[3].1.recv_op() => v.unwrap(),
                };
            }
        };
        select4(2_000);
        let ((), n) = counted(|| select4(20_000));
        assert_eq!(n, 0, "select4 allocated {n} times");
        feeders.into_iter().for_each(|f| f.join().unwrap());

        // A receive raced against a 1-hour timer, every message: the losing
        // timer is removed and the losing waiter entry unlinked each time.
        // If either accumulated, the timer heap or the channel queue would
        // have to grow, which allocates.
        let (t_tx, t_rx) = channel::<u64>();
        let ticker = spawn(move || (0..22_000u64).for_each(|i| t_tx.send(i).unwrap()));
        let race = |n: usize| {
            for _ in 0..n {
                t_rx.recv_op()
                    .wrap(|r| r.unwrap())
                    .or(selvedge::after(std::time::Duration::from_secs(3600)).wrap(|()| u64::MAX))
                    .perform();
            }
        };
        race(2_000);
        let ((), n) = counted(|| race(20_000));
        assert_eq!(
            n, 0,
            "recv-or-timeout allocated {n} times: losers are not reclaimed"
        );
        ticker.join().unwrap();

        // Fiber switches.
        let other = spawn(|| (0..11_000).for_each(|_| yield_now()));
        (0..1_000).for_each(|_| yield_now());
        let ((), n) = counted(|| (0..10_000).for_each(|_| yield_now()));
        assert_eq!(n, 0, "yield_now allocated {n} times");
        other.join().unwrap();
        drop(ping_tx);
        echo.join().unwrap();
    });
}

#[test]
fn spawn_and_join_allocate_nothing_once_a_finished_fibers_block_is_cached() {
    run(|| {
        let spawn_join = |n: u64| {
            for i in 0..n {
                assert_eq!(spawn(move || i).join().unwrap(), i);
            }
        };
        spawn_join(100); // warm the stack pool and the block cache
        let ((), n) = counted(|| spawn_join(1000));
        // One block holds the fiber's closure and its result, and the
        // joined fiber's block serves the next spawn; the stack, the
        // coroutine and the join wait are all reused.
        assert_eq!(n, 0, "{n} allocations for 1000 spawn+join");
    });
}

#[test]
fn fibers_blocking_on_a_fresh_channel_allocate_nothing_however_many_wait() {
    const WAITERS: u64 = 1000;
    run(|| {
        let (tx, rx) = channel::<u64>();
        let senders: Vec<_> = (0..WAITERS)
            .map(|i| {
                let tx = tx.clone();
                spawn(move || {
                    yield_now();
                    tx.send(i).unwrap();
                })
            })
            .collect();
        // Every sender starts (taking its stack) and yields behind us.
        yield_now();
        // Now every sender blocks in `send`; each queues a waiter.
        let ((), n) = counted(yield_now);
        assert_eq!(
            n, 0,
            "{WAITERS} fibers blocking on one channel allocated {n} times"
        );
        let sum: u64 = (0..WAITERS).map(|_| rx.recv().unwrap()).sum();
        assert_eq!(sum, WAITERS * (WAITERS - 1) / 2);
        senders.into_iter().for_each(|s| s.join().unwrap());
    });
}

#[test]
fn a_bounded_channel_streams_without_allocating() {
    run(|| {
        let (tx, rx) = selvedge::bounded::<u64>(64);
        let (go_tx, go_rx) = channel::<()>();
        let producer = spawn(move || {
            for _ in 0..2 {
                go_rx.recv().unwrap();
                for i in 0..10_000 {
                    tx.send(i).unwrap();
                }
            }
        });
        let stream = || {
            go_tx.send(()).unwrap();
            for i in 0..10_000 {
                assert_eq!(rx.recv(), Ok(i));
            }
        };
        stream(); // warms the run queue
        spawn(|| ()).join().unwrap(); // and the stack pool's list of idle stacks
        let ((), n) = counted(stream);
        assert_eq!(n, 0, "a bounded channel allocated in steady state");
        producer.join().unwrap();
    });
}
