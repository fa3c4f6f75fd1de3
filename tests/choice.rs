//! Operations and choice: exactly one commit, fairness, wrap, flattening,
//! self-match, always/never, boxed, try_perform.

use selvedge::{
    after, always, channel, choice, guard, never, run, spawn, yield_now, JoinHandle, Op, Receiver,
    Sender,
};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

#[test]
fn a_choice_commits_exactly_one_branch_and_runs_one_wrap() {
    run(|| {
        let (tx1, rx1) = channel();
        let (tx2, rx2) = channel();
        spawn(move || tx1.send(1).unwrap());
        spawn(move || tx2.send(2).unwrap());
        yield_now(); // both senders now wait
        let wraps = Cell::new(0);
        let first = rx1
            .recv_op()
            .wrap(|v| {
                wraps.set(wraps.get() + 1);
                v.unwrap()
            })
            .or(rx2.recv_op().wrap(|v| {
                wraps.set(wraps.get() + 1);
                v.unwrap()
            }))
            .perform();
        assert_eq!(wraps.get(), 1);
        // The other sender is still waiting: its value was not taken.
        let second = if first == 1 { rx2.recv() } else { rx1.recv() }.unwrap();
        assert_eq!(first + second, 3);
    });
}

#[test]
fn ready_branches_are_chosen_uniformly_even_when_nested() {
    let mut counts = [0u32; 4];
    for _ in 0..4000 {
        // Nested `or`s are flattened: all four leaves equally likely.
        let i = always(0)
            .or(always(1).or(always(2).or(always(3))))
            .perform();
        counts[i] += 1;
    }
    for c in counts {
        assert!((800..1200).contains(&c), "skewed: {counts:?}");
    }
}

/// A receive on `rx` that says which arm it is: `(arm, value)`.
fn arm(rx: &Receiver<usize>, k: usize) -> impl Op<Output = (usize, usize)> + '_ {
    rx.recv_op().wrap(move |v| (k, v.unwrap()))
}

/// A fiber that sends `v` on `tx`.
fn sender(tx: &Sender<usize>, v: usize) -> JoinHandle<()> {
    let tx = tx.clone();
    spawn(move || tx.send(v).unwrap())
}

/// Each arm of a four-way `select!` gets its own channel's value: when the
/// value waits before the choice (its leaves are tried in place, never
/// listed), when it arrives after the choice registered, and when
/// `try_perform` takes it.
#[test]
fn every_arm_of_a_four_way_choice_gets_its_own_channels_value() {
    run(|| {
        let chans: Vec<_> = (0..4).map(|_| channel::<usize>()).collect();
        let four = || {
            let arm = |k: usize| arm(&chans[k].1, k);
            arm(0).or(arm(1)).or(arm(2)).or(arm(3))
        };
        for (k, (tx, _)) in chans.iter().enumerate() {
            let s = sender(tx, 10 + k);
            yield_now(); // the sender waits on channel k
            let got = selvedge::select! {
                v = chans[0].1.recv_op() => (0, v.unwrap()),
                v = chans[1].1.recv_op() => (1, v.unwrap()),
                v = chans[2].1.recv_op() => (2, v.unwrap()),
                v = chans[3].1.recv_op() => (3, v.unwrap()),
            };
            assert_eq!(got, (k, 10 + k), "ready before the choice");
            s.join().unwrap();

            let s = sender(tx, 20 + k);
            assert_eq!(four().perform(), (k, 20 + k), "arrived after it waited");
            s.join().unwrap();

            assert_eq!(four().try_perform(), None);
            let s = sender(tx, 30 + k);
            yield_now();
            assert_eq!(four().try_perform(), Some((k, 30 + k)), "try_perform");
            s.join().unwrap();
        }
    });
}

