//! Deadlock detection: a runtime none of whose fibers can ever run again
//! says so, instead of hanging at 0% CPU.
//!
//! A runtime is deadlocked when no fiber is runnable and nothing that
//! could make one runnable remains: no timer is pending, no fiber waits on
//! a descriptor, nothing started from outside the runtime is on its way
//! (a `Handle::spawn`), no wake is pending from outside (a live
//! `Completer` of a `base_op`, a future a fiber waits on: its waker may
//! fire from anywhere), and no plain thread is blocked in a selvedge
//! operation (it might wake a fiber once something wakes it). Each
//! scheduler with nothing left to wait for counts itself *stuck* before it
//! sleeps; the last one to do so sleeps for `GRACE` only, and if on waking
//! every scheduler is still stuck, nothing has happened meanwhile and the
//! rest of the rule holds, the runtime is deadlocked.
//!
//! What it cannot see: a plain thread that holds a channel end (or a
//! `Condition`, or a `Handle`) but is busy outside selvedge, say reading a
//! file or waiting on a `std` lock, and would act later. The detector then
//! errs towards reporting; `Builder::on_deadlock` turns it off, or makes
//! it report and keep waiting. The grace period spares the common case of
//! such a thread that acts within it.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::runtime::dump::Dump;

/// What a runtime does when it finds itself deadlocked (see
/// [`Builder::on_deadlock`](crate::Builder::on_deadlock)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnDeadlock {
    /// Print the report (a dump of every fiber) and panic out of `run`
    /// with a message naming the waiting fibers. The default.
    #[default]
    Panic,
    /// Print the report, and keep waiting (once per deadlock: a new one
    /// is reported after anything happens).
    Report,
    /// Do not check.
    Ignore,
}

/// How long every scheduler must have stayed stuck before the runtime is
/// declared deadlocked.
pub(crate) const GRACE: Duration = Duration::from_secs(1);

/// Plain threads blocked in a selvedge operation, in the whole process.
static BLOCKED_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Counts a plain thread blocked in an operation while it lives.
#[derive(Debug)]
pub(crate) struct ThreadBlocked(());

impl ThreadBlocked {
    pub(crate) fn new() -> ThreadBlocked {
        BLOCKED_THREADS.fetch_add(1, Ordering::SeqCst);
        ThreadBlocked(())
    }
}

impl Drop for ThreadBlocked {
    fn drop(&mut self) {
        BLOCKED_THREADS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What the schedulers of one runtime share to tell a deadlock.
#[derive(Default)]
pub(crate) struct Detector {
    pub(crate) on_deadlock: OnDeadlock,
    /// Schedulers asleep with nothing left to wait for.
    stuck: AtomicUsize,
    /// Bumped whenever a stuck scheduler wakes for a reason: two equal
    /// readings bracket a stretch in which nothing happened.
    activity: AtomicU64,
    /// Work started outside the runtime that will add or wake a fiber
    /// when done (a `Handle::spawn` on its way).
    pub(crate) in_flight: AtomicUsize,
    /// The activity reading a deadlock was last reported at.
    reported: AtomicU64,
    /// Set when a deadlock made the runtime stop (`OnDeadlock::Panic`):
    /// the message `run` panics with.
    stop: Mutex<Option<String>>,
    stopped: AtomicBool,
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detector")
            .field("on_deadlock", &self.on_deadlock)
            .field("stuck", &self.stuck.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A scheduler gone to sleep stuck: what it must check when it wakes.
#[derive(Debug)]
pub(crate) struct Stuck {
    /// Whether it was the last of the runtime's schedulers to get stuck.
    pub(crate) last: bool,
    epoch: u64,
}

impl Detector {
    pub(crate) fn new(on_deadlock: OnDeadlock) -> Detector {
        Detector {
            on_deadlock,
            reported: AtomicU64::new(u64::MAX),
            ..Detector::default()
        }
    }

    /// A scheduler with nothing runnable, no timer and no descriptor
    /// waiter is about to sleep. `None` when detection is off; else how
    /// long it may sleep (`GRACE` if it is the last of `schedulers` to get
    /// stuck), and what to give `woke`.
    pub(crate) fn going_idle(&self, schedulers: usize) -> Option<Stuck> {
        if self.on_deadlock == OnDeadlock::Ignore {
            return None;
        }
        let epoch = self.activity.load(Ordering::SeqCst);
        let n = self.stuck.fetch_add(1, Ordering::SeqCst) + 1;
        Some(Stuck {
            last: n == schedulers,
            epoch,
        })
    }

    /// The scheduler woke: for a reason (`timed_out` false), or at the end
    /// of its grace period. True if the runtime is deadlocked and this
    /// scheduler is the one to report it.
    pub(crate) fn woke(&self, stuck: Stuck, timed_out: bool, schedulers: usize) -> bool {
        let deadlocked = timed_out
            && stuck.last
            && self.stuck.load(Ordering::SeqCst) == schedulers
            && self.activity.load(Ordering::SeqCst) == stuck.epoch
            && self.in_flight.load(Ordering::SeqCst) == 0
            && BLOCKED_THREADS.load(Ordering::SeqCst) == 0
            && self.reported.swap(stuck.epoch, Ordering::SeqCst) != stuck.epoch;
        self.stuck.fetch_sub(1, Ordering::SeqCst);
        if !timed_out {
            self.activity.fetch_add(1, Ordering::SeqCst);
        }
        deadlocked
    }

    /// Counts work started outside the runtime while the guard lives.
    pub(crate) fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self)
    }

    /// Makes the runtime stop, `run` then panicking with `message`.
    pub(crate) fn stop_with(&self, message: String) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// Whether a deadlock stopped the runtime.
    #[inline]
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// The message a deadlock stopped the runtime with, once; the next
    /// run starts afresh.
    pub(crate) fn take_stop(&self) -> Option<String> {
        self.stopped.store(false, Ordering::SeqCst);
        self.reported.store(u64::MAX, Ordering::SeqCst);
        self.stop.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl Detector {
    /// Prints the report of a deadlock (a dump of every fiber) on stderr;
    /// returns the message `run` panics with, if it is to.
    pub(crate) fn report(&self, dump: &Dump) -> Option<String> {
        eprintln!(
            "selvedge: deadlock: every fiber is waiting and nothing can wake them\n{dump}\n\
             (A plain thread that holds a channel end but is busy outside selvedge is not \
             seen by this check; `Builder::on_deadlock` can turn it off. `run` returns when \
             `main` does and tears the other fibers down, unless `Builder::drain` makes it \
             wait for them.)"
        );
        if self.on_deadlock != OnDeadlock::Panic {
            return None;
        }
        let mut message =
            String::from("selvedge: deadlock: every fiber is waiting and nothing can wake them:");
        for (i, fiber) in dump.fibers().iter().enumerate() {
            use std::fmt::Write;
            let _ = write!(
                message,
                "{} {} waits for {}",
                if i == 0 { "" } else { ";" },
                fiber.label(),
                fiber.waiting_on.as_deref().unwrap_or("something")
            );
            if let Some(at) = fiber.location {
                let _ = write!(message, " at {at}");
            }
        }
        Some(message)
    }
}

/// See `Detector::in_flight`.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a Detector);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
