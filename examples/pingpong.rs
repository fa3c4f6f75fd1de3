//! Ping-pong over rendezvous channels: two fibers on one scheduler bounce a
//! counter, and the same workload runs on `std::sync::mpsc::sync_channel(0)`
//! between two OS threads, in the same run, so the ratio is meaningful.
//!
//!     cargo run --release --example pingpong [-- ROUNDS]

#[path = "../benches/support/mod.rs"]
mod support;

use support::{ns, selvedge_round_trips, std_round_trips};

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
