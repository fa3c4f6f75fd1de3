//! A non-blocking descriptor owned by a `net` type: every read, write,
//! accept or connect is tried first, and on `WouldBlock` only the calling
//! fiber waits (the thread, outside fibers) for the descriptor to be ready.
//!
//! In a fiber the scheduler keeps the descriptor registered edge-triggered
//! and remembers whether it may be ready, so a call that the table knows
//! would fail is not even tried. Readiness is forgotten only when the
//! kernel will report the next change: after `WouldBlock`, or after a short
//! write (the send buffer is full; space or an error will be reported). A
//! short read proves nothing of the kind (see `read_never_drains`).

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::io::Readiness;
use crate::op::Op;
use crate::runtime::context;
use crate::runtime::io::table::Dir;
use crate::time::after;

/// Distinguishes sources, so a table entry left by a dropped source is not
/// mistaken for a new one that reuses the descriptor number.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Source<T: AsFd> {
    io: T,
    id: u64,
    /// Per direction, in nanoseconds; 0 means no timeout.
    timeouts: [AtomicU64; 2],
}

impl<T: AsFd> std::fmt::Debug for Source<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("fd", &self.io.as_fd().as_raw_fd())
            .finish_non_exhaustive()
    }
}

impl<T: AsFd> Source<T> {
    /// Wraps `io`, which the caller has made non-blocking.
    pub(crate) fn new(io: T) -> Source<T> {
        Source {
            io,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            timeouts: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    pub(crate) fn get(&self) -> &T {
        &self.io
    }

    /// Unwraps, deregistering from this thread's scheduler.
    pub(crate) fn into_inner(self) -> T {
        let this = std::mem::ManuallyDrop::new(self);
        this.forget();
        // SAFETY: `this` is never used or dropped again; `io` is moved out
        // exactly once, and the other fields need no drop.
        unsafe { std::ptr::read(&this.io) }
    }

    fn forget(&self) {
        let fd = self.io.as_fd();
        context::forget_source(fd, self.id);
    }

    pub(crate) fn set_timeout(&self, dir: Dir, t: Option<Duration>) -> io::Result<()> {
        let nanos = match t {
            None => 0,
            Some(d) if d.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ))
            }
            Some(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        };
        self.timeouts[dir as usize].store(nanos, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn timeout(&self, dir: Dir) -> Option<Duration> {
        match self.timeouts[dir as usize].load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// Runs `f` until it does not report `WouldBlock`, waiting for `dir`
    /// readiness in between. `drained` says, from a successful result,
    /// whether the descriptor is now known not to be ready (a short read).
    #[track_caller]
    pub(crate) fn io<R>(
        &self,
        dir: Dir,
        mut f: impl FnMut(&T) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        let fd = self.io.as_fd();
        let known_idle = || context::source_is_ready(fd.as_raw_fd(), self.id, dir) == Some(false);
        loop {
            if !known_idle() {
                match f(&self.io) {
                    Ok(r) => {
                        if drained(&r) {
                            self.mark_idle(dir);
                        }
                        return Ok(r);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.mark_idle(dir),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            self.wait(dir)?;
        }
    }

    fn mark_idle(&self, dir: Dir) {
        context::source_not_ready(self.io.as_fd().as_raw_fd(), self.id, dir);
    }

    /// Waits for `dir` readiness, honouring the direction's timeout.
    #[track_caller]
    pub(crate) fn wait(&self, dir: Dir) -> io::Result<()> {
        let ready = Readiness::new(self.io.as_fd(), dir, self.id);
        match self.timeout(dir) {
            None => ready.perform(),
            Some(t) => ready
                .or(after(t).wrap(|()| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "selvedge: the socket's timeout expired",
                    ))
                }))
                .perform(),
        }
    }
}

/// A read that succeeds leaves the descriptor marked ready, even a short
/// one: a short read empties the receive queue, but an end-of-file or a
/// reset may already wait behind the data it returned, and the poller,
/// which reported it with that data, reports nothing more. Only
/// `WouldBlock` proves the kernel will report the next change.
pub(crate) fn read_never_drains(_: &usize) -> bool {
    false
}

impl<T: AsFd> Drop for Source<T> {
    fn drop(&mut self) {
        self.forget();
    }
}