/// The same for a two-way choice of channels, which is tried in place too
/// (it has no timer that could make it one receive with a deadline).
#[test]
fn each_arm_of_a_two_way_choice_of_channels_gets_its_own_value() {
    run(|| {
        let chans: Vec<_> = (0..2).map(|_| channel::<usize>()).collect();
        let two = || arm(&chans[0].1, 0).or(arm(&chans[1].1, 1));
        for (k, (tx, _)) in chans.iter().enumerate() {
            let s = sender(tx, 10 + k);
            yield_now(); // the sender waits on channel k
            assert_eq!(two().perform(), (k, 10 + k), "ready before the choice");
            s.join().unwrap();
            let s = sender(tx, 20 + k);
            assert_eq!(two().perform(), (k, 20 + k), "arrived after it waited");
            s.join().unwrap();
        }
    });
}

/// Branches built at perform time (`guard`) make a choice's leaf count
/// known only then; mixed with fixed branches, each winner still reaches
/// its own arm.
#[test]
fn choices_mixing_fixed_and_guarded_branches_complete_the_arm_that_won() {
    for _ in 0..50 {
        let guarded = never()
            .or(guard(|| never().or(always(7))))
            .or(never())
            .perform();
        assert_eq!(guarded, 7);
        let fixed = never().or(never()).or(always(8)).or(never()).perform();
        assert_eq!(fixed, 8);
        let first = always(1).or(guard(never)).or(never()).try_perform();
        assert_eq!(first, Some(1));
    }
}

#[test]
fn an_always_ready_branch_does_not_starve_a_ready_channel() {
    run(|| {
        let (tx, rx) = channel();
        spawn(move || while tx.send(()).is_ok() {});
        let mut from_channel = 0;
        for _ in 0..200 {
            if rx.recv_op().wrap(|_| true).or(always(false)).perform() {
                from_channel += 1;
            }
            yield_now();
        }
        assert!(
            from_channel > 40,
            "channel chosen only {from_channel}/200 times"
        );
    });
}

#[test]
fn a_choice_never_matches_against_itself() {
    run(|| {
        let (tx, rx) = channel::<u32>();
        let (tx2, rx2) = (tx.clone(), rx.clone());
        // {send c, recv c} alone must block, not pair with itself: only the
        // other fiber's send can complete it.
        let h = spawn(move || {
            tx.send_op(1)
                .wrap(|r| r.map(|()| None).unwrap())
                .or(rx.recv_op().wrap(|r| Some(r.unwrap())))
                .perform()
        });
        for _ in 0..5 {
            yield_now();
        }
        assert!(
            !h.is_finished(),
            "the choice paired its own send and receive"
        );
        tx2.send(7).unwrap_or_else(|_| panic!("send failed"));
        let got = h.join().unwrap();
        // Either it received our 7, or it sent its 1 to... nobody else
        // receives, so it must have received.
        assert_eq!(got, Some(7));
        drop(rx2);
    });
}

#[test]
fn choice_over_a_vec_of_operations() {
    run(|| {
        let chans: Vec<_> = (0..10).map(|_| channel::<usize>()).collect();
        let tx = chans[6].0.clone();
        spawn(move || tx.send(6).unwrap());
        let got = choice(chans.iter().map(|(_, rx)| rx.recv_op())).perform();
        assert_eq!(got, Ok(6));
    });
}

#[test]
fn empty_choice_and_never_block_until_another_branch() {
    run(|| {
        let none: Vec<selvedge::Never<u8>> = Vec::new();
        assert_eq!(choice(none).try_perform(), None);
        assert_eq!(never::<u8>().try_perform(), None);
        let v = never()
            .or(after(Duration::from_millis(1)).wrap(|()| 3))
            .perform();
        assert_eq!(v, 3);
    });
}

#[test]
fn try_perform_has_no_effect_when_nothing_is_ready() {
    run(|| {
        let (tx, rx) = channel::<u8>();
        let wrapped = Cell::new(false);
        assert!(rx
            .recv_op()
            .wrap(|_| wrapped.set(true))
            .try_perform()
            .is_none());
        assert!(!wrapped.get());
        let h = spawn(move || tx.send(4));
        yield_now();
        assert_eq!(rx.recv_op().try_perform(), Some(Ok(4)));
        h.join().unwrap().unwrap();
    });
}

