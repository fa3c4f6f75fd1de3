//! Channels: rendezvous, many-to-many, try_*, disconnection, iteration.

use selvedge::{channel, run, spawn, yield_now, RecvError, SendError, TryRecvError, TrySendError};
use std::cell::RefCell;
use std::rc::Rc;

#[test]
fn send_completes_only_when_a_receiver_takes_the_value() {
    run(|| {
        let (tx, rx) = channel();
        let sent = Rc::new(RefCell::new(false));
        let s = sent.clone();
        let h = spawn(move || {
            tx.send(5).unwrap();
            *s.borrow_mut() = true;
        });
        for _ in 0..10 {
            yield_now();
        }
        assert!(
            !*sent.borrow(),
            "a rendezvous send finished with no receiver"
        );
        assert_eq!(rx.recv(), Ok(5));
        h.join().unwrap();
        assert!(*sent.borrow());
    });
}

#[test]
fn many_senders_many_receivers_deliver_each_value_once() {
    let mut got = run(|| {
        let (tx, rx) = channel();
        let (out_tx, out_rx) = channel();
        for s in 0..8 {
            let tx = tx.clone();
            spawn(move || {
                for i in 0..100 {
                    tx.send(s * 100 + i).unwrap();
                }
            });
        }
        drop(tx);
        for _ in 0..4 {
            let rx = rx.clone();
            let out = out_tx.clone();
            spawn(move || {
                for v in &rx {
                    out.send(v).unwrap();
                }
            });
        }
        drop(out_tx);
        drop(rx);
        out_rx.into_iter().collect::<Vec<u32>>()
    });
    got.sort_unstable();
    assert_eq!(got, (0..800).collect::<Vec<_>>());
}

#[test]
fn try_send_and_try_recv_need_a_waiting_partner() {
    run(|| {
        let (tx, rx) = channel();
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let rx2 = rx.clone();
        let h = spawn(move || rx2.recv());
        yield_now(); // let the receiver block
        assert_eq!(tx.try_send(2), Ok(()));
        assert_eq!(h.join().unwrap(), Ok(2));
        let tx2 = tx.clone();
        let h = spawn(move || tx2.send(3));
        yield_now();
        assert_eq!(rx.try_recv(), Ok(3));
        assert_eq!(h.join().unwrap(), Ok(()));
    });
}

#[test]
fn dropping_the_last_receiver_hands_blocked_senders_their_value() {
    run(|| {
        let (tx, rx) = channel::<String>();
        let senders: Vec<_> = (0..3)
            .map(|i| {
                let tx = tx.clone();
                spawn(move || tx.send(format!("v{i}")))
            })
            .collect();
        yield_now();
        drop(rx);
        let mut back: Vec<String> = senders
            .into_iter()
            .map(|h| h.join().unwrap().unwrap_err().0)
            .collect();
        back.sort();
        assert_eq!(back, ["v0", "v1", "v2"]);
        assert_eq!(tx.send("late".into()), Err(SendError("late".into())));
        assert_eq!(
            tx.try_send("late".into()),
            Err(TrySendError::Disconnected("late".into()))
        );
    });
}

#[test]
fn dropping_the_last_sender_releases_blocked_receivers() {
    run(|| {
        let (tx, rx) = channel::<u8>();
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                spawn(move || rx.recv())
            })
            .collect();
        yield_now();
        let tx2 = tx.clone();
        drop(tx);
        yield_now();
        assert!(
            receivers.iter().all(|h| !h.is_finished()),
            "one sender is still alive"
        );
        drop(tx2);
        for h in receivers {
            assert_eq!(h.join().unwrap(), Err(RecvError));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

#[test]
fn receiver_iteration_ends_when_senders_are_gone() {
    let v = run(|| {
        let (tx, rx) = channel();
        spawn(move || (0..5).for_each(|i| tx.send(i).unwrap()));
        rx.iter().collect::<Vec<_>>()
    });
    assert_eq!(v, [0, 1, 2, 3, 4]);
}

#[test]
fn into_recv_op_owns_its_receiver() {
    use selvedge::Op;
    run(|| {
        let (tx, rx) = channel();
        let op = rx.into_recv_op();
        spawn(move || tx.send(9).unwrap());
        assert_eq!(op.perform(), Ok(9));
    });
}

#[test]
fn error_types_behave_like_std() {
    fn assert_error<E: std::error::Error + Clone + Eq>() {}
    assert_error::<SendError<Vec<u8>>>();
    assert_error::<RecvError>();
    assert_error::<TrySendError<Vec<u8>>>();
    assert_error::<TryRecvError>();
    struct NoDebug;
    let e = SendError(NoDebug);
    assert_eq!(format!("{e:?}"), "SendError { .. }");
    assert!(e.to_string().contains("receivers"));
    let copy = RecvError;
    let _also = copy;
    let _still = copy;
}

#[test]
fn channel_ends_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<selvedge::Sender<String>>();
    assert_send_sync::<selvedge::Receiver<String>>();
}
