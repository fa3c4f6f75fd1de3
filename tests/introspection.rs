//! Fibers have names and ids, and a runtime can say what each of its
//! fibers is doing: `fiber::Builder`, `fiber::current_name`, dumps, and
//! panic reports that name the fiber.

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use selvedge::fiber::{self, Builder, State};
use selvedge::{after, channel, run, select, spawn, yield_now, Condition, Handle, Op, Runtime};

mod support;

#[test]
fn fibers_know_their_names_and_main_is_main() {
    run(|| {
        assert_eq!(fiber::current_name().as_deref(), Some("main"));
        let named = Builder::new()
            .name("worker")
            .spawn(fiber::current_name)
            .unwrap();
        let plain = spawn(fiber::current_name);
        assert_eq!(named.join().unwrap().as_deref(), Some("worker"));
        assert_eq!(plain.join().unwrap(), None);
    });
    assert_eq!(fiber::current_name(), None, "outside any fiber");
}

#[test]
fn named_fibers_on_other_schedulers_know_their_names() {
    let rt = Runtime::builder().threads(3).build().unwrap();
    let names = rt.run(|| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                Builder::new()
                    .name(format!("w{i}"))
                    .spawn_on(&Handle::current(), fiber::current_name)
                    .unwrap()
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(names, ["w0", "w1", "w2", "w3", "w4", "w5"]);
}

#[test]
fn a_fiber_with_a_bigger_stack_recurses_deeper() {
    let got = run(|| {
        Builder::new()
            .stack_size(8 << 20)
            .spawn(|| support::deep(2000)) // ~2 MiB, eight times the default stack
            .unwrap()
            .join()
            .unwrap()
    });
    assert_eq!(got, 2000);
}

#[test]
fn a_stack_size_too_large_is_refused_at_spawn() {
    run(|| {
        let err = Builder::new()
            .stack_size(usize::MAX)
            .spawn(|| ())
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("stack_size"), "{err}");
        // Larger than any address space, yet accepted by the builder: the
        // mapping fails at spawn, and the error names the size.
        let err = Builder::new().stack_size(1 << 55).spawn(|| ()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
        assert!(err.to_string().contains("cannot map"), "{err}");
        // The runtime goes on.
        assert_eq!(spawn(|| 5).join().unwrap(), 5);
    });
}

#[test]
fn a_dump_lists_every_fiber_with_its_state_and_what_it_waits_for() {
    run(|| {
        let (tx, rx) = channel::<u32>();
        let (_tx2, rx2) = channel::<u32>();
        let (tx3, _rx3) = channel::<u32>();
        let cond = Condition::new();
        let (a, b) = UnixStream::pair().unwrap();
        let recv = Builder::new()
            .name("receiver")
            .spawn(move || rx.recv())
            .unwrap();
        let send = spawn(move || tx3.send(1));
        let choice = spawn(move || {
            select! {
                v = rx2.recv_op() => v.ok(),
                () = after(Duration::from_secs(60)) => None,
            }
        });
        let c = cond.clone();
        let condition = spawn(move || c.wait());
        let readable = spawn(move || selvedge::io::readable(&a).perform());
        let sleeper = spawn(|| selvedge::sleep(Duration::from_secs(60)));
        let mut sleeper_handle = sleeper;
        let joiner_line = line!() + 1;
        let joiner = spawn(move || drop(sleeper_handle.join_op().perform()));
        let runnable = spawn(yield_now);
        yield_now(); // every fiber so far starts and waits
        let fresh = spawn(|| ());

        let dump = fiber::dump();
        let text = dump.to_string();
        let lines: Vec<_> = dump.fibers().iter().map(|f| f.to_string()).collect();
        assert!(dump.unanswered().is_empty());
        assert_eq!(dump.fibers().len(), 10, "{text}");
        let main = dump
            .fibers()
            .iter()
            .find(|f| f.name.as_deref() == Some("main"))
            .unwrap();
        assert_eq!(main.state, State::Waiting);
        let receiver = dump
            .fibers()
            .iter()
            .find(|f| f.name.as_deref() == Some("receiver"))
            .unwrap();
        assert_eq!(receiver.state, State::Waiting);
        let waits = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
        assert_eq!(waits("waiting: recv on channel@"), 2, "{text}");
        assert_eq!(waits("waiting: send on channel@"), 1, "{text}");
        assert_eq!(waits("), or timer of 60.0s"), 1, "{text}");
        assert_eq!(waits("waiting: condition@"), 1, "{text}");
        assert_eq!(waits("waiting: readable fd "), 1, "{text}");
        assert_eq!(waits("waiting: timer of 60.0s"), 1, "{text}");
        assert_eq!(waits("waiting: join of fiber "), 1, "{text}");
        assert_eq!(waits("runnable"), 1, "{text}");
        assert_eq!(waits("not started"), 1, "{text}");
        assert!(text.contains(&format!("created at {}:", file!())), "{text}");
        // The join's wait is placed at the joiner's perform, in this file.
        let joining = dump
            .fibers()
            .iter()
            .find(|f| {
                f.waiting_on
                    .as_deref()
                    .is_some_and(|w| w.starts_with("join"))
            })
            .unwrap();
        let at = joining.location.unwrap();
        assert_eq!((at.file(), at.line()), (file!(), joiner_line));
        assert!(dump.fibers().iter().all(|f| f.scheduler == 0));

        tx.send(7).unwrap();
        assert_eq!(recv.join().unwrap(), Ok(7));
        cond.signal();
        drop(b);
        condition.join().unwrap();
        readable.join().unwrap().unwrap();
        drop((send, choice, joiner, runnable, fresh));
    });
}

#[test]
fn a_dump_from_a_plain_thread_covers_every_scheduler() {
    let rt = Runtime::builder().threads(2).build().unwrap();
    let handle = rt.handle();
    rt.run(|| {
        let (tx, rx) = channel::<()>();
        let rxs: Vec<_> = (0..4)
            .map(|i| {
                let rx = rx.clone();
                Builder::new()
                    .name(format!("waiter-{i}"))
                    .spawn_on(&Handle::current(), move || rx.recv())
                    .unwrap()
            })
            .collect();
        let handle = handle.clone();
        let (dump_tx, dump_rx) = channel();
        std::thread::spawn(move || {
            // Every waiter waits before the dump is asked for.
            std::thread::sleep(Duration::from_millis(50));
            dump_tx.send(handle.dump()).unwrap();
        });
        let dump = dump_rx.recv().unwrap();
        let waiters: Vec<_> = dump
            .fibers()
            .iter()
            .filter(|f| f.name.as_deref().is_some_and(|n| n.starts_with("waiter-")))
            .collect();
        assert_eq!(waiters.len(), 4, "{dump}");
        assert!(waiters.iter().all(|f| f.state == State::Waiting));
        let on: std::collections::BTreeSet<_> = waiters.iter().map(|f| f.scheduler).collect();
        assert_eq!(on.len(), 2, "placed on both schedulers: {dump}");
        for _ in 0..4 {
            tx.send(()).unwrap();
        }
        for h in rxs {
            h.join().unwrap().unwrap();
        }
    });
    assert!(
        rt.handle().dump().fibers().is_empty(),
        "a stopped runtime has none"
    );
}

#[test]
fn a_scheduler_held_by_one_fiber_is_named_in_the_dump() {
    let rt = Runtime::builder().threads(2).build().unwrap();
    rt.run(|| {
        // Placement is round-robin from scheduler 0: the hog goes to 1.
        spawn(|| ()).join().unwrap();
        Handle::current().spawn(|| ()).join().unwrap();
        let hog = Builder::new()
            .name("hog")
            .spawn_on(&Handle::current(), || {
                let until = Instant::now() + Duration::from_millis(1500);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            })
            .unwrap();
        let mut hog = hog;
        let other = loop {
            let dump = fiber::dump();
            if let Some(&s) = dump.unanswered().first() {
                break s;
            }
            if hog.is_finished() {
                panic!("the hog ran on this scheduler: {dump}");
            }
        };
        assert_eq!(other, 1);
        hog.join_op().perform().unwrap();
    });
}

#[test]
#[ignore = "run by panics_are_reported_once_by_fiber_name"]
fn child_panics_in_named_fibers() {
    if !support::in_child() {
        return;
    }
    let rt = Runtime::builder().threads(2).build().unwrap();
    rt.run(|| {
        let local = Builder::new()
            .name("local")
            .spawn(|| panic!("local boom"))
            .unwrap();
        assert!(local.join().is_err());
        // A detached fiber's panic, on the other scheduler: reported, and
        // that scheduler goes on running fibers.
        let h = Handle::current();
        drop(
            Builder::new()
                .name("remote")
                .spawn_on(&h, || -> () { panic!("remote boom") })
                .unwrap(),
        );
        drop(
            Builder::new()
                .name("remote")
                .spawn_on(&h, || -> () { panic!("remote boom") })
                .unwrap(),
        );
        let after: Vec<_> = (0..4).map(|i| h.spawn(move || i)).collect();
        let sum: i32 = after.into_iter().map(|f| f.join().unwrap()).sum();
        assert_eq!(sum, 6);
        let anonymous = spawn(|| panic!("no name"));
        assert!(anonymous.join().is_err());
    });
    println!("child done");
}

#[test]
fn panics_are_reported_once_by_fiber_name() {
    let out = support::child_output("child_panics_in_named_fibers");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("child done"), "{stdout}");
    let lines: Vec<&str> = stderr.lines().collect();
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("fiber 'local' ("), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("panicked at {}:", file!())),
        "{stderr}"
    );
    assert_eq!(count("local boom"), 1, "{stderr}");
    assert_eq!(count("fiber 'remote' ("), 2, "{stderr}");
    assert_eq!(count("remote boom"), 2, "{stderr}");
    assert_eq!(count("no name"), 1, "{stderr}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("fiber ") && l.contains(") panicked at")),
        "{stderr}"
    );
    assert_eq!(
        count("thread '"),
        0,
        "no panic is reported by thread: {stderr}"
    );
}
