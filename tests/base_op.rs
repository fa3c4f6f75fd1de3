//! Operations of the user's own making (`base_op`): try, block, complete
//! from anywhere, cancel when another branch wins, nothing lost.

use selvedge::{after, base_op, run, spawn, Completer, Op, Runtime};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An operation whose completer goes out on `tx`; `cancels` counts cancels.
fn handed_out<T>(tx: mpsc::Sender<Completer<T>>, cancels: Rc<Cell<u32>>) -> impl Op<Output = T> {
    base_op(
        || None,
        move |c| {
            tx.send(c).unwrap();
            move || cancels.set(cancels.get() + 1)
        },
    )
}

#[test]
fn a_ready_try_completes_without_blocking() {
    run(|| {
        let blocked = Cell::new(false);
        let v = base_op(
            || Some(5),
            |_c: Completer<i32>| {
                blocked.set(true);
                || {}
            },
        )
        .perform();
        assert_eq!(v, 5);
        assert!(!blocked.get());
    });
}

#[test]
fn a_completion_from_another_thread_wakes_the_fiber_and_cancel_is_not_called() {
    run(|| {
        let (tx, rx) = mpsc::channel();
        let cancels = Rc::new(Cell::new(0));
        let completer = std::thread::spawn(move || {
            let c: Completer<String> = rx.recv().unwrap();
            assert!(c.is_waiting());
            c.complete("from a thread".into())
        });
        let got = handed_out(tx, cancels.clone()).perform();
        assert_eq!(got, "from a thread");
        assert_eq!(completer.join().unwrap(), Ok(()));
        assert_eq!(cancels.get(), 0);
    });
}

#[test]
fn a_plain_thread_can_perform_a_base_op() {
    let (tx, rx) = mpsc::channel::<Completer<u8>>();
    let t = std::thread::spawn(move || rx.recv().unwrap().complete(9));
    let got = base_op(
        || None,
        move |c| {
            tx.send(c).unwrap();
            || {}
        },
    )
    .perform();
    assert_eq!(got, 9);
    assert_eq!(t.join().unwrap(), Ok(()));
}

#[test]
fn a_losing_base_op_is_cancelled_and_a_late_completion_gets_its_value_back() {
    run(|| {
        let (tx, rx) = mpsc::channel();
        let cancels = Rc::new(Cell::new(0));
        let got = handed_out::<u32>(tx, cancels.clone())
            .wrap(Some)
            .or(after(Duration::from_millis(1)).wrap(|()| None))
            .perform();
        assert_eq!(got, None);
        assert_eq!(cancels.get(), 1);
        let c = rx.recv().unwrap();
        assert!(!c.is_waiting());
        assert_eq!(c.complete(7), Err(7));
    });
}

#[test]
fn block_may_complete_at_once() {
    run(|| {
        let got = base_op(
            || None,
            |c| {
                assert_eq!(c.complete(3), Ok(()));
                || unreachable!("cancelled a branch that won")
            },
        )
        .or(selvedge::never())
        .perform();
        assert_eq!(got, 3);
    });
}

/// A completer on another thread races a timer, many times: either the
/// operation wins and the completion is accepted, or the timer wins and
/// the value comes back. Never both, never neither.
#[test]
fn a_completion_racing_a_timer_commits_exactly_once() {
    run(|| {
        for i in 0..200u32 {
            let (tx, rx) = mpsc::channel::<Completer<u32>>();
            let t = std::thread::spawn(move || {
                // No completer: the timer won before the operation blocked.
                let Ok(c) = rx.recv() else { return Err(i) };
                std::thread::yield_now();
                c.complete(i)
            });
            let got = base_op(
                || None,
                move |c| {
                    tx.send(c).unwrap();
                    || {}
                },
            )
            .wrap(Some)
            .or(after(Duration::from_micros(u64::from(i % 50))).wrap(|()| None))
            .perform();
            match (got, t.join().unwrap()) {
                (Some(v), Ok(())) => assert_eq!(v, i),
                (None, Err(v)) => assert_eq!(v, i),
                other => panic!("committed {other:?}"),
            }
        }
    });
}

#[test]
fn a_fiber_waiting_on_a_live_completer_is_no_deadlock() {
    let rt = Runtime::builder().build().unwrap();
    let got = rt.run(|| {
        let slot = Arc::new(Mutex::new(None));
        let s = slot.clone();
        let got = base_op(
            || None,
            move |c| {
                let s2 = s.clone();
                std::thread::spawn(move || {
                    // Longer than the detector's grace period.
                    std::thread::sleep(Duration::from_millis(1500));
                    s2.lock()
                        .unwrap()
                        .take()
                        .map(|c: Completer<u8>| c.complete(1))
                });
                *s.lock().unwrap() = Some(c);
                || {}
            },
        )
        .perform();
        drop(slot);
        got
    });
    assert_eq!(got, 1);
}

#[test]
fn a_fiber_torn_down_while_waiting_cancels_its_registration() {
    let cancels = Rc::new(Cell::new(0));
    let c2 = cancels.clone();
    let kept = run(move || {
        let (tx, rx) = mpsc::channel::<Completer<u8>>();
        spawn(move || handed_out(tx, c2).perform());
        selvedge::yield_now(); // the child blocks, then main returns
        rx.recv().unwrap()
    });
    assert_eq!(cancels.get(), 1);
    assert_eq!(kept.complete(1), Err(1));
}
