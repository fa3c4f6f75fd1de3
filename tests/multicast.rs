//! Multicast: every port gets every message in one order; slow ports hold
//! senders up; dropped ports are unsubscribed; the stream ends.

use selvedge::{run, spawn, yield_now, Multicast, Runtime};
use std::cell::Cell;
use std::rc::Rc;

#[test]
fn every_port_gets_every_message_sent_after_it_subscribed() {
    run(|| {
        let m = Multicast::new(8);
        assert_eq!(m.send(0), 0, "no subscriber");
        let early = m.port();
        m.send(1);
        let late = m.port();
        m.send(2);
        assert_eq!(m.ports_len(), 2);
        drop(m);
        assert_eq!(early.iter().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(late.iter().collect::<Vec<_>>(), [2]);
    });
}

#[test]
fn a_slow_port_holds_the_sender_up_and_loses_nothing() {
    run(|| {
        let m = Multicast::new(1);
        let fast = m.port();
        let slow = m.port();
        let sent = Rc::new(Cell::new(0));
        let s = sent.clone();
        let m2 = m.clone();
        let sender = spawn(move || {
            for i in 0..5 {
                m2.send(i);
                s.set(s.get() + 1);
            }
        });
        let fast_reader = spawn(move || fast.iter().take(5).collect::<Vec<_>>());
        for _ in 0..20 {
            yield_now();
        }
        // The slow port's buffer (1) is full: the second send waits.
        assert_eq!(sent.get(), 1);
        let got: Vec<i32> = (0..5).map(|_| slow.recv().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        sender.join().unwrap();
        assert_eq!(fast_reader.join().unwrap(), [0, 1, 2, 3, 4]);
    });
}

#[test]
fn a_dropped_port_is_unsubscribed_and_others_go_on() {
    run(|| {
        let m = Multicast::new(0);
        let keep = m.port();
        drop(m.port());
        let reader = spawn(move || (keep.recv(), keep.recv()));
        assert_eq!(m.send('a'), 1);
        assert_eq!(m.ports_len(), 1);
        assert_eq!(m.send('b'), 1);
        assert_eq!(reader.join().unwrap(), (Ok('a'), Ok('b')));
    });
}

/// Senders on two schedulers and a plain thread: every port sees the same
/// order of all messages.
#[test]
fn concurrent_senders_give_every_port_the_same_order() {
    let rt = Runtime::builder().threads(2).build().unwrap();
    let orders = rt.run(|| {
        let m = Multicast::new(2);
        let ports: Vec<_> = (0..3).map(|_| m.port()).collect();
        let handle = selvedge::Handle::current();
        let readers: Vec<_> = ports
            .into_iter()
            .map(|p| handle.spawn(move || p.iter().collect::<Vec<u32>>()))
            .collect();
        let senders: Vec<_> = (0..2)
            .map(|s| {
                let m = m.clone();
                handle.spawn(move || (0..50).for_each(|i| assert_eq!(m.send(s * 100 + i), 3)))
            })
            .collect();
        let mt = m.clone();
        let (done_tx, done_rx) = selvedge::channel();
        let thread = std::thread::spawn(move || {
            (0..50).for_each(|i| assert_eq!(mt.send(200 + i), 3));
            drop(mt);
            done_tx.send(()).unwrap();
        });
        senders.into_iter().for_each(|s| s.join().unwrap());
        // Waits in selvedge, not in `JoinHandle::join`, which would hold
        // this scheduler's thread while the thread's sends need its
        // readers.
        done_rx.recv().unwrap();
        thread.join().unwrap();
        drop(m);
        readers
            .into_iter()
            .map(|r| r.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(orders[0].len(), 150);
    assert!(orders.iter().all(|o| *o == orders[0]));
    let mut all = orders[0].clone();
    all.sort_unstable();
    let want: Vec<u32> = (0..3)
        .flat_map(|s| (0..50).map(move |i| s * 100 + i))
        .collect();
    assert_eq!(all, want);
}
