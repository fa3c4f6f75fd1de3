//! One fiber as its scheduler stores it: not started (just a closure), or
//! started (a coroutine with its stack, running or suspended).

use std::fmt;
use std::mem::MaybeUninit;

use corosensei::Coroutine;

use crate::fiber::packet::Body;
use crate::fiber::stack::FiberStack;
use crate::runtime::context::FiberYielder;

/// How a fiber's body is entered for the first time.
#[derive(Debug)]
pub(crate) enum Start {
    /// Run the user's function.
    Run,
    /// No stack could be had: record this error as the fiber's panic.
    Failed(String),
}

pub(crate) type FiberCoroutine = Coroutine<(), (), (), FiberStack>;

pub(crate) enum FiberState {
    Unstarted(Body),
    /// Only while the scheduler takes a stack for the body.
    Starting,
    /// Running or suspended. Boxed so the scheduler can resume it in place
    /// while the fiber table grows.
    Started {
        coroutine: Box<FiberCoroutine>,
        /// Set after the first run; teardown unwinds the fiber with it.
        yielder: *const FiberYielder,
    },
}

/// Spare coroutine boxes kept for reuse.
const MAX_SPARE_BOXES: usize = 1024;

/// The boxes of finished fibers' coroutines, reused so that starting a
/// fiber with a pooled stack does not allocate.
#[derive(Default)]
pub(crate) struct CoroutineBoxes {
    #[allow(clippy::vec_box)] // the boxes are the point: heap blocks to reuse
    spare: Vec<Box<MaybeUninit<FiberCoroutine>>>,
}

impl CoroutineBoxes {
    pub(crate) fn boxed(&mut self, coroutine: FiberCoroutine) -> Box<FiberCoroutine> {
        match self.spare.pop() {
            Some(mut spare) => {
                spare.write(coroutine);
                // SAFETY: initialised by the write just above.
                unsafe { spare.assume_init() }
            }
            None => Box::new(coroutine),
        }
    }

    /// Moves a finished fiber's coroutine out of its box, keeping the box.
    pub(crate) fn unbox(&mut self, boxed: Box<FiberCoroutine>) -> FiberCoroutine {
        let raw = Box::into_raw(boxed);
        // SAFETY: `raw` comes from a `Box` holding an initialised coroutine,
        // which is read out exactly once, here.
        let coroutine = unsafe { raw.read() };
        // SAFETY: `MaybeUninit<T>` has `T`'s layout, and the box's content
        // was moved out above, so treating it as uninitialised drops nothing.
        let spare = unsafe { Box::from_raw(raw.cast::<MaybeUninit<FiberCoroutine>>()) };
        if self.spare.len() < MAX_SPARE_BOXES {
            self.spare.push(spare);
        }
        coroutine
    }
}

impl fmt::Debug for CoroutineBoxes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoroutineBoxes")
            .field("spare", &self.spare.len())
            .finish()
    }
}

/// A fiber's entry in its scheduler's table.
pub(crate) struct FiberSlot {
    pub(crate) generation: u32,
    pub(crate) state: FiberState,
    /// The batch this fiber's not-yet-started children are queued in.
    pub(crate) open_batch: Option<u64>,
}

impl fmt::Debug for FiberSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            FiberState::Unstarted(_) => "unstarted",
            FiberState::Starting => "starting",
            FiberState::Started { .. } => "started",
        };
        f.debug_struct("FiberSlot")
            .field("generation", &self.generation)
            .field("state", &state)
            .finish()
    }
}
