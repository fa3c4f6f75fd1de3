//! `Runtime`, `Builder` and `Handle`: N schedulers, one per OS thread.
//!
//! The calling thread runs scheduler 0 (with `main` as a fiber); `threads - 1`
//! worker threads run the others for the duration of `Runtime::run`. Fibers
//! never migrate: `Handle::spawn` places each new fiber on a scheduler chosen
//! round-robin, where it stays for life.

use std::fmt;
use std::io;
use std::panic;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::context;
use crate::runtime::current;
use crate::runtime::fiber::join::JoinHandle;
use crate::runtime::fiber::packet::{packet_send, packet_unbounded};
use crate::runtime::fiber::stack_pool::DEFAULT_STACK_SIZE;
use crate::runtime::scheduler::Scheduler;
use crate::runtime::Shared;

/// Smallest stack `Builder::stack_size` accepts.
const MIN_STACK_SIZE: usize = 16 * 1024;

/// Largest stack `Builder::stack_size` accepts: 2^56 bytes (64 PiB), more
/// than any user address space holds, so that a chunk of stacks and its
/// guard pages are sizes the arithmetic can name.
const MAX_STACK_SIZE: usize = 1 << 56;

/// What every scheduler of one runtime shares.
pub(crate) struct RuntimeInner {
    schedulers: Vec<Arc<Shared>>,
    pub(crate) stack_size: usize,
    pub(crate) guarded_stacks: bool,
    pub(crate) spin: Duration,
    next: AtomicUsize,
    running: AtomicBool,
    stopping: AtomicBool,
}

impl fmt::Debug for RuntimeInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("threads", &self.schedulers.len())
            .field("stack_size", &self.stack_size)
            .field("guarded_stacks", &self.guarded_stacks)
            .field("running", &self.running.load(Ordering::Relaxed))
            .finish()
    }
}

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

/// Configures a [`Runtime`].
#[derive(Debug, Clone)]
pub struct Builder {
    threads: usize,
    stack_size: usize,
    guarded_stacks: bool,
    spin: Option<Duration>,
}

/// Default idle spin of a scheduler in a multi-threaded runtime.
const DEFAULT_SPIN: Duration = Duration::from_micros(20);

/// A cheap, thread-safe reference to a running [`Runtime`], to place new
/// fibers on its schedulers.
#[derive(Clone, Debug)]
pub struct Handle {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// A builder with one thread and the default stack size.
    pub fn builder() -> Builder {
        Builder {
            threads: 1,
            stack_size: DEFAULT_STACK_SIZE,
            guarded_stacks: true,
            spin: None,
        }
    }

    /// A handle to place fibers on this runtime while it runs.
    pub fn handle(&self) -> Handle {
        Handle {
            inner: self.inner.clone(),
        }
    }

    /// Runs `main` as a fiber on the calling thread (scheduler 0) while the
    /// worker threads run the other schedulers; returns `main`'s value as
    /// soon as it returns. Then every scheduler stops, their fibers are
    /// dropped (stacks unwound) and the workers are joined. A panic in
    /// `main` is resumed after that. A runtime can be run many times.
    ///
    /// # Panics
    ///
    /// From inside a fiber, while this runtime is already running, or when
    /// a worker thread cannot be started (the message says why).
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
        let _stopped = Stopped::open(inner);
        let sched = Scheduler::new(inner.schedulers[0].clone(), inner.clone());
        // Dropped in reverse order, also when unwinding: the workers stop
        // first, then this scheduler's fibers are torn down while it is
        // still installed.
        let entered = context::enter(&sched);
        let workers = Workers::start(inner);
        // SAFETY: the body borrows from the caller's frame (through `main`
        // and `T`); the scheduler runs or drops it before `run` returns or
        // unwinds (dropping `entered` tears it down), and nothing else
        // keeps it.
        let (body, main_view) = unsafe { packet_unbounded(main) };
        let mut main_handle = JoinHandle::new(main_view);
        sched.spawn(body);
        let result = sched.run_until(|| main_handle.is_finished());

