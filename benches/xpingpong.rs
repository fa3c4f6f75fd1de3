//! Cross-scheduler ping-pong: two fibers on two schedulers (two OS threads)
//! bounce a counter over rendezvous channels, next to
//! `crossbeam_channel::bounded(0)` and `std::sync::mpsc::sync_channel(0)`
//! between two threads, in the same run. Prints ns per round trip and the
//! selvedge/peer ratios.
//!
//!     cargo bench --bench xpingpong            # full
//!     cargo bench --bench xpingpong -- --quick # CI smoke run

mod support;

use std::time::Duration;

use selvedge::{channel, Handle, Runtime};
use support::{ns, os_thread_round_trips, std_round_trips, time_round_trips};

fn selvedge_cross(rounds: u64) -> Duration {
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

fn crossbeam_cross(rounds: u64) -> Duration {
    os_thread_round_trips(
        rounds,
        || crossbeam_channel::bounded::<u64>(0),
        |tx, v| tx.send(v).unwrap(),
        |rx| rx.recv().ok(),
    )
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 2_000 } else { 100_000 };
    let ours = ns(selvedge_cross(rounds), rounds);
    let cb = ns(crossbeam_cross(rounds), rounds);
    let st = ns(std_round_trips(rounds), rounds);
    println!("xpingpong: round trip between two threads, {rounds} rounds");
    println!("  selvedge (2 schedulers)       {ours:>10.0} ns");
    println!(
        "  crossbeam bounded(0)          {cb:>10.0} ns   selvedge/crossbeam = {:.2}",
        ours / cb
    );
    println!(
        "  std sync_channel(0)           {st:>10.0} ns   selvedge/std       = {:.2}",
        ours / st
    );
}
