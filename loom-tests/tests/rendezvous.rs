//! A sender and a receiver on two threads: the value arrives exactly once
//! and both return.
#![cfg(loom)]

use loom::thread;
use selvedge::channel;

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
