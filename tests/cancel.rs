//! Cancellation: a fiber unwinds from where it waits, withdrawing its
//! operation; nothing uncommitted happens, nothing committed is undone.

use selvedge::{after, channel, io, run, spawn, yield_now, Cancelled, Op, Runtime};
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

fn cancelled<T: std::fmt::Debug>(r: std::thread::Result<T>) -> bool {
    r.unwrap_err().downcast_ref::<Cancelled>().is_some()
}

/// Sets its flag when dropped.
struct SetOnDrop(Rc<Cell<bool>>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn a_fiber_blocked_in_send_unwinds_and_its_value_is_not_sent() {
    run(|| {
        let (tx, rx) = channel::<SetOnDrop>();
        let dropped = Rc::new(Cell::new(false));
        let d = dropped.clone();
        let guard_ran = Rc::new(Cell::new(false));
        let g = guard_ran.clone();
        let sender = spawn(move || {
            let _guard = SetOnDrop(g);
            tx.send(SetOnDrop(d)).map_err(|_| ())
        });
        yield_now();
        sender.cancel();
        assert!(cancelled(sender.join()));
        assert!(guard_ran.get(), "destructors ran");
        assert!(dropped.get(), "the value was dropped with the unwound send");
        assert!(rx.try_recv().is_err());
    });
}

#[test]
fn a_cancelled_receiver_withdraws_so_the_value_goes_to_another() {
    run(|| {
        let (tx, rx) = channel::<u32>();
        let (rx1, rx2) = (rx.clone(), rx);
        let first = spawn(move || rx1.recv());
        yield_now(); // `first` waits first
        first.cancel();
        assert!(cancelled(first.join()));
        let second = spawn(move || rx2.recv());
        tx.send(7).unwrap();
        assert_eq!(second.join().unwrap(), Ok(7));
    });
}

#[test]
fn choices_sleeps_joins_and_readiness_are_cancelled() {
    run(|| {
        let (_a_tx, a) = channel::<u8>();
        let (_b_tx, b) = channel::<u8>();
        let chooser = spawn(move || a.recv_op().or(b.recv_op()).perform());
        let sleeper = spawn(|| selvedge::sleep(Duration::from_secs(3600)));
        let (_keep, forever) = channel::<u8>();
        let blocked = spawn(move || forever.recv());
        let (x, _y) = std::os::unix::net::UnixStream::pair().unwrap();
        let reader = spawn(move || io::readable(&x).perform());
        yield_now();
        let mut blocked = blocked;
        let joiner = spawn(move || {
            let r = blocked.join_op().perform();
            (r.is_ok(), blocked)
        });
        yield_now();
        let start = Instant::now();
        chooser.cancel();
        sleeper.cancel();
        reader.cancel();
        joiner.cancel();
        assert!(cancelled(chooser.join()));
        assert!(cancelled(sleeper.join()));
        assert!(cancelled(reader.join()));
        assert!(cancelled(joiner.join()));
        assert!(start.elapsed() < Duration::from_secs(60));
    });
}

#[test]
fn a_fiber_cancelled_before_it_starts_never_runs() {
    run(|| {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let h = spawn(move || r.set(true));
        h.cancel();
        assert!(cancelled(h.join()));
        assert!(!ran.get());
    });
}

#[test]
fn a_finished_fiber_keeps_its_result() {
    run(|| {
        let h = spawn(|| 5);
        yield_now();
        assert!(h.is_finished());
        h.cancel();
        h.cancel();
        assert_eq!(h.join().unwrap(), 5);
    });
}

#[test]
fn a_committed_receive_stays_committed() {
    run(|| {
        let (tx, rx) = channel::<u32>();
        let receiver = spawn(move || rx.recv());
        yield_now(); // it waits
                     // The send commits the receive and wakes the receiver, which has
                     // not run yet when the cancel comes.
        tx.send(1).unwrap();
        receiver.cancel();
        let r = receiver.join();
        // Either it ran first and returned the value, or it unwound
        // with the value; the send is done either way.
        match r {
            Ok(v) => assert_eq!(v, Ok(1)),
            Err(p) => assert!(p.is::<Cancelled>()),
        }
    });
}

#[test]
fn a_fiber_on_another_scheduler_is_cancelled_from_a_plain_thread() {
    let rt = Runtime::builder().threads(2).build().unwrap();
    rt.run(|| {
        let handle = selvedge::Handle::current();
        let fibers: Vec<_> = (0..4)
            .map(|_| handle.spawn(|| selvedge::sleep(Duration::from_secs(3600))))
            .collect();
        yield_now();
        let (done_tx, done_rx) = channel();
        let canceller = std::thread::spawn(move || {
            for f in &fibers {
                f.cancel();
            }
            let all = fibers
                .into_iter()
                .all(|f| f.join().unwrap_err().is::<Cancelled>());
            done_tx.send(all).unwrap();
        });
        assert_eq!(done_rx.recv(), Ok(true));
        canceller.join().unwrap();
    });
}

#[test]
fn cancelling_twice_while_a_destructor_waits_does_not_abort() {
    run(|| {
        let (tx, rx) = channel::<()>();
        struct WaitsOnDrop(selvedge::Receiver<()>);
        impl Drop for WaitsOnDrop {
            fn drop(&mut self) {
                let _ = self.0.recv(); // suspends while unwinding
            }
        }
        let h = spawn(move || {
            let _w = WaitsOnDrop(rx);
            selvedge::sleep(Duration::from_secs(3600));
        });
        yield_now();
        h.cancel();
        yield_now(); // it unwinds into the destructor and waits there
        h.cancel(); // ignored: it is unwinding already
        yield_now();
        assert!(!h.is_finished());
        tx.send(()).unwrap();
        assert!(cancelled(h.join()));
    });
}

#[test]
fn a_cancel_that_loses_to_a_timer_race_is_still_one_outcome() {
    // A fiber racing a receive against a short timer, cancelled meanwhile:
    // it ends exactly one way.
    run(|| {
        for _ in 0..50 {
            let (_tx, rx) = channel::<u8>();
            let h = spawn(move || {
                rx.recv_op()
                    .wrap(|_| "recv")
                    .or(after(Duration::from_micros(50)).wrap(|()| "timer"))
                    .perform()
            });
            yield_now();
            h.cancel();
            match h.join() {
                Ok(v) => assert_eq!(v, "timer"),
                Err(p) => assert!(p.is::<Cancelled>()),
            }
        }
    });
}
