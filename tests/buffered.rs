//! Buffered channels: `bounded(n)` and `unbounded()`, their queries, order,
//! disconnection, choices, timeouts, plain threads and several schedulers.

use selvedge::{
    after, bounded, channel, choice, run, spawn, unbounded, yield_now, Op, RecvError,
    RecvTimeoutError, Runtime, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::DropCount;

#[test]
fn a_bounded_channel_takes_sends_until_full_then_waits() {
    run(|| {
        let (tx, rx) = bounded(3);
        assert_eq!((tx.len(), tx.capacity()), (0, Some(3)));
        assert!(tx.is_empty() && !tx.is_full());
        for i in 0..3 {
            tx.send(i).unwrap(); // no receiver: the buffer takes it
        }
        assert_eq!((rx.len(), rx.is_full(), rx.is_empty()), (3, true, false));
        assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));

        let sent = Rc::new(Cell::new(false));
        let s = sent.clone();
        let blocked = spawn(move || {
            tx.send(3).unwrap();
            s.set(true);
        });
        for _ in 0..10 {
            yield_now();
        }
        assert!(!sent.get(), "a send to a full channel did not wait");
        assert_eq!(rx.recv(), Ok(0)); // makes room: the waiting send refills
        assert_eq!(rx.len(), 3);
        blocked.join().unwrap();
        assert!(sent.get());
        let rest: Vec<i32> = rx.iter().collect();
        assert_eq!(rest, [1, 2, 3]);
    });
}

#[test]
fn zero_capacity_is_the_rendezvous_empty_and_full_at_once() {
    let (tx, rx) = bounded::<u8>(0);
    let (ctx, crx) = channel::<u8>();
    for (len, cap, empty, full) in [
        (tx.len(), tx.capacity(), tx.is_empty(), tx.is_full()),
        (rx.len(), rx.capacity(), rx.is_empty(), rx.is_full()),
        (ctx.len(), ctx.capacity(), ctx.is_empty(), ctx.is_full()),
        (crx.len(), crx.capacity(), crx.is_empty(), crx.is_full()),
    ] {
        assert_eq!((len, cap, empty, full), (0, Some(0), true, true));
    }
    assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn an_unbounded_channel_never_waits_and_keeps_order() {
    run(|| {
        let (tx, rx) = unbounded();
        for i in 0..5000 {
            tx.send(i).unwrap();
        }
        assert_eq!((rx.len(), rx.capacity(), rx.is_full()), (5000, None, false));
        assert_eq!(tx.try_send(5000), Ok(()));
        drop(tx);
        assert!(rx.iter().eq(0..=5000));
    });
}

#[test]
fn receivers_drain_the_buffer_before_they_see_disconnection() {
    let (tx, rx) = bounded(4);
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.recv(), Ok(2));
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn values_buffered_when_the_last_receiver_drops_are_dropped_then() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = unbounded();
    for _ in 0..3 {
        tx.send(DropCount(drops.clone())).unwrap();
    }
    let rx2 = rx.clone();
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "a receiver is left");
    drop(rx2);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    assert!(tx.is_empty());
    // A send now hands its value back (and it is not dropped meanwhile).
    let Err(SendError(back)) = tx.send(DropCount(drops.clone())) else {
        panic!("a send with no receivers succeeded");
    };
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    drop(back);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

/// A buffered value whose drop uses the same channel: dropped after the
/// channel's lock is released, so this returns.
#[test]
fn a_buffered_value_may_use_its_channel_as_it_drops() {
    struct SendsOnDrop(Option<selvedge::Sender<SendsOnDrop>>);
    impl Drop for SendsOnDrop {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                // Takes the channel's lock: this drop runs outside it.
                assert!(tx.try_send(SendsOnDrop(None)).is_err());
            }
        }
    }
    let (tx, rx) = unbounded::<SendsOnDrop>();
    tx.send(SendsOnDrop(Some(tx.clone()))).unwrap();
    drop(rx);
    drop(tx);
}

#[test]
fn a_sender_waiting_on_a_full_channel_gets_its_value_back_when_receivers_go() {
    run(|| {
        let (tx, rx) = bounded(1);
        tx.send(1).unwrap();
        let waiting = spawn(move || tx.send(2));
        yield_now();
        drop(rx);
        assert_eq!(waiting.join().unwrap(), Err(SendError(2)));
    });
}

#[test]
fn a_waiting_receiver_gets_the_value_straight_from_a_send() {
    run(|| {
        let (tx, rx) = bounded(2);
        let r = spawn(move || rx.recv());
        yield_now(); // the receiver waits on an empty buffer
        tx.send(5).unwrap();
        assert!(tx.is_empty(), "the value went through the buffer");
        assert_eq!(r.join().unwrap(), Ok(5));
    });
}

#[test]
fn buffered_operations_complete_in_choices() {
    run(|| {
        let (a_tx, a_rx) = bounded::<u32>(1);
        let (b_tx, b_rx) = bounded::<u32>(1);
        // Both have room: exactly one send commits.
        let which = choice(vec![
            a_tx.send_op(1).wrap(|r| r.map(|()| 'a')).boxed(),
            b_tx.send_op(2).wrap(|r| r.map(|()| 'b')).boxed(),
        ])
        .perform()
        .unwrap();
        assert_eq!(a_rx.len() + b_rx.len(), 1);
        // The value that went in comes out through a receive choice.
        let got = a_rx.recv_op().or(b_rx.recv_op()).perform().unwrap();
        assert_eq!(got, if which == 'a' { 1 } else { 2 });
        // A full channel's send loses to a timer.
        a_tx.send(3).unwrap();
        let sent = a_tx
            .send_op(4)
            .wrap(|_| true)
            .or(after(Duration::from_millis(1)).wrap(|()| false))
            .perform();
        assert!(!sent);
        assert_eq!(a_rx.try_recv(), Ok(3));
        assert_eq!(a_rx.try_recv(), Err(TryRecvError::Empty));
    });
}

