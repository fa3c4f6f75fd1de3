//! The sleep/wake handshake: work pushed to a scheduler that is going to
//! sleep is never lost. Either the pusher notifies, or the scheduler sees
//! the work and does not sleep.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use selvedge::__loom::WakeFlags;

#[test]
fn a_push_to_a_sleeping_scheduler_always_wakes_it() {
    selvedge_loom_tests::model(|| {
        let flags = Arc::new(WakeFlags::default());
        let inbox = Arc::new(AtomicBool::new(false));
        let notified = Arc::new(AtomicBool::new(false)); // the sticky wake FD

        let pusher = {
            let (flags, inbox, notified) = (flags.clone(), inbox.clone(), notified.clone());
            thread::spawn(move || {
                inbox.store(true, Ordering::SeqCst);
                if flags.announce() {
                    notified.store(true, Ordering::SeqCst);
                }
            })
        };

        // The scheduler's side: check, maybe sleep.
        let mut handled = false;
        if flags.is_pending() {
            flags.take();
            handled = inbox.load(Ordering::SeqCst);
        }
        if handled {
            pusher.join().unwrap();
            return;
        }
        if flags.prepare_sleep() {
            // Asleep (with `sleeping` set) until notified: let the pusher
            // finish meanwhile. If it queued work, only its notify can end
            // this sleep.
            pusher.join().unwrap();
            if inbox.load(Ordering::SeqCst) {
                assert!(notified.load(Ordering::SeqCst), "lost wakeup");
            }
            flags.woke();
        } else {
            // Work was announced before we slept: we must see it.
            flags.woke();
            assert!(flags.is_pending());
            pusher.join().unwrap();
        }
    });
}
