//! quickcheck property: random programs of fibers that spawn, send,
//! receive and choose (against timeouts, under `with_nack`), drop their
//! channel ends and panic, on one or two schedulers. Every value is either
//! received exactly once or handed back to its sender (a failed send, a
//! send that lost its choice), never both, never neither; after every
//! choice exactly the nacks of the losing branches have fired; and every
//! fiber ends, with the runtime's deadlock check on.
//!
//! Every operation races a short timeout, so a program always ends: what
//! is checked is what happened to the values, not whether it happened.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use selvedge::{
    after, channel, choice, spawn, with_nack, BoxOp, Nack, Op, Receiver, Runtime, Sender,
};

/// One branch of a choice.
#[derive(Clone, Copy, Debug)]
enum Branch {
    Send(usize),
    Recv(usize),
}

#[derive(Clone, Debug)]
enum Step {
    /// A choice of these branches, raced against a timeout of this many
    /// hundreds of microseconds.
    Choose(Vec<Branch>, u8),
    /// Drops this fiber's sending (true) or receiving end of a channel.
    Drop(usize, bool),
    /// Starts a child fiber with its own ends of every channel.
    Spawn(Vec<Step>),
    Panic,
}

#[derive(Clone, Debug)]
struct Program {
    schedulers: usize,
    channels: usize,
    fibers: Vec<Vec<Step>>,
}

const MAX_CHANNELS: usize = 3;

fn steps(g: &mut Gen, depth: u32) -> Vec<Step> {
    (0..1 + usize::arbitrary(g) % 6)
        .map(|_| match u8::arbitrary(g) % 10 {
            0 => Step::Drop(usize::arbitrary(g) % MAX_CHANNELS, bool::arbitrary(g)),
            1 if depth < 2 => Step::Spawn(steps(g, depth + 1)),
            2 if u8::arbitrary(g) % 3 == 0 => Step::Panic,
            _ => {
                let branches = (0..1 + usize::arbitrary(g) % 3)
                    .map(|_| {
                        let c = usize::arbitrary(g) % MAX_CHANNELS;
                        if bool::arbitrary(g) {
                            Branch::Send(c)
                        } else {
                            Branch::Recv(c)
                        }
                    })
                    .collect();
                Step::Choose(branches, 1 + u8::arbitrary(g) % 40)
            }
        })
        .collect()
}

