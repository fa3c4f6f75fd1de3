//! quickcheck property: values relayed across schedulers and plain threads
//! through choices on both sides, each send under `with_nack`, performed
//! blocking, against a timeout or with `try_perform`. Every value arrives
//! exactly once, and after each perform exactly the nacks of the branches
//! that did not commit have fired.
//!
//! Producers offer each value on several input channels at once; relays
//! take from the inputs and hand on to the outputs in one choice (receives
//! and sends together); consumers take from the outputs. Every actor is a
//! fiber on a runtime of one to three schedulers, or a plain thread, so a
//! rendezvous may pair any two of them.

use quickcheck::{Arbitrary, Gen, QuickCheck};
use selvedge::{after, channel, choice, with_nack, BoxOp, Nack, Op, Receiver, Runtime, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How one step performs its choice.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Block,
    /// Raced against `after` this many microseconds.
    Timeout(u8),
    Try,
}

/// One step of an actor: its mode and, for a relay's send, which outputs
/// it offers the value on (a bit mask; none means all).
#[derive(Clone, Copy, Debug)]
struct Step {
    mode: Mode,
    outputs: u8,
}

#[derive(Clone, Debug)]
struct Actor {
    on_thread: bool,
    /// Taken in turn, over and over; at least one blocks, so that an actor
    /// in a fiber cannot spin on `Try` and keep its partners from running.
    steps: Vec<Step>,
}

#[derive(Clone, Debug)]
struct Mesh {
    schedulers: usize,
    inputs: usize,
    outputs: usize,
    /// Each producer's values: the inputs each is offered on at once.
    producers: Vec<(Actor, Vec<Vec<usize>>)>,
    relays: Vec<Actor>,
    consumers: Vec<Actor>,
}

impl Arbitrary for Actor {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut steps: Vec<Step> = (0..usize::arbitrary(g) % 4)
            .map(|_| Step {
                mode: match u8::arbitrary(g) % 3 {
                    0 => Mode::Block,
                    1 => Mode::Timeout(1 + u8::arbitrary(g) % 50),
                    _ => Mode::Try,
                },
                outputs: u8::arbitrary(g),
            })
            .collect();
        let at = usize::arbitrary(g) % (steps.len() + 1);
        steps.insert(
            at,
            Step {
                mode: Mode::Block,
                outputs: u8::arbitrary(g),
            },
        );
        Actor {
            on_thread: u8::arbitrary(g) % 4 == 0,
            steps,
        }
    }
}

impl Arbitrary for Mesh {
    fn arbitrary(g: &mut Gen) -> Self {
        let inputs = 1 + usize::arbitrary(g) % 3;
        let outputs = 1 + usize::arbitrary(g) % 2;
        let producers = (0..1 + usize::arbitrary(g) % 4)
            .map(|_| {
                let offers = (0..usize::arbitrary(g) % 10)
                    .map(|_| {
                        let first = usize::arbitrary(g) % inputs;
                        (0..inputs)
                            .filter(|&c| c == first || bool::arbitrary(g))
                            .collect()
                    })
                    .collect();
                (Actor::arbitrary(g), offers)
            })
            .collect();
        Mesh {
            schedulers: 1 + usize::arbitrary(g) % 3,
            inputs,
            outputs,
            producers,
            relays: (0..1 + usize::arbitrary(g) % 3)
                .map(|_| Actor::arbitrary(g))
                .collect(),
            consumers: (0..1 + usize::arbitrary(g) % 3)
                .map(|_| Actor::arbitrary(g))
                .collect(),
        }
    }

    /// Smaller meshes: one actor fewer (each role keeps one), fewer
    /// schedulers, or a producer with half its values.
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let mut smaller = Vec::new();
        let mut with = |edit: &dyn Fn(&mut Mesh)| {
            let mut m = self.clone();
            edit(&mut m);
            smaller.push(m);
        };
        for i in 0..self.producers.len() {
            if self.producers.len() > 1 {
                with(&|m| drop(m.producers.remove(i)));
            }
            if !self.producers[i].1.is_empty() {
                with(&|m| {
                    let offers = &mut m.producers[i].1;
                    offers.truncate(offers.len() / 2);
                });
            }
        }
        for i in 1..self.relays.len() {
            with(&|m| drop(m.relays.remove(i)));
        }
        for i in 1..self.consumers.len() {
            with(&|m| drop(m.consumers.remove(i)));
        }
        if self.schedulers > 1 {
            with(&|m| m.schedulers -= 1);
        }
        Box::new(smaller.into_iter())
    }
}

