//! Waiting for a fiber: `JoinHandle::join`, and `JoinOp`, the same wait as
//! an operation to use in a choice. The handle itself, and the one-shot
//! join state it reads, are the runtime's (`runtime::fiber::join`).

use std::fmt;

use crate::op::leaf::{Leaf, RegisterCx, Registered};
use crate::op::oneshot::OneshotRecv;
use crate::op::state::OpState;
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::runtime::context;
use crate::runtime::fiber::head::HeadRef;
use crate::runtime::fiber::join::JoinHandle;

impl<T> JoinHandle<T> {
    /// Waits for the fiber to finish; `Err(payload)` if it panicked.
    #[inline]
    #[track_caller]
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
    /// When an earlier `join_op` took the result.
    #[track_caller]
    pub fn join_op(&mut self) -> JoinOp<'_, T> {
        let fiber = self.head_ref();
        assert!(!self.reader().was_taken(), "{TAKEN}");
        JoinOp {
            leaf: JoinLeaf {
                recv: self.reader(),
                fiber,
            },
        }
    }
}

const TAKEN: &str = "selvedge: the fiber's result was already taken by an earlier join_op";

/// Waiting for a fiber: see [`JoinHandle::join_op`].
pub struct JoinOp<'a, T> {
    leaf: JoinLeaf<'a, T>,
}

/// The join's leaf: the one-shot's reader, and the fiber it waits for
/// (whose packet the handle, borrowed by the operation, keeps alive).
struct JoinLeaf<'a, T> {
    recv: OneshotRecv<'a, std::thread::Result<T>>,
    fiber: HeadRef,
}

impl<T> Leaf for JoinLeaf<'_, T> {
    #[inline]
    fn try_now(&mut self) -> bool {
        self.recv.try_now()
    }
    #[inline]
    fn may_complete(&self) -> bool {
        self.recv.may_complete()
    }
    #[inline]
    fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
        self.recv.register(cx, idx)
    }
    #[inline]
    fn unregister(&mut self, op: &OpState) {
        self.recv.unregister(op);
    }
    fn describe(&self, out: &mut String) {
        // SAFETY: the handle the operation borrows keeps the packet alive.
        let head = unsafe { self.fiber.get() };
        out.push_str("join of ");
        out.push_str(&head.label());
    }
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
    one_leaf!(leaf);
    fn complete(mut self, _winner: usize, _: Token) -> std::thread::Result<T> {
        self.leaf.recv.take().expect(TAKEN)
    }
}
