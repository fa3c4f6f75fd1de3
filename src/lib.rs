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
//! # The pieces
//!
//! - **Fibers** ([`spawn`], [`fiber::Builder`], [`scope`], [`JoinSet`]):
//!   lightweight threads, each on its own small stack, run by a scheduler
//!   per OS thread. A fiber never migrates between threads, so it may hold
//!   `!Send` data (`Rc`, `RefCell`, thread-locals). Its handle joins or
//!   [cancels](JoinHandle::cancel) it.
//! - **Operations** ([`Op`]): everything that waits, as a value. Combine
//!   them ([`Op::or`], [`choice`], [`Op::wrap`], [`guard`], [`with_nack`]),
//!   then [`perform`](Op::perform) (block until one commits, exactly
//!   once), [`try_perform`](Op::try_perform) (never block), or race them
//!   in [`select!`]. Make your own with [`base_op`]; use async code with
//!   [`from_future`]; run blocking calls with [`blocking`].
//! - **Channels** ([`channel`], [`bounded`], [`unbounded`]), [`IVar`],
//!   [`MVar`], [`Multicast`], [`Condition`], timers ([`after`], [`at`],
//!   [`sleep`]), descriptors ([`io::readable`], [`net`]).
//! - **The scheduler turn**: run what is runnable (a fiber runs until it
//!   waits or yields), fire due timers, poll descriptors without blocking
//!   while work remains, and sleep in `epoll` until a deadline, an event or
//!   a wake from another thread. [`run`] runs one on this thread;
//!   [`Runtime::builder`] makes several, one per thread, and
//!   [`Handle::spawn`] places fibers across them.
//! - **Threads**: operations performed outside any fiber block the calling
//!   OS thread, so plain threads and fibers share channels freely.
//!
//! # When to use what
//!
//! - A hand-off where the sender should know the receiver has it, or a
//!   request: [`channel`] (a rendezvous). A work queue: [`bounded`]. A
//!   sender that must never wait: [`unbounded`].
//! - Waiting for one of several things: [`select!`], or [`choice`] over a
//!   `Vec` of operations. Never waiting: a `default` arm, or
//!   [`Op::try_perform`].
//! - A value computed once and read by many: [`IVar`]. A one-place buffer
//!   or a lock that suspends: [`MVar`]. Every subscriber gets every
//!   message: [`Multicast`].
//! - Fibers that borrow local data: [`scope`]. A dynamic group: [`JoinSet`].
//! - A file, a name lookup, a C library: [`blocking`], [`net::lookup_host`].
//!
//! New here? The guide (`docs/guide.md` in the repository) goes from hello
//! to a chat server in seven runnable examples; `docs/coming-from.md` maps
//! Go, Guile Fibers, CML, crossbeam and tokio; `docs/pitfalls.md` lists what
//! bites; `docs/design.md` explains the insides.
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