/// Performs `op` as `mode` says; `None` if it timed out or was not ready.
fn perform_as<T>(mode: Mode, op: impl Op<Output = T>) -> Option<T> {
    match mode {
        Mode::Block => Some(op.perform()),
        Mode::Timeout(us) => op
            .wrap(Some)
            .or(after(Duration::from_micros(us.into())).wrap(|()| None))
            .perform(),
        Mode::Try => op.try_perform(),
    }
}

/// Offers each value on its inputs at once until one takes it, and checks
/// the nacks after every perform. Returns the values sent.
fn produce(id: usize, actor: &Actor, offers: &[Vec<usize>], inputs: &[Sender<u64>]) -> Vec<u64> {
    let mut steps = actor.steps.iter().cycle();
    let mut sent = Vec::new();
    for (n, chans) in offers.iter().enumerate() {
        let value = (id * 1000 + n) as u64;
        loop {
            let nacks: Arc<Mutex<Vec<(usize, Nack)>>> = Arc::default();
            let branches = chans.iter().map(|&c| {
                let nacks = nacks.clone();
                with_nack(move |nack| {
                    nacks.lock().unwrap().push((c, nack));
                    inputs[c].send_op(value).wrap(move |r| (c, r))
                })
            });
            let outcome = perform_as(steps.next().unwrap().mode, choice(branches));
            let nacks = std::mem::take(&mut *nacks.lock().unwrap());
            assert_eq!(nacks.len(), chans.len(), "every with_nack ran once");
            let winner = outcome.as_ref().map(|&(c, _)| c);
            for (c, nack) in nacks {
                let fired = nack.try_perform().is_some();
                assert_eq!(
                    fired,
                    Some(c) != winner,
                    "nack of input {c}, winner {winner:?}"
                );
            }
            match outcome {
                Some((_, Ok(()))) => break,
                Some((c, Err(_))) => panic!("input {c} lost its receivers while producers live"),
                None => {}
            }
        }
        sent.push(value);
    }
    sent
}

enum Relayed {
    Took(usize, Result<u64, selvedge::RecvError>),
    Gave(Result<(), selvedge::SendError<u64>>),
}

/// Takes values from the inputs and gives them to the outputs: while it
/// holds a value, each step offers both (a receive on every open input,
/// a send on the outputs the step names). Returns once the inputs are
/// closed and it holds nothing.
fn relay(actor: &Actor, inputs: &[Receiver<u64>], outputs: &[Sender<u64>]) {
    let mut steps = actor.steps.iter().cycle();
    let mut open: Vec<usize> = (0..inputs.len()).collect();
    let mut held: Vec<u64> = Vec::new();
    while !open.is_empty() || !held.is_empty() {
        let step = steps.next().unwrap();
        let mut branches: Vec<BoxOp<'_, Relayed>> = open
            .iter()
            .map(|&c| {
                inputs[c]
                    .recv_op()
                    .wrap(move |r| Relayed::Took(c, r))
                    .boxed()
            })
            .collect();
        if let Some(&value) = held.last() {
            let offered = (0..outputs.len())
                .filter(|o| step.outputs & (1 << o) != 0)
                .collect::<Vec<_>>();
            let offered = if offered.is_empty() {
                (0..outputs.len()).collect()
            } else {
                offered
            };
            branches.extend(
                offered
                    .into_iter()
                    .map(|o| outputs[o].send_op(value).wrap(Relayed::Gave).boxed()),
            );
        }
        match perform_as(step.mode, choice(branches)) {
            Some(Relayed::Took(_, Ok(v))) => held.push(v),
            Some(Relayed::Took(c, Err(_))) => open.retain(|&o| o != c),
            Some(Relayed::Gave(Ok(()))) => {
                held.pop();
            }
            Some(Relayed::Gave(Err(e))) => panic!("outputs lost their receivers: {:?}", e.0),
            None => {}
        }
    }
}

