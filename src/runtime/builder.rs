//! `Builder`: how a `Runtime` is configured, and the checks of what a user
//! asks for.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::blocking::{BlockingPool, DEFAULT_BLOCKING_THREADS};
use crate::runtime::deadlock::{Detector, OnDeadlock};
use crate::runtime::fiber::overflow;
use crate::runtime::fiber::stack::Layout;
use crate::runtime::fiber::stack_pool::DEFAULT_STACK_SIZE;
use crate::runtime::inner::{self, Config, RuntimeInner, SpawnInbox};
use crate::runtime::report;
use crate::runtime::runtime::Runtime;
use crate::runtime::stall;
use crate::runtime::{shared, Shared};

/// Smallest stack `Builder::stack_size` accepts.
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;

/// Largest stack `Builder::stack_size` accepts: 2^56 bytes (64 PiB), more
/// than any user address space holds, so that a chunk of stacks and its
/// guard pages are sizes the arithmetic can name.
pub(crate) const MAX_STACK_SIZE: usize = 1 << 56;

/// Default stack of the main fiber: as much as a Linux main thread usually
/// has (`ulimit -s`), so recursion that works in `main` works in `run`.
const DEFAULT_MAIN_STACK_SIZE: usize = 8 << 20;

/// Default idle spin of a scheduler in a multi-threaded runtime.
const DEFAULT_SPIN: Duration = Duration::from_micros(20);

/// Configures a [`Runtime`].
#[derive(Debug, Clone)]
pub struct Builder {
    threads: usize,
    stack_size: usize,
    main_stack_size: usize,
    guarded_stacks: bool,
    spin: Option<Duration>,
    on_deadlock: OnDeadlock,
    stall_warning: Option<Duration>,
    dump_on_signal: Option<i32>,
    blocking_threads: usize,
    drain: bool,
    #[cfg(test)]
    layout: Option<Layout>,
}

