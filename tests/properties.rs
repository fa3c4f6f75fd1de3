//! quickcheck properties: conservation of values across fibers and threads
//! over channels of every flavour and MVars, one value for every IVar
//! reader, exactly-one commit of a choice, timer order.

use quickcheck::{Arbitrary, Gen, QuickCheck};
use selvedge::{
    after, always, bounded, choice, never, run, spawn, unbounded, BoxOp, IVar, MVar, Op, Receiver,
    Sender,
};
use std::cell::Cell;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
struct Producer {
    on_thread: bool,
    /// For each value, the channels (indices) it is offered on at once.
    offers: Vec<Vec<usize>>,
}

#[derive(Clone, Debug)]
struct Program {
    /// Each channel's capacity: `Some(0)` rendezvous, `None` unbounded.
    caps: Vec<Option<usize>>,
    producers: Vec<Producer>,
    consumers: Vec<(bool, bool)>, // (on a plain thread, races a timeout)
}

impl Arbitrary for Program {
    fn arbitrary(g: &mut Gen) -> Self {
        let channels = 1 + usize::arbitrary(g) % 3;
        let caps = (0..channels)
            .map(|_| match u8::arbitrary(g) % 4 {
                0 | 1 => Some(0),
                2 => Some(1 + usize::arbitrary(g) % 3),
                _ => None,
            })
            .collect();
        let producers = (0..1 + usize::arbitrary(g) % 5)
            .map(|_| Producer {
                on_thread: bool::arbitrary(g),
                offers: (0..usize::arbitrary(g) % 12)
                    .map(|_| {
                        let mut chans: Vec<usize> =
                            (0..channels).filter(|_| bool::arbitrary(g)).collect();
                        if chans.is_empty() {
                            chans.push(usize::arbitrary(g) % channels);
                        }
                        chans
                    })
                    .collect(),
            })
            .collect();
        let consumers = (0..1 + usize::arbitrary(g) % 4)
            .map(|_| (bool::arbitrary(g), bool::arbitrary(g)))
            .collect();
        Program {
            caps,
            producers,
            consumers,
        }
    }
}

fn produce(id: usize, p: &Producer, txs: &[Sender<u64>]) {
    for (n, chans) in p.offers.iter().enumerate() {
        let value = (id * 1000 + n) as u64;
        // Offering one value on several channels at once: exactly one takes it.
        let r = choice(chans.iter().map(|&c| txs[c].send_op(value))).perform();
        r.expect("consumers outlive producers");
    }
}

fn consume(rxs: &[Receiver<u64>], race_timeout: bool) -> Vec<u64> {
    let mut open: Vec<usize> = (0..rxs.len()).collect();
    let mut got = Vec::new();
    while !open.is_empty() {
        let recvs = choice(
            open.iter()
                .map(|&c| rxs[c].recv_op().wrap(move |r| (c, r)))
                .map(Op::boxed),
        );
        let step: Option<(usize, Result<u64, selvedge::RecvError>)> = if race_timeout {
            recvs
                .wrap(Some)
                .or(after(Duration::from_micros(50)).wrap(|()| None))
                .perform()
        } else {
            Some(recvs.perform())
        };
        match step {
            Some((_, Ok(v))) => got.push(v),
            Some((c, Err(_))) => open.retain(|&o| o != c),
            None => {}
        }
    }
    got
}

/// Prints a property's input if the property panics.
struct ShownOnPanic(String);

impl Drop for ShownOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("panicked in {}", self.0);
        }
    }
}

