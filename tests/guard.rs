//! guard: the operation is built at perform time, each time.

use selvedge::{after, always, guard, run, Op};
use std::cell::Cell;
use std::time::{Duration, Instant};

#[test]
fn guard_runs_at_each_perform_not_at_construction() {
    let calls = Cell::new(0);
    let make = || {
        guard(|| {
            calls.set(calls.get() + 1);
            always(calls.get())
        })
    };
    let g = make();
    assert_eq!(calls.get(), 0);
    assert_eq!(g.perform(), 1);
    assert_eq!(make().perform(), 2);
}

#[test]
fn guard_is_not_run_when_dropped() {
    let calls = Cell::new(0);
    let unused = guard(|| {
        calls.set(1);
        always(())
    });
    let _ = unused;
    assert_eq!(calls.get(), 0);
}

#[test]
fn guarded_timeout_measures_from_perform_time() {
    run(|| {
        let op = guard(|| after(Duration::from_millis(30)));
        std::thread::sleep(Duration::from_millis(30)); // construction is long past
        let start = Instant::now();
        op.perform();
        assert!(start.elapsed() >= Duration::from_millis(30));
    });
}

#[test]
fn guards_inside_a_choice_all_run_once() {
    let a = Cell::new(0);
    let b = Cell::new(0);
    let v = guard(|| {
        a.set(a.get() + 1);
        always(1)
    })
    .or(guard(|| {
        b.set(b.get() + 1);
        always(2)
    }))
    .perform();
    assert!(v == 1 || v == 2);
    assert_eq!((a.get(), b.get()), (1, 1));
}
