//! Rendezvous channels: many senders, many receivers, no buffer. A send
//! completes only when a receiver takes the value.
//!
//! A user-facing layer: each end's operation is a leaf of the protocol in
//! `op` (it commits partners through `op::state`, and its queues hold the
//! waiters `waiters` defines), and the only runtime item it touches is the
//! wake token a committed partner leaves. It never reaches the scheduler.

mod chan;
mod error;
mod waiters;

pub use error::{RecvError, SendError, TryRecvError, TrySendError};

use std::cell::UnsafeCell;
use std::fmt;

use crate::op::leaf::{Leaf, RegisterCx, Registered};
use crate::op::state::OpState;
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::sync::{Arc, Ordering};
use chan::{Chan, Side};
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
    let chan = Arc::new(Chan::new(std::panic::Location::caller()));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The sending end of a [`channel`].
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving end of a [`channel`].
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

impl<T> Sender<T> {
    /// Sends `value`, blocking until a receiver takes it. Fails, handing
    /// the value back, once every receiver is gone.
    #[inline]
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_op(value).perform()
    }

    /// The operation of sending `value`, to use in a choice.
    pub fn send_op(&self, value: T) -> SendOp<'_, T> {
        SendOp {
            chan: &self.chan,
            value: UnsafeCell::new(Some(value)),
            waiter: Waiter::default(),
        }
    }

    /// Sends only if a receiver is waiting right now.
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
    /// Receives a value, blocking until a sender offers one. Fails once
    /// every sender is gone.
    #[inline]
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_op().perform()
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

    /// Receives only if a sender is waiting right now.
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
        impl<T> Leaf for $ty {
            fn try_now(&mut self) -> bool {
                self.$($chan).+.try_now($side, self.$slot.get_mut())
            }
            #[inline]
            fn may_complete(&self) -> bool {
                self.$($chan).+.may_complete($side)
            }
            fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
                self.$($chan).+.register($side, self.$slot.get_mut(), &self.waiter, cx, idx)
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
                self.$($chan).+.try_or_register($side, self.$slot.get_mut(), &self.waiter, cx, idx)
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
