//! Every fiber of a runtime, as data and as text: who it is, where it
//! runs, and what it waits for.
//!
//! A dump is requested of the whole runtime (`RuntimeInner::request_dump`)
//! and answered by each scheduler on its own thread, between fiber runs:
//! only there are its fibers' states safe to read. A suspended fiber
//! describes itself: the scheduler resumes it with a question
//! (`current::describe`), and the operation it waits in says in words
//! what it waits for, and where it was performed, then suspends again
//! without going on. Nothing is recorded while fibers run, so a dump
//! costs the hot paths nothing but the check for a question as a fiber
//! resumes.

use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::op::signal::Signal;
use crate::runtime::fiber::head::Head;

/// What a fiber is doing when the dump is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Spawned, and not yet given a stack or run.
    NotStarted,
    /// Ready to run: waiting for its turn, not for an operation.
    Runnable,
    /// Waiting in an operation (`FiberInfo::waiting_on` says which).
    Waiting,
}

/// One fiber in a [`Dump`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FiberInfo {
    /// Its number, unique in the process (`fiber 12` in messages).
    pub id: u64,
    /// Its name, if it was given one (`fiber::Builder::name`); the main
    /// fiber is `main`.
    pub name: Option<String>,
    /// The scheduler it runs on (0 is the thread that called `run`).
    pub scheduler: usize,
    /// Whether it waits, is ready to run, or has not started.
    pub state: State,
    /// What it waits for, in words: `recv on channel@0x... (created at
    /// src/hub.rs:12:20)`, `choice of 2: recv on channel@..., timer in
    /// 1.5s`, `readable fd 7`, `join of fiber 'worker' (3)`.
    pub waiting_on: Option<String>,
    /// Where it waits: the caller of the operation (or of the blocking
    /// call built on one).
    pub location: Option<&'static Location<'static>>,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
}

impl FiberInfo {
    /// The fiber's identity, from its packet.
    pub(crate) fn new(head: &Head, scheduler: usize, state: State) -> FiberInfo {
        FiberInfo {
            id: head.id().get(),
            name: head.name().map(str::to_owned),
            scheduler,
            state,
            waiting_on: None,
            location: None,
            spawned_at: head.spawned_at(),
        }
    }

    /// `fiber 'name' (12)`, or `fiber 12`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("fiber '{name}' ({})", self.id),
            None => format!("fiber {}", self.id),
        }
    }
}

impl fmt::Display for FiberInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on scheduler {}: ", self.label(), self.scheduler)?;
        match (self.state, &self.waiting_on) {
            (State::Waiting, Some(what)) => write!(f, "waiting: {what}")?,
            (State::Waiting, None) => f.write_str("waiting")?,
            (State::Runnable, _) => f.write_str("runnable")?,
            (State::NotStarted, _) => f.write_str("not started")?,
        }
        match self.location {
            Some(at) => write!(f, "\n    at {at}, spawned at {}", self.spawned_at),
            None => write!(f, "\n    spawned at {}", self.spawned_at),
        }
    }
}

/// The fibers of a runtime at one moment: from
/// [`Handle::dump`](crate::Handle::dump) or [`fiber::dump`](crate::fiber::dump),
/// and printed in a deadlock report.
///
/// ```
/// use selvedge::fiber::{self, State};
/// selvedge::run(|| {
///     let (tx, rx) = selvedge::channel::<u32>();
///     let waiter = fiber::Builder::new()
///         .name("waiter")
///         .spawn(move || rx.recv())
///         .unwrap();
///     selvedge::yield_now(); // the waiter starts, and waits
///     let dump = fiber::dump();
///     let w = dump.fibers().iter().find(|f| f.name.as_deref() == Some("waiter")).unwrap();
///     assert_eq!(w.state, State::Waiting);
///     assert!(w.waiting_on.as_deref().unwrap().starts_with("recv on channel@"));
///     println!("{dump}");
///     tx.send(1).unwrap();
///     assert_eq!(waiter.join().unwrap(), Ok(1));
/// });
/// ```
#[derive(Clone, Debug, Default)]
pub struct Dump {
    fibers: Vec<FiberInfo>,
    unanswered: Vec<usize>,
}

impl Dump {
    /// Every fiber, by scheduler, then by id.
    pub fn fibers(&self) -> &[FiberInfo] {
        &self.fibers
    }