#[test]
fn boxed_operations_of_different_shapes_share_a_vec() {
    run(|| {
        let (tx, rx) = channel::<&str>();
        spawn(move || tx.send("chan").unwrap());
        let ops: Vec<selvedge::BoxOp<'_, String>> = vec![
            rx.recv_op().wrap(|r| r.unwrap().to_string()).boxed(),
            after(Duration::from_secs(5))
                .wrap(|()| "timeout".to_string())
                .boxed(),
            never().boxed(),
        ];
        assert_eq!(choice(ops).perform(), "chan");
    });
}

#[test]
fn crossed_choices_match_on_exactly_one_channel() {
    for _ in 0..200 {
        run(|| {
            let (a_tx, a_rx) = channel::<&str>();
            let (b_tx, b_rx) = channel::<&str>();
            let left = spawn(move || {
                a_tx.send_op("a")
                    .wrap(|r| r.map(|()| "sent a").unwrap())
                    .or(b_rx.recv_op().wrap(|r| r.unwrap()))
                    .perform()
            });
            let right = spawn(move || {
                a_rx.recv_op()
                    .wrap(|r| r.unwrap())
                    .or(b_tx.send_op("b").wrap(|r| r.map(|()| "sent b").unwrap()))
                    .perform()
            });
            let (l, r) = (left.join().unwrap(), right.join().unwrap());
            assert!(
                (l, r) == ("sent a", "a") || (l, r) == ("b", "sent b"),
                "half-committed: {l} / {r}"
            );
        });
    }
}

#[test]
fn wrap_runs_in_the_performing_fiber_after_commit() {
    run(|| {
        let here = Rc::new(Cell::new(0));
        let h = here.clone();
        let (tx, rx) = channel();
        spawn(move || tx.send(1).unwrap());
        let v = rx.recv_op().wrap(move |r| {
            h.set(h.get() + 1); // an Rc: runs on this fiber's thread
            r.unwrap() * 10
        });
        assert_eq!(v.perform(), 10);
        assert_eq!(here.get(), 1);
    });
}

/// A choice that finds nothing ready, in a fiber that has just woken a
/// partner, lets the partner run before it registers: the value the
/// partner then offers is taken without the choice blocking, so the
/// partner is still inside its send when the chooser has the value.
#[test]
fn a_choice_with_nothing_ready_lets_the_partner_it_woke_run_first() {
    let log = run(|| {
        let log = Rc::new(std::cell::RefCell::new(Vec::new()));
        let (go_tx, go_rx) = channel::<()>();
        let (a_tx, a_rx) = channel::<u32>();
        let (_b_tx, b_rx) = channel::<u32>();
        let l = log.clone();
        let worker = spawn(move || {
            go_rx.recv().unwrap();
            l.borrow_mut().push("worker sends");
            a_tx.send(7).unwrap();
            l.borrow_mut().push("worker sent");
        });
        yield_now(); // the worker waits in `recv`
        go_tx.send(()).unwrap(); // and is woken into the hand-off slot
        let got = rx_either(&a_rx, &b_rx);
        log.borrow_mut().push("chooser got");
        worker.join().unwrap();
        assert_eq!(got, 7);
        log.take()
    });
    assert_eq!(log, ["worker sends", "chooser got", "worker sent"]);
}

/// The partner it let run offers nothing: the choice then registers and
/// waits as before, and a later value commits it.
#[test]
fn a_choice_whose_woken_partner_offers_nothing_still_waits() {
    let got = run(|| {
        let (go_tx, go_rx) = channel::<()>();
        let (a_tx, a_rx) = channel::<u32>();
        let (b_tx, b_rx) = channel::<u32>();
        let worker = spawn(move || {
            go_rx.recv().unwrap();
            yield_now(); // behind the chooser, which registers meanwhile
            b_tx.send(9).unwrap();
            a_tx // kept open, so `a` is never ready
        });
        yield_now();
        go_tx.send(()).unwrap();
        let got = rx_either(&a_rx, &b_rx);
        drop(worker.join().unwrap());
        got
    });
    assert_eq!(got, 9);
}

