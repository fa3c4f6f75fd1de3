//! The part of a scheduler other threads may touch: its inbox of woken
//! fibers and its wake FD (the poller's `notify`). (Fibers spawned from
//! other threads wait in the runtime's `SpawnInbox`, which announces them
//! here.)
//!
//! Lost-wakeup freedom is the handshake in `wake_flags.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::{Arc, Weak};
use std::time::Instant;

use polling::{Events, Poller};

use crate::runtime::fiber::packet::PacketRef;
use crate::runtime::key::FiberKey;
use crate::runtime::wake_flags::WakeFlags;
use crate::sync::{lock, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Shared, thread-safe half of one scheduler.
pub(crate) struct Shared {
    inbox: Mutex<Vec<FiberKey>>,
    flags: WakeFlags,
    pub(crate) poller: Poller,
    /// The last fiber generation a run of this scheduler handed out. The
    /// next run continues from it, so a wake from an earlier run that
    /// arrives late names no fiber of the later one (see `FiberKey`).
    generation: AtomicU32,
    /// Its place among its runtime's schedulers.
    index: usize,
    /// Counts the scheduler's checks of timers and descriptors, and its
    /// goings idle: still, while it is awake, only within one fiber's run
    /// (see `stall`).
    beat: AtomicU64,
    /// The thread that runs it (`pthread_t`), 0 until a run starts.
    thread: AtomicU64,
    /// How long (in µs) its running fiber has held it, when the stall
    /// watchdog asks its thread to name that fiber; 0 otherwise.
    stall_report: AtomicU64,
    /// Its process-wide id (see `by_id`), never 0.
    id: u64,
    /// Fibers to cancel (`JoinHandle::cancel`), each kept alive by its
    /// request until the scheduler has handled it; `has_cancels` spares
    /// every other drain of the inbox the lock.
    cancels: Mutex<Vec<PacketRef>>,
    has_cancels: AtomicBool,
}

/// Every scheduler's shared half by id, for requests that find a fiber's
/// scheduler from its packet (which records the id, not a reference that
/// would keep the scheduler alive).
static REGISTRY: std::sync::Mutex<BTreeMap<u64, Weak<Shared>>> =
    std::sync::Mutex::new(BTreeMap::new());

static LAST_ID: AtomicU64 = AtomicU64::new(0);

fn registry() -> std::sync::MutexGuard<'static, BTreeMap<u64, Weak<Shared>>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Lists a new scheduler's shared half, so `by_id` finds it.
pub(crate) fn register(shared: &Arc<Shared>) {
    registry().insert(shared.id, Arc::downgrade(shared));
}

/// The scheduler with id `id`, if it still exists.
pub(crate) fn by_id(id: u64) -> Option<Arc<Shared>> {
    registry().get(&id).and_then(Weak::upgrade)
}

impl Drop for Shared {
    fn drop(&mut self) {
        registry().remove(&self.id);
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The shared half of scheduler `index` of a runtime.
    pub(crate) fn new(index: usize) -> io::Result<Shared> {
        Ok(Shared {
            inbox: Mutex::new(Vec::new()),
            flags: WakeFlags::default(),
            poller: Poller::new()?,
            generation: AtomicU32::new(0),
            index,
            beat: AtomicU64::new(0),
            thread: AtomicU64::new(0),
            stall_report: AtomicU64::new(0),
            id: LAST_ID.fetch_add(1, Ordering::Relaxed) + 1,
            cancels: Mutex::new(Vec::new()),
            has_cancels: AtomicBool::new(false),
        })
    }

    /// Its process-wide id.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Asks the scheduler to cancel the fiber of `packet`.
    pub(crate) fn request_cancel(&self, packet: PacketRef) {
        lock(&self.cancels).push(packet);
        self.has_cancels.store(true, Ordering::Release);
        self.announce();
    }

    /// Moves the cancel requests into `requests` (after the announcement
    /// was taken, so a request made later announces itself again).
    #[inline]
    pub(crate) fn take_cancels(&self, requests: &mut Vec<PacketRef>) {
        if self.has_cancels.load(Ordering::Acquire) {
            self.has_cancels.store(false, Ordering::Relaxed);
            requests.append(&mut lock(&self.cancels));
        }
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// The scheduler made a check or went idle (see `stall`): a load and
    /// a store, no locked instruction.
    #[inline]
    pub(crate) fn publish_beat(&self) {
        self.beat.store(
            self.beat.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn beat(&self) -> u64 {
        self.beat.load(Ordering::Relaxed)
    }

    pub(crate) fn is_sleeping(&self) -> bool {
        self.flags.is_sleeping()
    }

    /// Records the calling thread as the one running this scheduler.
    pub(crate) fn set_thread(&self) {
        // SAFETY: `pthread_self` has no preconditions.
        let thread = unsafe { libc::pthread_self() };
        self.thread.store(thread as u64, Ordering::Relaxed);
    }

    /// The thread running this scheduler, once a run started.
    pub(crate) fn thread(&self) -> Option<libc::pthread_t> {
        match self.thread.load(Ordering::Relaxed) {
            0 => None,
            t => Some(t as libc::pthread_t),
        }
    }

    /// The watchdog asks the scheduler's thread to name the fiber that
    /// has held it for `held`.
    pub(crate) fn ask_stall_report(&self, held: std::time::Duration) {
        let us = u64::try_from(held.as_micros()).unwrap_or(u64::MAX).max(1);
        self.stall_report.store(us, Ordering::SeqCst);
    }

    /// For the signal handler: how long its fiber has held the scheduler,
    /// if the watchdog asked.
    pub(crate) fn take_stall_report(&self) -> Option<std::time::Duration> {
        match self.stall_report.swap(0, Ordering::SeqCst) {
            0 => None,
            us => Some(std::time::Duration::from_micros(us)),
        }
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

    /// Makes the scheduler look at its inbox; wakes it only if it sleeps.
    pub(crate) fn announce(&self) {
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

    /// A run ended: drops the wakes and requests it left in the inbox.
    pub(crate) fn close(&self) {
        lock(&self.inbox).clear();
        lock(&self.cancels).clear();
        self.flags.take();
    }

    /// Cheap check, done before every pick.
    #[inline]
    pub(crate) fn has_inbox(&self) -> bool {
        self.flags.is_pending()
    }

    /// Clears the flag that says work was announced: anything announced
    /// after this raises it again. Called before the inboxes are taken.
    pub(crate) fn take_announcement(&self) {
        self.flags.take();
    }

    /// Moves the woken fibers into `keys` (a reused buffer).
    pub(crate) fn take_wakes(&self, keys: &mut Vec<FiberKey>) {
        std::mem::swap(&mut *lock(&self.inbox), keys);
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
