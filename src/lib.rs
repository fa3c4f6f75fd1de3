//! # selvedge
//!
//! Concurrent ML on stackful fibers. Fibers are lightweight threads (on
//! [`corosensei`] coroutines) run by a scheduler per OS thread; they talk
//! over rendezvous [`channel`]s, and every blocking step is a first-class
//! [`Op`]eration you can combine ([`Op::wrap`], [`choice`], [`guard`],
//! [`with_nack`]) before you [`perform`](Op::perform) it or [`select!`] on it.
//!
//! ```
//! use selvedge::{channel, select, spawn};
//! use std::time::Duration;
//!
//! selvedge::run(|| {
//!     let (tx, rx) = channel();
//!     spawn(move || tx.send("hello from a fiber").unwrap());
//!     select! {
//!         msg = rx.recv_op() => assert_eq!(msg, Ok("hello from a fiber")),
//!         () = selvedge::after(Duration::from_secs(1)) => panic!("timed out"),
//!     }
//! });
//! ```
//!
//! Fibers never migrate between threads, so they may hold `!Send` data.
//! Operations performed outside any fiber block the calling OS thread, so
//! plain threads and fibers share channels freely. See `docs/design.md` for
//! the scheduler turn, the commit protocol and the stack pool.
//!
//! Fiber handles are `!Send` when their output is: a fiber's result can only
//! cross threads if it may.
//!
//! ```compile_fail
//! let h = selvedge::run(|| selvedge::spawn(|| std::rc::Rc::new(1)));
//! std::thread::spawn(move || drop(h)); // JoinHandle<Rc<_>> is not Send
//! ```

mod blocking;
mod channel;
mod condition;
pub mod fiber;
mod future;
pub mod io;
mod macros;
mod multicast;
pub mod net;
mod op;
mod runtime;
mod sync;
mod sync_var;
mod time;

pub use blocking::blocking;
pub use channel::{
    bounded, channel, unbounded, IntoIter, IntoRecvOp, Iter, Receiver, RecvError, RecvOp,
    RecvTimeoutError, SendError, SendOp, SendTimeoutError, Sender, TryRecvError, TrySendError,
};
pub use condition::{Condition, WaitOp};
pub use fiber::{
    scope, sleep, spawn, yield_now, JoinHandle, JoinOp, JoinSet, Scope, ScopedJoinHandle,
};
pub use future::from_future;
pub use multicast::Multicast;
pub use op::{
    always, base_op, choice, guard, never, with_nack, Always, BaseOp, BoxOp, Choice, Completer,
    Guard, Nack, Never, Op, Or, WithNack, Wrap,
};
pub use runtime::fiber::stack_pool::DEFAULT_STACK_SIZE;
pub use runtime::{run, Builder, Cancelled, Handle, OnDeadlock, Runtime};
pub use sync_var::{IVar, MVar};
pub use time::{after, at, Timeout};

#[doc(hidden)]
pub mod __private {
    //! What `select!` expands to; not API.
    pub use crate::op::arms;
}

/// Internals exposed to the model checks in `loom-tests/` (built with
/// `--cfg loom` only; not API).
#[cfg(loom)]
#[doc(hidden)]
#[path = "loom.rs"]
pub mod __loom;

/// The README's example is compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
