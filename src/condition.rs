//! `Condition`: a one-shot event many fibers and threads can wait for.
//!
//! A user-facing layer over `op::signal`; it imports nothing of the
//! runtime.

use std::fmt;

use crate::op::signal::{Signal, SignalWait};
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::sync::Arc;

/// A one-shot condition (Guile Fibers' `make-condition`): once signalled it
/// stays signalled, and every wait, current or future, completes.
///
/// ```
/// use selvedge::Condition;
/// selvedge::run(|| {
///     let ready = Condition::new();
///     let r = ready.clone();
///     let waiter = selvedge::spawn(move || { r.wait(); "woke" });
///     assert!(ready.signal());
///     assert!(!ready.signal()); // only the first call reports true
///     assert_eq!(waiter.join().unwrap(), "woke");
/// });
/// ```
#[derive(Clone)]
pub struct Condition {
    signal: Arc<Signal>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("signaled", &self.is_signaled())
            .finish()
    }
}

impl Default for Condition {
    #[track_caller]
    fn default() -> Self {
        Condition::new()
    }
}

impl Condition {
    /// A condition not yet signalled.
    #[track_caller]
    pub fn new() -> Condition {
        Condition {
            signal: Arc::new(Signal::new(
                "condition",
                Some(std::panic::Location::caller()),
            )),
        }
    }

    /// Signals the condition, waking every waiter. Returns `true` only for
    /// the first call.
    pub fn signal(&self) -> bool {
        self.signal.fire()
    }

    /// Blocks until the condition is signalled.
    #[track_caller]
    pub fn wait(&self) {
        self.wait_op().perform()
    }

    /// The operation of waiting for the condition, to use in a choice.
    pub fn wait_op(&self) -> WaitOp<'_> {
        WaitOp {
            wait: SignalWait {
                signal: &self.signal,
            },
        }
    }

    /// True once the condition has been signalled.
    pub fn is_signaled(&self) -> bool {
        self.signal.is_fired()
    }
}

/// Waiting for a [`Condition`]: see [`Condition::wait_op`].
pub struct WaitOp<'a> {
    wait: SignalWait<&'a Signal>,
}

impl fmt::Debug for WaitOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WaitOp")
    }
}

impl Tree<()> for WaitOp<'_> {
    one_leaf!(wait);
    fn complete(self, _winner: usize, _: Token) {}
}

impl Op for WaitOp<'_> {
    type Output = ();
}
