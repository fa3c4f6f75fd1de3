//! Step 7 of the guide (docs/guide.md): what selvedge tells you when
//! something goes wrong. A dump of every fiber, a stall warning, and a
//! deliberate deadlock with its report. Everything it prints goes to
//! stderr except the dump.
//!
//!     cargo run --example when_things_go_wrong

use std::time::Duration;

use selvedge::{channel, fiber, OnDeadlock, Runtime};

fn main() {
    // 1. A dump: every fiber, its state, what it waits for and where.
    selvedge::run(|| {
        let (_tx, rx) = channel::<u32>();
        fiber::Builder::new()
            .name("waiter")
            .spawn(move || rx.recv())
            .unwrap();
        fiber::Builder::new()
            .name("sleeper")
            .spawn(|| selvedge::sleep(Duration::from_secs(60)))
            .unwrap();
        selvedge::yield_now(); // both start waiting
        println!("--- a dump ---\n{}", fiber::dump());
        // Returning from main tears the waiting fibers down.
    });

    // 2. A stall: a fiber that blocks its thread (here `std::thread::sleep`
    // instead of `selvedge::sleep`) holds up every fiber of its scheduler.
    // With a threshold set, the runtime names it on stderr.
    let rt = Runtime::builder()
        .stall_warning(Duration::from_millis(50))
        .build()
        .unwrap();
    rt.run(|| {
        fiber::Builder::new()
            .name("blocker")
            .spawn(|| std::thread::sleep(Duration::from_millis(200)))
            .unwrap()
            .join()
            .unwrap();
    });

    // 3. A deadlock: two fibers each wait for the other. Instead of
    // hanging, `run` prints every fiber and what it waits for, and panics.
    let rt = Runtime::builder()
        .on_deadlock(OnDeadlock::Panic)
        .build()
        .unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.run(|| {
            let (to_left, from_right) = channel::<u32>();
            let (to_right, from_left) = channel::<u32>();
            let left = fiber::Builder::new()
                .name("left")
                .spawn(move || {
                    let v = from_right.recv(); // waits for right...
                    to_right.send(1).ok();
                    v
                })
                .unwrap();
            let right = fiber::Builder::new()
                .name("right")
                .spawn(move || {
                    let v = from_left.recv(); // ...which waits for left
                    to_left.send(2).ok();
                    v
                })
                .unwrap();
            let _ = (left.join(), right.join());
        })
    }));
    match outcome {
        Ok(()) => println!("no deadlock?"),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .unwrap_or("?");
            println!("--- run panicked ---\n{message}");
        }
    }
}
