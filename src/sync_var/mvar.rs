//! `MVar`: a one-place buffer, put and taken in turns.

use std::fmt;

use crate::channel::{bounded, Receiver, Sender};
use crate::op::Op;

/// A one-place buffer (CML's `mvar`, Haskell's `MVar`): [`put`](MVar::put)
/// fills it, waiting while it is full; [`take`](MVar::take) empties it,
/// waiting while it is empty. Puts and takes are operations, so they can
/// wait in a choice. Waiting takers get values in the order they were put,
/// and handles are `Clone` and share the buffer; `Send + Sync` when `T` is
/// `Send`.
///
/// There is no read that leaves the value in: a take followed by a put
/// would let another put in between, and a value many fibers read is an
/// [`IVar`](crate::IVar)'s job (or a `Condition` beside a lock).
///
/// ```
/// use selvedge::MVar;
///
/// selvedge::run(|| {
///     let slot = MVar::new();
///     let s = slot.clone();
///     let producer = selvedge::spawn(move || {
///         for i in 0..3 {
///             s.put(i); // waits until the last value was taken
///         }
///     });
///     let got: Vec<i32> = (0..3).map(|_| slot.take()).collect();
///     assert_eq!(got, [0, 1, 2]);
///     producer.join().unwrap();
///     assert_eq!(slot.try_take(), None);
/// });
/// ```
pub struct MVar<T> {
    // Holding both ends, the channel never disconnects while a handle lives.
    tx: Sender<T>,
    rx: Receiver<T>,
}

impl<T> Clone for MVar<T> {
    fn clone(&self) -> Self {
        MVar {
            tx: self.tx.clone(),
            rx: self.rx.clone(),
        }
    }
}

impl<T> Default for MVar<T> {
    #[track_caller]
    fn default() -> Self {
        MVar::new()
    }
}

impl<T> fmt::Debug for MVar<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MVar")
            .field("full", &self.is_full())
            .finish()
    }
}

const BOTH_ENDS: &str = "an MVar holds both ends of its channel";

impl<T> MVar<T> {
    /// An empty buffer.
    #[track_caller]
    pub fn new() -> MVar<T> {
        let (tx, rx) = bounded(1);
        MVar { tx, rx }
    }

    /// Fills the buffer with `value`, blocking while it is full.
    #[track_caller]
    pub fn put(&self, value: T) {
        self.put_op(value).perform()
    }

    /// The operation of filling the buffer: ready while it is empty. If
    /// another branch of a choice wins, `value` is dropped (as with
    /// [`Sender::send_op`]).
    pub fn put_op(&self, value: T) -> impl Op<Output = ()> + '_ {
        self.tx
            .send_op(value)
            .wrap(|r| r.map_err(drop).expect(BOTH_ENDS))
    }

    /// Fills the buffer only if it is empty now; else hands `value` back.
    pub fn try_put(&self, value: T) -> Result<(), T> {
        self.tx.try_send(value).map_err(|e| e.into_inner())
    }

    /// Empties the buffer, blocking while it is empty.
    #[track_caller]
    pub fn take(&self) -> T {
        self.take_op().perform()
    }

    /// The operation of emptying the buffer: ready while it is full, with
    /// its value.
    pub fn take_op(&self) -> impl Op<Output = T> + '_ {
        self.rx.recv_op().wrap(|r| r.expect(BOTH_ENDS))
    }

    /// Empties the buffer only if it is full now.
    pub fn try_take(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }

    /// Whether the buffer holds a value now.
    pub fn is_full(&self) -> bool {
        self.rx.is_full()
    }
}
