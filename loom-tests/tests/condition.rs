//! A signal racing with a wait: the waiter always returns.
#![cfg(loom)]

use loom::thread;
use selvedge::Condition;

#[test]
fn signal_racing_with_wait_always_releases_the_waiter() {
    selvedge_loom_tests::model(|| {
        let c = Condition::new();
        let c2 = c.clone();
        let signaller = thread::spawn(move || c2.signal());
        c.wait();
        assert!(c.is_signaled());
        assert!(signaller.join().unwrap(), "the only signal is the first");
    });
}

/// Two waiters, so one is listed behind the other: `fire` commits and
/// wakes both under the signal's lock; neither may be lost. (The signaller
/// is the thread that joins: loom would count a late unpark of a thread
/// blocked in `join` as a spurious wake of the join.)
#[test]
fn a_signal_releases_every_waiter() {
    // Three threads whose spin waits are each a branch: one preemption
    // explores in a second, two run for over ten minutes. With `fire` waking
    // only the first listed waiter, this model deadlocks at once.
    selvedge_loom_tests::model_bounded(Some(1), || {
        let c = Condition::new();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let c = c.clone();
                thread::spawn(move || {
                    c.wait();
                    assert!(c.is_signaled());
                })
            })
            .collect();
        // Yields are not preemptions: they let the bounded search reach the
        // schedules where both waiters are listed before the signal.
        thread::yield_now();
        thread::yield_now();
        assert!(c.signal(), "the only signal is the first");
        for w in waiters {
            w.join().unwrap();
        }
    });
}