fn conserves(prog: Program) -> bool {
    // quickcheck 1.1 names the failing input only if a shrunk one fails
    // too, which an interleaving need not repeat.
    let shown = ShownOnPanic(format!("{prog:?}"));
    let (txs, rxs): (Vec<_>, Vec<_>) = prog
        .caps
        .iter()
        .map(|cap| match cap {
            Some(n) => bounded::<u64>(*n),
            None => unbounded(),
        })
        .unzip();
    let mut expected: Vec<u64> = prog
        .producers
        .iter()
        .enumerate()
        .flat_map(|(id, p)| (0..p.offers.len()).map(move |n| (id * 1000 + n) as u64))
        .collect();
    let mut threads = Vec::new();
    let mut fiber_producers = Vec::new();
    for (id, p) in prog.producers.iter().enumerate() {
        let txs = txs.clone();
        let p = p.clone();
        if p.on_thread {
            threads.push(std::thread::spawn(move || {
                produce(id, &p, &txs);
                Vec::new()
            }));
        } else {
            fiber_producers.push((id, p, txs));
        }
    }
    let mut fiber_consumers = Vec::new();
    for &(on_thread, race) in &prog.consumers {
        let rxs = rxs.clone();
        if on_thread {
            threads.push(std::thread::spawn(move || consume(&rxs, race)));
        } else {
            fiber_consumers.push((rxs, race));
        }
    }
    drop((txs, rxs));
    let mut got: Vec<u64> = run(move || {
        // `run` returns when main does, so main joins every fiber it spawns.
        let producers: Vec<_> = fiber_producers
            .into_iter()
            .map(|(id, p, txs)| spawn(move || produce(id, &p, &txs)))
            .collect();
        let consumers: Vec<_> = fiber_consumers
            .into_iter()
            .map(|(rxs, race)| spawn(move || consume(&rxs, race)))
            .collect();
        producers.into_iter().for_each(|h| h.join().unwrap());
        consumers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    for t in threads {
        got.extend(t.join().unwrap());
    }
    got.sort_unstable();
    expected.sort_unstable();
    if got != expected {
        eprintln!("expected {expected:?}, received {got:?} in {}", shown.0);
    }
    got == expected
}

#[test]
fn every_value_is_received_exactly_once() {
    QuickCheck::new()
        .tests(150)
        .quickcheck(conserves as fn(Program) -> bool);
}

/// Putters (on a plain thread or not, how many values) and takers of one
/// MVar: every value put is taken exactly once.
fn mvar_conserves(putters: Vec<(bool, u8)>, takers: u8) -> bool {
    let takers = 1 + takers as usize % 3;
    let m = MVar::new();
    let mut expected: Vec<u64> = Vec::new();
    let mut threads = Vec::new();
    let mut fibers = Vec::new();
    for (p, &(on_thread, count)) in putters.iter().enumerate() {
        let values: Vec<u64> = (0..count as u64 % 20).map(|i| p as u64 * 100 + i).collect();
        expected.extend(&values);
        let m = m.clone();
        let put = move || values.into_iter().for_each(|v| m.put(v));
        if on_thread {
            threads.push(std::thread::spawn(put));
        } else {
            fibers.push(put);
        }
    }
    let total = expected.len();
    let mut got = run(move || {
        fibers.into_iter().for_each(|f| drop(spawn(f)));
        let share = |t: usize| total / takers + usize::from(t < total % takers);
        let takers: Vec<_> = (0..takers)
            .map(|t| {
                let m = m.clone();
                let n = share(t);
                spawn(move || (0..n).map(|_| m.take()).collect::<Vec<u64>>())
            })
            .collect();
        takers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<u64>>()
    });
    threads.into_iter().for_each(|t| t.join().unwrap());
    got.sort_unstable();
    expected.sort_unstable();
    got == expected
}

#[test]
fn every_value_put_in_an_mvar_is_taken_exactly_once() {
    QuickCheck::new()
        .tests(100)
        .quickcheck(mvar_conserves as fn(Vec<(bool, u8)>, u8) -> bool);
}

/// Racing putters (fibers and threads) and readers (fibers and threads):
/// exactly one put succeeds, and every reader gets its value.
fn ivar_one_value(putters: Vec<bool>, readers: Vec<bool>) -> bool {
    let mut putters = putters;
    putters.truncate(6);
    if putters.is_empty() {
        putters.push(false);
    }
    let mut readers = readers;
    readers.truncate(6);
    let v = IVar::new();
    let thread_readers: Vec<_> = readers
        .iter()
        .filter(|&&on_thread| on_thread)
        .map(|_| {
            let v = v.clone();
            std::thread::spawn(move || v.read())
        })
        .collect();
    let mut thread_putters = Vec::new();
    let mut fiber_putters = Vec::new();
    for (p, &on_thread) in putters.iter().enumerate() {
        let v = v.clone();
        let put = move || (p, v.put(p).is_ok());
        if on_thread {
            thread_putters.push(std::thread::spawn(put));
        } else {
            fiber_putters.push(put);
        }
    }
    let fiber_readers = readers.iter().filter(|&&on_thread| !on_thread).count();
    let v2 = v.clone();
    let (mut puts, mut reads) = run(move || {
        let readers: Vec<_> = (0..fiber_readers)
            .map(|_| {
                let v = v2.clone();
                spawn(move || v.read())
            })
            .collect();
        let putters: Vec<_> = fiber_putters.into_iter().map(spawn).collect();
        let puts: Vec<_> = putters.into_iter().map(|h| h.join().unwrap()).collect();
        let reads: Vec<_> = readers.into_iter().map(|h| h.join().unwrap()).collect();
        (puts, reads)
    });
    puts.extend(thread_putters.into_iter().map(|t| t.join().unwrap()));
    reads.extend(thread_readers.into_iter().map(|t| t.join().unwrap()));
    let winners: Vec<usize> = puts.iter().filter(|(_, ok)| *ok).map(|(p, _)| *p).collect();
    winners.len() == 1 && v.try_read() == Some(winners[0]) && reads.iter().all(|&r| r == winners[0])
}

#[test]
fn an_ivar_is_put_once_and_every_reader_gets_that_value() {
    QuickCheck::new()
        .tests(100)
        .quickcheck(ivar_one_value as fn(Vec<bool>, Vec<bool>) -> bool);
}

#[derive(Clone, Debug)]
enum Tree {
    Ready(u8),
    Never,
    Or(Box<Tree>, Box<Tree>),
    Choice(Vec<Tree>),
}

impl Arbitrary for Tree {
    fn arbitrary(g: &mut Gen) -> Self {
        fn build(g: &mut Gen, depth: u32) -> Tree {
            match u8::arbitrary(g) % if depth == 0 { 2 } else { 4 } {
                0 => Tree::Ready(u8::arbitrary(g)),
                1 => Tree::Never,
                2 => Tree::Or(Box::new(build(g, depth - 1)), Box::new(build(g, depth - 1))),
                _ => Tree::Choice(
                    (0..u8::arbitrary(g) % 4)
                        .map(|_| build(g, depth - 1))
                        .collect(),
                ),
            }
        }
        build(g, 3)
    }
}

impl Tree {
    fn op<'a>(&self, wraps: &'a Cell<u32>) -> BoxOp<'a, u8> {
        match self {
            Tree::Ready(v) => always(*v)
                .wrap(move |v| {
                    wraps.set(wraps.get() + 1);
                    v
                })
                .boxed(),
            Tree::Never => never().boxed(),
            Tree::Or(a, b) => a.op(wraps).or(b.op(wraps)).boxed(),
            Tree::Choice(ts) => choice(ts.iter().map(|t| t.op(wraps))).boxed(),
        }
    }
    fn ready_values(&self, out: &mut Vec<u8>) {
        match self {
            Tree::Ready(v) => out.push(*v),
            Tree::Never => {}
            Tree::Or(a, b) => {
                a.ready_values(out);
                b.ready_values(out);
            }
            Tree::Choice(ts) => ts.iter().for_each(|t| t.ready_values(out)),
        }
    }
}

