//! The descriptors one poller watches, and the performs waiting on them.
//!
//! One table belongs to each scheduler (touched only by its thread) and one
//! to the reactor that serves plain threads (behind a mutex). An entry is
//! keyed by descriptor number; its slab index is the poller key.
//!
//! Two registration modes:
//! - *borrowed* descriptors (`io::readable(&fd)`, owner 0) are armed
//!   oneshot with the interests of their current waiters and re-armed per
//!   wait, because we cannot know when their owner closes them;
//! - descriptors owned by a `net` source (owner = the source's id) are
//!   registered edge-triggered once, and the table remembers whether an
//!   edge arrived since the source last saw `WouldBlock` (`ready`), so a
//!   source can skip a read that would fail. The source removes its entry
//!   when it drops; an entry left behind by a source dropped on another
//!   thread is recognised by its owner id when the number is reused.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use libc::{EBADF, EEXIST, ENOENT};
use polling::{Event, PollMode, Poller};
use slab::Slab;

use crate::op::state::OpState;

/// How often descriptors with borrowed waiters are checked for having been
/// closed behind the waiters' backs (the kernel silently drops a closed
/// descriptor from epoll, so nothing else would ever wake them).
pub(crate) const CLOSED_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A direction of readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Read = 0,
    Write = 1,
}

/// A blocked perform's leaf waiting for a direction of one descriptor.
pub(crate) struct Waiter {
    pub(crate) op: *const OpState,
    pub(crate) idx: usize,
    /// Where the leaf wants its result; written only by whoever commits it.
    pub(crate) result: *mut Option<io::Result<()>>,
}

// SAFETY: the pointers name a blocked perform's state and result slot;
// they are used only while that perform is registered, and a table shared
// between threads (the reactor's) is only touched under its lock, which the
// perform also takes to unregister. The perform's thread reads the result
// only after the commit (a release store) that follows the write.
unsafe impl Send for Waiter {}

struct FdEntry {
    fd: RawFd,
    /// 0 for a borrowed descriptor, else the id of the owning source.
    owner: u64,
    /// The kernel knows this descriptor (as far as we can tell).
    registered: bool,
    /// Oneshot mode: the interests armed now.
    armed: [bool; 2],
    /// Edge mode: an edge arrived since the owner last saw `WouldBlock`.
    ready: [bool; 2],
    waiters: [Vec<Waiter>; 2],
}

impl FdEntry {
    fn interest(&self, key: usize, dirs: [bool; 2]) -> Event {
        match dirs {
            [true, true] => Event::all(key),
            [true, false] => Event::readable(key),
            [false, true] => Event::writable(key),
            [false, false] => Event::none(key),
        }
    }

    fn waiting_dirs(&self) -> [bool; 2] {
        [!self.waiters[0].is_empty(), !self.waiters[1].is_empty()]
    }
}

/// See the module docs.
pub(crate) struct IoTable {
    entries: Slab<FdEntry>,
    /// Entry key by descriptor number (numbers are small and dense).
    by_fd: Vec<usize>,
    /// Edge mode is allowed (scheduler tables; the reactor keeps to oneshot).
    edge: bool,
    waiters: usize,
    borrowed_waiters: usize,
    last_closed_check: Instant,
}

impl fmt::Debug for IoTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoTable")
            .field("entries", &self.entries.len())
            .field("waiters", &self.waiters)
            .finish()
    }
}

fn is(e: &io::Error, errno: i32) -> bool {
    e.raw_os_error() == Some(errno)
}

const NONE: usize = usize::MAX;

/// The error a waiter gets when its descriptor was closed under it.
pub(crate) fn closed_while_waiting() -> io::Error {
    io::Error::from_raw_os_error(EBADF)
}

impl IoTable {
    pub(crate) fn new(edge: bool) -> IoTable {
        IoTable {
            entries: Slab::new(),
            by_fd: Vec::new(),
            edge,
            waiters: 0,
            borrowed_waiters: 0,
            last_closed_check: Instant::now(),
        }
    }

