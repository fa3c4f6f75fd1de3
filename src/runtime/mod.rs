//! The runtime: `run`, `Runtime`, `Builder` and `Handle`, and the
//! mechanisms beneath them.
//!
//! It owns the per-thread scheduler (`scheduler`: the loop; `run_queue`:
//! its policy; `poll_pace`: when it checks timers and descriptors), its
//! drivers (`time`, `io`, and `fiber`: packets, coroutines, stacks), the
//! pool of threads for blocking calls (`blocking`), the state of the
//! running thread (`current`), wakes (`waker`, and `shared` with
//! `wake_flags` for other threads), what explains a failure (`dump`,
//! `deadlock`, `stall`, `report`, `signal`), and `context`, the one seam
//! the layers above call. It imports only the operation protocol beneath
//! `op`'s algebra (the drivers commit performs through `op::state`, and a
//! join is an `op::oneshot`), and `sync`.

pub(crate) mod blocking;
mod builder;
pub(crate) mod cancelled;
pub(crate) mod context;
pub(crate) mod current;
pub(crate) mod deadlock;
pub(crate) mod dump;
pub(crate) mod fiber;
mod handle;
mod inner;
pub(crate) mod io;
pub(crate) mod key;
mod poll_pace;
mod report;
pub(crate) mod run_queue;
#[allow(clippy::module_inception)] // `Runtime` itself, in the runtime layer
mod runtime;
pub(crate) mod scheduler;
pub(crate) mod shared;
pub(crate) mod signal;
pub(crate) mod site;
mod stall;
pub(crate) mod time;
pub(crate) mod wake_flags;
pub(crate) mod waker;

pub use builder::Builder;
pub(crate) use builder::{MAX_STACK_SIZE, MIN_STACK_SIZE};
pub use cancelled::Cancelled;
pub use deadlock::OnDeadlock;
pub use handle::Handle;
pub use runtime::Runtime;
pub(crate) use shared::Shared;

/// Runs `main` as the first fiber of a one-thread runtime on the calling
/// thread and returns its value as soon as it returns.
///
/// Fibers still alive then are dropped, their stacks unwound so their
/// destructors run, and fibers that never started never run: to wait for
/// every fiber instead, build a runtime with
/// [`Builder::drain`](crate::Builder::drain). `main` may borrow from the caller. A panic in `main` is
/// resumed out of `run` after that teardown. A panic in another fiber is
/// that fiber's: its `join` returns it, and a detached fiber's panic
/// (including one raised by dropping its unclaimed result) is only
/// reported by the panic hook.
///
/// Those destructors run outside any fiber, since no fiber of the runtime
/// runs again: an operation they perform blocks the OS thread as on a
/// plain thread (a plain thread or another runtime can still complete it),
/// and `yield_now` yields the thread. A destructor that waits for another
/// fiber of this runtime therefore waits forever.
///
/// # Panics
///
/// When called from inside a fiber (nest with [`spawn`](crate::spawn)
/// instead), or when the runtime cannot be created (no `epoll`/`eventfd`, or
/// no memory for `main`'s stack); the message names the cause.
///
/// ```
/// let v = vec![1, 2, 3];
/// let sum = selvedge::run(|| v.iter().sum::<i32>());
/// assert_eq!(sum, 6);
/// ```
#[track_caller]
pub fn run<T>(main: impl FnOnce() -> T) -> T {
    Runtime::builder()
        .build()
        .unwrap_or_else(|e| panic!("selvedge: cannot create the scheduler's poller: {e}"))
        .run(main)
}
