//! Step 4 of the guide (docs/guide.md): when a buffer helps, and when the
//! rendezvous is the point.
//!
//!     cargo run --example buffered
//!
//! A rendezvous (`channel()`, `bounded(0)`) hands a value over only when
//! both sides are there: the sender learns that the receiver has it, and
//! a slow receiver slows the sender down (back-pressure for free). A
//! buffer (`bounded(n)`) lets a bursty producer run ahead by up to `n`
//! values; `unbounded()` never makes it wait, and so never pushes back.

use std::time::{Duration, Instant};

use selvedge::{bounded, channel, spawn, unbounded};

/// A producer sends 10 values as fast as it can; the consumer takes one
/// every millisecond. Returns how long the producer took.
fn producer_time(tx: selvedge::Sender<u32>, rx: selvedge::Receiver<u32>) -> Duration {
    let consumer = spawn(move || {
        for _ in rx.iter() {
            selvedge::sleep(Duration::from_millis(1));
        }
    });
    let start = Instant::now();
    for i in 0..10 {
        tx.send(i).unwrap();
    }
    let took = start.elapsed();
    drop(tx);
    consumer.join().unwrap();
    took
}

fn main() {
    selvedge::run(|| {
        let (tx, rx) = channel();
        println!("rendezvous:  producer took {:?}", producer_time(tx, rx));
        let (tx, rx) = bounded(4);
        println!("bounded(4):  producer took {:?}", producer_time(tx, rx));
        let (tx, rx) = unbounded();
        println!("unbounded:   producer took {:?}", producer_time(tx, rx));

        // A buffer of one as a mailbox with the latest value: `try_send`
        // fails when full, and the reader always finds a value.
        let (tx, rx) = bounded::<&str>(1);
        tx.send("first").unwrap();
        assert!(tx.try_send("second").is_err(), "full: the first is unread");
        println!("mailbox: {}", rx.recv().unwrap());
        println!("{} buffered now, capacity {:?}", rx.len(), rx.capacity());
    });
}
