//! A fiber join's one-shot cell: a put racing a waiting reader, and a
//! reader withdrawing from a choice it lost while the put commits it. The
//! value is delivered exactly once, and loom checks that the writer never
//! reads the reader's registration, or the reader the value, unordered.
//! (The writer is the thread that joins, as in `condition.rs`: loom counts
//! a late unpark of a thread blocked in `join` as a spurious wake of it.)
#![cfg(loom)]

use loom::thread;
use selvedge::__loom::oneshot;
use selvedge::{Condition, Op};

#[test]
fn a_put_racing_a_waiting_reader_delivers_the_value() {
    selvedge_loom_tests::model(|| {
        let (tx, mut rx) = oneshot();
        let reader = thread::spawn(move || rx.recv_op().perform());
        tx.put(7);
        assert_eq!(reader.join().unwrap(), 7);
    });
}

/// The reader waits on the cell or a condition; a put and a signal race.
/// Whichever wins, the value is received exactly once: by the choice, or
/// by a receive after the choice withdrew (waiting out a put that found it
/// registered).
#[test]
fn a_reader_that_lost_a_choice_withdraws_and_still_gets_the_value() {
    selvedge_loom_tests::model(|| {
        let (tx, mut rx) = oneshot();
        let c = Condition::new();
        let c2 = c.clone();
        let reader = thread::spawn(move || {
            let first = rx
                .recv_op()
                .wrap(Some)
                .or(c.wait_op().wrap(|()| None))
                .perform();
            match first {
                Some(v) => v,
                None => rx.recv_op().perform(),
            }
        });
        let signaller = thread::spawn(move || {
            c2.signal();
        });
        tx.put(7);
        signaller.join().unwrap();
        assert_eq!(reader.join().unwrap(), 7);
    });
}
