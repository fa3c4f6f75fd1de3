//! `blocking`: calls on the pool leave their scheduler's other fibers
//! running; results, panics, choices, plain threads, limits.

use selvedge::{after, blocking, run, spawn, Op, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::DropCount;

#[test]
fn a_blocking_call_leaves_the_other_fibers_running() {
    run(|| {
        let ticks = spawn(|| {
            let mut worst = Duration::ZERO;
            for _ in 0..20 {
                let start = Instant::now();
                selvedge::sleep(Duration::from_millis(1));
                worst = worst.max(start.elapsed());
            }
            worst
        });
        let v = blocking(|| {
            std::thread::sleep(Duration::from_millis(60));
            "slept"
        })
        .perform();
        assert_eq!(v, "slept");
        // With the sleep on this thread, one tick would take 60 ms.
        assert!(ticks.join().unwrap() < Duration::from_millis(55));
    });
}

#[test]
fn a_panic_in_the_call_is_resumed_in_the_performer() {
    run(|| {
        let caught = std::panic::catch_unwind(|| blocking(|| panic!("in the pool")).perform());
        let payload = caught.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"in the pool"));
        // The pool goes on.
        assert_eq!(blocking(|| 5).perform(), 5);
    });
}

#[test]
fn try_perform_does_not_start_the_call() {
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let op = blocking(move || s.fetch_add(1, Ordering::SeqCst));
    assert_eq!(op.try_perform(), None);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(started.load(Ordering::SeqCst), 0);
}

#[test]
fn a_call_that_loses_a_choice_runs_to_completion_and_its_result_is_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let got = run(move || {
        blocking(move || {
            std::thread::sleep(Duration::from_millis(30));
            done_tx.send(()).unwrap();
            DropCount(d)
        })
        .wrap(|_| "call")
        .or(after(Duration::from_millis(1)).wrap(|()| "timer"))
        .perform()
    });
    assert_eq!(got, "timer");
    done_rx.recv().unwrap(); // the call ran on
    let deadline = Instant::now() + Duration::from_secs(5);
    while drops.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the late result was kept");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn plain_threads_use_the_process_wide_pool() {
    let threads: Vec<_> = (0..4)
        .map(|i| std::thread::spawn(move || blocking(move || i * 2).perform()))
        .collect();
    let got: Vec<i32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(got, [0, 2, 4, 6]);
}

#[test]
fn the_runtime_pool_runs_at_most_its_limit_at_once() {
    let rt = Runtime::builder().blocking_threads(2).build().unwrap();
    let most = rt.run(|| {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                spawn(move || {
                    blocking(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(10));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .perform()
                })
            })
            .collect();
        calls.into_iter().for_each(|c| c.join().unwrap());
        most.load(Ordering::SeqCst)
    });
    assert_eq!(most, 2);
    assert!(Runtime::builder().blocking_threads(0).build().is_err());
}

#[test]
fn a_fiber_waiting_on_a_long_call_is_no_deadlock() {
    let got = run(|| {
        blocking(|| {
            std::thread::sleep(Duration::from_millis(1500)); // past the grace
            7
        })
        .perform()
    });
    assert_eq!(got, 7);
}

#[test]
fn names_are_looked_up_on_the_pool() {
    run(|| {
        let addrs = selvedge::net::lookup_host("localhost:7").unwrap();
        assert!(addrs.iter().all(|a| a.port() == 7 && a.ip().is_loopback()));
        let bad = selvedge::net::lookup_host("no port here");
        assert!(bad.is_err());
        let raced = selvedge::net::lookup_host_op("127.0.0.1:9")
            .wrap(|r| r.map(|a| a.len()).ok())
            .or(after(Duration::from_secs(10)).wrap(|()| None))
            .perform();
        assert_eq!(raced, Some(1));
    });
}
