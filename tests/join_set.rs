//! JoinSet: results as they finish, panics, cancellation, choices, drop.

use selvedge::{after, run, yield_now, Cancelled, JoinSet, Op};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

#[test]
fn results_come_as_fibers_finish_with_panics_and_then_none() {
    run(|| {
        let mut set = JoinSet::new();
        assert!(set.is_empty());
        assert!(set.join_next().is_none());
        set.spawn(|| {
            yield_now();
            yield_now();
            "late"
        });
        set.spawn(|| "early");
        set.spawn(|| panic!("boom"));
        assert_eq!(set.len(), 3);
        let mut got = Vec::new();
        while let Some(r) = set.join_next() {
            got.push(r.map_err(|p| *p.downcast::<&str>().unwrap()));
        }
        assert_eq!(got, [Ok("early"), Err("boom"), Ok("late")]);
        assert!(set.is_empty());
    });
}

#[test]
fn cancel_all_cancels_running_and_unstarted_fibers() {
    run(|| {
        let ran = Rc::new(Cell::new(0));
        let mut set = JoinSet::new();
        for _ in 0..3 {
            set.spawn(|| selvedge::sleep(Duration::from_secs(3600)));
        }
        yield_now(); // those three wait
        let r = ran.clone();
        set.spawn(move || r.set(r.get() + 1)); // not started yet
        set.cancel_all();
        let mut cancelled = 0;
        while let Some(r) = set.join_next() {
            assert!(r.unwrap_err().is::<Cancelled>());
            cancelled += 1;
        }
        assert_eq!(cancelled, 4);
        assert_eq!(ran.get(), 0);
    });
}

#[test]
fn a_losing_next_op_takes_nothing() {
    run(|| {
        let mut set = JoinSet::new();
        let (tx, rx) = selvedge::channel::<()>();
        set.spawn(move || {
            rx.recv().unwrap();
            7
        });
        let got = set
            .next_op()
            .wrap(|r| r.map(|r| r.unwrap()))
            .or(after(Duration::from_millis(1)).wrap(|()| None))
            .perform();
        assert_eq!(got, None);
        assert_eq!(set.len(), 1);
        tx.send(()).unwrap();
        assert_eq!(set.join_next().unwrap().unwrap(), 7);
    });
}

#[test]
fn dropping_the_set_detaches_its_fibers() {
    run(|| {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        let mut set = JoinSet::new();
        set.spawn(move || {
            yield_now();
            d.set(true);
        });
        drop(set);
        for _ in 0..5 {
            yield_now();
        }
        assert!(done.get(), "a detached fiber ran on");
    });
}
