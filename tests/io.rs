//! Readiness operations: in fibers and threads, composed with channels and
//! timers, and in the cases where descriptors misbehave.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use selvedge::{after, channel, io, select, spawn, Op};

const EBADF: i32 = 9;

#[test]
fn readable_in_a_fiber_waits_for_data() {
    selvedge::run(|| {
        let (mut a, b) = UnixStream::pair().unwrap();
        let writer = spawn(move || {
            selvedge::sleep(Duration::from_millis(20));
            a.write_all(b"x").unwrap();
            a
        });
        io::readable(&b).perform().unwrap();
        let mut buf = [0; 1];
        (&b).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"x");
        drop(writer.join().unwrap());
    });
}

#[test]
fn readable_on_a_plain_thread_blocks_the_thread() {
    let (mut a, b) = UnixStream::pair().unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        a.write_all(b"y").unwrap();
        a
    });
    io::readable(&b).perform().unwrap();
    let mut buf = [0; 1];
    (&b).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"y");
    drop(writer.join().unwrap());
}

#[test]
fn a_thread_can_choose_between_a_descriptor_and_a_channel() {
    let (_a, b) = UnixStream::pair().unwrap();
    let (tx, rx) = channel();
    let sender = std::thread::spawn(move || tx.send(5).unwrap());
    let got = io::readable(&b)
        .wrap(|_| None)
        .or(rx.recv_op().wrap(|r| r.ok()))
        .perform();
    assert_eq!(got, Some(5));
    sender.join().unwrap();
    // The losing readiness branch left nothing behind: the descriptor can
    // be waited on again and times out cleanly.
    let timed_out = io::readable(&b)
        .wrap(|_| false)
        .or(after(Duration::from_millis(10)).wrap(|()| true))
        .perform();
    assert!(timed_out);
}

#[test]
fn writable_is_ready_at_once_on_an_empty_socket() {
    let (a, _b) = UnixStream::pair().unwrap();
    assert!(io::writable(&a).try_perform().is_some());
    selvedge::run(move || {
        assert!(io::writable(&a).try_perform().is_some());
        io::writable(&a).perform().unwrap();
    });
}

#[test]
fn readiness_composes_with_channels_and_timers_in_select() {
    selvedge::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        let (tx, rx) = channel::<&str>();
        let mut events = Vec::new();
        let feeder = spawn(move || {
            tx.send("msg").unwrap();
            selvedge::sleep(Duration::from_millis(30));
            (&a).write_all(b"z").unwrap();
            a
        });
        while events.len() < 3 {
            select! {
                r = io::readable(&b) => {
                    r.unwrap();
                    let mut buf = [0; 1];
                    (&b).read_exact(&mut buf).unwrap();
                    events.push("fd");
                },
                m = rx.recv_op() => { if let Ok(m) = m { events.push(m) } },
                () = after(Duration::from_millis(10)) => {
                    if !events.contains(&"tick") { events.push("tick") }
                },
            }
        }
        assert_eq!(events, ["msg", "tick", "fd"]);
        drop(feeder.join().unwrap());
    });
}

#[test]
fn losing_readiness_branches_deregister() {
    selvedge::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        // Many performs where the timer wins: each leaves its waiter behind
        // unless unregistering works, which the final wait would trip over.
        for _ in 0..200 {
            let lost = io::readable(&b)
                .wrap(|_| false)
                .or(selvedge::always(()).wrap(|()| true))
                .perform();
            assert!(lost);
        }
        for _ in 0..20 {
            let timed_out = io::readable(&b)
                .wrap(|_| false)
                .or(after(Duration::from_millis(1)).wrap(|()| true))
                .perform();
            assert!(timed_out);
        }
        (&a).write_all(b"!").unwrap();
        io::readable(&b).perform().unwrap();
    });
}

#[test]
fn an_already_closed_descriptor_is_an_ebadf_error_not_a_hang() {
    // A number far above any open descriptor is certainly closed.
    // SAFETY: the number is never open, so no live descriptor is aliased;
    // using it only makes the kernel answer EBADF, which is the point.
    let closed = unsafe { BorrowedFd::borrow_raw(1 << 20) };
    let in_thread = io::readable(&closed).perform();
    assert_eq!(in_thread.unwrap_err().raw_os_error(), Some(EBADF));
    selvedge::run(move || {
        let e = io::writable(&closed).perform().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(EBADF));
        // Also when the fast path is not reached: the registration fails.
        let (tx, _rx) = channel::<()>();
        let r = select! {
            r = io::readable(&closed) => r,
            _ = tx.send_op(()) => Ok(()),
        };
        assert_eq!(r.unwrap_err().raw_os_error(), Some(EBADF));
    });
}

