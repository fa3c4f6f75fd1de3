use crate::op::leaf::LeafList;
use crate::op::Op;

/// A perform trusts a fixed `LEAF_COUNT` to index the leaves it tries
/// in place, and to route the winner to its arm: every operation that
/// has one lists exactly that many leaves.
#[test]
fn fixed_leaf_counts_are_the_leaves_listed() {
    fn check<O: Op>(mut op: O) {
        op.prepare(crate::op::tree::Token::NEW);
        let mut leaves = LeafList::new();
        op.leaves(&mut leaves);
        assert_eq!(O::LEAF_COUNT, Some(leaves.len()));
    }
    fn has_timer_leaf<O: Op>(_: &O) -> bool {
        O::HAS_TIMER_LEAF
    }
    use std::time::{Duration, Instant};
    crate::run(|| {
        let (tx, rx) = crate::channel::<u8>();
        check(tx.send_op(1));
        check(rx.recv_op());
        check(rx.clone().into_recv_op());
        assert!(!has_timer_leaf(
            &rx.recv_op().or(tx.send_op(1).wrap(|_| Ok(0)))
        ));
        assert!(has_timer_leaf(
            &rx.recv_op()
                .or(crate::after(Duration::ZERO).wrap(|()| Ok(0)))
        ));
        assert!(has_timer_leaf(
            &crate::never::<()>().or(crate::at(Instant::now()))
        ));
        check(crate::after(Duration::from_secs(1)));
        check(crate::after(Duration::ZERO));
        check(crate::at(Instant::now()));
        check(crate::always(1));
        check(crate::never::<u8>());
        let mut fiber = crate::spawn(|| ());
        check(fiber.join_op());
        let condition = crate::Condition::new();
        check(condition.wait_op());
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        check(crate::io::readable(&a));
        check(crate::io::writable(&a));
        let nacked = crate::with_nack(|nack| {
            check(nack);
            crate::always(())
        });
        nacked.perform();
        check(
            rx.recv_op()
                .wrap(|_| 0)
                .or(crate::never())
                .or(crate::always(2).or(crate::after(Duration::ZERO).wrap(|()| 3))),
        );
    });
}

/// An operation whose type fixes its leaves is one leaf racing a
/// pending timer, asked where its leaves are, exactly when its listed
/// leaves say so, with the same leaf and timer.
#[test]
fn lone_leaves_found_in_place_are_the_listed_ones() {
    use super::{lone_leaf, InPlace};
    use crate::op::arms::Arms;
    use crate::{after, at};
    use std::time::{Duration, Instant};
    fn check<O: Op>(mut op: O, expected: Option<(usize, Option<usize>)>) {
        op.prepare(crate::op::tree::Token::NEW);
        let n = O::LEAF_COUNT.expect("a fixed leaf count");
        let in_place = lone_leaf(&mut InPlace::new(&mut op), n, O::HAS_TIMER_LEAF)
            .map(|(i, d)| (i, d.map(|(_, t)| t)));
        let mut leaves = LeafList::new();
        op.leaves(&mut leaves);
        let listed = lone_leaf(&mut leaves, n, true).map(|(i, d)| (i, d.map(|(_, t)| t)));
        assert_eq!(in_place, listed, "in place and listed disagree");
        assert_eq!(in_place, expected);
    }
    crate::run(|| {
        let (_tx, rx) = crate::channel::<u8>();
        let (_tx2, rx2) = crate::channel::<u8>();
        let hour = || after(Duration::from_secs(3600));
        let past = || at(Instant::now() - Duration::from_secs(1));
        check(rx.recv_op(), Some((0, None)));
        check(hour(), Some((0, None)));
        check(rx.recv_op().or(hour().wrap(|()| Ok(0))), Some((0, Some(1))));
        check(hour().wrap(|()| Ok(0)).or(rx.recv_op()), Some((1, Some(0))));
        check(rx.recv_op().or(past().wrap(|()| Ok(0))), None);
        check(past().or(hour()), Some((0, Some(1))));
        check(hour().or(after(Duration::from_secs(7200))), None);
        check(rx.recv_op().or(rx2.recv_op()), None);
        check(rx.recv_op().or(crate::never()), Some((0, None)));
        check(
            rx.recv_op().or(rx2.recv_op()).or(hour().wrap(|()| Ok(0))),
            None,
        );
        check(
            Arms::new(rx.recv_op(), Arms::new(hour(), crate::never())),
            Some((0, Some(1))),
        );
    });
}
