//! The timer driver: each scheduler's timers, which commit the performs
//! that wait for a deadline when it passes.
//!
//! It imports the operation protocol (to commit) and nothing of the
//! scheduler, which owns one `TimerHeap` and fires it between runs.

mod heap;

pub(crate) use heap::{PendingTimer, TimerHandle, TimerHeap, TimerTarget};
