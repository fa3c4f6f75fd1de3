//! Fibers: spawn, join, scheduling order, yield_now, sleep, !Send data.

use selvedge::{channel, run, sleep, spawn, yield_now, Op};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

#[test]
fn run_returns_mains_value_and_may_borrow() {
    let words = String::from("ab");
    let n = run(|| words.len());
    assert_eq!(n, 2);
}

#[test]
fn join_returns_the_fibers_value() {
    let v = run(|| spawn(|| 40 + 2).join().unwrap());
    assert_eq!(v, 42);
}

#[test]
fn spawn_returns_before_the_fiber_runs() {
    run(|| {
        let ran = Rc::new(RefCell::new(false));
        let r = ran.clone();
        let h = spawn(move || *r.borrow_mut() = true);
        assert!(!*ran.borrow());
        assert!(!h.is_finished());
        h.join().unwrap();
        assert!(*ran.borrow());
    });
}

#[test]
fn children_first_run_in_spawn_order() {
    let order = run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let hs: Vec<_> = (0..10)
            .map(|i| {
                let log = log.clone();
                spawn(move || log.borrow_mut().push(i))
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let v = log.borrow().clone();
        v
    });
    assert_eq!(order, (0..10).collect::<Vec<_>>());
}

#[test]
fn yield_now_lets_every_other_runnable_fiber_run_once() {
    let log = run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let hs: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|name| {
                let log = log.clone();
                spawn(move || {
                    for round in 0..3 {
                        log.borrow_mut().push(format!("{name}{round}"));
                        yield_now();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let v = log.borrow().clone();
        v
    });
    assert_eq!(log, ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"]);
}

#[test]
fn a_fiber_spinning_on_yield_does_not_starve_others() {
    run(|| {
        let done = Rc::new(RefCell::new(false));
        let d = done.clone();
        let spinner = spawn(move || {
            let mut spins = 0u64;
            while !*d.borrow() {
                yield_now();
                spins += 1;
            }
            spins
        });
        let worker = spawn(move || {
            for _ in 0..100 {
                yield_now();
            }
            *done.borrow_mut() = true;
        });
        worker.join().unwrap();
        assert!(spinner.join().unwrap() >= 100);
    });
}

#[test]
fn fibers_hold_non_send_data() {
    let total = run(|| {
        let cell = Rc::new(RefCell::new(0));
        let hs: Vec<_> = (1..=10)
            .map(|i| {
                let c = cell.clone();
                spawn(move || *c.borrow_mut() += i)
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let v = *cell.borrow();
        v
    });
    assert_eq!(total, 55);
}

#[test]
fn sleep_in_a_fiber_lets_others_run() {
    run(|| {
        let (tx, rx) = channel();
        let sleeper = spawn(move || {
            // Long enough that 1000 yields of the other fiber finish first
            // even on a heavily loaded machine.
            sleep(Duration::from_millis(500));
            tx.send("slept").unwrap();
        });
        let busy = spawn(|| (0..1000).map(|_| yield_now()).count());
        assert_eq!(busy.join().unwrap(), 1000);
        assert!(!sleeper.is_finished());
        assert_eq!(rx.recv(), Ok("slept"));
    });
}

#[test]
fn join_op_composes_with_other_operations() {
    run(|| {
        let mut h = spawn(|| 7);
        let (_tx, rx) = channel::<i32>();
        let got = h
            .join_op()
            .wrap(|r| r.unwrap())
            .or(rx.recv_op().wrap(|_| -1))
            .perform();
        assert_eq!(got, 7);
    });
}

/// A join that loses a choice withdraws, again and again; the fiber's
/// result is still there for the join that finally waits for it.
#[test]
fn a_join_op_that_lost_choices_still_gets_the_result() {
    let (lost, got) = run(|| {
        let (go_tx, go_rx) = channel::<u32>();
        let mut h = spawn(move || go_rx.recv().unwrap() * 2);
        let (tx, rx) = channel::<u32>();
        let ticker = spawn(move || {
            for i in 0..5 {
                yield_now(); // so each choice below finds nothing ready
                tx.send(i).unwrap();
            }
        });
        let mut lost = Vec::new();
        for _ in 0..5 {
            // Both wait: the child for `go`, the ticker for this receive.
            let got = h.join_op().wrap(|_| None).or(rx.recv_op().wrap(Result::ok));
            lost.push(got.perform().expect("the ticker's value won"));
        }
        ticker.join().unwrap();
        go_tx.send(21).unwrap();
        (lost, h.join().unwrap())
    });
    assert_eq!(lost, vec![0, 1, 2, 3, 4]);
    assert_eq!(got, 42);
}

/// Suspended fibers, and the running one, are resumed in place while the
/// fiber table grows by thousands of slots under them.
#[test]
fn parked_and_running_fibers_survive_the_fiber_table_growing() {
    let total = run(|| {
        let (tx, rx) = channel::<u64>();
        let parked: Vec<_> = (0..50u64)
            .map(|i| {
                let rx = rx.clone();
                spawn(move || rx.recv().unwrap() * 1000 + i)
            })
            .collect();
        yield_now(); // every parked fiber has started and waits in `recv`
        let local = 7u64;
        let busy: Vec<_> = (0..5000u64).map(|i| spawn(move || i)).collect();
        yield_now(); // the main fiber suspends and resumes mid-growth
        let busy_sum: u64 = busy.into_iter().map(|h| h.join().unwrap()).sum();
        for _ in 0..50 {
            tx.send(1).unwrap();
        }
        let mut parked_sum = 0;
        for h in parked {
            parked_sum += h.join().unwrap();
        }
        (local, busy_sum, parked_sum)
    });
    assert_eq!(total, (7, 4999 * 5000 / 2, 50 * 1000 + 49 * 50 / 2));
}

#[test]
fn nested_spawns_many_levels_deep() {
    fn depth(n: u32) -> u32 {
        if n == 0 {
            0
        } else {
            spawn(move || depth(n - 1)).join().unwrap() + 1
        }
    }
    assert_eq!(run(|| depth(200)), 200);
}

#[test]
#[should_panic(expected = "outside a runtime")]
fn spawn_outside_a_runtime_panics_with_a_clear_message() {
    let _ = spawn(|| ());
}

#[test]
#[should_panic(expected = "inside a running selvedge runtime")]
fn run_inside_a_fiber_panics_with_a_clear_message() {
    run(|| run(|| ()));
}

#[test]
fn runtimes_run_one_after_another_on_one_thread() {
    for i in 0..20 {
        assert_eq!(run(move || spawn(move || i * 2).join().unwrap()), i * 2);
    }
}

/// Two fibers that hand off to each other forever run as a chain without
/// the scheduler's full turn in between; a fiber that is merely ready still
/// runs within the fairness bound (the loop checks timers every 61 runs at most,
/// well above it).
#[test]
fn a_pair_handing_off_forever_lets_a_ready_fiber_run_within_the_fairness_bound() {
    let rounds = run(|| {
        let count = Rc::new(RefCell::new(0u32));
        let stop = Rc::new(RefCell::new(false));
        let (ping_tx, ping_rx) = channel::<()>();
        let (pong_tx, pong_rx) = channel::<()>();
        let (c, s) = (count.clone(), stop.clone());
        // Bounded, so a starving scheduler fails the assertion below
        // instead of hanging the test.
        let pinger = spawn(move || {
            while !*s.borrow() && *c.borrow() < 100_000 {
                ping_tx.send(()).unwrap();
                pong_rx.recv().unwrap();
                *c.borrow_mut() += 1;
            }
        });
        let ponger = spawn(move || {
            for () in &ping_rx {
                pong_tx.send(()).unwrap();
            }
        });
        let (c, s) = (count.clone(), stop.clone());
        let ready = spawn(move || {
            *s.borrow_mut() = true;
            let seen = *c.borrow();
            seen
        });
        let seen = ready.join().unwrap();
        pinger.join().unwrap();
        ponger.join().unwrap();
        seen
    });
    assert!(rounds > 0, "the pair got going first");
    assert!(rounds <= 16, "the ready fiber waited {rounds} round trips");
}

/// A join may run the joined fiber straight from the joiner (when the
/// scheduler would run it next anyway); those runs still count towards the
/// scheduler's timer and descriptor checks, so a fiber that spawns and
/// joins in a loop lets a sleeper wake.
#[test]
fn a_loop_of_spawns_and_joins_lets_timers_fire() {
    run(|| {
        let woke = Rc::new(RefCell::new(false));
        let w = woke.clone();
        spawn(move || {
            sleep(Duration::from_millis(1));
            *w.borrow_mut() = true;
        });
        yield_now(); // the sleeper waits on its timer
        let mut joins = 0u64;
        while !*woke.borrow() {
            assert_eq!(spawn(move || joins).join().unwrap(), joins);
            joins += 1;
            assert!(joins < 50_000_000, "the sleeper never woke");
        }
    });
}

/// A fiber run from its joiner may block; the joiner then waits as usual,
/// and both go on when the blocked fiber is released.
#[test]
fn a_joined_fiber_that_blocks_releases_its_joiner_when_it_finishes() {
    let got = run(|| {
        let (tx, rx) = channel::<u32>();
        let child = spawn(move || rx.recv().unwrap() * 2);
        let releaser = spawn(move || tx.send(21).unwrap());
        let got = child.join().unwrap();
        releaser.join().unwrap();
        got
    });
    assert_eq!(got, 42);
}

/// Once `join_op` took the result, `join` says so instead of waiting for a
/// result that will never come again.
#[test]
#[should_panic(expected = "already taken by an earlier join_op")]
fn join_after_a_join_op_took_the_result_panics() {
    run(|| {
        let mut fiber = spawn(|| 1);
        assert_eq!(fiber.join_op().perform().unwrap(), 1);
        let _ = fiber.join();
    });
}
