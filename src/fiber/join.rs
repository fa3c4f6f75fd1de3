//! Waiting for a fiber: `JoinHandle::join`, and `JoinOp`, the same wait as
//! an operation to use in a choice. The handle itself, and the one-shot
//! join state it reads, are the runtime's (`runtime::fiber::join`).

use std::fmt;

use crate::op::oneshot::OneshotRecv;
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::runtime::context;
use crate::runtime::fiber::join::JoinHandle;

impl<T> JoinHandle<T> {
    /// Waits for the fiber to finish; `Err(payload)` if it panicked.
    #[inline]
    pub fn join(mut self) -> std::thread::Result<T> {
        // A fiber that has not started and would run next anyway, once
        // this one waits, runs now, from here: see `run_next_fresh`. If it
        // finished, its result is taken without a perform.
        context::run_next_fresh(self.packet_id());
        match self.take_result() {
            Some(result) => result,
            None => self.join_op().perform(),
        }
    }

    /// The operation of waiting for the fiber, to use in a choice.
    ///
    /// # Panics
    ///
    /// Performing it after an earlier `join_op` took the result.
    pub fn join_op(&mut self) -> JoinOp<'_, T> {
        JoinOp {
            recv: self.reader(),
        }
    }
}

/// Waiting for a fiber: see [`JoinHandle::join_op`].
pub struct JoinOp<'a, T> {
    recv: OneshotRecv<'a, std::thread::Result<T>>,
}

impl<T> fmt::Debug for JoinOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinOp")
    }
}

impl<T> Op for JoinOp<'_, T> {
    type Output = std::thread::Result<T>;
}

impl<T> Tree<std::thread::Result<T>> for JoinOp<'_, T> {
    one_leaf!(recv);
    fn complete(mut self, _winner: usize, _: Token) -> std::thread::Result<T> {
        self.recv
            .take()
            .expect("selvedge: the fiber's result was already taken by an earlier join_op")
    }
}
