//! IVar and MVar: CML's synchronous variables, from fibers, in choices,
//! from plain threads and across schedulers.

use selvedge::{after, run, spawn, yield_now, IVar, MVar, Op, Runtime};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

#[test]
fn sync_vars_are_send_sync_clone_and_default() {
    fn traits<T: Send + Sync + Clone + Default + std::fmt::Debug>() {}
    traits::<IVar<String>>();
    traits::<MVar<String>>();
    assert_eq!(format!("{:?}", IVar::<u8>::new()), "IVar { filled: false }");
    assert_eq!(format!("{:?}", MVar::<u8>::new()), "MVar { full: false }");
}

#[test]
fn every_ivar_reader_gets_the_first_value_before_and_after_it_is_put() {
    run(|| {
        let v = IVar::new();
        assert_eq!(v.try_read(), None);
        let early: Vec<_> = (0..4)
            .map(|_| {
                let v = v.clone();
                spawn(move || v.read())
            })
            .collect();
        yield_now();
        assert_eq!(v.put(String::from("first")), Ok(()));
        assert_eq!(v.put(String::from("second")), Err(String::from("second")));
        for r in early {
            assert_eq!(r.join().unwrap(), "first");
        }
        assert_eq!(v.read(), "first");
        assert_eq!(v.try_read().as_deref(), Some("first"));
    });
}

#[test]
fn an_ivar_read_loses_to_a_timer_then_wins_in_a_choice() {
    run(|| {
        let v = IVar::new();
        let got = v
            .read_op()
            .wrap(Some)
            .or(after(Duration::from_millis(1)).wrap(|()| None))
            .perform();
        assert_eq!(got, None);
        let w = v.clone();
        spawn(move || w.put(5).unwrap());
        let got = v
            .read_op()
            .wrap(Some)
            .or(after(Duration::from_secs(10)).wrap(|()| None))
            .perform();
        assert_eq!(got, Some(5));
    });
}

#[test]
fn plain_threads_and_schedulers_wait_on_one_ivar() {
    let rt = Runtime::builder().threads(2).build().unwrap();
    let v = IVar::new();
    let thread_reader = {
        let v = v.clone();
        std::thread::spawn(move || v.read())
    };
    let sum = rt.run(|| {
        let handle = selvedge::Handle::current();
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let v = v.clone();
                handle.spawn(move || v.read())
            })
            .collect();
        let w = v.clone();
        std::thread::spawn(move || w.put(3u64).unwrap());
        readers.into_iter().map(|r| r.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, 12);
    assert_eq!(thread_reader.join().unwrap(), 3);
}

#[test]
fn an_mvar_alternates_puts_and_takes() {
    run(|| {
        let m = MVar::new();
        assert_eq!(m.try_take(), None);
        m.put(1);
        assert!(m.is_full());
        assert_eq!(m.try_put(2), Err(2));
        let done = Rc::new(Cell::new(false));
        let (m2, d) = (m.clone(), done.clone());
        let putter = spawn(move || {
            m2.put(2); // waits: full
            d.set(true);
        });
        for _ in 0..5 {
            yield_now();
        }
        assert!(!done.get(), "a put to a full MVar did not wait");
        assert_eq!(m.take(), 1);
        putter.join().unwrap();
        assert_eq!(m.take(), 2);
        assert_eq!(m.try_put(3), Ok(()));
        assert_eq!(m.try_take(), Some(3));
    });
}

#[test]
fn mvar_operations_wait_in_choices() {
    run(|| {
        let (a, b) = (MVar::new(), MVar::new());
        b.put('b');
        // Only b is full: the take of b wins.
        let got = a.take_op().or(b.take_op()).perform();
        assert_eq!(got, 'b');
        // Both empty: exactly one put commits.
        a.put_op('x').or(b.put_op('y')).perform();
        assert_eq!(a.is_full() as u8 + b.is_full() as u8, 1);
        // A take of an empty MVar loses to a timer.
        let c = MVar::<u8>::new();
        let got = c
            .take_op()
            .wrap(Some)
            .or(after(Duration::from_millis(1)).wrap(|()| None))
            .perform();
        assert_eq!(got, None);
    });
}

/// Fibers on two schedulers and a plain thread pass numbers through one
/// MVar: every value arrives exactly once.
#[test]
fn values_through_an_mvar_are_conserved_across_threads() {
    const PER: u64 = 500;
    let rt = Runtime::builder().threads(2).build().unwrap();
    let mut got = rt.run(|| {
        let m = MVar::new();
        let handle = selvedge::Handle::current();
        let putters: Vec<_> = (0..2)
            .map(|p| {
                let m = m.clone();
                handle.spawn(move || (0..PER).for_each(|i| m.put(p * PER + i)))
            })
            .collect();
        let mt = m.clone();
        let thread = std::thread::spawn(move || (0..PER).for_each(|i| mt.put(2 * PER + i)));
        let got: Vec<u64> = (0..3 * PER).map(|_| m.take()).collect();
        putters.into_iter().for_each(|p| p.join().unwrap());
        thread.join().unwrap();
        got
    });
    got.sort_unstable();
    assert!(got.into_iter().eq(0..3 * PER));
}
