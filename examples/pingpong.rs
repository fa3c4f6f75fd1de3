//! Ping-pong over rendezvous channels: two fibers on one scheduler bounce a
//! counter, and the same workload runs on `std::sync::mpsc::sync_channel(0)`
//! between two OS threads, in the same run, so the ratio is meaningful.
//!
//!     cargo run --release --example pingpong [-- ROUNDS]

use std::time::{Duration, Instant};

/// Nanoseconds per round trip.
fn ns(elapsed: Duration, rounds: u64) -> f64 {
    elapsed.as_nanos() as f64 / rounds as f64
}

/// Times `rounds` round trips between two fibers over two rendezvous
/// channels: the main fiber sends `v` and receives `v + 1` back.
fn selvedge_round_trips(rounds: u64) -> Duration {
    selvedge::run(|| {
        let (ping_tx, ping_rx) = selvedge::channel::<u64>();
        let (pong_tx, pong_rx) = selvedge::channel::<u64>();
        selvedge::spawn(move || {
            for v in &ping_rx {
                pong_tx.send(v + 1).unwrap();
            }
        });
        let start = Instant::now();
        let mut v = 0;
        for _ in 0..rounds {
            ping_tx.send(v).unwrap();
            v = pong_rx.recv().unwrap();
        }
        assert_eq!(v, rounds, "lost or duplicated round trips");
        start.elapsed()
    })
}

/// The same between two OS threads over `sync_channel(0)`.
fn std_round_trips(rounds: u64) -> Duration {
    let (ping_tx, ping_rx) = std::sync::mpsc::sync_channel::<u64>(0);
    let (pong_tx, pong_rx) = std::sync::mpsc::sync_channel::<u64>(0);
    let echo = std::thread::spawn(move || {
        for v in ping_rx {
            pong_tx.send(v + 1).unwrap();
        }
    });
    let start = Instant::now();
    let mut v = 0;
    for _ in 0..rounds {
        ping_tx.send(v).unwrap();
        v = pong_rx.recv().unwrap();
    }
    let elapsed = start.elapsed();
    assert_eq!(v, rounds, "lost or duplicated round trips");
    drop(ping_tx);
    echo.join().unwrap();
    elapsed
}

fn main() {
    let rounds: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("usage: pingpong [ROUNDS]"))
        .unwrap_or(1_000_000);
    let std_rounds = (rounds / 10).max(1);
    selvedge_round_trips(rounds / 10 + 1); // warm the stack pool and caches
    let ours = ns(selvedge_round_trips(rounds), rounds);
    let theirs = ns(std_round_trips(std_rounds), std_rounds);
    println!("ping-pong round trip, {rounds} rounds");
    println!("  selvedge (2 fibers, 1 scheduler):        {ours:>10.1} ns");
    println!("  std sync_channel(0) (2 OS threads):      {theirs:>10.1} ns");
    println!(
        "  selvedge / std:                          {:>10.3}",
        ours / theirs
    );
}
