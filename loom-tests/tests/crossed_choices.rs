//! {send a, recv b} against {recv a, send b}: they match on exactly one
//! channel, never deadlock, never half-commit.
#![cfg(loom)]

use loom::thread;
use selvedge::{channel, Op};

#[test]
fn crossed_choices_match_on_exactly_one_channel() {
    selvedge_loom_tests::model(|| {
        let (a_tx, a_rx) = channel::<u8>();
        let (b_tx, b_rx) = channel::<u8>();
        let left = thread::spawn(move || {
            a_tx.send_op(1)
                .wrap(|r| r.map(|()| "sent a").unwrap())
                .or(b_rx.recv_op().wrap(|r| {
                    assert_eq!(r, Ok(2));
                    "got b"
                }))
                .perform()
        });
        let right = a_rx
            .recv_op()
            .wrap(|r| {
                assert_eq!(r, Ok(1));
                "got a"
            })
            .or(b_tx.send_op(2).wrap(|r| r.map(|()| "sent b").unwrap()))
            .perform();
        let left = left.join().unwrap();
        assert!(
            (left, right) == ("sent a", "got a") || (left, right) == ("got b", "sent b"),
            "half-commit: {left} / {right}"
        );
    });
}
