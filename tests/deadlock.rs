//! A runtime whose fibers all wait on each other says so: it prints a dump
//! of every fiber under a `deadlock` headline and, by default, panics out
//! of `run` naming them. Anything that could still wake a fiber (a timer,
//! a descriptor, a plain thread blocked in an operation) keeps it quiet.
//! The reports run in child processes (this test binary, re-run), whose
//! stderr and exit status are checked.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use selvedge::fiber::Builder;
use selvedge::{after, channel, run, spawn, Handle, OnDeadlock, Op, Runtime};

mod support;

#[test]
#[ignore = "run by a_fiber_cycle_is_reported_and_run_panics"]
fn child_deadlocks_in_a_cycle() {
    if !support::in_child() {
        return;
    }
    run(|| {
        let (a_tx, a_rx) = channel::<u32>();
        let (b_tx, b_rx) = channel::<u32>();
        let left = Builder::new()
            .name("left")
            .spawn(move || {
                let v = a_rx.recv().unwrap();
                b_tx.send(v).unwrap();
            })
            .unwrap();
        let right = Builder::new()
            .name("right")
            .spawn(move || {
                let v = b_rx.recv().unwrap();
                a_tx.send(v).unwrap();
            })
            .unwrap();
        left.join().unwrap();
        right.join().unwrap();
    });
}

#[test]
fn a_fiber_cycle_is_reported_and_run_panics() {
    let out = support::child_output("child_deadlocks_in_a_cycle");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains("deadlock: every fiber is waiting and nothing can wake them"),
        "{stderr}"
    );
    // The dump: every fiber, what it waits for, where.
    assert!(stderr.contains("3 fibers"), "{stderr}");
    for needle in [
        "fiber 'main' (",
        "waiting: join of fiber 'left'",
        "fiber 'left' (",
        "fiber 'right' (",
        "waiting: recv on channel@",
        &format!("at {}:", file!()),
    ] {
        assert!(stderr.contains(needle), "{needle:?} missing:\n{stderr}");
    }
    // The panic out of `run`, naming the waiting fibers.
    let panic_line = stderr
        .lines()
        .find(|l| l.starts_with("selvedge: deadlock:") && l.contains("waits for"))
        .unwrap_or_else(|| panic!("no panic message:\n{stderr}"));
    for name in ["'main'", "'left'", "'right'"] {
        assert!(panic_line.contains(name), "{name} missing: {panic_line}");
    }
}

#[test]
#[ignore = "run by a_deadlock_across_schedulers_is_reported"]
fn child_deadlocks_across_schedulers() {
    if !support::in_child() {
        return;
    }
    let rt = Runtime::builder().threads(3).build().unwrap();
    rt.run(|| {
        let (_tx, rx) = channel::<u32>();
        let waiters: Vec<_> = (0..4)
            .map(|i| {
                let rx = rx.clone();
                Builder::new()
                    .name(format!("waiter-{i}"))
                    .spawn_on(&Handle::current(), move || rx.recv())
                    .unwrap()
            })
            .collect();
        for w in waiters {
            let _ = w.join();
        }
    });
}

#[test]
fn a_deadlock_across_schedulers_is_reported() {
    let out = support::child_output("child_deadlocks_across_schedulers");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(stderr.contains("5 fibers"), "{stderr}");
    for s in 0..3 {
        assert!(
            stderr.contains(&format!("on scheduler {s}: waiting")),
            "{stderr}"
        );
    }
    assert!(stderr.contains("fiber 'waiter-3' ("), "{stderr}");
}

#[test]
fn the_panic_can_be_caught_and_the_runtime_runs_again() {
    let rt = Runtime::builder().build().unwrap();
    let deadlocked = catch_unwind(AssertUnwindSafe(|| {
        rt.run(|| {
            let (_tx, rx) = channel::<()>();
            rx.recv()
        })
    }));
    let message = deadlocked.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("deadlock"), "{message}");
    assert!(message.contains("fiber 'main' ("), "{message}");
    assert!(message.contains(&format!("at {}:", file!())), "{message}");
    assert_eq!(rt.run(|| spawn(|| 3).join().unwrap()), 3);
}

