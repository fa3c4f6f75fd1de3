//! A timer firing after (or while) another branch commits never resumes
//! the fiber twice: one commit, one wake, the winner recorded.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use selvedge::__loom::CountingOp;
use std::sync::atomic::Ordering;

const CHANNEL_LEAF: usize = 0;
const TIMER_LEAF: usize = 1;

#[test]
fn a_late_timer_never_resumes_the_fiber_twice() {
    selvedge_loom_tests::model(|| {
        let op = Arc::new(CountingOp::new());
        let partner = {
            let op = op.clone();
            thread::spawn(move || op.complete(CHANNEL_LEAF))
        };
        // The scheduler's timer fires on its own thread.
        let timer_won = op.complete(TIMER_LEAF);
        let partner_won = partner.join().unwrap();
        assert!(timer_won ^ partner_won, "exactly one branch commits");
        let expected = if timer_won { TIMER_LEAF } else { CHANNEL_LEAF };
        assert_eq!(op.winner(), Some(expected));
        assert_eq!(op.wakes.load(Ordering::SeqCst), 1);
    });
}
