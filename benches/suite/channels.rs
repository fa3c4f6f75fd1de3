//! The channel workloads: ping-pong (one scheduler and two), a ring of
//! fibers, a four-way choice, a receive raced against a timeout, and a
//! stream through a buffered channel.

use std::time::{Duration, Instant};

use selvedge::{after, channel, select, spawn, Op};

use crate::floor;
use crate::peers::{
    crossbeam_round_trips, ns, selvedge_cross_round_trips, selvedge_round_trips, std_round_trips,
};
use crate::{tokio_rt, Suite};

/// The peer that is a rendezvous with no logic around it (`floor.rs`).
const FLOOR: &str = "locks and switches alone (floor)";

pub(crate) fn pingpong(s: &mut Suite) {
    let n = s.scale(1_000_000);
    selvedge_round_trips(n / 10); // warm the stack pool
    s.add(
        "pingpong",
        "selvedge",
        ns(selvedge_round_trips(n), n),
        "ns/round trip",
    );
    let t = tokio_rt().block_on(async {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
        tokio::spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v + 1).await.unwrap();
            }
        });
        let start = Instant::now();
        let mut v = 0;
        for _ in 0..n {
            ping_tx.send(v).await.unwrap();
            v = pong_rx.recv().await.unwrap();
        }
        assert_eq!(v, n);
        start.elapsed()
    });
    s.add(
        "pingpong",
        "tokio current_thread mpsc(1)",
        ns(t, n),
        "ns/round trip",
    );
    s.add(
        "pingpong",
        FLOOR,
        ns(floor::floor_round_trips(n), n),
        "ns/round trip",
    );
    let m = (n / 10).max(10);
    s.add(
        "pingpong",
        "crossbeam bounded(0), 2 threads",
        ns(crossbeam_round_trips(m), m),
        "ns/round trip",
    );
    s.add(
        "pingpong",
        "std sync_channel(0), 2 threads",
        ns(std_round_trips(m), m),
        "ns/round trip",
    );
    let k = n * 10;
    let mut co = corosensei::Coroutine::new(|y: &corosensei::Yielder<(), ()>, ()| loop {
        y.suspend(());
    });
    let start = Instant::now();
    for _ in 0..k {
        co.resume(());
    }
    s.add(
        "pingpong",
        "corosensei resume+suspend (floor)",
        ns(start.elapsed(), k),
        "ns/switch pair",
    );
}

pub(crate) fn xpingpong(s: &mut Suite) {
    let n = s.scale(100_000);
    s.add(
        "xpingpong",
        "selvedge, 2 schedulers",
        ns(selvedge_cross_round_trips(n), n),
        "ns/round trip",
    );
    s.add(
        "xpingpong",
        "crossbeam bounded(0), 2 threads",
        ns(crossbeam_round_trips(n), n),
        "ns/round trip",
    );
    s.add(
        "xpingpong",
        "std sync_channel(0), 2 threads",
        ns(std_round_trips(n), n),
        "ns/round trip",
    );
}

const RING: usize = 503;

