//! Conditions: one-shot broadcast, wait_op in choices, across threads.

use selvedge::{after, run, spawn, yield_now, Condition, Op};
use std::time::Duration;

#[test]
fn signal_wakes_every_waiter_and_reports_only_the_first_call() {
    run(|| {
        let c = Condition::new();
        let waiters: Vec<_> = (0..5)
            .map(|i| {
                let c = c.clone();
                spawn(move || {
                    c.wait();
                    i
                })
            })
            .collect();
        yield_now();
        assert!(waiters.iter().all(|h| !h.is_finished()));
        assert!(!c.is_signaled());
        assert!(c.signal());
        assert!(!c.signal());
        assert!(c.is_signaled());
        let sum: i32 = waiters.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 10);
    });
}

#[test]
fn waiting_on_a_signaled_condition_returns_at_once() {
    let c = Condition::new();
    c.signal();
    c.wait(); // outside a runtime: must not block
    assert_eq!(c.wait_op().try_perform(), Some(()));
}

#[test]
fn wait_op_loses_to_a_timeout_then_wins_later() {
    run(|| {
        let c = Condition::new();
        let r = c
            .wait_op()
            .wrap(|()| "signaled")
            .or(after(Duration::from_millis(2)).wrap(|()| "timeout"))
            .perform();
        assert_eq!(r, "timeout");
        let c2 = c.clone();
        spawn(move || c2.signal());
        let r = c
            .wait_op()
            .wrap(|()| "signaled")
            .or(after(Duration::from_secs(60)).wrap(|()| "timeout"))
            .perform();
        assert_eq!(r, "signaled");
    });
}

#[test]
fn a_thread_signals_fibers_and_fibers_signal_a_thread() {
    let to_fibers = Condition::new();
    let to_thread = Condition::new();
    let (a, b) = (to_fibers.clone(), to_thread.clone());
    let t = std::thread::spawn(move || {
        a.signal();
        b.wait();
        "thread woke"
    });
    run(|| {
        to_fibers.wait();
        to_thread.signal();
    });
    assert_eq!(t.join().unwrap(), "thread woke");
}

#[test]
fn condition_is_send_sync_and_default() {
    fn assert_send_sync<T: Send + Sync + Default + Clone>() {}
    assert_send_sync::<Condition>();
}
