use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::runtime::fiber::stack::Layout;
use crate::runtime::run_queue::FAIRNESS;
use crate::{channel, run, spawn, yield_now};

fn nested_runs() -> usize {
    crate::runtime::context::with_scheduler(|s| s.nested_runs.get()).unwrap()
}

fn busy_checks() -> usize {
    crate::runtime::context::with_scheduler(|s| s.busy_checks.get()).unwrap()
}

/// Joining a fiber that has not started and would run next anyway runs
/// it from the joiner, without the trip through the loop: every join
/// of a spawn+join loop, fairness turns included (with nothing else
/// runnable they pick the same fiber), but for the loop's checks of
/// timers and descriptors: a check that comes due sends at most one
/// join through the loop, which then runs the joined fiber and the
/// joiner. (Checks come every 61 runs, and sooner on a slow host.)
#[test]
fn a_join_runs_the_fresh_fiber_the_loop_would_run_next() {
    let (nested, checks) = run(|| {
        for i in 0..160u32 {
            assert_eq!(spawn(move || i + 1).join().unwrap(), i + 1);
        }
        (nested_runs(), busy_checks())
    });
    assert!(checks >= 160 / 61, "at least one check every 61 runs");
    assert!(
        160 - nested <= checks,
        "{} joins went through the loop, {checks} checks sent them",
        160 - nested
    );
}

/// A fairness turn picks the fiber that has waited longest: a join then
/// runs the fiber it waits for only if that is the one; a yielded fiber
/// that waited longer runs first.
#[test]
fn a_join_on_a_fairness_turn_lets_a_fiber_that_waited_longer_go_first() {
    let (log, nested) = run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let yielder = spawn({
            let log = log.clone();
            move || {
                yield_now();
                log.borrow_mut().push("yielder");
            }
        });
        yield_now(); // the yielder starts and yields: it waits
        let checks_before = busy_checks();
        let mut joins = 0;
        while !log.borrow().contains(&"yielder") {
            let log = log.clone();
            spawn(move || log.borrow_mut().push("child"))
                .join()
                .unwrap();
            joins += 1;
            assert!(joins <= FAIRNESS, "the yielder never got its turn");
        }
        let checks = busy_checks() - checks_before;
        yielder.join().unwrap();
        (log.take(), (nested_runs(), checks))
    });
    let (nested, checks) = nested;
    // The yielder waits behind fresh fibers until a fairness turn, which
    // comes within `FAIRNESS` picks and goes to it.
    let children = log.len() - 1;
    assert_eq!(log.iter().filter(|&&e| e == "child").count(), children);
    assert!(children > 1 && children as u32 <= FAIRNESS, "{log:?}");
    if log[children] == "yielder" {
        // A check sent the last join through the loop, which ran the
        // child; the turn came as the child's end woke the joiner, and
        // went to the yielder, which had waited longer than the joiner.
        assert!(
            checks >= 1,
            "no check, yet the turn missed the join: {log:?}"
        );
    } else {
        // The turn came at the last join, and went to the yielder; the
        // child joined then runs after it, from the loop.
        assert_eq!(log[children - 1], "yielder", "{log:?}");
    }
    // All but the fairness turn's join, and any a check sent through
    // the loop (none where the host is fast enough).
    assert!(nested < children, "{nested} of {children}");
    assert!(
        nested + checks >= children - 1,
        "{nested} of {children}, {checks} checks"
    );
}

/// Only the fiber the loop would pick next runs early: an older
/// sibling that has not started, and a partner in the hand-off slot,
/// keep their turns, and the joined fiber waits for them.
#[test]
fn a_join_never_runs_a_fiber_ahead_of_its_turn() {
    let (log, nested) = run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let logger = |name: &'static str| {
            let log = log.clone();
            move || log.borrow_mut().push(name)
        };
        let older = spawn(logger("older sibling"));
        let younger = spawn(logger("younger sibling"));
        younger.join().unwrap();
        older.join().unwrap();

        let (tx, rx) = channel::<()>();
        let partner = spawn({
            let log = log.clone();
            move || {
                rx.recv().unwrap();
                log.borrow_mut().push("partner");
            }
        });
        yield_now(); // the partner waits in recv
        tx.send(()).unwrap(); // and now in the hand-off slot
        spawn(logger("child")).join().unwrap();
        partner.join().unwrap();
        (log.take(), nested_runs())
    });
    assert_eq!(
        log,
        ["older sibling", "younger sibling", "partner", "child"]
    );
    assert_eq!(nested, 0, "every fiber waited for its turn in the loop");
}

thread_local! {
    /// Makes the next turn of this thread's scheduler loop panic.
    static FAIL_NEXT_TURN: Cell<bool> = const { Cell::new(false) };
}