fn rx_either(a: &selvedge::Receiver<u32>, b: &selvedge::Receiver<u32>) -> u32 {
    a.recv_op()
        .wrap(Result::unwrap)
        .or(b.recv_op().wrap(Result::unwrap))
        .perform()
}

/// A choice draws the leaf to try among those that can complete: only the
/// ready ones ever win, and uniformly, for any subset of ready channels;
/// a choice whose type fixes its leaves (`or`), one whose leaves are
/// listed at perform time (`choice`), and a `select!`, which dispatches on
/// the winning arm's number.
#[test]
fn a_four_way_choice_draws_uniformly_among_its_ready_channels() {
    for form in ["or", "choice", "select!"] {
        for ready in [&[1, 3][..], &[0, 2, 3], &[2]] {
            let counts = run(move || {
                let chans: Vec<_> = (0..4).map(|_| channel::<usize>()).collect();
                for &k in ready {
                    let tx = chans[k].0.clone();
                    spawn(move || while tx.send(k).is_ok() {});
                }
                yield_now(); // every sender of `ready` now waits
                let arm = |k: usize| arm(&chans[k].1, k);
                let mut counts = [0u32; 4];
                for _ in 0..3000 * ready.len() {
                    let (k, v) = match form {
                        "choice" => choice((0..4).map(arm)).perform(),
                        "or" => arm(0).or(arm(1)).or(arm(2)).or(arm(3)).perform(),
                        _ => selvedge::select! {
                            v = chans[0].1.recv_op() => (0, v.unwrap()),
                            v = chans[1].1.recv_op() => (1, v.unwrap()),
                            v = chans[2].1.recv_op() => (2, v.unwrap()),
                            v = chans[3].1.recv_op() => (3, v.unwrap()),
                        },
                    };
                    assert_eq!(k, v, "arm {k} got channel {v}'s value");
                    counts[k] += 1;
                    yield_now(); // its sender offers again
                }
                counts
            });
            for (k, &n) in counts.iter().enumerate() {
                if ready.contains(&k) {
                    assert!(
                        n.abs_diff(3000) < 300,
                        "{form}, ready {ready:?}: {counts:?}"
                    );
                } else {
                    assert_eq!(n, 0, "channel {k} has no sender: {counts:?}");
                }
            }
        }
    }
}

/// A choice asks each leaf whether it can complete before trying any, and
/// passes over none that can: a channel with a waiting partner, or with
/// every partner gone, and a timer whose time has come; while channels
/// with neither and timers still to come leave `try_perform` empty-handed.
#[test]
fn a_choice_passes_over_no_leaf_that_can_complete() {
    run(|| {
        let (tx, rx) = channel::<u8>();
        let (closed_tx, closed_rx) = channel::<u8>();
        let (_silent_tx, silent_rx) = channel::<u8>();
        let choice = || {
            rx.recv_op()
                .wrap(|r| ('r', r))
                .or(closed_rx.recv_op().wrap(|r| ('c', r)))
                .or(silent_rx.recv_op().wrap(|r| ('s', r)))
                .or(after(Duration::from_secs(3600)).wrap(|()| ('t', Ok(0))))
        };
        assert_eq!(choice().try_perform(), None);
        let s = spawn({
            let tx = tx.clone();
            move || tx.send(7).unwrap()
        });
        yield_now();
        assert_eq!(choice().try_perform(), Some(('r', Ok(7))));
        s.join().unwrap();
        drop(closed_tx);
        assert_eq!(
            choice().try_perform(),
            Some(('c', Err(selvedge::RecvError)))
        );
        assert_eq!(choice().perform(), ('c', Err(selvedge::RecvError)));
        let now = after(Duration::ZERO).wrap(|()| 'z');
        let later = after(Duration::from_secs(3600)).wrap(|()| 'l');
        let silent = silent_rx.recv_op().wrap(|_| 's');
        assert_eq!(later.or(silent).or(now).perform(), 'z');
        drop(tx);
    });
}
