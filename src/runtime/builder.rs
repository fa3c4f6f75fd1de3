//! `Builder`: how a `Runtime` is configured, and the checks of what a user
//! asks for.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::fiber::overflow;
use crate::runtime::fiber::stack::Layout;
use crate::runtime::fiber::stack_pool::DEFAULT_STACK_SIZE;
use crate::runtime::inner::{Config, RuntimeInner, SpawnInbox};
use crate::runtime::report;
use crate::runtime::runtime::Runtime;
use crate::runtime::Shared;

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
            #[cfg(test)]
            layout: None,
        }
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
            .map(|_| Shared::new().map(Arc::new))
            .collect::<io::Result<Vec<_>>>()?;
        let layout = if self.guarded_stacks {
            Layout::guarded()
        } else {
            Layout::CarvedUnguarded
        };
        #[cfg(test)]
        let layout = self.layout.unwrap_or(layout);
        Ok(Runtime::new(RuntimeInner {
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
            },
            next: AtomicUsize::new(0),
            running: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            dumps: Default::default(),
        }))
    }

    /// Forces the stack layout, so tests can run a kernel's other layouts.
    #[cfg(test)]
    pub(crate) fn layout(mut self, layout: Layout) -> Self {
        self.layout = Some(layout);
        self
    }
}
