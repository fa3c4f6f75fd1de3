//! A sender and a receiver on two threads: the value arrives exactly once
//! and both return.
#![cfg(loom)]

use loom::thread;
use selvedge::{after, channel, Op};
use std::time::Duration;

#[test]
fn value_arrives_exactly_once_and_both_return() {
    selvedge_loom_tests::model(|| {
        let (tx, rx) = channel::<u32>();
        let sender = thread::spawn(move || tx.send(7));
        assert_eq!(rx.recv(), Ok(7));
        assert_eq!(sender.join().unwrap(), Ok(()));
        // The sender is gone: nothing else can arrive.
        assert!(rx.recv().is_err());
    });
}

/// A receive raced against a timer that is not due goes the one-leaf way
/// (try and register under one lock, the deadline attached). Listed after
/// the timer it is leaf 1, and the sender must commit leaf 1. (The hour
/// never passes: under loom a timed park is a spurious wakeup.)
#[test]
fn a_receive_with_a_timeout_gets_the_value_once() {
    selvedge_loom_tests::model(|| {
        let (tx, rx) = channel::<u32>();
        let sender = thread::spawn(move || tx.send(7));
        let got = after(Duration::from_secs(3600))
            .wrap(|()| None)
            .or(rx.recv_op().wrap(Some))
            .perform();
        assert_eq!(got, Some(Ok(7)));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}
