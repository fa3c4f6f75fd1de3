//! Channels: many senders, many receivers, and a buffer of a fixed
//! capacity (0 for the rendezvous, where a send completes only when a
//! receiver takes the value) or none at all. One `Sender`/`Receiver` pair
//! of types serves every flavour.
//!
//! A user-facing layer: each end's operation is a leaf of the protocol in
//! `op` (it commits partners through `op::state`, and its queues hold the
//! waiters `waiters` defines), and the only runtime item it touches is the
//! wake token a committed partner leaves. It never reaches the scheduler.

mod chan;
mod error;
mod waiters;

pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};

use std::cell::UnsafeCell;
use std::fmt;
use std::time::{Duration, Instant};

use crate::op::leaf::{Leaf, RegisterCx, Registered};
use crate::op::state::OpState;
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::sync::{Arc, Ordering};
use crate::time::at;
use chan::{Chan, Side, UNBOUNDED};
use waiters::Waiter;

/// Creates a rendezvous channel. Both ends are `Clone`, and `Send + Sync`
/// when `T: Send`, so fibers on any scheduler and plain threads can share it.
///
/// ```
/// selvedge::run(|| {
///     let (tx, rx) = selvedge::channel();
///     selvedge::spawn(move || {
///         for i in 0..3 {
///             tx.send(i).unwrap();
///         }
///     });
///     let got: Vec<i32> = rx.into_iter().collect();
///     assert_eq!(got, [0, 1, 2]);
/// });
/// ```
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    bounded(0)
}

/// Creates a channel that buffers up to `cap` values: a send completes at
/// once while the buffer has room (or a receiver waits), and a receive
/// while it holds a value (or a sender waits on a full buffer). Values
/// arrive in the order they were sent. `bounded(0)` is the rendezvous of
/// [`channel`]. The buffer is allocated as it fills, up to 1024 values
/// when the channel is made, so sends and receives allocate nothing once
/// it has held its most values.
///
/// When the last [`Receiver`] is dropped, the values still buffered are
/// dropped with it; senders then fail, handing their value back.
///
/// ```
/// selvedge::run(|| {
///     let (tx, rx) = selvedge::bounded(2);
///     tx.send(1).unwrap(); // room: returns at once
///     tx.send(2).unwrap();
///     assert!(tx.is_full());
///     assert_eq!(tx.try_send(3), Err(selvedge::TrySendError::Full(3)));
///     drop(tx);
///     let got: Vec<i32> = rx.iter().collect(); // buffered values first
///     assert_eq!(got, [1, 2]);
/// });
/// ```
#[track_caller]
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(cap, std::panic::Location::caller()));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// Creates a channel whose buffer has no limit: a send never waits.
/// Values buffered when the last [`Receiver`] is dropped are dropped then.
///
/// ```
/// selvedge::run(|| {
///     let (tx, rx) = selvedge::unbounded();
///     for i in 0..10_000 {
///         tx.send(i).unwrap(); // never waits
///     }
///     assert_eq!(rx.len(), 10_000);
///     assert_eq!(rx.capacity(), None);
///     assert_eq!(rx.recv(), Ok(0));
/// });
/// ```
#[track_caller]
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(UNBOUNDED, std::panic::Location::caller()));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The sending end of a channel ([`channel`], [`bounded`], [`unbounded`]).
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving end of a channel ([`channel`], [`bounded`], [`unbounded`]).
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.disconnect(Side::Send);
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.disconnect(Side::Recv);
        }
    }
}

/// `len`, `is_empty`, `is_full` and `capacity`, the same on both ends.
macro_rules! buffer_queries {
    () => {
        /// How many values the channel buffers now (always 0 for a
        /// rendezvous channel).
        pub fn len(&self) -> usize {
            self.chan.len()
        }

        /// Whether the buffer holds no value (always true for a rendezvous
        /// channel).
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// Whether the buffer has no room: a send would wait for a receiver
        /// (always true for a rendezvous channel, never for an unbounded
        /// one).
        pub fn is_full(&self) -> bool {
            self.capacity() == Some(self.len())
        }

        /// How many values the channel buffers at most: `Some(0)` for a
        /// rendezvous channel, `None` for an unbounded one.
        pub fn capacity(&self) -> Option<usize> {
            match self.chan.capacity() {
                UNBOUNDED => None,
                cap => Some(cap),
            }
        }
    };
}

impl<T> Sender<T> {
    buffer_queries!();

