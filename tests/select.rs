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
