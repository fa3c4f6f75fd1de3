//! Teardown: run returns as soon as main returns; leftover fibers are
//! unwound, destructors run, and their queue entries are withdrawn.

use selvedge::{after, channel, run, spawn, yield_now, Condition, Op};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod support;
use support::DropCount;

#[test]
fn leftover_fibers_are_unwound_with_destructors_run() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let v = run(move || {
        let (_tx, rx) = channel::<()>();
        let c = Condition::new();
        for i in 0..30 {
            let guard = DropCount(d.clone());
            let rx = rx.clone();
            let c = c.clone();
            spawn(move || {
                let _g = guard;
                match i % 3 {
                    0 => {
                        let _ = rx.recv();
                    }
                    1 => c.wait(),
                    _ => after(Duration::from_secs(3600)).perform(),
                }
            });
        }
        // And some that never started.
        for _ in 0..10 {
            let guard = DropCount(d.clone());
            spawn(move || drop(guard));
        }
        yield_now();
        "main done"
    });
    assert_eq!(v, "main done");
    assert_eq!(drops.load(Ordering::SeqCst), 40);
}

/// A finished fiber's coroutine stays parked for the next fiber; fibers
/// blocked on such reused coroutines when main returns are unwound the same
/// way, and the idle coroutines left in the pool are ended without running
/// anything.
#[test]
fn fibers_parked_on_reused_coroutines_are_unwound_with_destructors_run() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let v = run(move || {
        let done: Vec<_> = (0..20).map(|i| spawn(move || i)).collect();
        for (i, h) in done.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), i);
        }
        let (_tx, rx) = channel::<()>();
        for _ in 0..10 {
            let guard = DropCount(d.clone());
            let rx = rx.clone();
            spawn(move || {
                let _g = guard;
                let _ = rx.recv();
            });
        }
        yield_now();
        assert_eq!(d.load(Ordering::SeqCst), 0, "all ten wait");
        "main done"
    });
    assert_eq!(v, "main done");
    assert_eq!(drops.load(Ordering::SeqCst), 10);
}

#[test]
fn a_channel_shared_with_a_thread_survives_teardown_of_blocked_fibers() {
    // Fibers blocked on a channel the thread still holds are torn down; their
    // entries must be withdrawn so the thread's later send does not touch
    // freed stacks: it finds no receiver and fails cleanly.
    let (tx, rx) = channel::<u32>();
    run(move || {
        for _ in 0..4 {
            let rx = rx.clone();
            spawn(move || {
                let _ = rx.recv();
            });
        }
        yield_now();
    });
    assert!(tx.try_send(1).is_err());
}

#[test]
fn run_does_not_wait_for_sleeping_fibers() {
    let start = std::time::Instant::now();
    run(|| {
        spawn(|| selvedge::sleep(Duration::from_secs(3600)));
        yield_now();
    });
    assert!(start.elapsed() < Duration::from_secs(60));
}

/// A fiber waiting behind an earlier deadline (its own had passed when it
/// began) is unwound like any waiter, its timer cancelled.
#[test]
fn a_fiber_waiting_behind_an_earlier_deadline_is_unwound() {
    let (passed, drops) = support::in_time_windows(torn_down_behind_an_earlier_deadline);
    assert_eq!(passed, 0, "it did not wait");
    assert_eq!(drops, 1);
}

/// Runs the scenario with a deadline `margin` away; `None` if the first
/// fiber began after the deadline (and so did not wait). Else how many
/// times the second fiber got past its wait, and how many of its captures
/// dropped.
fn torn_down_behind_an_earlier_deadline(margin: Duration) -> Option<(usize, usize)> {
    let drops = Arc::new(AtomicUsize::new(0));
    let passed = Arc::new(AtomicUsize::new(0));
    let (d, p) = (drops.clone(), passed.clone());
    let armed_in_time = run(move || {
        // Fast runs first: after them the loop reads no clock until its
        // 61st run, so the slow run below passes the deadline without a
        // timer check, as a run between two checks does.
        for _ in 0..200 {
            yield_now();
        }
        let due = std::time::Instant::now() + margin;
        let first = spawn(move || selvedge::at(due).perform());
        yield_now(); // it arms its timer
        support::spin_until(due);
        spawn(move || {
            let _count = DropCount(d);
            selvedge::at(due).perform(); // behind the first, still in the heap
            p.fetch_add(1, Ordering::SeqCst);
        });
        // It starts and waits; no timer check runs before main returns.
        yield_now();
        // Still waiting: it armed its timer before the deadline.
        !first.is_finished()
    });
    armed_in_time.then(|| (passed.load(Ordering::SeqCst), drops.load(Ordering::SeqCst)))
}

