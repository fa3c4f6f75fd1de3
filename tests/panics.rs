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