impl Runtime {
    /// A builder with one thread and the default stack size.
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl Builder {
    fn new() -> Builder {
        Builder {
            threads: 1,
            stack_size: DEFAULT_STACK_SIZE,
            main_stack_size: DEFAULT_MAIN_STACK_SIZE,
            guarded_stacks: true,
            spin: None,
            on_deadlock: OnDeadlock::default(),
            stall_warning: stall::threshold_from_env(),
            dump_on_signal: None,
            blocking_threads: DEFAULT_BLOCKING_THREADS,
            drain: false,
            #[cfg(test)]
            layout: None,
        }
    }

    /// Whether [`Runtime::run`] waits for every fiber to finish, not only
    /// `main` (Guile's `run-fibers #:drain? #t`). By default (`false`)
    /// `run` returns as soon as `main` does, and the fibers still running
    /// are torn down: unwound where they wait, their destructors run, and
    /// those that never started never run. With `drain(true)` it returns
    /// once the last fiber has finished; a fiber that can never finish is
    /// then a deadlock, reported as such.
    ///
    /// ```
    /// use selvedge::Runtime;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// let ran = Arc::new(AtomicBool::new(false));
    /// let r = ran.clone();
    /// Runtime::builder().drain(true).build().unwrap().run(move || {
    ///     selvedge::spawn(move || r.store(true, Ordering::SeqCst));
    ///     // main returns before the child runs
    /// });
    /// assert!(ran.load(Ordering::SeqCst));
    /// ```
    pub fn drain(mut self, wait_for_every_fiber: bool) -> Self {
        self.drain = wait_for_every_fiber;
        self
    }

    /// How many [`blocking`](crate::blocking) calls of this runtime's fibers
    /// run at once, each on an OS thread of the runtime's pool: default
    /// 64, at least 1. Threads start as calls come and exit after 10 s
    /// without one; calls beyond the limit wait for a thread.
    ///
    /// ```
    /// use selvedge::{blocking, Op, Runtime};
    /// let rt = Runtime::builder().blocking_threads(4).build().unwrap();
    /// let len = rt.run(|| blocking(|| std::fs::read("Cargo.toml").map(|b| b.len())).perform());
    /// assert!(len.unwrap() > 0);
    /// ```
    pub fn blocking_threads(mut self, n: usize) -> Self {
        self.blocking_threads = n;
        self
    }

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

    /// Usable stack size of the main fiber, the one [`Runtime::run`] (and
    /// [`run`](crate::run)) runs `main` on, in bytes: default 8 MiB, as
    /// much as a Linux main thread usually has, so that recursion that
    /// works in `main` works inside `run`. Only touched pages use memory;
    /// at least 16 KiB. The main fiber's stack is mapped for each run,
    /// with its guard page, and unmapped when the run ends.
    pub fn main_stack_size(mut self, bytes: usize) -> Self {
        self.main_stack_size = bytes;
        self
    }

    /// Gives fibers stacks without guard pages, carved back to back from
    /// shared mappings, so that live fibers are bounded by memory rather
    /// than by the kernel's mapping limit.
    ///
    /// A guarded stack (the default) sits above an inaccessible page:
    /// overflowing it faults, and the process aborts with a message naming
    /// the fiber and its stack size. On kernels before Linux 6.13 that page
    /// splits the kernel's memory map, so each guarded stack costs two of
    /// the `vm.max_map_count` mappings (65530 by default) and a process
    /// holds at most about 32,000 started fibers at the default limit.
    /// Unguarded stacks cost no mapping each; 64 of them share one, and
    /// adjacent mappings merge.
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

    /// What the runtime does when every fiber waits and nothing can wake
    /// any of them (a deadlock): [`OnDeadlock::Panic`] by default, which
    /// prints a dump of every fiber under the headline `deadlock: every
    /// fiber is waiting and nothing can wake them` and panics out of
    /// [`Runtime::run`] with a message naming the waiting fibers;
    /// [`OnDeadlock::Report`] prints the dump and keeps waiting;
    /// [`OnDeadlock::Ignore`] does not check.
    ///
    /// The rule: no fiber is runnable, no timer is pending, no fiber waits
    /// on a descriptor, no `Handle::spawn` is on its way, no wake is
    /// pending from outside (a live [`Completer`](crate::Completer), a
    /// future a fiber waits on in [`from_future`](crate::from_future)),
    /// and no plain thread is blocked in a selvedge operation, for a
    /// second on end. A
    /// plain thread that holds a channel end but is busy outside selvedge
    /// (reading stdin, waiting on a `std` lock) cannot be seen: if it acts
    /// more than a second later, the check has already fired. Turn it off
    /// (or to `Report`) for such programs.
    ///
    /// ```
    /// use selvedge::{OnDeadlock, Runtime};
    /// let rt = Runtime::builder().on_deadlock(OnDeadlock::Panic).build().unwrap();
    /// let deadlocked = std::panic::catch_unwind(|| {
    ///     rt.run(|| {
    ///         let (_tx, rx) = selvedge::channel::<()>();
    ///         rx.recv() // nobody will ever send
    ///     })
    /// });
    /// let message = deadlocked.unwrap_err().downcast::<String>().unwrap();
    /// assert!(message.contains("deadlock"));
    /// assert!(message.contains("fiber 'main'"));
    /// ```
    pub fn on_deadlock(mut self, action: OnDeadlock) -> Self {
        self.on_deadlock = action;
        self
    }

    /// Warns on stderr when one fiber holds its scheduler for longer than
    /// `threshold` without reaching a suspension point (an operation that
    /// waits, `yield_now`, `sleep`): the signature of a blocking system
    /// call, a `std` lock held across a wait, or a long computation, which
    /// holds every other fiber of that scheduler. The warning names the
    /// fiber and where it was spawned: `selvedge: fiber 'conn-42' (12,
    /// spawned at src/main.rs:20:9) has held scheduler 0 for 1.0s without
    /// suspending`.
    ///
    /// Off by default. The environment variable `SELVEDGE_STALL_WARNING_MS`
    /// turns it on for every runtime built in the process, without a
    /// change to the code. It costs the runs nothing: a watchdog thread
    /// looks at each scheduler a few times per threshold, and a stalled
    /// scheduler's thread is asked, by a signal (SIGURG), which fiber it
    /// runs.
    pub fn stall_warning(mut self, threshold: Duration) -> Self {
        self.stall_warning = Some(threshold);
        self
    }

    /// Prints a dump of every fiber (see
    /// [`Handle::dump`](crate::Handle::dump)) on stderr whenever the
    /// process receives `signal`, as Go dumps its goroutines on SIGQUIT,
    /// without stopping the runtime. For instance
    /// `Runtime::builder().dump_on_signal(libc::SIGQUIT)` lets
    /// `kill -QUIT <pid>` (or Ctrl-\ in a terminal) show what a live
    /// process is waiting for. Installing the handler replaces the
    /// signal's default action (SIGQUIT's: core dump).
    ///
    /// A thread waits for the signal, and asks the runtime for its dump
    /// when it comes: nothing is done while the signal does not come.
    pub fn dump_on_signal(mut self, signal: i32) -> Self {
        self.dump_on_signal = Some(signal);
        self
    }

    /// Creates the runtime: one poller (epoll plus its wake FD) per scheduler.
    pub fn build(self) -> io::Result<Runtime> {
        for (what, n) in [
            ("threads", self.threads),
            ("blocking_threads", self.blocking_threads),
        ] {
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("selvedge: Builder::{what} must be at least 1"),
                ));
            }
        }
        for (what, bytes) in [
            ("stack_size", self.stack_size),
            ("main_stack_size", self.main_stack_size),
        ] {
            if !(MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&bytes) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "selvedge: Builder::{what} must be at least {MIN_STACK_SIZE} and at \
                         most {MAX_STACK_SIZE} bytes, got {bytes}"
                    ),
                ));
            }
        }
        report::install_panic_hook();
        overflow::install();
        let schedulers = (0..self.threads)
            .map(|i| Shared::new(i).map(Arc::new))
            .collect::<io::Result<Vec<_>>>()?;
        schedulers.iter().for_each(shared::register);
        let layout = if self.guarded_stacks {
            Layout::guarded()
        } else {
            Layout::CarvedUnguarded
        };
        #[cfg(test)]
        let layout = self.layout.unwrap_or(layout);
        let runtime = Runtime::new(RuntimeInner {
            spawns: schedulers.iter().map(|_| SpawnInbox::default()).collect(),
            schedulers,
            config: Config {
                stack_size: self.stack_size,
                main_stack_size: self.main_stack_size,
                layout,
                spin: self.spin.unwrap_or(if self.threads > 1 {
                    DEFAULT_SPIN
                } else {
                    Duration::ZERO
                }),
                drain: self.drain,
            },
            next: AtomicUsize::new(0),
            running: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            dumps: Default::default(),
            detector: Detector::new(self.on_deadlock),
            blocking: Arc::new(BlockingPool::new(self.blocking_threads)),
            live: AtomicUsize::new(0),
        });
        if let Some(signal) = self.dump_on_signal {
            inner::dump_on_signal(signal, runtime.inner_weak())?;
        }
        if let Some(threshold) = self.stall_warning {
            stall::watch(runtime.inner_weak(), threshold);
        }
        Ok(runtime)
    }

    /// Forces the stack layout, so tests can run a kernel's other layouts.
    #[cfg(test)]
    pub(crate) fn layout(mut self, layout: Layout) -> Self {
        self.layout = Some(layout);
        self
    }
}
