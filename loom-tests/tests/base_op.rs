//! A user's operation (`base_op`) completed from another thread while a
//! channel send races it in the same choice: exactly one commits, and the
//! loser's value comes back.
#![cfg(loom)]

use loom::thread;
use selvedge::{base_op, channel, unbounded, Completer, Op};

#[test]
fn a_completion_and_a_send_commit_a_choice_once() {
    selvedge_loom_tests::model(|| {
        let (tx, rx) = channel::<u32>();
        let (c_tx, c_rx) = unbounded::<Completer<u32>>();
        // No completer comes if the send wins before the operation blocks.
        let completer = thread::spawn(move || c_rx.recv().ok().map(|c| c.complete(1).err()));
        let sender = thread::spawn(move || tx.send(2).err().map(|e| e.0));
        let got = base_op(
            || None,
            move |c| {
                c_tx.send(c).unwrap();
                || {}
            },
        )
        .or(rx.recv_op().wrap(|r| r.unwrap_or(0)))
        .perform();
        // The loser: a refused completion, or a send left waiting (taken
        // now) or refused.
        let refused = completer.join().unwrap();
        let sent_back = if got == 2 {
            None
        } else {
            Some(rx.recv().unwrap())
        };
        let back = sender.join().unwrap();
        match got {
            1 => assert_eq!((refused, sent_back, back), (Some(None), Some(2), None)),
            // Refused, or never asked (the send won first).
            2 => assert!(matches!(refused, Some(Some(1)) | None) && back.is_none()),
            other => panic!("got {other}"),
        }
    });
}
