//! {send c, recv c} in one choice never pairs with itself: against a plain
//! sender it must be the receive that commits.
#![cfg(loom)]

use loom::thread;
use selvedge::{channel, Op};

#[test]
fn a_choice_never_pairs_with_itself() {
    selvedge_loom_tests::model(|| {
        let (tx, rx) = channel::<u8>();
        let tx2 = tx.clone();
        let sender = thread::spawn(move || tx2.send(9));
        let got = tx
            .send_op(1)
            .wrap(|r| {
                r.unwrap();
                None
            })
            .or(rx.recv_op().wrap(|r| Some(r.unwrap())))
            .perform();
        assert_eq!(
            got,
            Some(9),
            "the choice's send paired with its own receive"
        );
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}