/// Regression: joining (from outside the runtime) a fiber that teardown
/// dropped hung forever, because its join signal never fired.
#[test]
fn joining_a_torn_down_fiber_from_a_thread_returns_an_error() {
    let (handles_tx, handles_rx) = std::sync::mpsc::channel();
    let joiner = std::thread::spawn(move || {
        let (parked, unstarted): (selvedge::JoinHandle<()>, selvedge::JoinHandle<()>) =
            handles_rx.recv().unwrap();
        (parked.join(), unstarted.join())
    });
    let r = selvedge::Runtime::builder().threads(2).build().unwrap();
    r.run(move || {
        let c = Condition::new();
        let parked = spawn(move || c.wait()); // parked forever
        yield_now();
        let unstarted = spawn(|| ()); // never gets to run
        handles_tx.send((parked, unstarted)).unwrap();
    });
    let (parked, unstarted) = joiner.join().unwrap();
    for r in [parked, unstarted] {
        let err = r.unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("torn down"), "{msg}");
    }
}

/// A fiber's closure shares one block with its join state, and the handle
/// may free that block on another thread: the closure's captures must still
/// be dropped on the fiber's own thread, whether the fiber ran or not.
#[test]
fn captures_drop_on_the_fiber_thread_even_when_the_handle_goes_elsewhere() {
    struct OnDrop(Arc<std::sync::Mutex<Vec<std::thread::ThreadId>>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.lock().unwrap().push(std::thread::current().id());
        }
    }
    let drops = Arc::new(std::sync::Mutex::new(Vec::new()));
    let d = drops.clone();
    let (ran, unstarted) = run(move || {
        let not_send = std::rc::Rc::new(7u32);
        let guard = OnDrop(d.clone());
        let ran = spawn(move || {
            let _g = guard;
            *not_send * 6
        });
        while !ran.is_finished() {
            yield_now();
        }
        let guard = OnDrop(d);
        let unstarted = spawn(move || {
            let _g = guard;
            0u32
        });
        (ran, unstarted) // main returns first: torn down unstarted
    });
    let here = std::thread::current().id();
    let joined = std::thread::spawn(move || (ran.join().unwrap(), unstarted.join()))
        .join()
        .unwrap();
    assert_eq!(joined.0, 42);
    let err = joined.1.unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("torn down"), "{msg}");
    assert_eq!(*drops.lock().unwrap(), vec![here, here]);
}