/// Takes values from the outputs until every one is closed.
fn consume(actor: &Actor, outputs: &[Receiver<u64>]) -> Vec<u64> {
    let mut steps = actor.steps.iter().cycle();
    let mut open: Vec<usize> = (0..outputs.len()).collect();
    let mut got = Vec::new();
    while !open.is_empty() {
        let branches = open
            .iter()
            .map(|&c| outputs[c].recv_op().wrap(move |r| (c, r)));
        match perform_as(steps.next().unwrap().mode, choice(branches)) {
            Some((_, Ok(v))) => got.push(v),
            Some((c, Err(_))) => open.retain(|&o| o != c),
            None => {}
        }
    }
    got
}

type Job = Box<dyn FnOnce() -> (Vec<u64>, Vec<u64>) + Send>;

/// Runs the mesh; true if the values consumed are exactly those produced.
fn delivers_each_value_once(mesh: Mesh) -> bool {
    // quickcheck 1.1 names the failing input only if a shrunk one fails
    // too, which an interleaving need not repeat.
    let shown = format!("{mesh:?}");
    let (input_txs, input_rxs): (Vec<_>, Vec<_>) =
        (0..mesh.inputs).map(|_| channel::<u64>()).unzip();
    let (output_txs, output_rxs): (Vec<_>, Vec<_>) =
        (0..mesh.outputs).map(|_| channel::<u64>()).unzip();
    // Each job returns (values sent, values received).
    let mut jobs: Vec<(bool, Job)> = Vec::new();
    for (id, (actor, offers)) in mesh.producers.into_iter().enumerate() {
        let (on_thread, txs) = (actor.on_thread, input_txs.clone());
        let job = move || (produce(id, &actor, &offers, &txs), Vec::new());
        jobs.push((on_thread, Box::new(job)));
    }
    for actor in mesh.relays {
        let (on_thread, rxs, txs) = (actor.on_thread, input_rxs.clone(), output_txs.clone());
        let job = move || {
            relay(&actor, &rxs, &txs);
            (Vec::new(), Vec::new())
        };
        jobs.push((on_thread, Box::new(job)));
    }
    for actor in mesh.consumers {
        let (on_thread, rxs) = (actor.on_thread, output_rxs.clone());
        let job = move || (Vec::new(), consume(&actor, &rxs));
        jobs.push((on_thread, Box::new(job)));
    }
    drop((input_txs, input_rxs, output_txs, output_rxs));

    let (threads, fibers): (Vec<_>, Vec<_>) = jobs.into_iter().partition(|(t, _)| *t);
    let threads: Vec<_> = threads
        .into_iter()
        .map(|(_, job)| std::thread::spawn(job))
        .collect();
    let runtime = Runtime::builder().threads(mesh.schedulers).build().unwrap();
    let handle = runtime.handle();
    // An actor that panicked (a nack check, a channel closed too early)
    // fails the property rather than the test, so quickcheck shrinks it.
    let mut outcomes = runtime.run(move || {
        let fibers: Vec<_> = fibers
            .into_iter()
            .map(|(_, job)| handle.spawn(job))
            .collect();
        fibers.into_iter().map(|f| f.join()).collect::<Vec<_>>()
    });
    outcomes.extend(threads.into_iter().map(|t| t.join()));

    let (mut sent, mut got) = (Vec::new(), Vec::new());
    for outcome in outcomes {
        let Ok((s, g)) = outcome else {
            eprintln!("an actor panicked in {shown}");
            return false;
        };
        sent.extend(s);
        got.extend(g);
    }
    sent.sort_unstable();
    got.sort_unstable();
    if sent != got {
        eprintln!("sent {sent:?}, received {got:?} in {shown}");
    }
    sent == got
}

#[test]
fn relayed_values_arrive_exactly_once_and_exactly_the_losers_nacks_fire() {
    QuickCheck::new()
        .tests(200)
        .quickcheck(delivers_each_value_once as fn(Mesh) -> bool);
}
