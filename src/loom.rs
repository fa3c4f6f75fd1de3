//! Internals exposed to the model checks in `loom-tests/` (built with
//! `--cfg loom` only; not API): an op state whose owner counts wakes, the
//! scheduler's sleep handshake, and a join's one-shot cell.

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
