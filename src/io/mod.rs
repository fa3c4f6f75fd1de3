//! Readiness of file descriptors as operations.
//!
//! [`readable`] and [`writable`] complete when an operation in that
//! direction would not block (including when it would fail at once: a
//! hung-up or errored descriptor is "ready", and the read or write reports
//! what happened). They compose with channels and timers:
//!
//! ```
//! use selvedge::{after, io, select};
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//!
//! selvedge::run(|| {
//!     let (a, _b) = UnixStream::pair().unwrap();
//!     select! {
//!         r = io::readable(&a) => panic!("nothing was written: {r:?}"),
//!         () = after(Duration::from_millis(10)) => {}
//!     }
//! });
//! ```
//!
//! A read with a deadline for the whole exchange (where a socket's
//! `set_read_timeout`, which bounds each wait, is not enough), or raced
//! against a shutdown channel: wait for readiness in a `select!`, then
//! read without blocking.
//!
//! ```
//! use selvedge::net::{TcpListener, TcpStream};
//! use selvedge::{at, io, select};
//! use std::io::{ErrorKind, Read, Write};
//! use std::time::{Duration, Instant};
//!
//! /// Reads exactly `buf.len()` bytes before `deadline`, or fails.
//! fn read_exact_by(s: &TcpStream, buf: &mut [u8], deadline: Instant) -> std::io::Result<()> {
//!     let mut got = 0;
//!     while got < buf.len() {
//!         select! {
//!             r = io::readable(s) => r?,
//!             () = at(deadline) => return Err(ErrorKind::TimedOut.into()),
//!         }
//!         match (&*s).read(&mut buf[got..]) {
//!             Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
//!             Ok(n) => got += n,
//!             Err(e) if e.kind() == ErrorKind::WouldBlock => {} // another reader won
//!             Err(e) => return Err(e),
//!         }
//!     }
//!     Ok(())
//! }
//!
//! selvedge::run(|| {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
//!     let (server, _) = listener.accept().unwrap();
//!     client.write_all(b"half").unwrap(); // 4 of the 8 bytes
//!     let mut buf = [0; 8];
//!     let soon = Instant::now() + Duration::from_millis(20);
//!     let e = read_exact_by(&server, &mut buf, soon).unwrap_err();
//!     assert_eq!(e.kind(), ErrorKind::TimedOut);
//! });
//! ```
//!
//! In a fiber the scheduler's poller watches the descriptor; on a plain
//! thread a process-wide reactor thread does. Readiness is a hint, as with
//! `poll(2)`: another reader may drain the descriptor first, so code that
//! reads after `readable` must still handle `WouldBlock` (the [`net`]
//! types do this for you).
//!
//! A descriptor closed behind the waiters' back (by C code, or through a
//! raw descriptor number) is noticed within about a second, and its waiters
//! get an `EBADF` error instead of hanging.
//!
//! [`net`]: crate::net
//!
//! A user-facing layer: its leaves wait in the I/O driver's readiness
//! table (`runtime::io`), reached through `runtime::context` in a fiber and
//! the reactor on a plain thread. `source` is the non-blocking descriptor
//! the `net` types are built on.

pub(crate) mod source;

use std::cell::UnsafeCell;
use std::fmt;
use std::io;
use std::marker::PhantomPinned;
use std::os::fd::{AsFd, BorrowedFd};

use crate::op::leaf::{commit_own, Leaf, RegisterCx, Registered};
use crate::op::state::OpState;
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::runtime::context::{self, Watcher};
use crate::runtime::io::table::{self, Dir, Waiter};

/// The operation of `fd` becoming readable (or hung up, or in error).
pub fn readable<F: AsFd + ?Sized>(fd: &F) -> Readiness<'_> {
    Readiness::new(fd.as_fd(), Dir::Read, 0)
}

/// The operation of `fd` becoming writable (or hung up, or in error).
pub fn writable<F: AsFd + ?Sized>(fd: &F) -> Readiness<'_> {
    Readiness::new(fd.as_fd(), Dir::Write, 0)
}

/// The operation returned by [`readable`] and [`writable`]. Completes with
/// `Ok(())` once the descriptor is ready in that direction, or with an
/// error if it cannot be watched (`EBADF` for a closed descriptor).
pub struct Readiness<'a> {
    fd: BorrowedFd<'a>,
    dir: Dir,
    /// 0 for a borrowed descriptor; else a `net` source that has just seen
    /// `WouldBlock`, so the fast-path probe is skipped.
    owner: u64,
    /// In a cell: the party that commits the leaf may write it from
    /// another thread while the performer holds `&self` (to describe).
    result: UnsafeCell<Option<io::Result<()>>>,
    watcher: Option<Watcher>,
    /// `!Unpin`: while the leaf is registered, the party that commits it
    /// writes `result` through a pointer, and its performer may take
    /// `&mut` to the leaf meanwhile (see `channel::waiters::Waiter`).
    _pinned: PhantomPinned,
}

impl fmt::Debug for Readiness<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Readiness")
            .field("fd", &self.fd)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl<'a> Readiness<'a> {
    pub(crate) fn new(fd: BorrowedFd<'a>, dir: Dir, owner: u64) -> Self {
        Readiness {
            fd,
            dir,
            owner,
            result: UnsafeCell::new(None),
            watcher: None,
            _pinned: PhantomPinned,
        }
    }
}

/// Asks the kernel, without blocking, whether `fd` is ready for `dir`.
fn probe(fd: BorrowedFd<'_>, dir: Dir) -> Option<io::Result<()>> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let want = match dir {
        Dir::Read => PollFlags::IN | PollFlags::PRI | PollFlags::RDHUP,
        Dir::Write => PollFlags::OUT,
    };
    let mut fds = [PollFd::from_borrowed_fd(fd, want)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&zero)) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            let got = fds[0].revents();
            if got.contains(PollFlags::NVAL) {
                Some(Err(table::closed_while_waiting()))
            } else if got.intersects(want | PollFlags::HUP | PollFlags::ERR) {
                Some(Ok(()))
            } else {
                None
            }
        }
    }
}

impl Leaf for Readiness<'_> {
    fn try_now(&mut self) -> bool {
        if self.owner != 0 {
            return false;
        }
        match probe(self.fd, self.dir) {
            Some(r) => {
                *self.result.get_mut() = Some(r);
                true
            }
            None => false,
        }
    }

    fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
        let waiter = Waiter {
            op: cx.op,
            idx,
            result: self.result.get_mut(),
        };
        match context::watch(self.fd, self.dir, self.owner, waiter) {
            Ok(watcher) => {
                self.watcher = Some(watcher);
                Registered::Waiting
            }
            Err(e) => {
                *self.result.get_mut() = Some(Err(e));
                commit_own(cx.op, idx)
            }
        }
    }

    fn unregister(&mut self, op: &OpState) {
        if let Some(watcher) = self.watcher.take() {
            context::unwatch(watcher, self.dir, op);
        }
    }

    fn describe(&self, out: &mut String) {
        use std::fmt::Write;
        use std::os::fd::AsRawFd;
        let dir = match self.dir {
            Dir::Read => "readable",
            Dir::Write => "writable",
        };
        let _ = write!(out, "{dir} fd {}", self.fd.as_raw_fd());
    }
}

impl Op for Readiness<'_> {
    type Output = io::Result<()>;
}

impl Tree<io::Result<()>> for Readiness<'_> {
    one_leaf!();
    fn complete(self, _winner: usize, _: Token) -> io::Result<()> {
        self.result
            .into_inner()
            .expect("a committed readiness leaf has its result")
    }
}