    #[inline]
    fn lookup(&self, fd: RawFd) -> Option<usize> {
        match self.by_fd.get(usize::try_from(fd).ok()?) {
            Some(&k) if k != NONE => Some(k),
            _ => None,
        }
    }

    /// Some perform is waiting on a descriptor of this table.
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters > 0
    }

    /// When the next closed-descriptor check is due, if one is needed.
    pub(crate) fn next_check(&self) -> Option<Instant> {
        (self.borrowed_waiters > 0).then(|| self.last_closed_check + CLOSED_CHECK_INTERVAL)
    }

    /// Adds a waiter for `dir` of `fd`, registering or arming the descriptor
    /// as needed. Returns the entry key, for `unregister`. An error (such as
    /// `EBADF` for a closed descriptor) means nothing was added.
    pub(crate) fn register(
        &mut self,
        registry: &impl Registry,
        fd: BorrowedFd<'_>,
        dir: Dir,
        owner: u64,
        waiter: Waiter,
    ) -> io::Result<usize> {
        let owner = if self.edge { owner } else { 0 };
        let raw = fd.as_raw_fd();
        let key = match self.lookup(raw) {
            Some(k) => k,
            None => {
                let k = self.entries.insert(FdEntry {
                    fd: raw,
                    owner,
                    registered: false,
                    armed: [false; 2],
                    ready: [false; 2],
                    waiters: [Vec::new(), Vec::new()],
                });
                let slot = raw as usize;
                if self.by_fd.len() <= slot {
                    self.by_fd.resize(slot + 1, NONE);
                }
                self.by_fd[slot] = k;
                k
            }
        };
        if let Err(err) = self.arm(registry, fd, key, dir, owner) {
            let e = &self.entries[key];
            if e.waiting_dirs() == [false, false] {
                self.by_fd[e.fd as usize] = NONE;
                self.entries.remove(key);
            }
            return Err(err);
        }
        let e = &mut self.entries[key];
        if e.owner == 0 {
            self.borrowed_waiters += 1;
        }
        e.waiters[dir as usize].push(waiter);
        self.waiters += 1;
        Ok(key)
    }

    /// Makes the kernel watch entry `key` for `dir` (and for what its
    /// waiters already want), in the mode its owner calls for.
    fn arm(
        &mut self,
        registry: &impl Registry,
        fd: BorrowedFd<'_>,
        key: usize,
        dir: Dir,
        owner: u64,
    ) -> io::Result<()> {
        let e = &mut self.entries[key];
        if owner != 0 && (e.owner != owner || !e.registered) {
            // New, left by a source that is gone, or borrowed until now.
            e.owner = owner;
            e.ready = [false; 2];
            e.armed = [false; 2];
            e.registered = false;
            sync(
                registry,
                fd,
                e.interest(key, [true, true]),
                PollMode::Edge,
                false,
            )?;
            e.registered = true;
        } else if owner == 0 && e.owner != 0 {
            // A borrowed wait on a source's descriptor: re-registering makes
            // the kernel report current readiness as a fresh edge, and
            // tells us whether the registration is still alive.
            match registry.modify(fd, e.interest(key, [true, true]), PollMode::Edge) {
                Ok(()) => {}
                Err(err) if is(&err, ENOENT) => {
                    e.owner = 0;
                    e.registered = false;
                }
                Err(err) => return Err(err),
            }
        }
        if e.owner == 0 {
            let mut want = e.waiting_dirs();
            want[dir as usize] = true;
            // A new episode (no waiters yet) re-checks with the kernel: the
            // number may have been closed and reused since it was armed.
            if want != e.armed || !e.registered || e.waiting_dirs() == [false, false] {
                let was = e.registered;
                e.registered = false;
                sync(registry, fd, e.interest(key, want), PollMode::Oneshot, was)?;
                e.registered = true;
                e.armed = want;
            }
        }
        Ok(())
    }

    /// Removes the waiters of perform `op` from `dir` of entry `key`.
    pub(crate) fn unregister(&mut self, key: usize, dir: Dir, op: *const OpState) {
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        let list = &mut e.waiters[dir as usize];
        let before = list.len();
        list.retain(|w| !std::ptr::eq(w.op, op));
        let removed = before - list.len();
        self.waiters -= removed;
        if e.owner == 0 {
            self.borrowed_waiters -= removed;
        }
    }

    /// Whether the source `owner` may read (or write) `fd` without blocking,
    /// as far as the table knows. `None` when the table does not track it.
    #[inline]
    pub(crate) fn is_ready(&self, fd: RawFd, owner: u64, dir: Dir) -> Option<bool> {
        let e = &self.entries[self.lookup(fd)?];
        (e.owner == owner && e.registered).then_some(e.ready[dir as usize])
    }

    /// The source `owner` saw `WouldBlock` (or drained the descriptor).
    #[inline]
    pub(crate) fn clear_ready(&mut self, fd: RawFd, owner: u64, dir: Dir) {
        if let Some(k) = self.lookup(fd) {
            let e = &mut self.entries[k];
            if e.owner == owner {
                e.ready[dir as usize] = false;
            }
        }
    }

    /// The source `owner` is closing `fd`: deregister it.
    pub(crate) fn forget(&mut self, registry: &impl Registry, fd: BorrowedFd<'_>, owner: u64) {
        let raw = fd.as_raw_fd();
        let Some(k) = self.lookup(raw) else {
            return;
        };
        let e = &self.entries[k];
        if e.owner != owner || e.waiters.iter().any(|w| !w.is_empty()) {
            return;
        }
        if e.registered {
            // An error means the kernel has no registration to remove.
            let _ = registry.delete(fd);
        }
        self.entries.remove(k);
        self.by_fd[raw as usize] = NONE;
    }

    /// Handles what one poll reported, then runs the closed-descriptor
    /// check if it is due. Shared by the schedulers and the reactor.
    pub(crate) fn dispatch_all(
        &mut self,
        registry: &impl Registry,
        events: impl IntoIterator<Item = Event>,
    ) {
        for ev in events {
            self.dispatch(registry, &ev);
        }
        let now = Instant::now();
        if self.next_check().is_some_and(|at| at <= now) {
            self.check_closed(registry, now);
        }
    }

    /// Handles one poller event: marks readiness and commits the performs
    /// waiting for the directions that fired, and wakes them.
    fn dispatch(&mut self, registry: &impl Registry, event: &Event) {
        let Some(e) = self.entries.get_mut(event.key) else {
            return; // the notifier, or an entry removed since
        };
        let fired = [event.readable, event.writable];
        if e.owner == 0 {
            e.armed = [false; 2]; // oneshot: the kernel disarmed it
        }
        for dir in [Dir::Read, Dir::Write] {
            if !fired[dir as usize] {
                continue;
            }
            e.ready[dir as usize] = true;
            let woken = commit_all(&mut e.waiters[dir as usize], || Ok(()));
            self.waiters -= woken;
            if e.owner == 0 {
                self.borrowed_waiters -= woken;
            }
        }
        if e.owner == 0 {
            let want = e.waiting_dirs();
            if want != [false, false] {
                // SAFETY: a borrowed entry with waiters: each waiter's
                // perform holds a borrow of this descriptor, so it is open
                // (a number closed behind Rust's back only makes the call
                // fail, which `check_closed` reports later).
                let fd = unsafe { BorrowedFd::borrow_raw(e.fd) };
                if registry
                    .modify(fd, e.interest(event.key, want), PollMode::Oneshot)
                    .is_ok()
                {
                    e.armed = want;
                }
            }
        }
    }

    /// Releases, with an error, the borrowed waiters whose descriptor was
    /// closed under them (see `CLOSED_CHECK_INTERVAL`).
    fn check_closed(&mut self, registry: &impl Registry, now: Instant) {
        self.last_closed_check = now;
        if self.borrowed_waiters == 0 {
            return;
        }
        let mut gone = Vec::new();
        for (key, e) in &mut self.entries {
            if e.owner != 0 || e.waiting_dirs() == [false, false] {
                continue;
            }
            // SAFETY: as in `dispatch`; a closed or reused number makes the
            // call fail with EBADF or ENOENT, which is what we look for.
            let fd = unsafe { BorrowedFd::borrow_raw(e.fd) };
            let want = e.waiting_dirs();
            match registry.modify(fd, e.interest(key, want), PollMode::Oneshot) {
                Ok(()) => e.armed = want,
                Err(err) if is(&err, ENOENT) || is(&err, EBADF) => gone.push(key),
                Err(_) => {}
            }
        }
        for key in gone {
            let mut e = self.entries.remove(key);
            self.by_fd[e.fd as usize] = NONE;
            for list in &mut e.waiters {
                let n = commit_all(list, || Err(closed_while_waiting()));
                self.waiters -= n;
                self.borrowed_waiters -= n;
            }
        }
    }
}

