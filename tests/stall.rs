//! A fiber that holds its scheduler (a blocking call, a `std` lock held
//! across a wait) is named on stderr when stall warnings are on, and a
//! live process prints a dump of its fibers on a signal when asked to.
//! Each case runs in a child process (this test binary, re-run).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use selvedge::fiber::Builder;
use selvedge::{channel, spawn, yield_now, Runtime};

mod support;

fn child(name: &str) -> Child {
    support::child_test(name)
        .env_remove("SELVEDGE_STALL_WARNING_MS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A runtime that warns of a fiber holding its scheduler for 100 ms.
fn warning_after_100ms() -> Runtime {
    Runtime::builder()
        .stall_warning(Duration::from_millis(100))
        .build()
        .unwrap()
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

#[test]
#[ignore = "run by a_blocking_call_in_a_fiber_is_named"]
fn child_blocks_in_a_fiber() {
    if !support::in_child() {
        return;
    }
    let rt = warning_after_100ms();
    rt.run(|| {
        Builder::new()
            .name("sleeper")
            .spawn(|| std::thread::sleep(Duration::from_millis(700)))
            .unwrap()
            .join()
            .unwrap();
    });
}

#[test]
fn a_blocking_call_in_a_fiber_is_named() {
    let out = finish(child("child_blocks_in_a_fiber"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("has held scheduler 0"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning per stall:\n{stderr}");
    assert!(
        warnings[0].starts_with("selvedge: fiber 'sleeper' ("),
        "{stderr}"
    );
    assert!(
        warnings[0].contains(&format!("spawned at {}:", file!())),
        "{stderr}"
    );
}

#[test]
#[ignore = "run by a_fiber_that_yields_often_is_not_a_stall"]
fn child_computes_and_yields() {
    if !support::in_child() {
        return;
    }
    let rt = warning_after_100ms();
    rt.run(|| {
        let worker = spawn(|| {
            let until = Instant::now() + Duration::from_millis(700);
            while Instant::now() < until {
                let slice = Instant::now() + Duration::from_millis(1);
                while Instant::now() < slice {
                    std::hint::spin_loop();
                }
                yield_now();
            }
        });
        worker.join().unwrap();
    });
}

#[test]
fn a_fiber_that_yields_often_is_not_a_stall() {
    let out = finish(child("child_computes_and_yields"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("has held"), "{stderr}");
}

#[test]
#[ignore = "run by a_std_lock_held_across_a_wait_is_named"]
fn child_holds_a_std_lock_across_a_sleep() {
    if !support::in_child() {
        return;
    }
    let rt = warning_after_100ms();
    rt.run(|| {
        let lock = Arc::new(Mutex::new(0));
        let l = lock.clone();
        let holder = spawn(move || {
            let mut guard = l.lock().unwrap();
            selvedge::sleep(Duration::from_millis(10)); // with the guard held
            *guard += 1;
        });
        yield_now(); // the holder takes the lock and sleeps
        let blocked = Builder::new()
            .name("blocked")
            .spawn(move || *lock.lock().unwrap() += 1) // blocks the thread
            .unwrap();
        let _ = (holder.join(), blocked.join());
    });
}

#[test]
fn a_std_lock_held_across_a_wait_is_named() {
    // The child hangs for good (its only thread waits for a lock that the
    // fiber holding it can never release): read its warning, then kill it.
    let mut child = child("child_holds_a_std_lock_across_a_sleep");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let warning = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("has held scheduler") => break line,
            Ok(_) => continue,
            Err(e) => panic!("no stall warning: {e}"),
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        warning.starts_with("selvedge: fiber 'blocked' ("),
        "{warning}"
    );
}

#[test]
#[ignore = "run by a_signal_prints_a_dump_of_a_live_process"]
fn child_dumps_on_a_signal() {
    if !support::in_child() {
        return;
    }
    let rt = Runtime::builder()
        .dump_on_signal(libc::SIGUSR1)
        .build()
        .unwrap();
    rt.run(|| {
        let (_tx, rx) = channel::<u32>();
        let _parked = Builder::new()
            .name("parked")
            .spawn(move || rx.recv())
            .unwrap();
        yield_now();
        println!("ready");
        // A pending timer: the run goes on, not deadlocked, until the
        // parent has sent its signal and read the dump.
        selvedge::sleep(Duration::from_secs(2));
    });
    println!("done");
}

#[test]
fn a_signal_prints_a_dump_of_a_live_process() {
    let mut child = child("child_dumps_on_a_signal");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the child ended early"
        );
    }
    let pid = child.id() as libc::pid_t;
    // SAFETY: sends a signal to our own child, which has not been waited for.
    let sent = unsafe { libc::kill(pid, libc::SIGUSR1) };
    assert_eq!(sent, 0);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let out = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(rest.contains("done"), "the runtime went on: {rest}");
    assert!(stderr.contains("selvedge: dump on signal"), "{stderr}");
    assert!(stderr.contains("fiber 'parked' ("), "{stderr}");
    assert!(stderr.contains("waiting: recv on channel@"), "{stderr}");
}