/// A fiber started by its joiner (`join` runs a fresh fiber the scheduler
/// would run next from the joiner's own coroutine) and left blocked is
/// unwound at teardown like any other, as is the joiner waiting for it,
/// and so is a chain of them: each joined its child before the child
/// blocked.
#[test]
fn fibers_started_by_their_joiners_and_left_blocked_are_unwound() {
    fn chain(depth: u32, drops: Arc<AtomicUsize>, rx: selvedge::Receiver<()>) {
        let _g = DropCount(drops.clone());
        if depth == 0 {
            let _ = rx.recv();
            return;
        }
        let child = spawn(move || chain(depth - 1, drops, rx));
        let _ = child.join();
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let _sender = run(move || {
        let (tx, rx) = channel::<()>();
        spawn(move || chain(5, d, rx));
        yield_now(); // the chain starts, each fiber joining the next
        tx // kept past teardown: the last fiber stays blocked in `recv`
    });
    assert_eq!(drops.load(Ordering::SeqCst), 6);
}

/// The scenarios below drop user values during teardown whose destructors
/// block or yield. Each runs in a child process (this test binary again),
/// so that a crash fails the test instead of taking the binary down.
mod destructors_that_block {
    use super::support;
    use selvedge::{channel, run, spawn, yield_now, Handle, Runtime};
    use std::process::Stdio;
    use std::time::Duration;

    /// Yields when dropped.
    struct YieldOnDrop;
    impl Drop for YieldOnDrop {
        fn drop(&mut self) {
            yield_now();
        }
    }

    /// Sleeps when dropped.
    struct SleepOnDrop;
    impl Drop for SleepOnDrop {
        fn drop(&mut self) {
            selvedge::sleep(Duration::from_millis(2));
        }
    }

    /// Sends on a rendezvous channel when dropped, and says whether a
    /// receiver took the value.
    struct SendOnDrop(selvedge::Sender<u32>);
    impl Drop for SendOnDrop {
        fn drop(&mut self) {
            let sent = self.0.send(7).is_ok();
            println!("sent on drop: {sent}");
        }
    }

    fn scenario(name: &str) {
        match name {
            // A fiber that never started: its closure's captures drop on
            // the scheduler's own stack.
            "yield in an unstarted fiber" => {
                let v = run(|| {
                    let g = YieldOnDrop;
                    drop(spawn(move || drop(g)));
                    7
                });
                println!("run returned {v}");
            }
            "sleep in an unstarted fiber" => {
                run(|| {
                    let g = SleepOnDrop;
                    drop(spawn(move || drop(g)));
                });
                println!("run returned");
            }
            // The receiver is a plain thread: the send completes.
            "send in an unstarted fiber" => {
                let (tx, rx) = channel::<u32>();
                let receiver = std::thread::spawn(move || rx.recv());
                run(move || {
                    let g = SendOnDrop(tx);
                    drop(spawn(move || drop(g)));
                });
                println!("received {:?}", receiver.join().unwrap());
            }
            // A started fiber unwound while it waits: its destructors run
            // on its own stack during teardown.
            "sleep in a started fiber" => {
                run(|| {
                    let (_tx, rx) = channel::<()>();
                    spawn(move || {
                        let _g = SleepOnDrop;
                        let _y = YieldOnDrop;
                        let _ = rx.recv();
                    });
                    yield_now();
                });
                println!("run returned");
            }
            "main panics" => {
                let r = std::panic::catch_unwind(|| {
                    run(|| {
                        let g = YieldOnDrop;
                        drop(spawn(move || drop(g)));
                        panic!("main fails");
                    })
                });
                println!("run panicked: {}", r.is_err());
            }
            // A destructor that spawns: the new fiber is torn down too.
            "spawn in a destructor" => {
                struct SpawnOnDrop;
                impl Drop for SpawnOnDrop {
                    fn drop(&mut self) {
                        let g = YieldOnDrop;
                        drop(spawn(move || drop(g)));
                        yield_now();
                    }
                }
                run(|| {
                    let g = SpawnOnDrop;
                    drop(spawn(move || drop(g)));
                });
                println!("run returned");
            }
            // A worker scheduler's fibers are torn down on its own thread.
            "yield on a worker" => {
                let rt = Runtime::builder().threads(2).build().unwrap();
                rt.run(|| {
                    let (tx, rx) = channel::<()>();
                    for _ in 0..4 {
                        let tx = tx.clone();
                        Handle::current().spawn(move || {
                            // Parks this fiber, started, on its scheduler.
                            tx.send(()).unwrap();
                            let (_keep, wait) = channel::<()>();
                            let _g = YieldOnDrop;
                            let _ = wait.recv();
                        });
                    }
                    for _ in 0..4 {
                        rx.recv().unwrap();
                    }
                    for _ in 0..4 {
                        let g = SendOnDropless;
                        drop(Handle::current().spawn(move || drop(g)));
                    }
                });
                println!("run returned");
            }
            other => panic!("no scenario {other}"),
        }
    }

    /// Yields when dropped, and is `Send` (for `Handle::spawn`).
    struct SendOnDropless;
    impl Drop for SendOnDropless {
        fn drop(&mut self) {
            yield_now();
        }
    }

    #[test]
    #[ignore = "run by the tests below, in a child process"]
    fn child_runs_a_teardown_scenario() {
        if let Ok(name) = std::env::var("SELVEDGE_TEARDOWN_SCENARIO") {
            scenario(&name);
        }
    }

    /// Runs `name` in a child process: its exit status and stdout.
    fn in_child(name: &str) -> (std::process::ExitStatus, String) {
        let out = support::child_test("destructors_that_block::child_runs_a_teardown_scenario")
            .env("SELVEDGE_TEARDOWN_SCENARIO", name)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn check(name: &str, expected: &str) {
        let (status, stdout) = in_child(name);
        assert!(status.success(), "{name}: {status:?}\n{stdout}");
        assert!(stdout.contains(expected), "{name}: {stdout}");
    }

    #[test]
    fn a_destructor_of_an_unstarted_fiber_may_yield() {
        check("yield in an unstarted fiber", "run returned 7");
    }

    #[test]
    fn a_destructor_of_an_unstarted_fiber_may_sleep() {
        check("sleep in an unstarted fiber", "run returned");
    }

    #[test]
    fn a_destructor_of_an_unstarted_fiber_may_send_to_a_thread() {
        check("send in an unstarted fiber", "received Ok(7)");
    }

    #[test]
    fn a_destructor_of_a_started_fiber_may_block_while_it_unwinds() {
        check("sleep in a started fiber", "run returned");
    }

    #[test]
    fn a_destructor_may_yield_when_main_panics() {
        check("main panics", "run panicked: true");
    }

    #[test]
    fn a_destructor_may_spawn_and_yield() {
        check("spawn in a destructor", "run returned");
    }

    #[test]
    fn destructors_on_worker_schedulers_may_yield() {
        check("yield on a worker", "run returned");
    }
}