        drop(workers);
        drop(entered);
        drop(sched);
        if let Err(e) = result {
            panic!("selvedge: the scheduler's poller failed: {e}");
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
        for s in &inner.schedulers {
            s.open();
        }
        Stopped(inner)
    }
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        for s in &self.0.schedulers {
            s.close();
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
        for (i, shared) in inner.schedulers.iter().enumerate().skip(1) {
            let (shared, rt) = (shared.clone(), inner.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("selvedge-{i}"))
                .spawn(move || {
                    let sched = Scheduler::new(shared, rt.clone());
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

impl Builder {
    /// Number of schedulers, one per OS thread (the calling thread counts
    /// as one). Default 1.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// Usable stack size of every fiber, in bytes (default
    /// [`DEFAULT_STACK_SIZE`], 256 KiB; at least 16 KiB). Only touched pages
    /// use memory; the size bounds recursion and stack buffers per fiber.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Gives fibers stacks without guard pages, carved back to back from
    /// shared mappings, so that live fibers are bounded by memory rather
    /// than by the kernel's mapping limit.
    ///
    /// A guarded stack (the default) is its own mapping behind an
    /// inaccessible page: overflowing it faults, and the process dies with
    /// a clear signal. That page splits the kernel's memory map, so each
    /// guarded stack costs two of the `vm.max_map_count` mappings (65530 by
    /// default) and a process holds at most about 32,000 started fibers at
    /// the default limit. Unguarded stacks cost no mapping each; 64 of them
    /// share one, and adjacent mappings merge.
    ///
    /// ```
    /// use selvedge::Runtime;
    /// // SAFETY: these fibers only add numbers; they use well under 16 KiB.
    /// let rt = unsafe { Runtime::builder().stack_size(16 * 1024).unguarded_stacks() }
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.run(|| selvedge::spawn(|| 6 * 7).join().unwrap()), 42);
    /// ```
    ///
    /// # Safety
    ///
    /// Nothing catches a fiber that overflows its stack: it writes over
    /// the stack of another fiber, which is undefined behaviour. Call this
    /// only when no fiber can use more than [`Builder::stack_size`] bytes
    /// of stack, counting every library function it calls.
    pub unsafe fn unguarded_stacks(mut self) -> Self {
        self.guarded_stacks = false;
        self
    }

    /// How long an idle scheduler polls its inbox before it blocks in the
    /// poller. A wake that arrives within the spin costs no syscall on
    /// either side (two busy schedulers hand off in well under a
    /// microsecond, where an eventfd wake costs tens of microseconds on a
    /// VM). The cost: each time a scheduler runs out of work it burns up to
    /// this much CPU before sleeping (never past its next timer deadline).
    /// Default 20 µs with more than one thread, zero with one; zero
    /// disables it.
    pub fn spin_before_sleep(mut self, d: Duration) -> Self {
        self.spin = Some(d);
        self
    }

    /// Creates the runtime: one poller (epoll plus its wake FD) per scheduler.
    pub fn build(self) -> io::Result<Runtime> {
        if self.threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "selvedge: Builder::threads must be at least 1",
            ));
        }
        if self.stack_size > MAX_STACK_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "selvedge: Builder::stack_size must be at most {MAX_STACK_SIZE} bytes, got {}",
                    self.stack_size
                ),
            ));
        }
        if self.stack_size < MIN_STACK_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "selvedge: Builder::stack_size must be at least {MIN_STACK_SIZE} bytes, got {}",
                    self.stack_size
                ),
            ));
        }
        let schedulers = (0..self.threads)
            .map(|_| Shared::new().map(Arc::new))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                schedulers,
                stack_size: self.stack_size,
                guarded_stacks: self.guarded_stacks,
                spin: self.spin.unwrap_or(if self.threads > 1 {
                    DEFAULT_SPIN
                } else {
                    Duration::ZERO
                }),
                next: AtomicUsize::new(0),
                running: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
            }),
        })
    }
}

impl Handle {
    /// The runtime of the calling fiber.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    pub fn current() -> Handle {
        context::with_scheduler(|s| Handle {
            inner: s.runtime.clone(),
        })
        .expect("selvedge::Handle::current called outside a runtime")
    }

    /// Starts a fiber on a scheduler the runtime picks (round-robin over all
    /// schedulers, this one included); it stays on that scheduler's thread
    /// for life. Callable from any thread while the runtime runs. A spawn
    /// that races the end of [`Runtime::run`] either runs in that run or is
    /// dropped by its end, its `join` then returning an error; none is
    /// left waiting for a later run.
    ///
    /// # Panics
    ///
    /// When the runtime is not running.
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let inner = &self.inner;
        assert!(
            inner.running.load(Ordering::SeqCst),
            "selvedge::Handle::spawn: the runtime is not running"
        );
        let (body, view) = packet_send(f);
        let handle = JoinHandle::new(view);
        let i = inner.next.fetch_add(1, Ordering::Relaxed) % inner.schedulers.len();
        let target = &inner.schedulers[i];
        if current::is_local_home(NonNull::from(&**target)) {
            context::with_scheduler(|s| s.spawn(body.into_local()));
        } else if let Err(refused) = target.spawn_remote(body) {
            drop(refused); // the run is ending: the join returns an error
        }
        handle
    }
}
