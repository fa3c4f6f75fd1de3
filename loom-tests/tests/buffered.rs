//! A buffered channel across threads: a sender waiting on a full buffer
//! is refilled into it by a receive, a receive in a choice takes from the
//! buffer, and the values arrive once and in order.
#![cfg(loom)]

use loom::thread;
use selvedge::{bounded, Op};

/// Capacity 1, one value buffered, a second send waiting: the receiver on
/// another thread takes the first and refills the buffer with the second
/// (committing the waiting sender), whichever runs first.
#[test]
fn a_waiting_sender_refills_the_buffer_in_order() {
    selvedge_loom_tests::model(|| {
        let (tx, rx) = bounded::<u32>(1);
        tx.send(1).unwrap();
        let sender = thread::spawn(move || tx.send(2));
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(sender.join().unwrap(), Ok(()));
        assert!(rx.recv().is_err());
    });
}

/// Two buffered channels, a sender offering one value on both at once
/// (a choice: exactly one buffer takes it) and a receiver choosing
/// between them: the value arrives exactly once.
#[test]
fn a_choice_of_buffered_sends_meets_a_choice_of_receives_once() {
    selvedge_loom_tests::model(|| {
        let (a_tx, a_rx) = bounded::<u32>(1);
        let (b_tx, b_rx) = bounded::<u32>(1);
        // The sender hands its ends back, so neither channel disconnects
        // (which would make its receive ready with an error).
        let sender = thread::spawn(move || {
            a_tx.send_op(7).or(b_tx.send_op(7)).perform().unwrap();
            (a_tx, b_tx)
        });
        let got = a_rx.recv_op().or(b_rx.recv_op()).perform();
        assert_eq!(got, Ok(7));
        let _ends = sender.join().unwrap();
        assert!(a_rx.try_recv().is_err() && b_rx.try_recv().is_err());
    });
}
