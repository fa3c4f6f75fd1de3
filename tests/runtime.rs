//! Several schedulers: Runtime, Builder, Handle; fibers stay on their thread;
//! channels, choices, timers and conditions across schedulers.

use selvedge::{after, channel, spawn, yield_now, Condition, Handle, Op, Runtime};
use std::collections::HashSet;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

fn rt(threads: usize) -> Runtime {
    Runtime::builder().threads(threads).build().unwrap()
}

#[test]
fn a_runtime_runs_many_times_and_many_runtimes_run_in_sequence() {
    let r = rt(3);
    for i in 0..5u64 {
        let v = r.run(move || {
            let hs: Vec<_> = (0..6)
                .map(|j| Handle::current().spawn(move || i * 10 + j))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(v, i * 60 + 15);
    }
    for n in 1..=4 {
        assert_eq!(rt(n).run(move || n * 2), n * 2);
    }
}

#[test]
fn handle_spawn_spreads_fibers_over_every_scheduler() {
    let threads: HashSet<ThreadId> = rt(4).run(|| {
        let hs: Vec<_> = (0..8)
            .map(|_| Handle::current().spawn(|| std::thread::current().id()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(threads.len(), 4);
}

/// A join may run the joined fiber from the joiner when the joiner's
/// scheduler would run it next. A handle joined on another scheduler finds
/// its fiber in no queue there: that join waits, as any, while the fiber
/// runs on its own scheduler.
#[test]
fn handles_joined_on_other_schedulers_get_their_results() {
    let (sum, threads) = rt(2).run(|| {
        let joiners: Vec<_> = (0..8u64)
            .map(|i| {
                let child = spawn(move || (i, std::thread::current().id()));
                Handle::current().spawn(move || {
                    let (v, child_thread) = child.join().unwrap();
                    (v, child_thread != std::thread::current().id())
                })
            })
            .collect();
        let results: Vec<_> = joiners.into_iter().map(|h| h.join().unwrap()).collect();
        let sum: u64 = results.iter().map(|&(v, _)| v).sum();
        let across = results.iter().filter(|&&(_, across)| across).count();
        (sum, across)
    });
    assert_eq!(sum, 28);
    assert!(threads > 0, "some joins crossed schedulers");
}

#[test]
fn fibers_stay_on_the_thread_they_started_on() {
    let r = rt(3);
    let moved = r.run(|| {
        // A ring of 9 fibers spread over 3 schedulers passes a token 20
        // times round, sleeping and yielding on the way.
        let chans: Vec<_> = (0..9).map(|_| channel::<u32>()).collect();
        let hs: Vec<_> = (0..9)
            .map(|i| {
                let rx = chans[i].1.clone();
                let tx = chans[(i + 1) % 9].0.clone();
                Handle::current().spawn(move || {
                    let home = std::thread::current().id();
                    let mut moved = 0;
                    for round in 0..20u32 {
                        if i == 0 {
                            tx.send(round).unwrap();
                            rx.recv().unwrap();
                        } else {
                            let v = rx.recv().unwrap();
                            tx.send(v).unwrap();
                        }
                        if round % 7 == 0 {
                            selvedge::sleep(Duration::from_millis(1));
                        }
                        yield_now();
                        if std::thread::current().id() != home {
                            moved += 1;
                        }
                    }
                    moved
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
    });
    assert_eq!(moved, 0);
}

#[test]
fn cross_scheduler_ping_pong_delivers_every_value_in_order() {
    let got = rt(2).run(|| {
        let (ping_tx, ping_rx) = channel::<u64>();
        let (pong_tx, pong_rx) = channel::<u64>();
        let main_thread = std::thread::current().id();
        // Round-robin from scheduler 0: the first Handle::spawn lands on 0,
        // the second on 1; spawn a dummy first so the echo lands remote.
        Handle::current().spawn(|| ()).join().unwrap();
        let echo = Handle::current().spawn(move || {
            let here = std::thread::current().id();
            for v in &ping_rx {
                pong_tx.send(v * 2).unwrap();
            }
            here
        });
        let mut got = Vec::new();
        for i in 0..2000 {
            ping_tx.send(i).unwrap();
            got.push(pong_rx.recv().unwrap());
        }
        drop(ping_tx);
        assert_ne!(echo.join().unwrap(), main_thread);
        got
    });
    assert_eq!(got, (0..2000).map(|i| i * 2).collect::<Vec<_>>());
}

#[test]
fn choices_timers_and_conditions_work_across_schedulers() {
    rt(3).run(|| {
        let (a_tx, a_rx) = channel::<&str>();
        let (b_tx, b_rx) = channel::<&str>();
        let go = Condition::new();
        let g = go.clone();
        let senders: Vec<_> = [(a_tx, "a"), (b_tx, "b")]
            .into_iter()
            .map(|(tx, name)| {
                let g = g.clone();
                Handle::current().spawn(move || {
                    g.wait();
                    for _ in 0..50 {
                        tx.send(name).unwrap();
                    }
                })
            })
            .collect();
        // A timeout on another scheduler fires while nothing is sent.
        let idle = Handle::current().spawn(|| {
            let start = Instant::now();
            selvedge::sleep(Duration::from_millis(10));
            start.elapsed()
        });
        assert!(idle.join().unwrap() >= Duration::from_millis(10));
        go.signal();
        let (mut a, mut b) = (0, 0);
        while a + b < 100 {
            match a_rx
                .recv_op()
                .or(b_rx.recv_op())
                // A finished sender's channel is disconnected, hence ready.
                .wrap(|r| r.unwrap_or("closed"))
                .or(after(Duration::from_secs(10)).wrap(|()| "timeout"))
                .perform()
            {
                "a" => a += 1,
                "b" => b += 1,
                "closed" => yield_now(),
                other => panic!("{other}"),
            }
        }
        assert_eq!((a, b), (50, 50));
        senders.into_iter().for_each(|h| h.join().unwrap());
    });
}

#[test]
fn plain_threads_talk_to_fibers_on_several_schedulers() {
    let (req_tx, req_rx) = channel::<u64>();
    let (resp_tx, resp_rx) = channel::<(u64, ThreadId)>();
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let (tx, rx) = (req_tx.clone(), resp_rx.clone());
            std::thread::spawn(move || {
                let mut seen = HashSet::new();
                let mut sum = 0;
                for i in 0..200 {
                    tx.send(c * 1000 + i).unwrap();
                    let (v, t) = rx.recv().unwrap();
                    sum += v;
                    seen.insert(t);
                }
                (sum, seen)
            })
        })
        .collect();
    drop((req_tx, resp_rx));
    rt(3).run(move || {
        let workers: Vec<_> = (0..6)
            .map(|_| {
                let (rx, tx) = (req_rx.clone(), resp_tx.clone());
                Handle::current().spawn(move || {
                    for v in &rx {
                        tx.send((v + 1, std::thread::current().id())).unwrap();
                    }
                })
            })
            .collect();
        drop((req_rx, resp_tx));
        workers.into_iter().for_each(|h| h.join().unwrap());
    });
    let mut total = 0;
    let mut threads = HashSet::new();
    for c in clients {
        let (sum, seen) = c.join().unwrap();
        total += sum;
        threads.extend(seen);
    }
    let expected: u64 = (0..3u64)
        .flat_map(|c| (0..200).map(move |i| c * 1000 + i + 1))
        .sum();
    assert_eq!(total, expected);
    assert!(threads.len() >= 2, "all answers came from one scheduler");
}

#[test]
fn a_fiber_parked_on_a_worker_is_torn_down_when_main_returns() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    rt(2).run(move || {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let (_tx, rx) = channel::<()>();
        for _ in 0..2 {
            let (flag, rx) = (Flag(d.clone()), rx.clone());
            Handle::current().spawn(move || {
                let _f = flag;
                let _ = rx.recv();
            });
        }
        yield_now();
    });
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn builder_rejects_bad_input_with_clear_errors() {
    let e = Runtime::builder().threads(0).build().unwrap_err();
    assert!(e.to_string().contains("threads"));
    let e = Runtime::builder().stack_size(100).build().unwrap_err();
    assert!(e.to_string().contains("stack_size"));
}

/// A stack size no address space holds is refused by `build`, with the
/// limit named, rather than overflowing when the first stack is mapped.
#[test]
fn builder_rejects_an_impossible_stack_size() {
    for size in [usize::MAX, (1 << 56) + 1] {
        let e = Runtime::builder().stack_size(size).build().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("at most"), "{e}");
    }
}

#[test]
fn a_small_stack_size_is_used_by_fibers() {
    let v = Runtime::builder()
        .stack_size(32 * 1024)
        .build()
        .unwrap()
        .run(|| {
            spawn(|| [1u8; 1024].iter().map(|&b| b as u32).sum::<u32>())
                .join()
                .unwrap()
        });
    assert_eq!(v, 1024);
}

#[test]
fn handle_is_send_sync_and_spawns_from_a_plain_thread() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Handle>();
    let r = rt(2);
    let h = r.handle();
    let v = r.run(move || {
        // Answer over a channel: blocking this fiber's OS thread in
        // `JoinHandle::join` would stall the scheduler the new fiber may be on.
        let (tx, rx) = channel();
        std::thread::spawn(move || tx.send(h.spawn(|| 5).join().unwrap()).unwrap());
        rx.recv().unwrap()
    });
    assert_eq!(v, 5);
}

#[test]
#[should_panic(expected = "not running")]
fn handle_spawn_when_not_running_panics_clearly() {
    let r = rt(1);
    let _ = r.handle().spawn(|| ());
}

#[test]
fn cross_scheduler_rendezvous_works_with_and_without_the_idle_spin() {
    for spin in [Duration::ZERO, Duration::from_micros(200)] {
        let r = Runtime::builder()
            .threads(2)
            .spin_before_sleep(spin)
            .build()
            .unwrap();
        let sum = r.run(|| {
            let (tx, rx) = channel::<u64>();
            let hs: Vec<_> = (0..4)
                .map(|i| {
                    let tx = tx.clone();
                    Handle::current()
                        .spawn(move || (0..250).for_each(|j| tx.send(i * 250 + j).unwrap()))
                })
                .collect();
            drop(tx);
            let sum = rx.iter().sum::<u64>();
            hs.into_iter().for_each(|h| h.join().unwrap());
            sum
        });
        assert_eq!(sum, (0..1000).sum(), "spin {spin:?}");
    }
}

/// A worker's stop flag is checked between fiber runs, and the hand-off
/// chain that skips that check ends every few picks: an endless hand-off
/// on a worker cannot keep `run` from returning.
#[test]
fn an_endless_hand_off_on_every_scheduler_does_not_keep_run_from_returning() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    const BOUND: u64 = 20_000_000;
    let counts: Vec<Arc<AtomicU64>> = (0..4).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let cs = counts.clone();
    rt(2).run(move || {
        for count in &cs {
            let count = Arc::clone(count);
            // Placed round-robin: two pairs per scheduler.
            Handle::current().spawn(move || {
                let (ping_tx, ping_rx) = channel::<()>();
                let (pong_tx, pong_rx) = channel::<()>();
                spawn(move || {
                    for () in &ping_rx {
                        if pong_tx.send(()).is_err() {
                            return;
                        }
                    }
                });
                // Bounded, so a worker that never stops fails the
                // assertion below instead of hanging the test.
                while count.load(Ordering::Relaxed) < BOUND {
                    ping_tx.send(()).unwrap();
                    pong_rx.recv().unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while cs.iter().any(|c| c.load(Ordering::Relaxed) < 100) {
            yield_now();
        }
    });
    for c in &counts {
        let n = c.load(Ordering::Relaxed);
        assert!((100..BOUND).contains(&n), "a pair ran {n} round trips");
    }
}

/// A thread that spawns through a `Handle` while `run` ends: every spawn
/// either runs in that run, is dropped by its end (its join returns an
/// error), or is refused (`Handle::spawn` panics: not running). None is
/// left waiting, neither run nor dropped.
#[test]
fn spawns_racing_the_end_of_run_all_end() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    for threads in [1, 2] {
        let r = rt(threads);
        for _ in 0..20 {
            let handle = r.handle();
            let started = Arc::new(AtomicBool::new(false));
            let s = started.clone();
            let spawner = std::thread::spawn(move || {
                let mut handles = Vec::new();
                while handles.len() < 100_000 {
                    let spawned = std::panic::catch_unwind(|| handle.spawn(|| 7));
                    match spawned {
                        Ok(h) => {
                            s.store(true, Ordering::SeqCst);
                            handles.push(h);
                        }
                        // Not running: refused. Before the run began, or after
                        // it ended, once some spawns got in.
                        Err(_) if s.load(Ordering::SeqCst) => return handles,
                        Err(_) => std::thread::yield_now(),
                    }
                }
                handles
            });
            // Main returns as soon as spawns come in: they race its end.
            r.run(|| {
                while !started.load(Ordering::SeqCst) {
                    selvedge::yield_now();
                }
            });
            let handles = spawner.join().unwrap();
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let joined: Vec<_> = handles.into_iter().map(|h| h.join().is_ok()).collect();
                done_tx.send(joined).unwrap();
            });
            let joined = done_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("a join waited for a fiber that was neither run nor dropped");
            assert!(!joined.is_empty());
        }
    }
}

#[test]
fn spawn_on_places_on_the_named_scheduler_and_refuses_others() {
    let rt = selvedge::Runtime::builder().threads(2).build().unwrap();
    rt.run(|| {
        let handle = selvedge::Handle::current();
        assert_eq!(handle.schedulers(), 2);
        let on_worker = handle.spawn_on(1, || std::thread::current().id());
        let here = handle.spawn_on(0, || std::thread::current().id());
        assert_ne!(on_worker.join().unwrap(), std::thread::current().id());
        assert_eq!(here.join().unwrap(), std::thread::current().id());
        let out =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle.spawn_on(2, || ())));
        let message = out.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("out of range"), "{message}");
    });
}