    /// Sends `value`, blocking until the buffer has room or a receiver
    /// takes it (on a rendezvous channel, until a receiver takes it).
    /// Fails, handing the value back, once every receiver is gone.
    #[inline]
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_op(value).perform()
    }

    /// Sends `value`, waiting at most `timeout` for room or a receiver.
    /// Tries first: free room or a waiting receiver wins even when the
    /// timeout is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use selvedge::SendTimeoutError;
    ///
    /// selvedge::run(|| {
    ///     let (tx, _rx) = selvedge::bounded(1);
    ///     assert_eq!(tx.send_timeout(1, Duration::ZERO), Ok(()));
    ///     let late = tx.send_timeout(2, Duration::from_millis(5));
    ///     assert_eq!(late, Err(SendTimeoutError::Timeout(2)));
    /// });
    /// ```
    #[track_caller]
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline(value, Instant::now() + timeout)
    }

    /// Sends `value`, waiting until `deadline` at most for room or a
    /// receiver. Tries first, as [`send_timeout`](Sender::send_timeout).
    #[track_caller]
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        let value = match self.try_send(value) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(v)) => return Err(SendTimeoutError::Disconnected(v)),
            Err(TrySendError::Full(v)) => v,
        };
        // The value stays in this frame's slot until a receiver takes it,
        // so it comes back if the deadline wins.
        let mut slot = Some(value);
        let send = SendFrom {
            chan: &self.chan,
            slot: &mut slot,
            waiter: Waiter::default(),
        };
        let sent = send.or(at(deadline).wrap(|()| false)).perform();
        match slot {
            None => Ok(()),
            Some(v) if sent => Err(SendTimeoutError::Disconnected(v)),
            Some(v) => Err(SendTimeoutError::Timeout(v)),
        }
    }

    /// The operation of sending `value`, to use in a choice.
    ///
    /// If another branch of the choice wins, the operation is dropped and
    /// `value` with it, as CML drops the message of a send that did not
    /// happen. To keep it, send a clone (or an `Arc`), or, for the common
    /// race against a deadline, use [`send_timeout`](Sender::send_timeout),
    /// which hands the value back:
    ///
    /// ```
    /// use selvedge::{after, Op};
    /// use std::time::Duration;
    ///
    /// selvedge::run(|| {
    ///     let (tx, _rx) = selvedge::channel();
    ///     let msg = String::from("hello");
    ///     let sent = tx
    ///         .send_op(msg.clone()) // the clone is dropped if the timer wins
    ///         .wrap(|_| true)
    ///         .or(after(Duration::from_millis(1)).wrap(|()| false))
    ///         .perform();
    ///     assert!(!sent);
    ///     assert_eq!(msg, "hello"); // still ours
    /// });
    /// ```
    pub fn send_op(&self, value: T) -> SendOp<'_, T> {
        SendOp {
            chan: &self.chan,
            value: UnsafeCell::new(Some(value)),
            waiter: Waiter::default(),
        }
    }

    /// Sends only if that completes at once: the buffer has room or a
    /// receiver is waiting.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut slot = Some(value);
        if self.chan.try_now(Side::Send, &mut slot) {
            match slot {
                None => Ok(()),
                Some(v) => Err(TrySendError::Disconnected(v)),
            }
        } else {
            Err(TrySendError::Full(
                slot.expect("value kept when nothing matched"),
            ))
        }
    }
}

impl<T> Receiver<T> {
    buffer_queries!();

    /// Receives a value, blocking until one is buffered or a sender offers
    /// one. Fails once every sender is gone and nothing is buffered.
    #[inline]
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_op().perform()
    }

    /// Receives a value, waiting at most `timeout`. Tries first: a value
    /// already there wins even when the timeout is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use selvedge::RecvTimeoutError;
    ///
    /// selvedge::run(|| {
    ///     let (tx, rx) = selvedge::bounded(1);
    ///     tx.send(7).unwrap();
    ///     assert_eq!(rx.recv_timeout(Duration::ZERO), Ok(7));
    ///     assert_eq!(rx.recv_timeout(Duration::from_millis(5)), Err(RecvTimeoutError::Timeout));
    ///     drop(tx);
    ///     assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Err(RecvTimeoutError::Disconnected));
    /// });
    /// ```
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(Instant::now() + timeout)
    }

    /// Receives a value, waiting until `deadline` at most. Tries first, as
    /// [`recv_timeout`](Receiver::recv_timeout).
    #[track_caller]
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        match self.try_recv() {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        self.recv_op()
            .wrap(|r| r.map_err(RecvTimeoutError::from))
            .or(at(deadline).wrap(|()| Err(RecvTimeoutError::Timeout)))
            .perform()
    }

    /// The operation of receiving, to use in a choice.
    pub fn recv_op(&self) -> RecvOp<'_, T> {
        RecvOp {
            chan: &self.chan,
            slot: UnsafeCell::new(None),
            waiter: Waiter::default(),
        }
    }

    /// The operation of receiving, owning the receiver (for reply channels
    /// that travel inside operations, as in CML).
    pub fn into_recv_op(self) -> IntoRecvOp<T> {
        IntoRecvOp {
            receiver: self,
            slot: UnsafeCell::new(None),
            waiter: Waiter::default(),
        }
    }

    /// Receives only if that completes at once: a value is buffered or a
    /// sender is waiting.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut slot = None;
        if self.chan.try_now(Side::Recv, &mut slot) {
            slot.ok_or(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// A blocking iterator over received values, ending when every sender
    /// is gone.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }
}

macro_rules! channel_leaf {
    ($ty:ty, $side:expr, $($chan:ident).+, $slot:ident) => {
        channel_leaf!($ty, $side, $($chan).+, |s| s.$slot.get_mut());
    };
    ($ty:ty, $side:expr, $($chan:ident).+, |$s:ident| $slot:expr) => {
        impl<T> Leaf for $ty {
            fn try_now(&mut self) -> bool {
                let slot: *mut Option<T> = { let $s = &mut *self; $slot };
                self.$($chan).+.try_now($side, slot)
            }
            #[inline]
            fn may_complete(&self) -> bool {
                self.$($chan).+.may_complete($side)
            }
            fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
                let slot: *mut Option<T> = { let $s = &mut *self; $slot };
                self.$($chan).+.register($side, slot, &self.waiter, cx, idx)
            }
            fn unregister(&mut self, _op: &OpState) {
                self.$($chan).+.unregister($side, &self.waiter);
            }
            fn describe(&self, out: &mut String) {
                self.$($chan).+.describe($side, out);
            }
            // Always inlined: it is the whole of a leaf's first attempt, and
            // `#[inline]` alone leaves it out of line in the hot loop.
            #[inline(always)]
            fn try_or_register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
                let slot: *mut Option<T> = { let $s = &mut *self; $slot };
                self.$($chan).+.try_or_register($side, slot, &self.waiter, cx, idx)
            }
        }
    };
}

