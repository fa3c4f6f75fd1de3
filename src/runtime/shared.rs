//! The part of a scheduler other threads may touch: its remote inbox and its
//! wake FD (the poller's `notify`).
//!
//! Lost-wakeup freedom is the handshake in `wake_flags.rs`.

use std::fmt;
use std::io;
use std::time::Instant;

use polling::{Events, Poller};

use crate::runtime::fiber::packet::RemoteBody;
use crate::runtime::key::FiberKey;
use crate::runtime::wake_flags::WakeFlags;
use crate::sync::{lock, Mutex};
use std::sync::atomic::{AtomicU32, Ordering};

/// Shared, thread-safe half of one scheduler.
pub(crate) struct Shared {
    inbox: Mutex<Vec<FiberKey>>,
    spawns: Mutex<Spawns>,
    flags: WakeFlags,
    pub(crate) poller: Poller,
    /// The last fiber generation a run of this scheduler handed out. The
    /// next run continues from it, so a wake from an earlier run that
    /// arrives late names no fiber of the later one (see `FiberKey`).
    generation: AtomicU32,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

/// Fibers started from other threads, and whether a run takes them.
#[derive(Default)]
struct Spawns {
    /// A run of this scheduler is under way and will start, or drop, what
    /// is queued (between `open` and `close`).
    open: bool,
    queued: Vec<RemoteBody>,
}

impl Shared {
    pub(crate) fn new() -> io::Result<Shared> {
        Ok(Shared {
            inbox: Mutex::new(Vec::new()),
            spawns: Mutex::new(Spawns::default()),
            flags: WakeFlags::default(),
            poller: Poller::new()?,
            generation: AtomicU32::new(0),
        })
    }

    /// Where a run's fiber generations continue from.
    pub(crate) fn last_generation(&self) -> u32 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Records where the run that ends left off.
    pub(crate) fn set_last_generation(&self, generation: u32) {
        self.generation.store(generation, Ordering::Relaxed);
    }

    /// Resumes fiber `key` from another thread.
    pub(crate) fn wake_remote(&self, key: FiberKey) {
        lock(&self.inbox).push(key);
        self.announce();
    }

    /// Starts a fiber on this scheduler from another thread, if a run
    /// will take it; else hands it back (to drop: its join then returns an
    /// error).
    pub(crate) fn spawn_remote(&self, body: RemoteBody) -> Result<(), RemoteBody> {
        let mut spawns = lock(&self.spawns);
        if !spawns.open {
            return Err(body);
        }
        spawns.queued.push(body);
        drop(spawns);
        self.announce();
        Ok(())
    }

    /// A run begins: fibers spawned from other threads are taken from now.
    pub(crate) fn open(&self) {
        lock(&self.spawns).open = true;
    }

    /// Makes the scheduler look at its inbox; wakes it only if it sleeps.
    fn announce(&self) {
        if self.flags.announce() {
            // A failed notify leaves the scheduler asleep until its next
            // timer or I/O event; the eventfd write cannot fail in practice.
            let _ = self.poller.notify();
        }
    }

    /// Wakes the scheduler unconditionally (to make it re-check whether its
    /// runtime is stopping).
    pub(crate) fn interrupt(&self) {
        self.flags.raise();
        let _ = self.poller.notify();
    }

    /// A run ended: drops what it left in the inbox, and the fibers
    /// spawned from other threads that it did not take (their joins return
    /// an error); later spawns are refused the same way until the next run.
    pub(crate) fn close(&self) {
        lock(&self.inbox).clear();
        let stale = {
            let mut spawns = lock(&self.spawns);
            spawns.open = false;
            std::mem::take(&mut spawns.queued)
        };
        drop(stale); // outside the lock: their closures' destructors run
        self.flags.take();
    }

    /// Cheap check, done before every pick.
    #[inline]
    pub(crate) fn has_inbox(&self) -> bool {
        self.flags.is_pending()
    }

    /// Moves the inbox into `keys` and `spawns` (reused buffers). The flag
    /// is cleared first, so anything pushed after a take raises it again.
    pub(crate) fn drain_inbox(&self, keys: &mut Vec<FiberKey>, spawns: &mut Vec<RemoteBody>) {
        self.flags.take();
        std::mem::swap(&mut *lock(&self.inbox), keys);
        std::mem::swap(&mut lock(&self.spawns).queued, spawns);
    }

    /// Blocks in the poller until `deadline`, an I/O event or a remote wake,
    /// unless a remote wake is already pending.
    pub(crate) fn sleep(&self, events: &mut Events, deadline: Option<Instant>) -> io::Result<()> {
        let result = if self.flags.prepare_sleep() {
            match deadline {
                Some(d) => self.poller.wait_deadline(events, d).map(drop),
                None => self.poller.wait(events, None).map(drop),
            }
        } else {
            Ok(())
        };
        self.flags.woke();
        match result {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            r => r,
        }
    }
}
