//! What the schedulers of one runtime share: the configuration of their
//! fibers' stacks and idle spins, each scheduler's shared half (which
//! wakes its fibers from other threads) and its inbox of fibers spawned
//! from other threads, and whether a run is under way.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::blocking::BlockingPool;
use crate::runtime::deadlock::Detector;
use crate::runtime::dump::{Dump, DumpRequest, Requests, PATIENCE};
use crate::runtime::fiber::packet::RemoteBody;
use crate::runtime::fiber::stack::Layout;
use crate::runtime::Shared;
use crate::sync::{lock, Mutex};

/// What every scheduler of one runtime shares.
pub(crate) struct RuntimeInner {
    /// Each scheduler's shared half, by index (0 is `run`'s thread).
    pub(crate) schedulers: Vec<Arc<Shared>>,
    /// Each scheduler's inbox of fibers spawned from other threads.
    pub(crate) spawns: Vec<SpawnInbox>,
    pub(crate) config: Config,
    /// Where `Handle::spawn` places the next fiber (round-robin).
    pub(crate) next: AtomicUsize,
    pub(crate) running: AtomicBool,
    /// Set as `run` ends: the worker schedulers stop.
    pub(crate) stopping: AtomicBool,
    /// Dumps being taken.
    pub(crate) dumps: Requests,
    /// Tells a deadlock of the runtime's fibers.
    pub(crate) detector: Detector,
    /// Threads for `blocking` calls made on the runtime's schedulers.
    pub(crate) blocking: Arc<BlockingPool>,
    /// Fibers spawned and not finished, counted only with
    /// `Builder::drain` (when `run` waits for them all).
    pub(crate) live: AtomicUsize,
}

impl RuntimeInner {
    /// A fiber was spawned (or is on its way to a scheduler's inbox).
    #[inline]
    pub(crate) fn fiber_spawned(&self) {
        if self.config.drain {
            self.live.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A fiber finished (or was dropped unrun): the last one wakes `run`'s
    /// scheduler, which waits for it.
    #[inline]
    pub(crate) fn fiber_finished(&self) {
        if self.config.drain && self.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.schedulers[0].interrupt();
        }
    }

    /// Whether `run` may end once `main` has: with `Builder::drain`, when
    /// every fiber has finished.
    pub(crate) fn drained(&self) -> bool {
        !self.config.drain || self.live.load(Ordering::Acquire) == 0
    }
}

impl RuntimeInner {
    /// A dump taken from a plain thread: blocks it until every scheduler
    /// answered, or `PATIENCE` passed.
    pub(crate) fn dump_from_thread(&self) -> Dump {
        let request = self.request_dump();
        request.wait_on_thread(PATIENCE);
        self.dumps.remove(&request);
        request.take()
    }

    /// Asks every scheduler for its fibers (see `dump`).
    pub(crate) fn request_dump(&self) -> Arc<DumpRequest> {
        let request = Arc::new(DumpRequest::new(self.schedulers.len()));
        self.dumps.push(request.clone());
        for shared in &self.schedulers {
            shared.announce();
        }
        request
    }
}

/// How each scheduler of a runtime runs its fibers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    /// Usable bytes of each fiber's stack.
    pub(crate) stack_size: usize,
    /// Usable bytes of the main fiber's stack.
    pub(crate) main_stack_size: usize,
    /// How stacks are mapped and guarded.
    pub(crate) layout: Layout,
    /// How long an idle scheduler polls its inbox before it sleeps.
    pub(crate) spin: Duration,
    /// Whether `run` waits for every fiber, not only `main`.
    pub(crate) drain: bool,
}

impl fmt::Debug for RuntimeInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("threads", &self.schedulers.len())
            .field("config", &self.config)
            .field("running", &self.running.load(Ordering::Relaxed))
            .finish()
    }
}