/// Many fibers pick between two small buffered channels at random; every
/// value sent arrives exactly once, and in order on each channel.
#[test]
fn values_are_conserved_and_ordered_under_choices() {
    const SENDERS: u32 = 6;
    const EACH: u32 = 200;
    let got = run(|| {
        let (a_tx, a_rx) = bounded::<(u32, u32)>(2);
        let (b_tx, b_rx) = bounded::<(u32, u32)>(3);
        for s in 0..SENDERS {
            let (a, b) = (a_tx.clone(), b_tx.clone());
            spawn(move || {
                for i in 0..EACH {
                    a.send_op((s, i)).or(b.send_op((s, i))).perform().unwrap();
                }
            });
        }
        drop((a_tx, b_tx));
        let mut got = Vec::new();
        // Per channel, a sender's values arrive in the order it sent them.
        let mut last = vec![[None; 2]; SENDERS as usize];
        loop {
            let next = a_rx
                .recv_op()
                .wrap(|r| r.map(|v| (0, v)))
                .or(b_rx.recv_op().wrap(|r| r.map(|v| (1, v))))
                .perform();
            let Ok((c, (s, i))) = next else {
                // One side is drained and disconnected: take the other.
                got.extend(a_rx.iter().chain(b_rx.iter()));
                break;
            };
            assert!(last[s as usize][c] < Some(i));
            last[s as usize][c] = Some(i);
            got.push((s, i));
        }
        got
    });
    let mut got = got;
    got.sort_unstable();
    let want: Vec<_> = (0..SENDERS)
        .flat_map(|s| (0..EACH).map(move |i| (s, i)))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn plain_threads_and_schedulers_share_a_bounded_channel() {
    const PER: u64 = 2000;
    let rt = Runtime::builder().threads(2).build().unwrap();
    let total = rt.run(|| {
        let (tx, rx) = bounded::<u64>(4);
        let (done_tx, done_rx) = unbounded::<u64>();
        let handle = selvedge::Handle::current();
        // Two fiber consumers spread over the schedulers, one plain thread.
        for _ in 0..2 {
            let (rx, done) = (rx.clone(), done_tx.clone());
            handle.spawn(move || done.send(rx.iter().sum()).unwrap());
        }
        let (rx_t, done_t) = (rx.clone(), done_tx.clone());
        let consumer = std::thread::spawn(move || done_t.send(rx_t.iter().sum()).unwrap());
        drop((rx, done_tx));
        // Producers: a fiber here and a plain thread.
        let tx_t = tx.clone();
        let producer = std::thread::spawn(move || {
            for i in 0..PER {
                tx_t.send(i).unwrap();
            }
        });
        for i in PER..2 * PER {
            tx.send(i).unwrap();
        }
        drop(tx);
        // Joined once every consumer is done (so the thread is done
        // sending): a blocking join would hold this scheduler's thread.
        let sum: u64 = done_rx.iter().sum();
        producer.join().unwrap();
        consumer.join().unwrap();
        sum
    });
    assert_eq!(total, (0..2 * PER).sum::<u64>());
}

#[test]
fn timeouts_try_first_then_wait_then_report_which_way_they_failed() {
    run(|| {
        let (tx, rx) = bounded(1);
        let past = Instant::now() - Duration::from_secs(1);
        // Room and a value win even against a deadline already past.
        assert_eq!(tx.send_deadline(1, past), Ok(()));
        assert_eq!(rx.recv_deadline(past), Ok(1));
        assert_eq!(rx.recv_deadline(past), Err(RecvTimeoutError::Timeout));
        tx.send(2).unwrap();
        let start = Instant::now();
        assert_eq!(
            tx.send_timeout(3, Duration::from_millis(20)),
            Err(SendTimeoutError::Timeout(3)),
            "the value comes back when the deadline wins"
        );
        assert!(start.elapsed() >= Duration::from_millis(20));
        // A receiver that comes in time takes the waiting value.
        let rx2 = rx.clone();
        let taker = spawn(move || {
            selvedge::sleep(Duration::from_millis(5));
            (rx2.recv(), rx2.recv())
        });
        assert_eq!(tx.send_timeout(4, Duration::from_secs(10)), Ok(()));
        assert_eq!(taker.join().unwrap(), (Ok(2), Ok(4)));
        drop(rx);
        assert_eq!(
            tx.send_timeout(5, Duration::from_secs(10)),
            Err(SendTimeoutError::Disconnected(5))
        );
        drop(tx);
    });
    let (tx, rx) = bounded::<u8>(1);
    drop(tx);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)),
        Err(RecvTimeoutError::Disconnected)
    );
}

#[test]
fn timeout_errors_have_the_traits_of_the_others() {
    fn traits<E: std::error::Error + Clone + PartialEq + Eq + Send + Sync + 'static>() {}
    #[derive(Clone, PartialEq, Eq)]
    struct NoDebug(u8);
    traits::<SendTimeoutError<NoDebug>>();
    traits::<RecvTimeoutError>();
    let copy: RecvTimeoutError = RecvTimeoutError::Timeout;
    let _also = copy;
    assert_eq!(format!("{copy:?}"), "Timeout");
    let e = SendTimeoutError::Timeout(NoDebug(1)); // no Debug needed
    assert_eq!(format!("{e:?}"), "Timeout(..)");
    assert!(e.is_timeout() && !e.is_disconnected());
    assert_eq!(e.into_inner().0, 1);
    assert!(RecvTimeoutError::Disconnected
        .to_string()
        .contains("senders"));
}
