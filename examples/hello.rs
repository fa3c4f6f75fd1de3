//! Step 1 of the guide (docs/guide.md): spawn a fiber, talk over a
//! channel, wait with a timeout, join.
//!
//!     cargo run --example hello

use std::time::Duration;

use selvedge::{after, channel, select, spawn};

fn main() {
    selvedge::run(|| {
        let (tx, rx) = channel();

        // A fiber: a lightweight thread with its own stack.
        let greeter = spawn(move || {
            for name in ["fibers", "channels", "operations"] {
                // A rendezvous: `send` returns once a receiver has the value.
                tx.send(format!("hello, {name}")).unwrap();
            }
            "greeter done"
        });

        loop {
            // Wait for whichever happens first: a message, or a second
            // of silence.
            select! {
                msg = rx.recv_op() => match msg {
                    Ok(text) => println!("{text}"),
                    Err(_) => break, // every sender is gone
                },
                () = after(Duration::from_secs(1)) => {
                    println!("nobody spoke for a second");
                    break;
                }
            }
        }

        println!("{}", greeter.join().unwrap());
    });
}