pub(crate) fn ring(s: &mut Suite) {
    let hops = s.scale(1_000_000);
    let t = selvedge::run(|| {
        let (first_tx, mut prev_rx) = channel::<u64>();
        let (done_tx, done_rx) = channel::<()>();
        for _ in 1..RING {
            let (tx, rx) = channel::<u64>();
            let (done_tx, input) = (done_tx.clone(), std::mem::replace(&mut prev_rx, rx));
            spawn(move || relay(input, tx, done_tx));
        }
        let into_first = first_tx.clone();
        spawn(move || relay(prev_rx, into_first, done_tx));
        selvedge::yield_now(); // every relay is waiting
        let start = Instant::now();
        first_tx.send(hops).unwrap();
        done_rx.recv().unwrap();
        start.elapsed()
    });
    s.add("ring", "selvedge, 503 fibers", ns(t, hops), "ns/hop");
    let t = tokio_rt().block_on(async {
        let (first_tx, mut prev_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
        let relay = |mut rx: tokio::sync::mpsc::Receiver<u64>,
                     tx: tokio::sync::mpsc::Sender<u64>,
                     done: tokio::sync::mpsc::Sender<()>| async move {
            while let Some(v) = rx.recv().await {
                if v == 0 {
                    done.send(()).await.unwrap();
                    return;
                }
                if tx.send(v - 1).await.is_err() {
                    return;
                }
            }
        };
        for _ in 1..RING {
            let (tx, rx) = tokio::sync::mpsc::channel::<u64>(1);
            let input = std::mem::replace(&mut prev_rx, rx);
            tokio::spawn(relay(input, tx, done_tx.clone()));
        }
        tokio::spawn(relay(prev_rx, first_tx.clone(), done_tx));
        tokio::task::yield_now().await;
        let start = Instant::now();
        first_tx.send(hops).await.unwrap();
        done_rx.recv().await.unwrap();
        start.elapsed()
    });
    s.add(
        "ring",
        "tokio current_thread, 503 tasks",
        ns(t, hops),
        "ns/hop",
    );
    s.add(
        "ring",
        FLOOR,
        ns(floor::floor_ring(RING, hops), hops),
        "ns/hop",
    );
}

fn relay(input: selvedge::Receiver<u64>, out: selvedge::Sender<u64>, done: selvedge::Sender<()>) {
    for v in &input {
        if v == 0 {
            done.send(()).unwrap();
            return;
        }
        if out.send(v - 1).is_err() {
            return;
        }
    }
}

pub(crate) fn select4(s: &mut Suite) {
    let n = s.scale(1_000_000) / 4 * 4;
    let t = selvedge::run(|| {
        let rxs: Vec<_> = (0..4)
            .map(|_| {
                let (tx, rx) = channel::<u64>();
                // The sender is returned, not dropped: a disconnected
                // channel is always ready and would skew the choice.
                let keep = spawn(move || {
                    for i in 0..n / 4 {
                        tx.send(i).unwrap();
                    }
                    tx
                });
                (rx, keep)
            })
            .collect();
        let (rxs, _keep): (Vec<_>, Vec<_>) = rxs.into_iter().unzip();
        let start = Instant::now();
        let mut sum = 0;
        for _ in 0..n {
            sum += select! {
                v = rxs[0].recv_op() => v.unwrap(),
                v = rxs[1].recv_op() => v.unwrap(),
                v = rxs[2].recv_op() => v.unwrap(),
                v = rxs[3].recv_op() => v.unwrap(),
            };
        }
        assert_eq!(sum, 4 * (n / 4) * (n / 4 - 1) / 2);
        start.elapsed()
    });
    s.add("select4", "selvedge", ns(t, n), "ns/message");
    let t = tokio_rt().block_on(async {
        let (mut rxs, mut keep) = (Vec::new(), Vec::new());
        for _ in 0..4 {
            let (tx, rx) = tokio::sync::mpsc::channel::<u64>(1);
            keep.push(tokio::spawn(async move {
                for i in 0..n / 4 {
                    tx.send(i).await.unwrap();
                }
                tx
            }));
            rxs.push(rx);
        }
        let [mut a, mut b, mut c, mut d] = <[_; 4]>::try_from(rxs).unwrap();
        let start = Instant::now();
        let mut got = 0;
        while got < n {
            tokio::select! {
                Some(_) = a.recv() => got += 1,
                Some(_) = b.recv() => got += 1,
                Some(_) = c.recv() => got += 1,
                Some(_) = d.recv() => got += 1,
            }
        }
        let elapsed = start.elapsed();
        drop(keep);
        elapsed
    });
    s.add(
        "select4",
        "tokio current_thread select!",
        ns(t, n),
        "ns/message",
    );
    let m = (n / 10).max(4) / 4 * 4;
    let rxs: Vec<_> = (0..4)
        .map(|_| {
            let (tx, rx) = crossbeam_channel::bounded::<u64>(0);
            let keep = std::thread::spawn(move || {
                for i in 0..m / 4 {
                    tx.send(i).unwrap();
                }
                tx
            });
            (rx, keep)
        })
        .collect();
    let (rxs, _keep): (Vec<_>, Vec<_>) = rxs.into_iter().unzip();
    let start = Instant::now();
    for _ in 0..m {
        crossbeam_channel::select! {
            recv(rxs[0]) -> v => { v.unwrap(); },
            recv(rxs[1]) -> v => { v.unwrap(); },
            recv(rxs[2]) -> v => { v.unwrap(); },
            recv(rxs[3]) -> v => { v.unwrap(); },
        }
    }
    s.add(
        "select4",
        "crossbeam select!, 4 threads",
        ns(start.elapsed(), m),
        "ns/message",
    );
}

pub(crate) fn select_timeout(s: &mut Suite) {
    let n = s.scale(1_000_000);
    let run = |with_timer: bool| {
        selvedge::run(move || {
            let (tx, rx) = channel::<u64>();
            spawn(move || {
                for i in 0..n {
                    tx.send(i).unwrap();
                }
            });
            let start = Instant::now();
            for i in 0..n {
                let v = if with_timer {
                    rx.recv_op()
                        .wrap(|v| v.unwrap())
                        .or(after(Duration::from_secs(3600)).wrap(|()| unreachable!()))
                        .perform()
                } else {
                    select! { v = rx.recv_op() => v.unwrap() }
                };
                assert_eq!(v, i);
            }
            start.elapsed()
        })
    };
    let (timed, plain) = (ns(run(true), n), ns(run(false), n));
    s.add(
        "select_timeout",
        "selvedge recv or after(1h)",
        timed,
        "ns/message",
    );
    s.add(
        "select_timeout",
        "selvedge select over one channel",
        plain,
        "ns/message",
    );
    println!(
        "  select_timeout   with timer / without: {:.2} (target <= 1.5)",
        timed / plain
    );
    let t = tokio_rt().block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1);
        tokio::spawn(async move {
            for i in 0..n {
                tx.send(i).await.unwrap();
            }
        });
        let start = Instant::now();
        for _ in 0..n {
            tokio::time::timeout(Duration::from_secs(3600), rx.recv())
                .await
                .unwrap()
                .unwrap();
        }
        start.elapsed()
    });
    s.add(
        "select_timeout",
        "tokio timeout(1h, recv)",
        ns(t, n),
        "ns/message",
    );
}