#[test]
fn a_descriptor_closed_while_waited_on_releases_its_waiter() {
    selvedge::run(|| {
        let (a, _b) = UnixStream::pair().unwrap();
        let raw = a.as_raw_fd();
        let waiter = spawn(move || {
            // SAFETY: this emulates C code that closes a descriptor behind
            // Rust's back (the case that hung Guile Fibers users); the
            // number is only handed to poll/epoll, which report EBADF or
            // ENOENT once it is closed.
            let fd = unsafe { BorrowedFd::borrow_raw(raw) };
            io::readable(&fd).perform()
        });
        selvedge::yield_now(); // the waiter is now registered
        drop(a);
        let got = waiter.join().unwrap();
        assert_eq!(got.unwrap_err().raw_os_error(), Some(EBADF));
    });
}

#[test]
fn reused_descriptor_numbers_are_watched_afresh() {
    selvedge::run(|| {
        for round in 0..20 {
            let (a, b) = UnixStream::pair().unwrap();
            let writer = spawn(move || {
                selvedge::yield_now();
                (&a).write_all(&[round]).unwrap();
                a
            });
            // Same numbers as the previous round's pair, most likely; the
            // old registration must not shadow the new descriptor.
            io::readable(&b).perform().unwrap();
            let mut buf = [0; 1];
            (&b).read_exact(&mut buf).unwrap();
            assert_eq!(buf[0], round);
            drop(writer.join().unwrap());
        }
    });
}

#[test]
fn many_fibers_wait_on_one_descriptor_in_each_direction() {
    selvedge::run(|| {
        let (a, b) = selvedge::net::UnixStream::pair().unwrap();
        let b = std::rc::Rc::new(b);
        let readers: Vec<_> = (0..10)
            .map(|_| {
                let b = b.clone();
                spawn(move || {
                    let mut byte = [0; 1];
                    (&*b).read_exact(&mut byte).unwrap();
                    byte[0]
                })
            })
            .collect();
        selvedge::yield_now(); // all ten are waiting now
        for i in 0..10u8 {
            (&a).write_all(&[i]).unwrap();
            selvedge::yield_now();
        }
        let mut got: Vec<u8> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, (0..10).collect::<Vec<_>>());

        // Writers: fill a socket, then five fibers block writing to it.
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut filled = 0;
        loop {
            match (&a).write(&[7u8; 4096]) {
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        let a = std::rc::Rc::new(selvedge::net::UnixStream::from_std(a).unwrap());
        let b = selvedge::net::UnixStream::from_std(b).unwrap();
        let writers: Vec<_> = (0..5)
            .map(|_| {
                let a = a.clone();
                spawn(move || (&*a).write_all(&[1u8; 1000]).is_ok())
            })
            .collect();
        selvedge::yield_now();
        assert!(writers.iter().all(|w| !w.is_finished()));
        let mut drained = 0;
        let mut buf = vec![0; 65536];
        while drained < filled + 5000 {
            drained += (&b).read(&mut buf).unwrap();
        }
        assert!(writers.into_iter().all(|w| w.join().unwrap()));
    });
}

/// CPU time this thread has used, in clock ticks (from procfs).
fn thread_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // utime and stime are fields 14 and 15 of the stat line (1-based),
    // i.e. 11 and 12 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_hung_up_descriptor_does_not_make_the_scheduler_spin() {
    selvedge::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a); // b now reports HUP forever
        io::readable(&b).perform().unwrap();
        let mut buf = [0; 1];
        assert_eq!((&b).read(&mut buf).unwrap(), 0);
        // Another fiber waits on a live pair, so the scheduler sleeps in
        // the poller, where the hung-up descriptor is still registered.
        let (c, _d) = UnixStream::pair().unwrap();
        let watcher = spawn(move || {
            io::readable(&c)
                .wrap(|_| ())
                .or(after(Duration::from_millis(300)))
                .perform();
        });
        let before = thread_cpu_ticks();
        let started = Instant::now();
        selvedge::sleep(Duration::from_millis(250));
        let used = thread_cpu_ticks() - before;
        assert!(started.elapsed() >= Duration::from_millis(250));
        // A poller re-reporting the hang-up would burn the whole 250 ms.
        assert!(used <= 5, "the scheduler used {used} ticks while idle");
        watcher.join().unwrap();
        drop(b);
    });
}
