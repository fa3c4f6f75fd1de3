//! Two plain sends (each a one-leaf perform, which matches without claiming
//! its own unpublished state) race for one choice `{recv a, recv b}`: the
//! choice takes exactly one of them, the other is received afterwards, and
//! every value arrives exactly once.
#![cfg(loom)]

use loom::thread;
use selvedge::{channel, Op};

#[test]
fn two_plain_sends_racing_for_one_choice_each_arrive_once() {
    selvedge_loom_tests::model(|| {
        let (a_tx, a_rx) = channel::<u8>();
        let (b_tx, b_rx) = channel::<u8>();
        let a = thread::spawn(move || a_tx.send(1));
        let b = thread::spawn(move || b_tx.send(2));
        let first = a_rx
            .recv_op()
            .wrap(|r| ('a', r))
            .or(b_rx.recv_op().wrap(|r| ('b', r)))
            .perform();
        let second = match first.0 {
            'a' => ('b', b_rx.recv()),
            _ => ('a', a_rx.recv()),
        };
        let mut got = [first, second].map(|(from, r)| (from, r.expect("a value")));
        got.sort_unstable();
        assert_eq!(got, [('a', 1), ('b', 2)]);
        assert_eq!(a.join().unwrap(), Ok(()));
        assert_eq!(b.join().unwrap(), Ok(()));
    });
}
