//! `with_nack`: tell a branch's server that the branch was not chosen.

use std::fmt;

use crate::op::algebra::Op;
use crate::op::leaf::LeafList;
use crate::op::signal::{Signal, SignalWait};
use crate::op::tree::{one_leaf, Token, Tree};
use crate::sync::Arc;

/// Negative acknowledgement: an operation (output `()`) that becomes ready
/// exactly when the `with_nack` branch that received it is *not* chosen
/// (another branch committed, or the perform was abandoned).
pub struct Nack {
    wait: SignalWait<Arc<Signal>>,
}

impl fmt::Debug for Nack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nack")
            .field("fired", &self.wait.signal.is_fired())
            .finish()
    }
}

impl Nack {
    /// True once the branch is known not to have been chosen.
    pub fn is_ready(&self) -> bool {
        self.wait.signal.is_fired()
    }
}

impl Tree<()> for Nack {
    one_leaf!(wait);
    fn complete(self, _winner: usize, _: Token) {}
}

impl Op for Nack {
    type Output = ();
}

/// An operation built at perform time from a fresh [`Nack`], which becomes
/// ready if this branch ends up not chosen (CML's `withNack`). The classic
/// use is a request to a server fiber that abandons its work on nack.
///
/// ```
/// use selvedge::{always, never, with_nack, Op};
/// use std::sync::{Arc, Mutex};
/// let saved = Arc::new(Mutex::new(None));
/// let s = saved.clone();
/// let branch = with_nack(move |nack| { *s.lock().unwrap() = Some(nack); never::<u32>() });
/// assert_eq!(branch.or(always(1)).perform(), 1);
/// let nack = saved.lock().unwrap().take().unwrap();
/// assert!(nack.is_ready());
/// nack.perform(); // ready: returns at once
/// ```
pub fn with_nack<O: Op, F: FnOnce(Nack) -> O>(f: F) -> WithNack<F, O> {
    WithNack {
        state: State::Pending(f),
    }
}

/// See [`with_nack`].
pub struct WithNack<F, O> {
    state: State<F, O>,
}

enum State<F, O> {
    Pending(F),
    Ready { op: O, signal: Arc<Signal> },
    Done,
}

impl<F, O> fmt::Debug for WithNack<F, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Pending(_) => "pending",
            State::Ready { .. } => "ready",
            State::Done => "done",
        };
        f.debug_struct("WithNack").field("state", &state).finish()
    }
}

impl<O: Op, F: FnOnce(Nack) -> O> Tree<O::Output> for WithNack<F, O> {
    fn prepare(&mut self, t: Token) {
        if let State::Pending(f) = std::mem::replace(&mut self.state, State::Done) {
            let signal = Arc::new(Signal::new("nack", None));
            let mut op = f(Nack {
                wait: SignalWait {
                    signal: signal.clone(),
                },
            });
            // If the inner guard panics, `self` stays Done: the nack was never
            // handed to anyone who could still wait on it being fired by us.
            op.prepare(t);
            self.state = State::Ready { op, signal };
        }
    }
    fn leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        match &mut self.state {
            State::Ready { op, .. } => op.leaves(leaves),
            _ => unreachable!("with_nack enumerated before it was prepared"),
        }
    }
    fn complete(mut self, winner: usize, t: Token) -> O::Output {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Ready { op, .. } => op.complete(winner, t),
            _ => unreachable!("with_nack completed before it was prepared"),
        }
    }
}

impl<O: Op, F: FnOnce(Nack) -> O> Op for WithNack<F, O> {
    type Output = O::Output;
}

impl<F, O> Drop for WithNack<F, O> {
    fn drop(&mut self) {
        // Prepared but not completed: this branch lost (or the perform was
        // abandoned), which is exactly when the nack must fire.
        if let State::Ready { signal, .. } = &self.state {
            signal.fire();
        }
    }
}