#[test]
#[ignore = "run by report_mode_reports_once_and_keeps_waiting"]
fn child_reports_and_waits() {
    if !support::in_child() {
        return;
    }
    let rt = Runtime::builder()
        .on_deadlock(OnDeadlock::Report)
        .build()
        .unwrap();
    let (tx, rx) = channel::<u32>();
    // A plain thread the detector cannot see, busy past the grace period.
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2500));
        tx.send(7).unwrap();
    });
    let got = rt.run(|| rx.recv().unwrap());
    late.join().unwrap();
    println!("got {got}");
}

#[test]
fn report_mode_reports_once_and_keeps_waiting() {
    let out = support::child_output("child_reports_and_waits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("got 7"), "{stdout}");
    assert_eq!(
        stderr.matches("deadlock: every fiber").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn ignore_mode_does_not_check() {
    let rt = Runtime::builder()
        .on_deadlock(OnDeadlock::Ignore)
        .build()
        .unwrap();
    let (tx, rx) = channel::<u32>();
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        tx.send(8).unwrap();
    });
    assert_eq!(rt.run(|| rx.recv().unwrap()), 8);
    late.join().unwrap();
}

// Near misses: something can still wake a fiber, so no deadlock is
// declared, although every fiber waits for longer than the grace period.

#[test]
fn a_pending_timer_is_no_deadlock() {
    let got = run(|| {
        let (tx, rx) = channel::<u32>();
        spawn(move || {
            selvedge::sleep(Duration::from_millis(1500));
            tx.send(1).unwrap();
        });
        rx.recv().unwrap()
    });
    assert_eq!(got, 1);
}

#[test]
fn a_fiber_waiting_on_a_socket_is_no_deadlock() {
    let (mut a, b) = UnixStream::pair().unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        a.write_all(b"x").unwrap();
    });
    let got = run(move || {
        let mut b = selvedge::net::UnixStream::from_std(b).unwrap();
        let mut byte = [0];
        b.read_exact(&mut byte).unwrap();
        byte[0]
    });
    writer.join().unwrap();
    assert_eq!(got, b'x');
}

#[test]
fn a_plain_thread_blocked_in_an_operation_is_no_deadlock() {
    let (to_main, from_thread) = channel::<u32>();
    let (_never, nothing) = channel::<u32>();
    // The thread blocks in an operation (a receive that times out), then
    // wakes the main fiber.
    let thread = std::thread::spawn(move || {
        let timed_out = nothing
            .recv_op()
            .or(after(Duration::from_millis(1500)).wrap(|()| Err(selvedge::RecvError)))
            .perform();
        assert!(timed_out.is_err());
        to_main.send(2).unwrap();
    });
    assert_eq!(run(move || from_thread.recv().unwrap()), 2);
    thread.join().unwrap();
}

#[test]
fn a_thread_joining_a_fiber_is_no_deadlock() {
    let rt = Runtime::builder().build().unwrap();
    let handle = rt.handle();
    let (tx, rx) = channel::<u32>();
    let got = rt.run(move || {
        let waiter = handle.spawn(move || rx.recv().unwrap());
        // A plain thread blocks joining the waiter, then sends to it from a
        // timed operation once it gives up: it stays blocked in selvedge
        // operations all along.
        let (joined_tx, joined_rx) = channel::<u32>();
        std::thread::spawn(move || {
            after(Duration::from_millis(1500)).perform();
            tx.send(5).unwrap();
            joined_tx.send(waiter.join().unwrap()).unwrap();
        });
        joined_rx.recv().unwrap()
    });
    assert_eq!(got, 5);
}
