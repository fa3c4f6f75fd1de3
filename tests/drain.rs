//! `Builder::drain`: `run` waits for every fiber, on every scheduler.

use selvedge::{OnDeadlock, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn run_waits_for_children_that_outlive_main_on_every_scheduler() {
    let done = Arc::new(AtomicUsize::new(0));
    let rt = Runtime::builder().threads(2).drain(true).build().unwrap();
    let d = done.clone();
    rt.run(move || {
        let handle = selvedge::Handle::current();
        for i in 0..8 {
            let d = d.clone();
            handle.spawn(move || {
                selvedge::sleep(Duration::from_millis(5 + i));
                // A grandchild, spawned after main has returned.
                let d2 = d.clone();
                selvedge::spawn(move || {
                    selvedge::yield_now();
                    d2.fetch_add(1, Ordering::SeqCst);
                });
                d.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(done.load(Ordering::SeqCst), 16);
    // The same runtime runs again, and waits again.
    let d = done.clone();
    rt.run(move || {
        selvedge::spawn(move || {
            selvedge::sleep(Duration::from_millis(2));
            d.fetch_add(1, Ordering::SeqCst);
        });
    });
    assert_eq!(done.load(Ordering::SeqCst), 17);
}

#[test]
fn without_drain_children_are_torn_down() {
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    selvedge::run(move || {
        selvedge::spawn(move || r.fetch_add(1, Ordering::SeqCst));
    });
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "a child ran after main returned"
    );
}

#[test]
fn a_child_that_can_never_finish_is_reported_as_a_deadlock() {
    let rt = Runtime::builder()
        .drain(true)
        .on_deadlock(OnDeadlock::Panic)
        .build()
        .unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.run(|| {
            let (tx, rx) = selvedge::channel::<()>();
            selvedge::fiber::Builder::new()
                .name("stuck")
                .spawn(move || {
                    let _tx = tx;
                    rx.recv()
                })
                .unwrap();
        })
    }));
    let message = r.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.contains("deadlock") && message.contains("'stuck'"),
        "{message}"
    );
}
