//! Timers: never early, deadline order, cancellation of losers, bounded memory.

use selvedge::{after, at, channel, run, sleep, spawn, Op, TrySendError};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

mod support;

#[test]
fn sleep_never_wakes_early() {
    run(|| {
        for ms in [1, 3, 7, 15] {
            let start = Instant::now();
            sleep(Duration::from_millis(ms));
            assert!(start.elapsed() >= Duration::from_millis(ms));
        }
    });
}

#[test]
fn fibers_wake_in_deadline_order() {
    let order = run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let hs: Vec<_> = [30u64, 10, 20, 0, 25, 5]
            .into_iter()
            .map(|ms| {
                let log = log.clone();
                spawn(move || {
                    sleep(Duration::from_millis(ms));
                    log.borrow_mut().push(ms);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let v = log.borrow().clone();
        v
    });
    assert_eq!(order, [0, 5, 10, 20, 25, 30]);
}

#[test]
fn at_a_past_instant_is_ready_at_once() {
    run(|| {
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(at(past).try_perform(), Some(()));
        assert_eq!(after(Duration::ZERO).try_perform(), Some(()));
        assert_eq!(after(Duration::from_secs(60)).try_perform(), None);
    });
}

#[test]
fn a_receive_beats_a_long_timeout_and_the_timer_is_cancelled() {
    run(|| {
        let (tx, rx) = channel();
        spawn(move || {
            for i in 0..10_000 {
                tx.send(i).unwrap();
            }
        });
        let mut sum = 0u64;
        for _ in 0..10_000 {
            sum += rx
                .recv_op()
                .wrap(|r| r.unwrap())
                .or(after(Duration::from_secs(3600)).wrap(|()| panic!("timed out")))
                .perform();
        }
        assert_eq!(sum, (0..10_000).sum());
    });
}

#[test]
fn a_timeout_beats_a_silent_channel() {
    run(|| {
        let (_tx, rx) = channel::<u8>();
        let start = Instant::now();
        let r = rx
            .recv_op()
            .wrap(|_| "message")
            .or(after(Duration::from_millis(10)).wrap(|()| "timeout"))
            .perform();
        assert_eq!(r, "timeout");
        assert!(start.elapsed() >= Duration::from_millis(10));
    });
}

/// The timer comes first in the choice, so the receive is leaf 1: the
/// sender that completes it must commit leaf 1, not the timer.
#[test]
fn a_receive_listed_after_its_timeout_wins_when_a_sender_comes() {
    run(|| {
        let (tx, rx) = channel();
        // Spawned first, run after the choice below blocks: the receive waits.
        spawn(move || tx.send(7).unwrap());
        let v = after(Duration::from_secs(3600))
            .wrap(|()| panic!("timed out"))
            .or(rx.recv_op().wrap(|r| r.unwrap()))
            .perform();
        assert_eq!(v, 7);
    });
}

/// A receive that lost to its timeout leaves no waiter in the channel: a
/// later `try_send` finds nobody, and the next receive gets the value.
fn timed_out_receive_withdraws() {
    let (tx, rx) = channel::<u32>();
    for timer_first in [false, true] {
        let recv = rx.recv_op().wrap(|_| "message");
        let timeout = after(Duration::from_millis(2)).wrap(|()| "timeout");
        let r = if timer_first {
            timeout.or(recv).perform()
        } else {
            recv.or(timeout).perform()
        };
        assert_eq!(r, "timeout");
        assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
    }
    let tx2 = tx.clone();
    let sender = std::thread::spawn(move || tx2.send(9).unwrap());
    assert_eq!(rx.recv(), Ok(9));
    sender.join().unwrap();
}

#[test]
fn a_timed_out_receive_leaves_no_waiter_behind_in_a_fiber() {
    run(timed_out_receive_withdraws);
}

#[test]
fn a_timed_out_receive_leaves_no_waiter_behind_on_a_thread() {
    timed_out_receive_withdraws();
}

#[test]
fn the_earliest_of_several_timers_in_one_choice_wins() {
    run(|| {
        let v = after(Duration::from_millis(30))
            .wrap(|()| 30)
            .or(after(Duration::from_millis(5)).wrap(|()| 5))
            .or(after(Duration::from_millis(15)).wrap(|()| 15))
            .perform();
        assert_eq!(v, 5);
    });
}

#[test]
fn timers_work_outside_any_runtime() {
    let start = Instant::now();
    sleep(Duration::from_millis(5));
    assert!(start.elapsed() >= Duration::from_millis(5));
}

/// Regression: a fiber whose deadline had already passed when it first ran
/// took the fast path and finished before an earlier-deadline sleeper whose
/// timer had not been fired yet.
#[test]
fn an_already_expired_deadline_does_not_overtake_an_earlier_pending_one() {
    let log = run(|| {
        let start = Instant::now();
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let a = spawn(move || {
            at(start + Duration::from_millis(5)).perform();
            l.borrow_mut().push("a@5ms");
        });
        selvedge::yield_now(); // `a` arms its timer
        std::thread::sleep(Duration::from_millis(20)); // scheduler blocked past both deadlines
        let l = log.clone();
        let b = spawn(move || {
            at(start + Duration::from_millis(10)).perform();
            l.borrow_mut().push("b@10ms");
        });
        b.join().unwrap();
        a.join().unwrap();
        let v = log.borrow().clone();
        v
    });
    assert_eq!(log, ["a@5ms", "b@10ms"]);
}

/// Regression: a fiber whose deadline had passed when its perform began,
/// while an earlier one still waited in the heap, yielded behind the
/// earlier one; a yielded fiber runs after woken ones, so a later deadline
/// that passed while it waited overtook it. Seen under qemu, where fibers
/// start slowly; here other fibers keep the scheduler busy until `a`'s
/// deadline has passed and the loop's periodic timer check fires it.
#[test]
fn an_expired_deadline_is_not_overtaken_by_a_later_one_due_while_it_waits() {
    let log = support::in_time_windows(late_deadline_among_waiters);
    assert_eq!(log, ["c@10", "b@15", "a@30"]);
}

/// The wake order of `c` waiting for 10 units, `a` for 30, and `b`, which
/// begins at 20 to wait for 15; `None` if a perform began outside its
/// window (`c` or `a` after its deadline, `b` after `a`'s).
fn late_deadline_among_waiters(unit: Duration) -> Option<Vec<&'static str>> {
    run(move || {
        let start = Instant::now();
        let t = move |n| start + unit * n;
        let log = Rc::new(RefCell::new(Vec::new()));
        let in_window = Rc::new(Cell::new(true));
        // Begins at `begin` (or when first run, if later), before `by`.
        let waiter = |begin: u32, by: u32, deadline: u32, name: &'static str| {
            let (log, in_window) = (log.clone(), in_window.clone());
            spawn(move || {
                support::spin_until(t(begin));
                in_window.set(in_window.get() && Instant::now() < t(by));
                at(t(deadline)).perform();
                log.borrow_mut().push(name);
            })
        };
        let c = waiter(0, 10, 10, "c@10");
        let a = waiter(0, 30, 30, "a@30");
        selvedge::yield_now(); // `c` and `a` arm their timers
        let b = waiter(20, 30, 15, "b@15");
        // Run once `b` waits, in spawn order: `d` keeps the loop busy past
        // `a`'s deadline, then more fibers than the loop runs between
        // timer checks end one by one.
        let d = spawn(move || support::spin_until(t(40)));
        // Twice the most runs the loop makes between timer checks (61).
        let fillers: Vec<_> = (0..122).map(|_| spawn(|| {})).collect();
        for h in [b, d, c, a].into_iter().chain(fillers) {
            h.join().unwrap();
        }
        let v = log.borrow().clone();
        in_window.get().then_some(v)
    })
}