/// The buffer of the `buffered` workload: Go's, crossbeam's and tokio's
/// common choice for a work queue.
const BUFFER: usize = 64;

/// A producer streams values through a buffered channel to a consumer,
/// both on one scheduler (and, for crossbeam, on two threads).
pub(crate) fn buffered(s: &mut Suite) {
    let n = s.scale(2_000_000);
    let run = |cap: usize| {
        selvedge::run(move || {
            let (tx, rx) = selvedge::bounded::<u64>(cap);
            let start = Instant::now();
            spawn(move || {
                for i in 0..n {
                    tx.send(i).unwrap();
                }
            });
            let mut sum = 0;
            for v in rx.iter() {
                sum += v;
            }
            assert_eq!(sum, n * (n - 1) / 2);
            start.elapsed()
        })
    };
    run(BUFFER); // warm the stack pool
    s.add(
        "buffered",
        "selvedge bounded(64)",
        ns(run(BUFFER), n),
        "ns/message",
    );
    s.add(
        "buffered",
        "selvedge channel() (rendezvous)",
        ns(run(0), n),
        "ns/message",
    );
    let t = tokio_rt().block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(BUFFER);
        let start = Instant::now();
        tokio::spawn(async move {
            for i in 0..n {
                tx.send(i).await.unwrap();
            }
        });
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        assert_eq!(sum, n * (n - 1) / 2);
        start.elapsed()
    });
    s.add(
        "buffered",
        "tokio current_thread mpsc(64)",
        ns(t, n),
        "ns/message",
    );
    let (tx, rx) = crossbeam_channel::bounded::<u64>(BUFFER);
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        for i in 0..n {
            tx.send(i).unwrap();
        }
    });
    let sum: u64 = rx.iter().sum();
    producer.join().unwrap();
    assert_eq!(sum, n * (n - 1) / 2);
    s.add(
        "buffered",
        "crossbeam bounded(64), 2 threads",
        ns(start.elapsed(), n),
        "ns/message",
    );
}
