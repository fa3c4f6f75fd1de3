//! Step 2 of the guide (docs/guide.md): a producer, workers on two
//! threads and a collector, with a deadline on the whole job and a clean
//! shutdown.
//!
//!     cargo run --example pipeline

use std::time::{Duration, Instant};

use selvedge::{at, bounded, select, Handle, Runtime};

/// Counts the primes below `n`, slowly on purpose (the work of a job).
fn is_prime(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

fn main() {
    let runtime = Runtime::builder().threads(2).build().unwrap();
    let primes = runtime.run(|| {
        let handle = Handle::current();
        let deadline = Instant::now() + Duration::from_secs(10);
        let (jobs_tx, jobs_rx) = bounded::<u64>(64);
        let (results_tx, results_rx) = bounded::<u64>(64);

        // The producer: numbers to test, then it drops its sender, which
        // tells the workers there is nothing more.
        handle.spawn(move || {
            for n in 0..200_000 {
                if jobs_tx.send(n).is_err() {
                    return; // the workers are gone
                }
            }
        });

        // Four workers, spread over both threads (`Handle::spawn`).
        for _ in 0..4 {
            let (jobs, results) = (jobs_rx.clone(), results_tx.clone());
            handle.spawn(move || {
                for n in jobs.iter() {
                    if is_prime(n) && results.send(n).is_err() {
                        return;
                    }
                }
            });
        }
        drop((jobs_rx, results_tx)); // only the fibers hold them now

        // The collector: counts until every worker is done, or the
        // deadline passes.
        let mut count = 0;
        loop {
            select! {
                r = results_rx.recv_op() => match r {
                    Ok(_) => count += 1,
                    Err(_) => break Some(count), // every worker finished
                },
                () = at(deadline) => break None,
            }
        }
    });
    match primes {
        Some(n) => println!("{n} primes below 200000"),
        None => println!("the deadline passed first"),
    }
}
