//! Step 5 of the guide (docs/guide.md): blocking calls on the pool, fibers
//! that borrow local data in a scope, and cancelling a fiber.
//!
//!     cargo run --example blocking_and_scopes

use std::time::Duration;

use selvedge::{blocking, net, scope, spawn, Cancelled, Op};

fn main() {
    selvedge::run(|| {
        // A blocking call (a file read) runs on the pool: only this fiber
        // waits, and the ticker keeps ticking meanwhile.
        let ticker = spawn(|| {
            for _ in 0..3 {
                selvedge::sleep(Duration::from_millis(1));
            }
            "ticked three times"
        });
        let manifest = blocking(|| std::fs::read_to_string("Cargo.toml")).perform();
        let lines = manifest.map(|m| m.lines().count()).unwrap_or(0);
        println!(
            "Cargo.toml has {lines} lines; the ticker {}",
            ticker.join().unwrap()
        );

        // A name lookup, also on the pool.
        match net::lookup_host("localhost:80") {
            Ok(addrs) => println!("localhost is {addrs:?}"),
            Err(e) => println!("no lookup here: {e}"),
        }

        // Scoped fibers borrow from this stack frame; `scope` returns once
        // all of them have finished.
        let words = ["scope", "borrow", "fiber"];
        let mut lengths = [0; 3];
        scope(|s| {
            for (word, len) in words.iter().zip(lengths.iter_mut()) {
                s.spawn(move || *len = word.len());
            }
        });
        println!("lengths {lengths:?}");

        // Cancelling: the fiber unwinds from where it waits.
        let sleeper = spawn(|| {
            selvedge::sleep(Duration::from_secs(3600));
            "woke up"
        });
        selvedge::yield_now(); // let it start waiting
        sleeper.cancel();
        match sleeper.join() {
            Ok(v) => println!("sleeper: {v}"),
            Err(e) if e.is::<Cancelled>() => println!("sleeper: cancelled"),
            Err(_) => println!("sleeper: panicked"),
        }
    });
}