/// Sending on a channel: see [`Sender::send_op`].
pub struct SendOp<'a, T> {
    chan: &'a Chan<T>,
    /// In a cell, as every slot: a partner on another thread may move the
    /// value while the performer holds `&self` (to describe the wait).
    value: UnsafeCell<Option<T>>,
    waiter: Waiter<T>,
}

/// Receiving from a channel: see [`Receiver::recv_op`].
pub struct RecvOp<'a, T> {
    chan: &'a Chan<T>,
    slot: UnsafeCell<Option<T>>,
    waiter: Waiter<T>,
}

/// Receiving from a channel it owns: see [`Receiver::into_recv_op`].
pub struct IntoRecvOp<T> {
    receiver: Receiver<T>,
    slot: UnsafeCell<Option<T>>,
    waiter: Waiter<T>,
}

channel_leaf!(SendOp<'_, T>, Side::Send, chan, value);
channel_leaf!(RecvOp<'_, T>, Side::Recv, chan, slot);

channel_leaf!(IntoRecvOp<T>, Side::Recv, receiver.chan, slot);

/// Sending a value that stays in the caller's slot until a receiver (or
/// the buffer) takes it: `send_deadline` gets it back if the deadline
/// wins. Completes with whether the channel settled the send (`true`:
/// taken, or refused because every receiver is gone).
struct SendFrom<'a, T> {
    chan: &'a Chan<T>,
    /// A pointer, not `&mut`: a partner on another thread may write the
    /// slot while the performer holds `&self` to this leaf.
    slot: *mut Option<T>,
    waiter: Waiter<T>,
}

channel_leaf!(SendFrom<'_, T>, Side::Send, chan, |s| s.slot);

impl<T> Tree<bool> for SendFrom<'_, T> {
    one_leaf!();
    fn complete(self, _winner: usize, _: Token) -> bool {
        true
    }
}

impl<T> Op for SendFrom<'_, T> {
    type Output = bool;
}

impl<T> Tree<Result<(), SendError<T>>> for SendOp<'_, T> {
    one_leaf!();
    fn complete(self, _winner: usize, _: Token) -> Result<(), SendError<T>> {
        // Taken by a receiver, or still ours because every receiver is gone.
        match self.value.into_inner() {
            None => Ok(()),
            Some(v) => Err(SendError(v)),
        }
    }
}

impl<T> Op for SendOp<'_, T> {
    type Output = Result<(), SendError<T>>;
}

impl<T> Tree<Result<T, RecvError>> for RecvOp<'_, T> {
    one_leaf!();
    fn complete(self, _winner: usize, _: Token) -> Result<T, RecvError> {
        self.slot.into_inner().ok_or(RecvError)
    }
}

impl<T> Op for RecvOp<'_, T> {
    type Output = Result<T, RecvError>;
}

impl<T> Tree<Result<T, RecvError>> for IntoRecvOp<T> {
    one_leaf!();
    fn complete(self, _winner: usize, _: Token) -> Result<T, RecvError> {
        self.slot.into_inner().ok_or(RecvError)
    }
}

impl<T> Op for IntoRecvOp<T> {
    type Output = Result<T, RecvError>;
}

impl<T> fmt::Debug for SendOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendOp")
    }
}

impl<T> fmt::Debug for RecvOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecvOp")
    }
}

impl<T> fmt::Debug for IntoRecvOp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IntoRecvOp")
    }
}

/// A blocking iterator over a [`Receiver`]; see [`Receiver::iter`].
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Iter")
    }
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[inline]
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// An owning blocking iterator; see `IntoIterator for Receiver`.
pub struct IntoIter<T> {
    receiver: Receiver<T>,
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IntoIter")
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[inline]
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { receiver: self }
    }
}
