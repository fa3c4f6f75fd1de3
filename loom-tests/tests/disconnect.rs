//! Dropping the last receiver while a sender blocks: the sender gets its
//! value back exactly once.
#![cfg(loom)]

use loom::thread;
use selvedge::{channel, SendError};

#[test]
fn a_blocked_sender_gets_its_value_back_when_the_receiver_goes() {
    selvedge_loom_tests::model(|| {
        let (tx, rx) = channel::<String>();
        let sender = thread::spawn(move || tx.send("v".to_string()));
        drop(rx);
        assert_eq!(sender.join().unwrap(), Err(SendError("v".to_string())));
    });
}

#[test]
fn a_receiver_released_by_the_last_sender_dropping_gets_an_error() {
    selvedge_loom_tests::model(|| {
        let (tx, rx) = channel::<u8>();
        let receiver = thread::spawn(move || rx.recv());
        drop(tx);
        assert!(receiver.join().unwrap().is_err());
    });
}
