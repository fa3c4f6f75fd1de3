//! A choice first looks, without the channel lock, at which of its channels
//! might complete it (a queued partner, or every partner gone), and tries
//! only those. Here a sender arrives and the other channel's last sender
//! leaves, each on its own thread, while the choice looks: whatever the
//! look sees, a value is taken at most once and never lost, and a channel
//! reports its senders gone only once they are.
#![cfg(loom)]

use loom::thread;
use selvedge::{channel, Op, RecvError};

#[test]
fn a_look_without_the_lock_loses_no_value_and_invents_no_disconnect() {
    selvedge_loom_tests::model(|| {
        let (a_tx, a_rx) = channel::<u8>();
        let (b_tx, b_rx) = channel::<u8>();
        let a = thread::spawn(move || a_tx.send(1));
        let b = thread::spawn(move || drop(b_tx));
        let first = a_rx
            .recv_op()
            .wrap(|r| ('a', r))
            .or(b_rx.recv_op().wrap(|r| ('b', r)))
            .try_perform();
        match first {
            None | Some(('b', Err(RecvError))) => assert_eq!(a_rx.recv(), Ok(1)),
            Some(('a', Ok(1))) => {}
            other => panic!("the choice gave {other:?}"),
        }
        b.join().unwrap();
        assert_eq!(b_rx.recv(), Err(RecvError));
        assert_eq!(a.join().unwrap(), Ok(()));
    });
}
