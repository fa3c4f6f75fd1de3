//! Panics: caught per fiber, handed to join, never fatal to others.

use selvedge::{channel, run, spawn, yield_now};

#[test]
fn a_fiber_panic_is_handed_to_join() {
    run(|| {
        let n = std::hint::black_box(7);
        let h = spawn(move || -> u32 { panic!("boom {n}") });
        let err = h.join().unwrap_err();
        assert_eq!(
            err.downcast_ref::<String>().map(String::as_str),
            Some("boom 7")
        );
    });
}

#[test]
fn other_fibers_keep_running_after_a_panic() {
    run(|| {
        let (tx, rx) = channel();
        let _bad = spawn(|| panic!("detached and panicking"));
        let good = spawn(move || {
            yield_now();
            tx.send("still here").unwrap();
        });
        assert_eq!(rx.recv(), Ok("still here"));
        good.join().unwrap();
    });
}

#[test]
fn a_panic_in_main_resumes_out_of_run_after_teardown() {
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = dropped.clone();
    struct Flag(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let result = std::panic::catch_unwind(move || {
        run(move || {
            let flag = Flag(d);
            let (_tx, rx) = channel::<()>();
            spawn(move || {
                let _keep = flag;
                let _ = rx.recv(); // parked forever
            });
            yield_now();
            panic!("main failed");
        })
    });
    let err = result.unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"main failed"));
    assert!(
        dropped.load(std::sync::atomic::Ordering::SeqCst),
        "parked fiber not unwound"
    );
}

#[test]
fn a_panicking_wrap_fails_only_its_fiber() {
    use selvedge::Op;
    run(|| {
        let (tx, rx) = channel::<u8>();
        let h = spawn(move || rx.recv_op().wrap(|_| -> u8 { panic!("in wrap") }).perform());
        tx.send(1).unwrap();
        assert!(h.join().is_err());
    });
}

/// Panics when dropped.
struct PanicsOnDrop;
impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("a detached result panicked on drop");
    }
}

/// A detached fiber's panic, here raised by dropping its result, which
/// nobody will take, is reported by the panic hook and is not raised out
/// of `run`: main succeeded.
#[test]
fn a_detached_result_that_panics_on_drop_does_not_fail_run() {
    let v = run(|| {
        drop(spawn(|| PanicsOnDrop));
        yield_now(); // the fiber runs and finishes, detached
        let panicking_payload = spawn(|| std::panic::panic_any(PanicsOnDrop));
        drop(panicking_payload);
        yield_now();
        5
    });
    assert_eq!(v, 5);
}

/// An unstarted fiber's closure dropped at teardown is that fiber's end: a
/// capture that panics on drop is the fiber's panic, handed to its join,
/// and never raised out of `run`.
#[test]
fn a_capture_that_panics_when_teardown_drops_it_is_the_fibers_panic() {
    let (v, joinable) = run(|| {
        let detached = PanicsOnDrop;
        drop(spawn(move || drop(detached)));
        let joined = PanicsOnDrop;
        (5, spawn(move || drop(joined))) // neither starts: main returns
    });
    assert_eq!(v, 5);
    let err = joinable.join().unwrap_err();
    assert_eq!(
        err.downcast_ref::<&str>(),
        Some(&"a detached result panicked on drop")
    );
}

/// Documented behaviour (see `spawn`): the panic count is per OS thread,
/// so while one fiber is suspended in the middle of unwinding (here a
/// destructor that sleeps while its fiber panics), the thread's other
/// fibers see `std::thread::panicking()` as true; a `std::sync::Mutex`
/// guard they drop then poisons the mutex.
#[test]
fn a_fiber_suspended_mid_unwind_makes_its_threads_other_fibers_see_a_panic() {
    struct SleepsOnDrop;
    impl Drop for SleepsOnDrop {
        fn drop(&mut self) {
            selvedge::sleep(std::time::Duration::from_millis(20));
        }
    }
    let seen = run(|| {
        let unwinding = spawn(|| {
            let _sleeps = SleepsOnDrop;
            panic!("unwinds through a destructor that waits");
        });
        yield_now(); // it panics, and suspends in the destructor
        let seen = std::thread::panicking();
        assert!(unwinding.join().is_err());
        (seen, std::thread::panicking())
    });
    assert_eq!(seen, (true, false), "true while it waits, false after");
}

