//! `Runtime`: N schedulers, one per OS thread, and `run`.
//!
//! The calling thread runs scheduler 0 (with `main` as a fiber); worker
//! threads run the others for the duration of `Runtime::run`. Fibers never
//! migrate: `Handle::spawn` places each new fiber on a scheduler, where it
//! stays for life.

use std::panic::{self, Location};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::runtime::context;
use crate::runtime::fiber::head::Spec;
use crate::runtime::fiber::join::JoinHandle;
use crate::runtime::fiber::packet::packet_unbounded;
use crate::runtime::handle::Handle;
use crate::runtime::inner::RuntimeInner;
use crate::runtime::scheduler::Scheduler;

/// A set of schedulers, one per OS thread, that fibers are placed on.
///
/// ```
/// use selvedge::{Handle, Runtime};
/// let rt = Runtime::builder().threads(2).build().unwrap();
/// let sum = rt.run(|| {
///     let handles: Vec<_> = (0..4u64).map(|i| Handle::current().spawn(move || i * i)).collect();
///     handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
/// });
/// assert_eq!(sum, 14);
/// ```
#[derive(Debug)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// The runtime of `inner`, for `Builder::build`.
    pub(crate) fn new(inner: RuntimeInner) -> Runtime {
        Runtime {
            inner: Arc::new(inner),
        }
    }

    /// For watchers that must not keep the runtime alive.
    pub(crate) fn inner_weak(&self) -> std::sync::Weak<RuntimeInner> {
        Arc::downgrade(&self.inner)
    }
}

impl Runtime {
    /// A handle to place fibers on this runtime while it runs.
    pub fn handle(&self) -> Handle {
        Handle::new(self.inner.clone())
    }

    /// Runs `main` as a fiber on the calling thread (scheduler 0) while the
    /// worker threads run the other schedulers; returns `main`'s value as
    /// soon as it returns. Then every scheduler stops, their fibers are
    /// dropped (stacks unwound) and the workers are joined: a fiber still
    /// running when `main` returns is torn down, and one that never
    /// started never runs, unless [`Builder::drain`](crate::Builder::drain)
    /// makes `run` wait for every fiber. A panic in `main` is resumed after
    /// that. A runtime can be run many times.
    ///
    /// # Panics
    ///
    /// From inside a fiber, while this runtime is already running, or when
    /// a worker thread cannot be started (the message says why).
    #[track_caller]
    pub fn run<T>(&self, main: impl FnOnce() -> T) -> T {
        assert!(
            !context::in_runtime(),
            "selvedge::run called inside a running selvedge runtime (from a fiber); \
             use selvedge::spawn to start more fibers"
        );
        let inner = &self.inner;
        assert!(
            !inner.running.swap(true, Ordering::SeqCst),
            "selvedge: Runtime::run called while this runtime is already running"
        );
        inner.stopping.store(false, Ordering::SeqCst);
        inner.live.store(0, Ordering::SeqCst);
        let _stopped = Stopped::open(inner);
        let sched = Scheduler::new(0, inner.clone());
        // Dropped in reverse order, also when unwinding: the workers stop
        // first, then this scheduler's fibers are torn down while it is
        // still installed.
        let entered = context::enter(&sched);
        let workers = Workers::start(inner);
        let spec = Spec {
            name: Some("main".to_owned()),
            stack_size: Some(inner.config.main_stack_size),
            ..Spec::default()
        };
        // SAFETY: the body borrows from the caller's frame (through `main`
        // and `T`); the scheduler runs or drops it before `run` returns or
        // unwinds (dropping `entered` tears it down), and nothing else
        // keeps it.
        let (body, main_view) =
            unsafe { packet_unbounded(main, Some(Box::new(spec)), Location::caller()) };
        let mut main_handle = JoinHandle::new(main_view);
        sched.spawn(body);
        let result = sched.run_until(|| {
            (main_handle.is_finished() && inner.drained()) || inner.detector.stopped()
        });
        let deadlock = inner.detector.take_stop();

        drop(workers);
        drop(entered);
        drop(sched);
        if let Err(e) = result {
            panic!("selvedge: the scheduler's poller failed: {e}");
        }
        if let Some(message) = deadlock {
            panic!("{message}");
        }
        match main_handle.take_result().expect("main fiber finished") {
            Ok(v) => v,
            Err(payload) => panic::resume_unwind(payload),
        }
    }
}

/// Opens the schedulers to spawns from other threads for one `run`, and
/// marks the runtime stopped when `run` ends, however it ends.
struct Stopped<'a>(&'a RuntimeInner);

impl<'a> Stopped<'a> {
    fn open(inner: &'a RuntimeInner) -> Stopped<'a> {
        for inbox in &inner.spawns {
            inbox.open();
        }
        Stopped(inner)
    }
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        for (shared, inbox) in self.0.schedulers.iter().zip(&self.0.spawns) {
            shared.close();
            inbox.close();
        }
        self.0.running.store(false, Ordering::SeqCst);
    }
}

/// The worker threads of one `run`; dropping stops and joins them.
struct Workers<'a> {
    inner: &'a Arc<RuntimeInner>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl<'a> Workers<'a> {
    fn start(inner: &'a Arc<RuntimeInner>) -> Workers<'a> {
        let mut workers = Workers {
            inner,
            threads: Vec::new(),
        };
        for i in 1..inner.schedulers.len() {
            let rt = inner.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("selvedge-{i}"))
                .spawn(move || {
                    let sched = Scheduler::new(i, rt.clone());
                    let _entered = context::enter(&sched); // tears down on drop
                    if let Err(e) = sched.run_until(|| rt.stopping.load(Ordering::SeqCst)) {
                        eprintln!("selvedge: scheduler {i}'s poller failed: {e}");
                    }
                });
            match spawned {
                Ok(t) => workers.threads.push(t),
                // `workers` drops here, stopping the threads already started.
                Err(e) => panic!("selvedge: cannot start worker thread {i}: {e}"),
            }
        }
        workers
    }
}

impl Drop for Workers<'_> {
    fn drop(&mut self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        for s in &self.inner.schedulers[1..] {
            s.interrupt();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