/// Many timers due in one scheduler pass wake in deadline order (timer wakes
/// go to the ready FIFO, never the hand-off slot a fairness pick overtakes).
/// The guarantee binds performs that were waiting: a fiber the OS kept from
/// starting until after a later deadline passed has no claim to go first.
#[test]
fn timers_due_together_wake_in_deadline_order() {
    let log = run(|| {
        let start = Instant::now();
        let log = Rc::new(RefCell::new(Vec::new()));
        let hs: Vec<_> = (0..40u64)
            .rev()
            .map(|ms| {
                let log = log.clone();
                spawn(move || {
                    let deadline = start + Duration::from_millis(50 + ms / 4);
                    let began = Instant::now();
                    at(deadline).perform();
                    log.borrow_mut().push((deadline, began));
                })
            })
            .collect();
        selvedge::yield_now(); // every fiber arms its timer
        std::thread::sleep(Duration::from_millis(70)); // all become due at once
        hs.into_iter().for_each(|h| h.join().unwrap());
        let v = log.borrow().clone();
        v
    });
    for (i, &(deadline_a, _)) in log.iter().enumerate() {
        for &(deadline_b, began_b) in &log[i + 1..] {
            assert!(
                deadline_b >= deadline_a || began_b >= deadline_a,
                "a fiber waiting for an earlier deadline woke later"
            );
        }
    }
}

/// A receive whose timer fired stays queued on its channel until its fiber
/// runs and withdraws it. A sender that runs first, in the same pass, must
/// find it committed and keep its value, not hand it over to be lost: only
/// an untimed plain perform is claimed without the compare-and-swap. (With
/// the timed receive claimed that way too, this fails.)
#[test]
fn a_send_meeting_a_receive_its_timer_committed_keeps_the_value() {
    support::in_time_windows(|unit| {
        run(move || {
            let start = Instant::now();
            let in_window = Rc::new(Cell::new(true));
            let (tx, rx) = channel::<u32>();
            let w = in_window.clone();
            let receiver = spawn(move || {
                w.set(w.get() && Instant::now() < start + unit * 10);
                let got = rx
                    .recv_op()
                    .wrap(|r| Some(r.unwrap()))
                    .or(at(start + unit * 10).wrap(|()| None))
                    .perform();
                (got, rx)
            });
            let (w, slept) = (in_window.clone(), Rc::new(Cell::new(false)));
            let main_slept = slept.clone();
            let sender = spawn(move || {
                at(start + unit * 5).perform();
                // Its timer must fire in the pass after main's sleep, with
                // the receiver's: not at once (its perform began after the
                // deadline, which a check of the clock before the perform
                // can miss) nor in an earlier timer check.
                w.set(w.get() && slept.get());
                tx.send(7)
            });
            selvedge::yield_now(); // both arm their timers
            std::thread::sleep(unit * 20); // both due at once, the sender's first
            main_slept.set(true);
            let (got, rx) = receiver.join().unwrap();
            if !in_window.get() {
                return None; // a timer fired alone: no race
            }
            assert_eq!(got, None, "the receive's timer won");
            assert_eq!(rx.recv(), Ok(7), "the value waits in the sender");
            assert_eq!(sender.join().unwrap(), Ok(()));
            Some(())
        })
    });
}