/// A `wrap` function of the winning branch that panics: its value was
/// delivered once (the sender returned `Ok`), the losing branch was
/// withdrawn first (its sender's value is not taken by the dead choice,
/// and goes to the next receiver), and both channels keep working.
#[test]
fn a_panic_in_a_winning_wrap_leaves_the_channels_consistent() {
    use selvedge::Op;
    run(|| {
        let (a_tx, a_rx) = channel::<u32>();
        let (b_tx, b_rx) = channel::<u32>();
        let chooser = {
            let (a_rx, b_rx) = (a_rx.clone(), b_rx.clone());
            spawn(move || {
                a_rx.recv_op()
                    .wrap(|v| -> u32 { panic!("wrap got {v:?}") })
                    .or(b_rx.recv_op().wrap(|v| v.unwrap()))
                    .perform()
            })
        };
        yield_now(); // the chooser registers on both channels
        a_tx.send(1).unwrap(); // wins, and its wrap panics
        let err = chooser.join().unwrap_err();
        assert_eq!(
            err.downcast_ref::<String>().map(String::as_str),
            Some("wrap got Ok(1)")
        );
        // Nothing of the dead choice is left on either channel.
        let sender = spawn(move || b_tx.send(2));
        yield_now();
        assert_eq!(b_rx.recv(), Ok(2));
        assert_eq!(sender.join().unwrap(), Ok(()));
        let again = spawn(move || a_tx.send(3));
        assert_eq!(a_rx.recv(), Ok(3));
        assert_eq!(again.join().unwrap(), Ok(()));
    });
}

/// A `guard` that panics as the choice prepares: nothing was registered,
/// so a sender waiting on the other branch's channel keeps its value for
/// the next receiver.
#[test]
fn a_panic_in_a_guard_registers_nothing() {
    use selvedge::{guard, Op};
    run(|| {
        let (tx, rx) = channel::<u32>();
        let sender = spawn(move || tx.send(5));
        yield_now(); // the sender waits
        let chooser = {
            let rx = rx.clone();
            spawn(move || {
                rx.recv_op()
                    .wrap(|v| v.unwrap())
                    .or(guard(|| -> selvedge::Never<u32> { panic!("in guard") }))
                    .perform()
            })
        };
        assert!(chooser.join().is_err());
        assert_eq!(rx.recv(), Ok(5), "the value went to the next receiver");
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

/// A `with_nack` function that panics after another branch's was
/// prepared: that branch never commits, so its nack fires, and its
/// channel is left as it was.
#[test]
fn a_panic_in_a_with_nack_function_fires_the_prepared_nacks() {
    use selvedge::{choice, with_nack, BoxOp, Nack, Op};
    use std::sync::{Arc, Mutex};
    run(|| {
        let (tx, rx) = channel::<u32>();
        let kept: Arc<Mutex<Option<Nack>>> = Arc::default();
        let chooser = {
            let (kept, rx) = (kept.clone(), rx.clone());
            spawn(move || {
                let first: BoxOp<'_, u32> = with_nack(move |nack| {
                    *kept.lock().unwrap() = Some(nack);
                    rx.into_recv_op().wrap(|v| v.unwrap())
                })
                .boxed();
                let second: BoxOp<'_, u32> =
                    with_nack(|_nack| -> selvedge::Never<u32> { panic!("in with_nack") }).boxed();
                choice([first, second]).perform()
            })
        };
        assert!(chooser.join().is_err());
        let nack = kept.lock().unwrap().take().unwrap();
        assert!(
            nack.try_perform().is_some(),
            "the prepared branch's nack fired"
        );
        let sender = spawn(move || tx.send(9));
        assert_eq!(rx.recv(), Ok(9));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

/// A detached fiber's panic on a worker scheduler is reported by the hook
/// and stays its own: that scheduler goes on running fibers.
#[test]
fn a_detached_panic_on_a_worker_leaves_the_worker_running() {
    let rt = selvedge::Runtime::builder().threads(2).build().unwrap();
    let sum: u32 = rt.run(|| {
        let h = selvedge::Handle::current();
        for _ in 0..4 {
            drop(h.spawn(|| panic!("detached on a worker")));
        }
        let later: Vec<_> = (0..8).map(|i| h.spawn(move || i)).collect();
        later.into_iter().map(|f| f.join().unwrap()).sum()
    });
    assert_eq!(sum, 28);
}