    /// The schedulers that did not answer in time: each was running one
    /// fiber all along, which neither suspended nor finished (a blocking
    /// call, a lock held across a wait, or a long computation).
    pub fn unanswered(&self) -> &[usize] {
        &self.unanswered
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.fibers.len();
        write!(f, "{n} fiber{}", if n == 1 { "" } else { "s" })?;
        for info in &self.fibers {
            write!(f, "\n{info}")?;
        }
        for s in &self.unanswered {
            write!(
                f,
                "\nscheduler {s} did not answer: one of its fibers has held it all along, \
                 without suspending (a blocking call, a lock held across a wait, or a long \
                 computation)"
            )?;
        }
        Ok(())
    }
}

/// One dump being taken: the schedulers' answers, and how the requester
/// learns they are all in (a fiber waits on `done`, a thread on `all_in`).
pub(crate) struct DumpRequest {
    answers: Mutex<Answers>,
    all_in: Condvar,
    pub(crate) done: Signal,
}

struct Answers {
    /// Which schedulers answered.
    answered: Vec<bool>,
    fibers: Vec<FiberInfo>,
}

impl fmt::Debug for DumpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DumpRequest")
    }
}

impl DumpRequest {
    pub(crate) fn new(schedulers: usize) -> DumpRequest {
        DumpRequest {
            answers: Mutex::new(Answers {
                answered: vec![false; schedulers],
                fibers: Vec::new(),
            }),
            all_in: Condvar::new(),
            done: Signal::new("dump", None),
        }
    }

    /// Whether scheduler `index` still owes its answer.
    pub(crate) fn owes(&self, index: usize) -> bool {
        !lock(&self.answers).answered[index]
    }

    /// Scheduler `index`'s fibers; true once every scheduler answered.
    pub(crate) fn answer(&self, index: usize, fibers: Vec<FiberInfo>) -> bool {
        let mut answers = lock(&self.answers);
        if answers.answered[index] {
            return false;
        }
        answers.answered[index] = true;
        answers.fibers.extend(fibers);
        let all = answers.answered.iter().all(|&a| a);
        drop(answers);
        if all {
            self.all_in.notify_all();
            self.done.fire();
        }
        all
    }

    /// Blocks this thread until every scheduler answered or `patience`
    /// passed.
    pub(crate) fn wait_on_thread(&self, patience: Duration) {
        let until = Instant::now() + patience;
        let mut answers = lock(&self.answers);
        while !answers.answered.iter().all(|&a| a) {
            let now = Instant::now();
            if now >= until {
                break;
            }
            answers = match self.all_in.wait_timeout(answers, until - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// The dump as it stands: every answer in so far, and who is missing.
    pub(crate) fn take(&self) -> Dump {
        let answers = lock(&self.answers);
        let mut fibers = answers.fibers.clone();
        fibers.sort_by_key(|f| (f.scheduler, f.id));
        let unanswered = (0..answers.answered.len())
            .filter(|&i| !answers.answered[i])
            .collect();
        Dump { fibers, unanswered }
    }
}

/// The runtime is not model-checked: its locks stay std's under loom.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long a dump waits for the schedulers' answers: a scheduler that
/// does not answer within this is held by one fiber.
pub(crate) const PATIENCE: Duration = Duration::from_secs(1);

/// The requests being answered, and a cheap flag for the schedulers.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    pending: std::sync::atomic::AtomicBool,
    list: Mutex<Vec<Arc<DumpRequest>>>,
}

impl Requests {
    /// Adds a request; the caller then makes every scheduler look.
    pub(crate) fn push(&self, request: Arc<DumpRequest>) {
        lock(&self.list).push(request);
        self.pending
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// The requests scheduler `index` owes an answer, if any is pending.
    pub(crate) fn owed_by(&self, index: usize) -> Vec<Arc<DumpRequest>> {
        if !self.pending.load(std::sync::atomic::Ordering::Acquire) {
            return Vec::new();
        }
        lock(&self.list)
            .iter()
            .filter(|r| r.owes(index))
            .cloned()
            .collect()
    }

    /// Drops a request that is complete or given up on.
    pub(crate) fn remove(&self, request: &Arc<DumpRequest>) {
        let mut list = lock(&self.list);
        list.retain(|r| !Arc::ptr_eq(r, request));
        if list.is_empty() {
            self.pending
                .store(false, std::sync::atomic::Ordering::Release);
        }
    }
}
