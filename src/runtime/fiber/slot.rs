//! One fiber as its scheduler stores it: not started (just a closure), or
//! started (a coroutine with its stack, running or suspended).

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::num::NonZeroU64;

use crate::runtime::fiber::coroutine::Runner;
use crate::runtime::fiber::packet::Body;

pub(crate) enum FiberState {
    /// A free slot; the index of the next free slot (`table::NO_SLOT` if none).
    Vacant(u32),
    Unstarted(Body),
    /// Only while the scheduler takes a coroutine for the body.
    Starting,
    /// Running or suspended: its coroutine, whose handle lives on the
    /// fiber's stack (see `fiber::coroutine`).
    Started(Runner),
}

/// A fiber's entry in its scheduler's table. Every field is a cell: the
/// scheduler reaches the slots through shared references while one of them
/// holds the running coroutine (see `state`). 32 bytes, aligned: two slots
/// per cache line, none straddling two.
#[repr(align(32))]
pub(crate) struct FiberSlot {
    pub(crate) generation: Cell<u32>,
    /// The batch this fiber's not-yet-started children are queued in (the
    /// run queue's `BatchId`; the slot keeps it for the scheduler).
    pub(crate) open_batch: Cell<Option<NonZeroU64>>,
    /// Mutated only by the scheduler loop, between fiber runs, except that a
    /// running fiber's coroutine is borrowed mutably through it for the
    /// length of the run; nothing touches a running fiber's state.
    pub(crate) state: UnsafeCell<FiberState>,
}

impl FiberSlot {
    pub(crate) fn vacant(next_free: u32) -> FiberSlot {
        FiberSlot {
            generation: Cell::new(0),
            open_batch: Cell::new(None),
            state: UnsafeCell::new(FiberState::Vacant(next_free)),
        }
    }
}

impl fmt::Debug for FiberSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiberSlot")
            .field("generation", &self.generation.get())
            .finish_non_exhaustive()
    }
}

const _: () = assert!(
    size_of::<FiberSlot>() == 32,
    "a fiber slot is half a cache line"
);
