//! One fiber as its scheduler stores it: not started (just a closure), or
//! started (a coroutine with its stack, running or suspended).

use std::fmt;

use corosensei::Coroutine;

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

/// The body of a fiber, boxed until it first runs.
pub(crate) type Body = Box<dyn FnOnce(Start)>;

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
