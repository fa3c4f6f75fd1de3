//! Futures as operations: polled by the performer, woken from anywhere,
//! raced in choices, dropped when they lose.

use selvedge::{after, from_future, run, spawn, Op, Runtime};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

mod support;
use support::DropCount;

/// Ready after waking itself `n` times (a future that yields).
struct YieldTimes(u32);

impl Future for YieldTimes {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.0 == 0 {
            return Poll::Ready(7);
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn a_ready_future_completes_at_once_and_may_hold_rcs() {
    run(|| {
        let rc = Rc::new(5); // not Send: polled on this fiber only
        let v = from_future(async move { *rc + 1 }).perform();
        assert_eq!(v, 6);
        assert_eq!(from_future(async { 1 }).try_perform(), Some(1));
    });
}

#[test]
fn a_future_that_wakes_itself_completes_in_fibers_and_threads() {
    run(|| {
        let other = spawn(|| from_future(YieldTimes(50)).perform());
        assert_eq!(from_future(YieldTimes(50)).perform(), 7);
        assert_eq!(other.join().unwrap(), 7);
    });
    assert_eq!(from_future(YieldTimes(50)).perform(), 7);
}

#[test]
fn tokio_oneshot_and_mpsc_work_without_a_tokio_runtime() {
    run(|| {
        let (tx, rx) = tokio::sync::oneshot::channel::<&str>();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2));
            tx.send("across threads").unwrap();
        });
        assert_eq!(from_future(rx).perform(), Ok("across threads"));

        // A fiber and a plain thread feed an async mpsc a fiber drains.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(2);
        let tx2 = tx.clone();
        spawn(move || {
            for i in 0..50 {
                from_future(tx.send(i)).perform().unwrap();
            }
        });
        std::thread::spawn(move || {
            for i in 50..100 {
                tx2.blocking_send(i).unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(v) = from_future(rx.recv()).perform() {
            got.push(v);
        }
        got.sort_unstable();
        assert!(got.into_iter().eq(0..100));
    });
}

#[test]
fn a_plain_thread_performs_a_future_woken_by_another() {
    let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2));
        tx.send(3).unwrap();
    });
    assert_eq!(from_future(rx).perform(), Ok(3));
    t.join().unwrap();
}

#[test]
fn a_losing_future_is_dropped_and_its_late_wake_is_harmless() {
    run(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
        let guard = DropCount(drops.clone());
        let got = from_future(async move {
            let _guard = guard;
            rx.await
        })
        .wrap(Some)
        .or(after(Duration::from_millis(1)).wrap(|()| None))
        .perform();
        assert_eq!(got, None);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // The receiver is gone with the future: the send fails, and the
        // fiber is not woken for it.
        assert_eq!(tx.send(1), Err(1));
        // A ready channel beats a future that never completes.
        let (ctx, crx) = selvedge::bounded(1);
        ctx.send(2).unwrap();
        let v = crx
            .recv_op()
            .wrap(Result::unwrap)
            .or(from_future(std::future::pending::<u8>()))
            .perform();
        assert_eq!(v, 2);
    });
}

#[test]
fn a_fiber_waiting_on_a_future_woken_later_is_no_deadlock() {
    let rt = Runtime::builder().threads(2).build().unwrap();
    let got = rt.run(|| {
        let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
        std::thread::spawn(move || {
            // Longer than the deadlock detector's grace period.
            std::thread::sleep(Duration::from_millis(1500));
            tx.send(9).unwrap();
        });
        from_future(rx).perform()
    });
    assert_eq!(got, Ok(9));
}

#[test]
fn a_fiber_on_one_scheduler_wakes_a_future_on_another() {
    let rt = Runtime::builder().threads(2).build().unwrap();
    let total = rt.run(|| {
        let handle = selvedge::Handle::current();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let consumer = handle.spawn(move || {
            let mut sum = 0;
            while let Some(v) = from_future(rx.recv()).perform() {
                sum += v;
            }
            sum
        });
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let tx = tx.clone();
                handle.spawn(move || {
                    for i in 0..250 {
                        tx.send(p * 250 + i).unwrap();
                        if i % 16 == 0 {
                            selvedge::yield_now();
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        producers.into_iter().for_each(|p| p.join().unwrap());
        consumer.join().unwrap()
    });
    assert_eq!(total, (0..1000).sum::<u64>());
}
