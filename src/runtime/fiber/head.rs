//! A packet's head: what every fiber's packet starts with, whatever its
//! closure and result. It holds the packet's reference count and its
//! type-erased entry points, and what the runtime and the fiber's handle
//! ask of a fiber without knowing its types: its id and name, where it was
//! spawned, the scheduler and key it is placed at, and whether it is asked
//! to cancel.

use std::alloc::Layout;
use std::num::NonZeroU64;
use std::ptr::NonNull;
// The runtime is not model-checked: its atomics stay std under loom.
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

use crate::runtime::site::Site;

/// A fiber's number: unique in the process, never reused, for messages and
/// dumps (`fiber 12`). Given out the first time something asks for it
/// (most fibers are never named in a message), so a spawn pays nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FiberId(NonZeroU64);

impl FiberId {
    pub(crate) fn get(self) -> u64 {
        self.0.get()
    }
}

/// The last fiber id given out.
static LAST_ID: AtomicU64 = AtomicU64::new(0);

/// What `fiber::Builder` asked for a fiber: kept with its packet, so it
/// travels with the body to whichever scheduler starts it.
#[derive(Debug, Default)]
pub(crate) struct Spec {
    pub(crate) name: Option<String>,
    /// Usable bytes of its stack, if not its scheduler's size.
    pub(crate) stack_size: Option<usize>,
    /// Set when its scheduler took a stack for it at spawn (a local
    /// `fiber::Builder::spawn`, which reports a stack it cannot have).
    /// Atomic only so that a handle on another thread may read the rest
    /// of the spec meanwhile; it is written and read by the scheduler.
    pub(crate) reserved: std::sync::atomic::AtomicBool,
}

/// How a fiber's body is entered for the first time.
#[derive(Debug)]
pub(crate) enum Start {
    /// Run the user's function.
    Run,
    /// No stack could be had: record this error as the fiber's panic.
    Failed(String),
    /// Cancelled before it started: record `Cancelled` as its panic.
    Cancelled,
}

/// `Head::cancel` states.
const NOT_CANCELLED: u8 = 0;
const CANCEL_ASKED: u8 = 1;
const CANCELLING: u8 = 2;

/// The start of every packet, whatever its closure and result.
#[repr(C)]
pub(crate) struct Head {
    /// The body's reference (until it has entered or been dropped) and
    /// the handle's.
    pub(super) refs: AtomicUsize,
    pub(super) vtable: &'static VTable,
    /// The fiber's id once asked for (`id`), else 0.
    id: AtomicU64,
    /// Set by `fiber::Builder`; `None` for a plain `spawn`.
    spec: Option<Box<Spec>>,
    /// The caller of the spawn.
    spawned_at: Site,
    /// `NOT_CANCELLED`, `CANCEL_ASKED` (by `JoinHandle::cancel`), or
    /// `CANCELLING` (its scheduler has made it unwind).
    cancel: AtomicU8,
    /// The id of the scheduler the fiber is placed on (`Shared::id`), 0
    /// until it is placed: written before its handle is given out, or by
    /// that scheduler.
    home: AtomicU64,
    /// Its key in that scheduler's table, packed (`current::pack`), 0
    /// until it is there; written and read by that scheduler alone.
    key: AtomicU64,
}

impl Head {
    /// The head of a new packet: two references (the body's and the
    /// handle's), no id given out yet, not placed, not asked to cancel.
    #[inline]
    pub(super) fn new(vtable: &'static VTable, spec: Option<Box<Spec>>, spawned_at: Site) -> Head {
        Head {
            refs: AtomicUsize::new(2),
            vtable,
            id: AtomicU64::new(0),
            spec,
            spawned_at,
            cancel: AtomicU8::new(NOT_CANCELLED),
            home: AtomicU64::new(0),
            key: AtomicU64::new(0),
        }
    }

    /// The fiber is bound for scheduler `home`.
    #[inline]
    pub(crate) fn set_home(&self, home: u64) {
        self.home.store(home, Ordering::Relaxed);
    }

    /// The fiber sits in scheduler `home`'s table as `key` (packed).
    #[inline]
    pub(crate) fn place(&self, home: u64, key: u64) {
        self.home.store(home, Ordering::Relaxed);
        self.key.store(key, Ordering::Relaxed);
    }

    /// The scheduler the fiber is placed on, 0 if none yet.
    pub(crate) fn home(&self) -> u64 {
        self.home.load(Ordering::Acquire)
    }

    /// Its key in its scheduler's table (packed), 0 if not there yet; for
    /// that scheduler only.
    pub(crate) fn key(&self) -> u64 {
        self.key.load(Ordering::Relaxed)
    }

    /// Asks for the fiber to be cancelled.
    pub(crate) fn mark_cancelled(&self) {
        let _ = self.cancel.compare_exchange(
            NOT_CANCELLED,
            CANCEL_ASKED,
            Ordering::SeqCst,
            Ordering::Relaxed,
        );
    }

    /// Whether the fiber is to be cancelled (or is being).
    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) != NOT_CANCELLED
    }

    /// Its scheduler makes it unwind now: true the first time only.
    pub(crate) fn begin_cancelling(&self) -> bool {
        self.cancel.swap(CANCELLING, Ordering::Relaxed) != CANCELLING
    }

    /// The fiber's id, given out now if nobody asked before.
    pub(crate) fn id(&self) -> FiberId {
        let mut id = self.id.load(Ordering::Relaxed);
        if id == 0 {
            let mine = LAST_ID.fetch_add(1, Ordering::Relaxed) + 1;
            id = match self
                .id
                .compare_exchange(0, mine, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => mine,
                Err(theirs) => theirs, // another thread asked first
            };
        }
        FiberId(NonZeroU64::new(id).expect("ids start at 1"))
    }

    pub(crate) fn spec(&self) -> Option<&Spec> {
        self.spec.as_deref()
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.spec()?.name.as_deref()
    }

    pub(crate) fn spawned_at(&self) -> Site {
        self.spawned_at
    }

    /// `fiber 12`, or `fiber 'name' (12)`: how messages name the fiber.
    pub(crate) fn label(&self) -> String {
        match self.name() {
            Some(name) => format!("fiber '{name}' ({})", self.id().get()),
            None => format!("fiber {}", self.id().get()),
        }
    }
}

/// A packet's head, for as long as the caller knows the packet to be
/// alive (a running fiber's own, which its body keeps alive until the
/// fiber finishes; an unstarted body's; a handle's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeadRef(pub(super) NonNull<Head>);

// SAFETY: a pointer to a `Head`, which is `Sync` (atomics, a static
// vtable, a spec written only at creation but for its atomic); whoever
// dereferences it knows the packet to be alive (`get`).
unsafe impl Send for HeadRef {}
// SAFETY: as for `Send`.
unsafe impl Sync for HeadRef {}

impl HeadRef {
    /// # Safety
    ///
    /// The packet is alive for as long as the reference is used.
    pub(crate) unsafe fn get<'a>(self) -> &'a Head {
        // SAFETY: the caller's promise.
        unsafe { self.0.as_ref() }
    }
}

/// What the erased halves need to know of a packet's types.
pub(super) struct VTable {
    /// Runs (or fails) the closure and delivers the result; takes over the
    /// body's reference.
    pub(super) enter: unsafe fn(NonNull<Head>, Start),
    /// Drops the packet's fields in place, before its block is freed.
    pub(super) drop_fields: unsafe fn(NonNull<Head>),
    pub(super) layout: Layout,
}