/// Panics if a test asked the loop to (see `FAIL_NEXT_TURN`).
pub(super) fn fail_here_if_asked() {
    if FAIL_NEXT_TURN.with(|f| f.replace(false)) {
        panic!("a turn of the scheduler loop failed");
    }
}

/// A scheduler that unwinds out of its loop tears its fibers down while
/// it is still installed: the destructors of a fiber waiting with a
/// timer and a descriptor may spawn, its timer and descriptor are
/// withdrawn from that scheduler, and the thread runs again.
#[test]
fn unwinding_out_of_run_tears_down_while_the_scheduler_is_installed() {
    use crate::{after, io, Op};
    use std::os::unix::net::UnixStream;
    struct SpawnsOnDrop(Rc<Cell<bool>>);
    impl Drop for SpawnsOnDrop {
        fn drop(&mut self) {
            drop(spawn(|| ()));
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    let (a, _b) = UnixStream::pair().unwrap();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(|| {
            spawn(move || {
                let _guard = SpawnsOnDrop(d);
                let waited = io::readable(&a)
                    .or(after(std::time::Duration::from_secs(3600)).wrap(|()| Ok(())))
                    .perform();
                unreachable!("nothing is written: {waited:?}");
            });
            yield_now(); // it waits on its descriptor and its timer
            FAIL_NEXT_TURN.with(|f| f.set(true));
            yield_now();
            unreachable!("the loop failed");
        })
    }));
    assert!(unwound.is_err());
    assert!(dropped.get(), "the waiting fiber was torn down");
    assert!(!crate::runtime::context::in_runtime());
    assert_eq!(run(|| spawn(|| 6 * 7).join().unwrap()), 42);
}

/// A wake from an earlier run that arrives late (a slow thread still
/// holding its token) names a key of that run: it must wake nothing in
/// the next run, where a fiber may sit in the same slot. Here it would
/// have started `b` ahead of `a`, spawned before it.
#[test]
fn a_late_wake_from_an_earlier_run_wakes_nothing_in_the_next() {
    use crate::runtime::context::with_scheduler;
    use crate::runtime::current::current_key;
    let rt = crate::Runtime::builder().build().unwrap();
    let spawn_two = |log: Rc<RefCell<Vec<&'static str>>>| {
        let logger = |name| {
            let log = log.clone();
            move || {
                log.borrow_mut().push(name);
                current_key().unwrap()
            }
        };
        (spawn(logger("a")), spawn(logger("b")))
    };
    let stale = rt.run(|| {
        let (a, b) = spawn_two(Rc::default());
        a.join().unwrap();
        b.join().unwrap()
    });
    let log = rt.run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let (a, b) = spawn_two(log.clone());
        with_scheduler(|s| s.shared.wake_remote(stale)); // delivered late
        a.join().unwrap();
        b.join().unwrap();
        log.take()
    });
    assert_eq!(log, ["a", "b"]);
}

/// The whole runtime on stacks mapped one by one (kernels without
/// guard regions): fibers start, reuse parked coroutines, switch,
/// finish, are trimmed and are torn down while parked.
#[test]
fn fibers_run_on_mapped_stacks() {
    let rt = crate::Runtime::builder()
        .layout(Layout::Mapped)
        .build()
        .unwrap();
    let (sum, layout) = rt.run(|| {
        let (tx, rx) = channel::<u64>();
        let senders: Vec<_> = (0..1100u64)
            .map(|i| {
                let tx = tx.clone();
                spawn(move || {
                    yield_now();
                    tx.send(i).unwrap();
                })
            })
            .collect();
        drop(tx);
        let sum: u64 = rx.iter().sum();
        for h in senders {
            h.join().unwrap();
        }
        for i in 0..100u64 {
            assert_eq!(spawn(move || i * 2).join().unwrap(), i * 2);
        }
        let layout = crate::runtime::context::with_scheduler(|s| {
            let mut stacks = s.stacks_for_test();
            while stacks.needs_trim() {
                stacks.trim(); // unmaps the excess mapped stacks
            }
            stacks.counts()
        });
        let (_parked_tx, parked_rx) = channel::<()>();
        spawn(move || {
            let _ = parked_rx.recv(); // torn down when main returns
        });
        yield_now();
        (sum, layout)
    });
    assert_eq!(sum, (0..1100).sum::<u64>());
    let (idle, fresh, created) = layout.unwrap();
    assert_eq!(
        (fresh, created),
        (0, 1101),
        "mapped stacks are never carved"
    );
    assert_eq!(idle, crate::runtime::fiber::stack_pool::MAX_IDLE);
}