fn commits_exactly_one(tree: Tree) -> bool {
    let wraps = Cell::new(0);
    let mut ready = Vec::new();
    tree.ready_values(&mut ready);
    let result = tree.op(&wraps).try_perform();
    match result {
        Some(v) => wraps.get() == 1 && ready.contains(&v),
        None => wraps.get() == 0 && ready.is_empty(),
    }
}

#[test]
fn a_choice_commits_exactly_one_branch_and_runs_exactly_one_wrap() {
    QuickCheck::new()
        .tests(500)
        .quickcheck(commits_exactly_one as fn(Tree) -> bool);
}

/// Each fiber sleeps until `start + delay` (delays taken mod 25 ms); returns,
/// in wake order, each fiber's (deadline, when it began performing, when it
/// woke).
fn sleep_until_deadlines(delays: Vec<u8>) -> Vec<(Instant, Instant, Instant)> {
    use std::cell::RefCell;
    use std::rc::Rc;
    let delays: Vec<u64> = delays
        .into_iter()
        .take(20)
        .map(|d| u64::from(d % 25))
        .collect();
    run(move || {
        let start = Instant::now();
        let log = Rc::new(RefCell::new(Vec::new()));
        let hs: Vec<_> = delays
            .iter()
            .map(|&d| {
                let log = log.clone();
                spawn(move || {
                    let deadline = start + Duration::from_millis(d);
                    let began = Instant::now();
                    selvedge::at(deadline).perform();
                    log.borrow_mut().push((deadline, began, Instant::now()));
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let v = log.borrow().clone();
        v
    })
}

fn never_early(delays: Vec<u8>) -> bool {
    sleep_until_deadlines(delays)
        .iter()
        .all(|&(deadline, _, woke)| woke >= deadline)
}

/// Deadline order binds performs that are waiting: if `b`'s deadline is
/// earlier than `a`'s and `b` began performing before `a`'s deadline passed,
/// `b` wakes first. (A fiber the OS kept from starting until after a later
/// deadline passed began too late to be ordered before it.)
fn wake_order_follows_deadlines(delays: Vec<u8>) -> bool {
    let log = sleep_until_deadlines(delays);
    log.iter().enumerate().all(|(i, &(deadline_a, _, _))| {
        log[i + 1..]
            .iter()
            .all(|&(deadline_b, began_b, _)| deadline_b >= deadline_a || began_b >= deadline_a)
    })
}

#[test]
fn timers_never_fire_early() {
    QuickCheck::new()
        .tests(30)
        .quickcheck(never_early as fn(Vec<u8>) -> bool);
}

#[test]
fn timers_fire_in_deadline_order() {
    QuickCheck::new()
        .tests(30)
        .quickcheck(wake_order_follows_deadlines as fn(Vec<u8>) -> bool);
}