/// Commits every waiter of `list` (that no other party committed first),
/// handing each `make()` as its result. Returns how many left the list.
fn commit_all(list: &mut Vec<Waiter>, make: impl Fn() -> io::Result<()>) -> usize {
    let n = list.len();
    for w in list.drain(..) {
        // SAFETY: a waiter is in the table only while its perform is
        // registered (it unregisters before its frame ends, on the same
        // thread as this table or under the same lock), so `op` is alive.
        let op = unsafe { &*w.op };
        if let Some(claim) = op.claim() {
            // SAFETY: the claim gives us the sole right to complete this
            // perform, whose leaf (and so its result slot) is alive.
            unsafe { *w.result = Some(make()) };
            if let Some(token) = claim.commit(w.idx) {
                token.wake();
            }
        }
    }
    n
}

/// Registers `fd` (or updates its registration), whichever the kernel
/// needs: `ADD` when new, `MOD` when it already knows the descriptor.
fn sync(
    registry: &impl Registry,
    fd: BorrowedFd<'_>,
    ev: Event,
    mode: PollMode,
    known: bool,
) -> io::Result<()> {
    if known {
        match registry.modify(fd, ev, mode) {
            Err(e) if is(&e, ENOENT) => {} // closed and reused since: add
            r => return r,
        }
    }
    // SAFETY: polling requires deleting a source before it closes. On
    // epoll a closed descriptor leaves the interest set by itself; sources
    // we own delete it when they drop, and a stale registration of a
    // borrowed descriptor can only produce spurious events, which every
    // waiter tolerates (readiness is a hint; sources retry on WouldBlock).
    match unsafe { registry.add(fd.as_raw_fd(), ev, mode) } {
        Err(e) if is(&e, EEXIST) => registry.modify(fd, ev, mode),
        r => r,
    }
}

