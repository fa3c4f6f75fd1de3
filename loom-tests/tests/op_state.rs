//! Parties racing to complete one perform: exactly one wins, the owner is
//! woken exactly once, and the recorded winner is the winner's leaf.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use selvedge::__loom::CountingOp;
use std::sync::atomic::Ordering;

fn race(parties: usize, bound: Option<usize>) {
    selvedge_loom_tests::model_bounded(bound, move || {
        let op = Arc::new(CountingOp::new());
        let threads: Vec<_> = (0..parties)
            .map(|leaf| {
                let op = op.clone();
                thread::spawn(move || op.complete(leaf))
            })
            .collect();
        let won: Vec<usize> = threads
            .into_iter()
            .enumerate()
            .filter_map(|(leaf, t)| t.join().unwrap().then_some(leaf))
            .collect();
        assert_eq!(won.len(), 1, "exactly one party commits");
        assert_eq!(op.winner(), Some(won[0]));
        assert_eq!(
            op.wakes.load(Ordering::SeqCst),
            1,
            "the owner is woken once"
        );
    });
}

#[test]
fn two_parties_exactly_one_commits() {
    race(2, None);
}

#[test]
fn three_parties_exactly_one_commits() {
    // Three spinning parties explode the state space above one preemption
    // (hours at bound 2); the two-party race covers deeper preemption.
    race(3, Some(1));
}