impl Arbitrary for Program {
    fn arbitrary(g: &mut Gen) -> Self {
        Program {
            schedulers: 1 + usize::arbitrary(g) % 2,
            channels: MAX_CHANNELS,
            fibers: (0..1 + usize::arbitrary(g) % 5)
                .map(|_| steps(g, 0))
                .collect(),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let this = self.clone();
        Box::new(self.fibers.shrink().map(move |fibers| Program {
            fibers,
            ..this.clone()
        }))
    }
}

impl Arbitrary for Step {
    fn arbitrary(g: &mut Gen) -> Self {
        steps(g, 2).remove(0)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match self {
            Step::Choose(branches, t) if branches.len() > 1 => {
                let t = *t;
                Box::new(
                    branches
                        .shrink()
                        .filter(|b| !b.is_empty())
                        .map(move |b| Step::Choose(b, t)),
                )
            }
            Step::Spawn(steps) => Box::new(steps.shrink().map(Step::Spawn)),
            _ => Box::new(std::iter::empty()),
        }
    }
}

impl Arbitrary for Branch {
    fn arbitrary(g: &mut Gen) -> Self {
        Branch::Recv(usize::arbitrary(g) % MAX_CHANNELS)
    }
}

/// What became of the values, and what went wrong.
#[derive(Default)]
struct Log {
    offered: Vec<u64>,
    received: Vec<u64>,
    returned: Vec<u64>,
    errors: Vec<String>,
    /// Fibers spawned by fibers, for the main fiber to join.
    children: Vec<selvedge::JoinHandle<()>>,
}

/// A fiber's ends of the channels.
struct Ends {
    senders: Vec<Option<Sender<u64>>>,
    receivers: Vec<Option<Receiver<u64>>>,
}

impl Ends {
    fn cloned(&self) -> Ends {
        Ends {
            senders: self.senders.iter().map(Clone::clone).collect(),
            receivers: self.receivers.iter().map(Clone::clone).collect(),
        }
    }
}

/// A marker for the panics the programs ask for, which the panic hook
/// keeps quiet.
struct Scripted;

/// What a branch did.
enum Outcome {
    Received(u64),
    Sent,
    SendFailed(u64),
    RecvFailed,
}

fn run_steps(steps: &[Step], mut ends: Ends, log: &Arc<Mutex<Log>>, next_value: &mut u64) {
    for step in steps {
        match step {
            Step::Drop(c, sender) => {
                if *sender {
                    ends.senders[*c] = None;
                } else {
                    ends.receivers[*c] = None;
                }
            }
            Step::Panic => panic::panic_any(Scripted),
            Step::Spawn(child) => {
                let (child, child_ends, log) = (child.clone(), ends.cloned(), log.clone());
                let mut values = *next_value + 1_000_000;
                *next_value += 2_000_000;
                let child_log = log.clone();
                let child = spawn(move || run_steps(&child, child_ends, &child_log, &mut values));
                log.lock().unwrap().children.push(child);
            }
            Step::Choose(branches, timeout) => choose(branches, *timeout, &ends, log, next_value),
        }
    }
}

fn choose(
    branches: &[Branch],
    timeout: u8,
    ends: &Ends,
    log: &Arc<Mutex<Log>>,
    next_value: &mut u64,
) {
    // The branches this fiber still has ends for, each under `with_nack`.
    let mut offered = Vec::new();
    let mut nacks: Vec<Arc<Mutex<Option<Nack>>>> = Vec::new();
    let mut ops: Vec<BoxOp<'_, Option<(usize, Outcome)>>> = Vec::new();
    for branch in branches {
        let i = nacks.len();
        let slot = Arc::new(Mutex::new(None));
        let keep = slot.clone();
        match *branch {
            Branch::Send(c) => {
                let Some(tx) = &ends.senders[c] else { continue };
                *next_value += 1;
                let v = *next_value;
                offered.push((i, v));
                ops.push(
                    with_nack(move |nack| {
                        *keep.lock().unwrap() = Some(nack);
                        tx.send_op(v).wrap(move |r| {
                            Some((
                                i,
                                match r {
                                    Ok(()) => Outcome::Sent,
                                    Err(e) => Outcome::SendFailed(e.into_inner()),
                                },
                            ))
                        })
                    })
                    .boxed(),
                );
            }
            Branch::Recv(c) => {
                let Some(rx) = &ends.receivers[c] else {
                    continue;
                };
                ops.push(
                    with_nack(move |nack| {
                        *keep.lock().unwrap() = Some(nack);
                        rx.recv_op().wrap(move |r| {
                            Some((
                                i,
                                match r {
                                    Ok(v) => Outcome::Received(v),
                                    Err(_) => Outcome::RecvFailed,
                                },
                            ))
                        })
                    })
                    .boxed(),
                );
            }
        }
        nacks.push(slot);
    }
    let wait = Duration::from_micros(100 * u64::from(timeout));
    ops.push(after(wait).wrap(|()| None).boxed());
    let won = choice(ops).perform();
    let mut log = log.lock().unwrap();
    log.offered.extend(offered.iter().map(|&(_, v)| v));
    let winner = won.as_ref().map(|(i, _)| *i);
    match won {
        Some((_, Outcome::Received(v))) => log.received.push(v),
        Some((_, Outcome::SendFailed(v))) => log.returned.push(v),
        Some((_, Outcome::Sent | Outcome::RecvFailed)) | None => {}
    }
    // A send that did not win kept its value: it goes back to its sender.
    for &(i, v) in &offered {
        if Some(i) != winner {
            log.returned.push(v);
        }
    }
    for (i, slot) in nacks.iter().enumerate() {
        let Some(nack) = slot.lock().unwrap().take() else {
            continue;
        };
        let fired = nack.try_perform().is_some();
        if fired == (Some(i) == winner) {
            let error = format!("branch {i} (winner {winner:?}): nack fired {fired}");
            log.errors.push(error);
        }
    }
}

fn holds(program: Program) -> TestResult {
    let rt = Runtime::builder()
        .threads(program.schedulers)
        .build()
        .unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let ended = {
        let (log, program) = (log.clone(), program.clone());
        panic::catch_unwind(AssertUnwindSafe(move || {
            rt.run(move || {
                let (senders, receivers): (Vec<_>, Vec<_>) =
                    (0..program.channels).map(|_| channel::<u64>()).unzip();
                let ends = Ends {
                    senders: senders.into_iter().map(Some).collect(),
                    receivers: receivers.into_iter().map(Some).collect(),
                };
                let fibers: Vec<_> = program
                    .fibers
                    .iter()
                    .enumerate()
                    .map(|(f, steps)| {
                        let (steps, ends, log) = (steps.clone(), ends.cloned(), log.clone());
                        let mut values = f as u64 * 100_000_000;
                        spawn(move || run_steps(&steps, ends, &log, &mut values))
                    })
                    .collect();
                drop(ends);
                let mut fibers = fibers;
                while !fibers.is_empty() {
                    for fiber in fibers.drain(..) {
                        if let Err(payload) = fiber.join() {
                            assert!(payload.is::<Scripted>(), "a fiber panicked unasked");
                        }
                    }
                    fibers.append(&mut log.lock().unwrap().children);
                }
            })
        }))
    };
    if ended.is_err() {
        return TestResult::error(format!("the run failed: {program:?}"));
    }
    let log = log.lock().unwrap();
    if !log.errors.is_empty() {
        return TestResult::error(format!("{:?} in {program:?}", log.errors));
    }
    let mut accounted: Vec<u64> = log.received.iter().chain(&log.returned).copied().collect();
    accounted.sort_unstable();
    let mut offered = log.offered.clone();
    offered.sort_unstable();
    if accounted != offered {
        return TestResult::error(format!(
            "offered {offered:?}, received {:?}, returned {:?} in {program:?}",
            log.received, log.returned
        ));
    }
    TestResult::passed()
}

#[test]
fn values_are_conserved_nacks_fire_for_losers_and_every_fiber_ends() {
    // Scripted panics are part of the programs: keep them off stderr.
    drop(Runtime::builder().build().unwrap()); // selvedge's hook first
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !info.payload().is::<Scripted>() {
            previous(info);
        }
    }));
    QuickCheck::new()
        .tests(300)
        .quickcheck(holds as fn(Program) -> TestResult);
}
