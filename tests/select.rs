//! select!: arms, bodies in the caller's context (break, continue, return, ?).

use selvedge::{after, channel, run, select, spawn, RecvError};
use std::time::Duration;

#[test]
fn select_runs_the_chosen_arm_only() {
    run(|| {
        let (tx, rx) = channel::<u32>();
        let (_tx2, rx2) = channel::<u32>();
        spawn(move || tx.send(3).unwrap());
        let mut other = 0;
        let v = select! {
            a = rx.recv_op() => a.unwrap() * 2,
            b = rx2.recv_op() => { other += 1; b.unwrap() }
            () = after(Duration::from_secs(5)) => 0,
        };
        assert_eq!(v, 6);
        assert_eq!(other, 0);
    });
}

#[test]
fn break_and_continue_act_on_the_callers_loop() {
    run(|| {
        let (tx, rx) = channel::<u32>();
        spawn(move || (1..=6).for_each(|i| tx.send(i).unwrap()));
        let mut odd = Vec::new();
        loop {
            select! {
                m = rx.recv_op() => {
                    let Ok(v) = m else { break };
                    if v % 2 == 0 {
                        continue;
                    }
                    odd.push(v);
                }
                () = after(Duration::from_secs(5)) => panic!("stalled"),
            }
        }
        assert_eq!(odd, [1, 3, 5]);
    });
}

#[test]
fn return_and_question_mark_act_on_the_callers_function() {
    fn first(rx: &selvedge::Receiver<u32>) -> Result<u32, RecvError> {
        select! {
            m = rx.recv_op() => return Ok(m? + 100),
            () = after(Duration::from_secs(5)) => {}
        }
        Ok(0)
    }
    run(|| {
        let (tx, rx) = channel();
        spawn(move || tx.send(1).unwrap());
        assert_eq!(first(&rx), Ok(101));
        assert_eq!(first(&rx), Err(RecvError)); // sender gone: `?` returns it
    });
}

#[test]
fn operation_expressions_are_all_evaluated_first_in_order() {
    let mut log = Vec::new();
    let mut note = |s: &'static str| {
        log.push(s);
        selvedge::always(s)
    };
    let v = select! {
        a = note("first") => a,
        b = note("second") => b,
    };
    assert!(v == "first" || v == "second");
    assert_eq!(log, ["first", "second"]);
}

#[test]
fn a_single_arm_and_patterns_destructure() {
    let (x, y) = select! { (a, b) = selvedge::always((1, 2)) => (a, b) };
    assert_eq!((x, y), (1, 2));
}

/// The arms that lose are dropped before the winner's body runs, as they
/// were when the arms were `or`ed: a losing `with_nack` arm's nack has
/// fired by then, so a body may wait on a server that waits for it.
#[test]
fn losing_arms_are_dropped_before_the_winning_body_runs() {
    use selvedge::{always, never, with_nack, Nack};
    use std::cell::RefCell;
    let nack: RefCell<Option<Nack>> = RefCell::new(None);
    let fired_in_body = select! {
        () = with_nack(|n| {
            *nack.borrow_mut() = Some(n);
            never::<()>()
        }) => unreachable!("never() won"),
        v = always(5) => {
            assert_eq!(v, 5);
            nack.borrow().as_ref().expect("the guard ran").is_ready()
        }
    };
    assert!(fired_in_body, "the losing arm's nack had not fired");
}

/// Each arm gets its own output when arms hold no leaf (`never`), several
/// of a count their type fixes (`or`), or a count only known when they
/// are performed (`choice`, `guard`): the winning leaf is found in its arm
/// and completed there, whichever arm and leaf it is.
#[test]
fn every_arm_gets_its_own_output_whatever_its_leaves() {
    use selvedge::{always, choice, guard, never, BoxOp, Op};
    fn maybe<T: 'static>(ready: bool, v: T) -> BoxOp<'static, T> {
        if ready {
            always(v).boxed()
        } else {
            never().boxed()
        }
    }
    run(|| {
        let (tx, rx) = channel::<u32>();
        let (tx2, rx2) = channel::<u32>();
        for winner in 0..5 {
            let s = (winner == 3).then(|| {
                let tx2 = tx2.clone();
                spawn(move || tx2.send(33).unwrap())
            });
            selvedge::yield_now(); // the sender, if any, waits
            let got = select! {
                v = never::<u8>() => format!("never {v}"),
                v = choice([maybe(false, 10), maybe(winner == 1, 11), maybe(false, 12)]) => {
                    format!("choice {v}")
                }
                v = guard(|| maybe(winner == 2, "guarded")) => format!("guard {v}"),
                v = rx.recv_op().or(rx2.recv_op()) => format!("or {}", v.unwrap()),
                () = if winner == 4 { after(Duration::ZERO) } else { after(Duration::from_secs(3600)) } => {
                    "timer".to_string()
                }
                v = maybe(winner == 0, 'x') => format!("last {v}"),
            };
            let expected = ["last x", "choice 11", "guard guarded", "or 33", "timer"][winner];
            assert_eq!(got, expected);
            if let Some(s) = s {
                s.join().unwrap();
            }
        }
        drop(tx);
    });
}

/// An arm's operation may borrow a temporary made in its own expression
/// (here a cloned `Rc`): temporaries live until the `select!` ends, as in
/// crossbeam's.
#[test]
fn an_arms_operation_may_borrow_a_temporary_of_its_expression() {
    use std::rc::Rc;
    run(|| {
        let (tx, rx) = channel::<u32>();
        let rx = Rc::new(rx);
        spawn(move || tx.send(4).unwrap());
        let got = select! {
            v = rx.clone().recv_op() => v.unwrap(),
            () = after(Duration::from_secs(5)) => 0,
        };
        assert_eq!(got, 4);
        let single = select! { v = rx.clone().recv_op() => v };
        assert_eq!(single, Err(RecvError)); // the sender is gone
    });
}

#[test]
fn a_default_arm_runs_only_when_no_arm_is_ready() {
    run(|| {
        let (tx, rx) = selvedge::bounded::<u32>(1);
        let nacked = std::rc::Rc::new(std::cell::Cell::new(false));
        let n = nacked.clone();
        let got = selvedge::select! {
            v = rx.recv_op() => Some(v),
            () = selvedge::with_nack(move |nack| {
                selvedge::spawn(move || { selvedge::Op::perform(nack); n.set(true); });
                selvedge::never::<()>()
            }) => unreachable!(),
            default => {
                // The arms are dropped before the default runs: the nack
                // has fired (its waiter runs at the next yield).
                selvedge::yield_now();
                None
            }
        };
        assert_eq!(got, None);
        assert!(nacked.get());
        tx.send(3).unwrap();
        let got = selvedge::select! {
            v = rx.recv_op() => v.ok(),
            default => None,
        };
        assert_eq!(got, Some(3));
        // Only a default: it runs.
        assert_eq!(selvedge::select! { default => 5 }, 5);
        // Control flow in a default body acts on the caller's loop.
        let mut spins = 0;
        loop {
            selvedge::select! {
                v = rx.recv_op() => panic!("nothing was sent: {v:?}"),
                default => {
                    spins += 1;
                    if spins == 3 {
                        break;
                    }
                    continue;
                }
            }
        }
        assert_eq!(spins, 3);
    });
}
