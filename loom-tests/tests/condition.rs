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
