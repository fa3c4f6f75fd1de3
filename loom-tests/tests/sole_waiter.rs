//! A plain (one-leaf, untimed) receive waits as a sole perform, which its
//! partners commit under the channel lock without a compare-and-swap: here
//! a choice's scan takes the first such receive, and the last sender's
//! leaving releases the second with an error. (A plain send taking a sole
//! receive is `rendezvous.rs`; a disconnect taking a sole send is
//! `disconnect.rs`.)
#![cfg(loom)]

use loom::thread;
use selvedge::{channel, Op};

#[test]
fn a_sole_receiver_is_taken_once_by_a_choice_then_released_by_a_disconnect() {
    selvedge_loom_tests::model(|| {
        let (tx, rx) = channel::<u8>();
        let receiver = thread::spawn(move || (rx.recv(), rx.recv()));
        // Kept open so that the choice's other leaf never completes.
        let (_keep_open, never) = channel::<u8>();
        let sent = tx
            .send_op(2)
            .or(never.recv_op().wrap(|_| unreachable!("nobody sends")))
            .perform();
        assert_eq!(sent, Ok(()));
        drop(tx);
        let (first, second) = receiver.join().unwrap();
        assert_eq!(first, Ok(2));
        assert!(second.is_err(), "the only sender is gone");
    });
}