/// Fibers started on one scheduler from other threads, and whether a run
/// takes them.
#[derive(Default)]
pub(crate) struct SpawnInbox(Mutex<Spawns>);

#[derive(Default)]
struct Spawns {
    /// A run of this scheduler is under way and will start, or drop, what
    /// is queued (between `open` and `close`).
    open: bool,
    queued: Vec<RemoteBody>,
}

impl fmt::Debug for SpawnInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpawnInbox")
    }
}

impl SpawnInbox {
    /// Queues `body` for the scheduler whose shared half is `shared`, and
    /// tells it, if a run will take it; else hands it back (to drop: its
    /// join then returns an error).
    pub(crate) fn push(&self, body: RemoteBody, shared: &Shared) -> Result<(), RemoteBody> {
        let mut spawns = lock(&self.0);
        if !spawns.open {
            return Err(body);
        }
        spawns.queued.push(body);
        drop(spawns);
        shared.announce();
        Ok(())
    }

    /// A run begins: fibers spawned from other threads are taken from now.
    pub(crate) fn open(&self) {
        lock(&self.0).open = true;
    }

    /// A run ended: drops the fibers it did not take (their joins return
    /// an error); later spawns are refused the same way until the next run.
    pub(crate) fn close(&self) {
        let stale = {
            let mut spawns = lock(&self.0);
            spawns.open = false;
            std::mem::take(&mut spawns.queued)
        };
        drop(stale); // outside the lock: their closures' destructors run
    }

    /// Moves the queued fibers into `into` (a reused buffer).
    pub(crate) fn take(&self, into: &mut Vec<RemoteBody>) {
        std::mem::swap(&mut lock(&self.0).queued, into);
    }
}

/// Work in flight that outlives the call that started it (a completer of
/// a user's operation, held by whoever will complete it): counted in its
/// runtime's detector until dropped. See `context::pending_wake`.
#[derive(Debug)]
pub(crate) struct PendingWake(Arc<RuntimeInner>);

impl PendingWake {
    pub(crate) fn new(runtime: Arc<RuntimeInner>) -> PendingWake {
        runtime.detector.in_flight.fetch_add(1, Ordering::SeqCst);
        PendingWake(runtime)
    }
}

impl Drop for PendingWake {
    fn drop(&mut self) {
        self.0.detector.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runtimes that print a dump on a signal, by signal.
static ON_SIGNAL: std::sync::Mutex<Vec<(i32, std::sync::Weak<RuntimeInner>)>> =
    std::sync::Mutex::new(Vec::new());

/// Prints `runtime`'s dump on stderr whenever the process receives
/// `signal`, for as long as the runtime lives (`Builder::dump_on_signal`).
/// One thread per signal waits for it (signal-hook's self-pipe).
pub(crate) fn dump_on_signal(
    signal: i32,
    runtime: std::sync::Weak<RuntimeInner>,
) -> std::io::Result<()> {
    let mut list = ON_SIGNAL.lock().unwrap_or_else(|e| e.into_inner());
    let first = !list.iter().any(|(s, _)| *s == signal);
    list.retain(|(_, rt)| rt.strong_count() > 0);
    list.push((signal, runtime));
    drop(list);
    if first {
        let mut signals = signal_hook::iterator::Signals::new([signal])?;
        std::thread::Builder::new()
            .name(format!("selvedge-dump-on-{signal}"))
            .spawn(move || {
                for _ in signals.forever() {
                    let runtimes: Vec<_> = ON_SIGNAL
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .iter()
                        .filter(|(s, _)| *s == signal)
                        .filter_map(|(_, rt)| rt.upgrade())
                        .collect();
                    for runtime in runtimes {
                        if runtime.running.load(std::sync::atomic::Ordering::SeqCst) {
                            let dump = runtime.dump_from_thread();
                            eprintln!("selvedge: dump on signal {signal}\n{dump}");
                        }
                    }
                }
            })?;
    }
    Ok(())
}
