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

mod channel;
mod condition;
mod fiber;
pub mod io;
mod macros;
pub mod net;
mod op;
mod runtime;
mod sync;
mod time;

pub use channel::{
    channel, IntoIter, IntoRecvOp, Iter, Receiver, RecvError, RecvOp, SendError, SendOp, Sender,
    TryRecvError, TrySendError,
};
pub use condition::{Condition, WaitOp};
pub use fiber::{sleep, spawn, yield_now, JoinHandle, JoinOp};
pub use op::{
    always, choice, guard, never, with_nack, Always, BoxOp, Choice, Guard, Nack, Never, Op, Or,
    WithNack, Wrap,
};
pub use runtime::fiber::stack_pool::DEFAULT_STACK_SIZE;
pub use runtime::{run, Builder, Handle, Runtime};
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
pub mod __loom {
    use crate::op::oneshot::{Oneshot, OneshotRecv};
    use crate::op::tree::{one_leaf, Token, Tree};
    pub use crate::runtime::wake_flags::WakeFlags;
    use crate::sync::{Arc, AtomicUsize};

    /// A perform's op state whose owner counts wakes instead of sleeping.
    #[derive(Debug)]
    pub struct CountingOp {
        state: crate::op::state::OpState,
        /// How many times the owner was woken.
        pub wakes: Arc<AtomicUsize>,
    }

    impl CountingOp {
        /// A WAITING op state.
        pub fn new() -> Self {
            let wakes = Arc::new(AtomicUsize::new(0));
            CountingOp {
                state: crate::op::state::OpState::new(crate::runtime::waker::Waker::Count(
                    wakes.clone(),
                )),
                wakes,
            }
        }

        /// What a partner, timer, signal or disconnect does: claim, commit
        /// to leaf `idx`, wake the owner. False if another party won.
        pub fn complete(&self, idx: usize) -> bool {
            match self.state.claim() {
                Some(c) => {
                    if let Some(token) = c.commit(idx) {
                        token.wake();
                    }
                    true
                }
                None => false,
            }
        }

        /// The committed leaf, once synced.
        pub fn winner(&self) -> Option<usize> {
            self.state.is_synced().then(|| self.state.winner())
        }
    }

    impl Default for CountingOp {
        fn default() -> Self {
            Self::new()
        }
    }

    /// A join's one-shot cell holding a `u64`, split into its writer, who
    /// puts once (`put` takes the writer), and its one reader.
    pub fn oneshot() -> (OneshotTx, OneshotRx) {
        let cell = Arc::new(Oneshot::new());
        (OneshotTx(cell.clone()), OneshotRx(cell))
    }

    /// The writing end of [`oneshot`].
    pub struct OneshotTx(Arc<Oneshot<u64>>);

    /// The reading end of [`oneshot`].
    pub struct OneshotRx(Arc<Oneshot<u64>>);

    /// Receiving from a [`OneshotRx`], as an operation.
    pub struct OneshotRecvOp<'a>(OneshotRecv<'a, u64>);

    impl std::fmt::Debug for OneshotTx {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("OneshotTx")
        }
    }

    impl std::fmt::Debug for OneshotRx {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("OneshotRx")
        }
    }

    impl std::fmt::Debug for OneshotRecvOp<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("OneshotRecvOp")
        }
    }

    impl OneshotTx {
        /// Puts the value, committing the reader's perform if it waits.
        pub fn put(self, value: u64) {
            // SAFETY: `put` takes the only writer, so it runs once.
            unsafe { self.0.put(value) }
        }
    }

    impl OneshotRx {
        /// True once the value is in.
        pub fn is_put(&self) -> bool {
            self.0.is_put()
        }

        /// Waiting for the value; performing it takes the value.
        pub fn recv_op(&mut self) -> OneshotRecvOp<'_> {
            // SAFETY: `&mut self` makes this the only reader while it lives.
            OneshotRecvOp(unsafe { OneshotRecv::new(&self.0) })
        }
    }

    impl Tree<u64> for OneshotRecvOp<'_> {
        one_leaf!(0);
        fn complete(mut self, _winner: usize, _: Token) -> u64 {
            self.0
                .take()
                .expect("the committed receive finds the value")
        }
    }

    impl crate::Op for OneshotRecvOp<'_> {
        type Output = u64;
    }
}

/// The README's example is compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