/// What a table asks of the kernel's readiness interface: `polling`'s
/// `Poller`, or a double in the unit tests, which Miri can run (it cannot
/// create a poller).
pub(crate) trait Registry {
    /// Starts watching `fd` for `ev`.
    ///
    /// # Safety
    ///
    /// As for `Poller::add_with_mode`: `fd` is deleted before it is closed,
    /// or a stale registration is harmless to the caller.
    unsafe fn add(&self, fd: RawFd, ev: Event, mode: PollMode) -> io::Result<()>;
    /// Changes what a watched `fd` is watched for.
    fn modify(&self, fd: BorrowedFd<'_>, ev: Event, mode: PollMode) -> io::Result<()>;
    /// Stops watching `fd`.
    fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()>;
}

impl Registry for Poller {
    unsafe fn add(&self, fd: RawFd, ev: Event, mode: PollMode) -> io::Result<()> {
        // SAFETY: the caller's promise, which is `add_with_mode`'s.
        unsafe { self.add_with_mode(fd, ev, mode) }
    }
    fn modify(&self, fd: BorrowedFd<'_>, ev: Event, mode: PollMode) -> io::Result<()> {
        self.modify_with_mode(fd, ev, mode)
    }
    fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        Poller::delete(self, fd)
    }
}

#[cfg(test)]
mod tests;
