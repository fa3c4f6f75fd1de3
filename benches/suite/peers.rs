//! The round-trip workload, timed the same way on selvedge and on its
//! peers: two OS threads over crossbeam's and std's channels, and fibers
//! on one scheduler and on two.

use std::time::{Duration, Instant};

use selvedge::{channel, spawn, Handle, Runtime};

/// Times `rounds` round trips; `trip(v)` sends `v` out and returns the
/// echoed `v + 1`.
pub(crate) fn time_round_trips(rounds: u64, mut trip: impl FnMut(u64) -> u64) -> Duration {
    let start = Instant::now();
    let mut v = 0;
    for _ in 0..rounds {
        v = trip(v);
    }
    let elapsed = start.elapsed();
    assert_eq!(v, rounds, "lost or duplicated round trips");
    elapsed
}

/// Round trips between this thread and an echo thread over two channels
/// made by `pair` (a `(sender, receiver)` constructor, e.g. a rendezvous
/// channel of some library).
pub(crate) fn os_thread_round_trips<S, R>(
    rounds: u64,
    pair: fn() -> (S, R),
    send: fn(&S, u64),
    recv: fn(&R) -> Option<u64>,
) -> Duration
where
    S: Send + 'static,
    R: Send + 'static,
{
    let (ping_tx, ping_rx) = pair();
    let (pong_tx, pong_rx) = pair();
    let echo = std::thread::spawn(move || {
        while let Some(v) = recv(&ping_rx) {
            send(&pong_tx, v + 1);
        }
    });
    let elapsed = time_round_trips(rounds, |v| {
        send(&ping_tx, v);
        recv(&pong_rx).expect("echo thread alive")
    });
    drop(ping_tx);
    echo.join().unwrap();
    elapsed
}

/// `std::sync::mpsc::sync_channel(0)` between two OS threads.
pub(crate) fn std_round_trips(rounds: u64) -> Duration {
    os_thread_round_trips(
        rounds,
        || std::sync::mpsc::sync_channel::<u64>(0),
        |tx, v| tx.send(v).unwrap(),
        |rx| rx.recv().ok(),
    )
}

/// ns per round trip.
pub(crate) fn ns(d: Duration, rounds: u64) -> f64 {
    d.as_nanos() as f64 / rounds as f64
}

/// Two fibers on one scheduler bounce a counter over two channels.
pub(crate) fn selvedge_round_trips(rounds: u64) -> Duration {
    selvedge::run(|| {
        let (ping_tx, ping_rx) = channel::<u64>();
        let (pong_tx, pong_rx) = channel::<u64>();
        let echo = spawn(move || {
            for v in &ping_rx {
                pong_tx.send(v + 1).unwrap();
            }
        });
        let elapsed = time_round_trips(rounds, |v| {
            ping_tx.send(v).unwrap();
            pong_rx.recv().unwrap()
        });
        drop(ping_tx);
        echo.join().unwrap();
        elapsed
    })
}

/// The same, with the two fibers on two schedulers (two OS threads).
pub(crate) fn selvedge_cross_round_trips(rounds: u64) -> Duration {
    let rt = Runtime::builder().threads(2).build().unwrap();
    rt.run(move || {
        let (ping_tx, ping_rx) = channel::<u64>();
        let (pong_tx, pong_rx) = channel::<u64>();
        let main_thread = std::thread::current().id();
        // Round-robin placement: the first spawn lands on scheduler 0, the
        // second on scheduler 1; take the one on the other thread.
        let first = Handle::current().spawn(|| std::thread::current().id());
        assert_eq!(first.join().unwrap(), main_thread);
        let echo = Handle::current().spawn(move || {
            for v in &ping_rx {
                pong_tx.send(v + 1).unwrap();
            }
            std::thread::current().id()
        });
        let elapsed = time_round_trips(rounds, |v| {
            ping_tx.send(v).unwrap();
            pong_rx.recv().unwrap()
        });
        drop(ping_tx);
        assert_ne!(
            echo.join().unwrap(),
            main_thread,
            "echo must run on another scheduler"
        );
        elapsed
    })
}

/// `crossbeam_channel::bounded(0)` between two OS threads.
pub(crate) fn crossbeam_round_trips(rounds: u64) -> Duration {
    os_thread_round_trips(
        rounds,
        || crossbeam_channel::bounded::<u64>(0),
        |tx, v| tx.send(v).unwrap(),
        |rx| rx.recv().ok(),
    )
}
