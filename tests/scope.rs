//! Scoped fibers: borrowing, joining, panics, early returns, cancellation
//! and teardown, none outliving its borrow.

use selvedge::{channel, run, scope, spawn, yield_now, Cancelled};
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

#[test]
fn scoped_fibers_borrow_mutably_and_return_values() {
    run(|| {
        let mut data = vec![1, 2, 3, 4];
        let total = Cell::new(0);
        let sum = scope(|s| {
            let (left, right) = data.split_at_mut(2);
            let a = s.spawn(|| {
                left.iter_mut().for_each(|x| *x *= 10);
                left.iter().sum::<i32>()
            });
            let b = s.spawn(|| {
                right.iter_mut().for_each(|x| *x *= 100);
                total.set(1);
                right.iter().sum::<i32>()
            });
            a.join().unwrap() + b.join().unwrap()
        });
        assert_eq!(data, [10, 20, 300, 400]);
        assert_eq!(sum, 730);
        assert_eq!(total.get(), 1);
    });
}

#[test]
fn scope_waits_for_fibers_it_did_not_join() {
    run(|| {
        let (tx, rx) = channel::<u32>();
        let got = Cell::new(0);
        let feeder = spawn(move || {
            for _ in 0..5 {
                yield_now();
            }
            tx.send(9).unwrap();
        });
        scope(|s| {
            s.spawn(|| got.set(rx.recv().unwrap())); // blocks past the body
        }); // returns only once it has received
        assert_eq!(got.get(), 9);
        feeder.join().unwrap();
    });
}

#[test]
fn a_joined_panic_goes_to_join_and_an_unjoined_one_to_scope() {
    run(|| {
        let r = scope(|s| s.spawn(|| panic!("joined")).join());
        assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"joined"));

        let sibling_done = Cell::new(false);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            scope(|s| {
                s.spawn(|| panic!("not joined"));
                s.spawn(|| {
                    selvedge::sleep(Duration::from_millis(5));
                    sibling_done.set(true);
                });
            })
        }));
        let message = caught.unwrap_err().downcast::<&str>().unwrap();
        assert!(message.contains("not joined") || message.contains("scoped fiber"));
        assert!(sibling_done.get(), "scope panicked before all finished");
    });
}

#[test]
fn a_panic_in_the_body_is_resumed_after_the_fibers_finish() {
    run(|| {
        let finished = Cell::new(false);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            scope(|s| {
                s.spawn(|| {
                    selvedge::sleep(Duration::from_millis(5));
                    finished.set(true);
                });
                panic!("in the body");
            })
        }));
        assert_eq!(
            caught.unwrap_err().downcast_ref::<&str>(),
            Some(&"in the body")
        );
        assert!(finished.get());
    });
}

#[test]
fn a_cancelled_caller_cancels_and_waits_for_its_scoped_fibers() {
    run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let owner = spawn(move || {
            let borrowed = String::from("owner's");
            scope(|s| {
                for i in 0..3 {
                    let l = l.clone();
                    let b = &borrowed;
                    s.spawn(move || {
                        struct Log(Rc<RefCell<Vec<String>>>, String);
                        impl Drop for Log {
                            fn drop(&mut self) {
                                self.0.borrow_mut().push(self.1.clone());
                            }
                        }
                        let _log = Log(l, format!("child {i} of {b}"));
                        selvedge::sleep(Duration::from_secs(3600));
                    });
                }
                selvedge::sleep(Duration::from_secs(3600));
            });
            l.borrow_mut().push("owner after scope".into());
        });
        yield_now();
        owner.cancel();
        let payload = owner.join().unwrap_err();
        assert!(payload.is::<Cancelled>());
        let log = log.borrow();
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(log.iter().all(|l| l.ends_with("of owner's")));
    });
}

#[test]
fn teardown_ends_scoped_fibers_before_the_frame_they_borrow() {
    let log = Rc::new(RefCell::new(Vec::<&str>::new()));
    let l = log.clone();
    run(move || {
        spawn(move || {
            struct Mark(Rc<RefCell<Vec<&'static str>>>, &'static str);
            impl Drop for Mark {
                fn drop(&mut self) {
                    self.0.borrow_mut().push(self.1);
                }
            }
            let local = Mark(l.clone(), "owner's local");
            scope(|s| {
                let local = &local;
                s.spawn(move || {
                    struct UsesBorrow<'a>(&'a Mark);
                    impl Drop for UsesBorrow<'_> {
                        fn drop(&mut self) {
                            // Reads the owner's frame: it must still be there.
                            self.0 .0.borrow_mut().push("child read the borrow");
                        }
                    }
                    let _u = UsesBorrow(local);
                    selvedge::sleep(Duration::from_secs(3600));
                });
                selvedge::sleep(Duration::from_secs(3600));
            });
        });
        yield_now(); // all wait; main returns: teardown
    });
    assert_eq!(*log.borrow(), ["child read the borrow", "owner's local"]);
}

#[test]
fn scopes_nest() {
    run(|| {
        let count = Cell::new(0);
        scope(|outer| {
            for _ in 0..3 {
                outer.spawn(|| {
                    scope(|inner| {
                        for _ in 0..3 {
                            inner.spawn(|| count.set(count.get() + 1));
                        }
                    })
                });
            }
        });
        assert_eq!(count.get(), 9);
    });
}

#[test]
fn scope_outside_a_runtime_panics() {
    let r = catch_unwind(|| scope(|_| ()));
    let message = r.unwrap_err().downcast::<&str>().unwrap();
    assert!(message.contains("outside a runtime"));
}
