//! Operations of the user's own making, as Guile's `make-base-operation`
//! makes them: a *try* step that completes now if it can, and a *block*
//! step that hands a [`Completer`] to whatever will finish the operation
//! later, from any thread, and returns what withdraws it.
//!
//! Safe by construction: the completer never points into a perform's
//! frame without holding the lock the perform withdraws under, so nothing
//! a user writes can leave a dangling registration.

use std::fmt;

use crate::op::leaf::{Leaf, RegisterCx, Registered};
use crate::op::state::OpState;
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::runtime::context::{self, PendingWake};
use crate::sync::{Arc, SpinLock};

/// Makes an operation from a *try* step and a *block* step (Guile's
/// `make-base-operation`).
///
/// - `try_now` is called when the operation is performed (and may be
///   called again when it is tried once more in a choice): `Some(value)`
///   completes it at once with `value`.
/// - `block` is called once, if `try_now` found nothing and the perform
///   must wait, with a [`Completer`]: whoever holds it (a callback, another
///   thread, a fiber) finishes the operation with
///   [`Completer::complete`]. `block` returns a `cancel` closure, called if
///   another branch of the choice wins (or the waiting fiber is torn down)
///   so the registration can be undone; it is dropped uncalled when this
///   operation wins.
///
/// `block` runs inside the perform and must not block; it may complete at
/// once (a value that came between the try and the block). A completion
/// that comes after the perform committed elsewhere is refused and hands
/// the value back, so nothing is lost. While a completer is alive, the
/// deadlock detector counts it as a wake that may still come.
///
/// A value that arrives from a callback on another thread:
///
/// ```
/// use selvedge::{after, base_op, Completer, Op};
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// /// A one-slot mailbox a callback fills from any thread.
/// #[derive(Clone, Default)]
/// struct Mailbox(Arc<Mutex<(Option<u32>, Option<Completer<u32>>)>>);
///
/// impl Mailbox {
///     fn deliver(&self, v: u32) {
///         let mut slot = self.0.lock().unwrap();
///         match slot.1.take() {
///             // A waiter: hand it over, or keep the value if it is gone.
///             Some(waiter) => {
///                 if let Err(v) = waiter.complete(v) {
///                     slot.0 = Some(v);
///                 }
///             }
///             None => slot.0 = Some(v),
///         }
///     }
///
///     fn take_op(&self) -> impl Op<Output = u32> + '_ {
///         base_op(
///             || self.0.lock().unwrap().0.take(),
///             move |completer| {
///                 let mut slot = self.0.lock().unwrap();
///                 match slot.0.take() {
///                     Some(v) => {
///                         drop(slot);
///                         let _ = completer.complete(v); // came in between
///                     }
///                     None => slot.1 = Some(completer),
///                 }
///                 // Cancel: forget the waiter if another branch wins.
///                 move || drop(self.0.lock().unwrap().1.take())
///             },
///         )
///     }
/// }
///
/// selvedge::run(|| {
///     let mailbox = Mailbox::default();
///     let m = mailbox.clone();
///     std::thread::spawn(move || {
///         std::thread::sleep(Duration::from_millis(5));
///         m.deliver(42); // a callback on another thread
///     });
///     let got = mailbox
///         .take_op()
///         .wrap(Some)
///         .or(after(Duration::from_secs(10)).wrap(|()| None))
///         .perform();
///     assert_eq!(got, Some(42));
/// });
/// ```
pub fn base_op<T, Try, Block, Cancel>(try_now: Try, block: Block) -> BaseOp<T, Try, Block, Cancel>
where
    Try: FnMut() -> Option<T>,
    Block: FnOnce(Completer<T>) -> Cancel,
    Cancel: FnOnce(),
{
    BaseOp {
        try_now,
        block: Some(block),
        cancel: None,
        shared: None,
        value: None,
    }
}

/// An operation made by [`base_op`]; an [`Op`] like any other.
///
/// ```
/// use selvedge::{base_op, Completer, Op};
///
/// // An operation that is ready at once: `block` is never called.
/// let ready = base_op(|| Some(7), |_: Completer<i32>| || {});
/// assert_eq!(ready.try_perform(), Some(7));
/// ```
pub struct BaseOp<T, Try, Block, Cancel> {
    try_now: Try,
    block: Option<Block>,
    cancel: Option<Cancel>,
    /// What the completer shares with the perform, once registered.
    shared: Option<Arc<Shared<T>>>,
    /// The value `try_now` gave.
    value: Option<T>,
}

impl<T, Try, Block, Cancel> fmt::Debug for BaseOp<T, Try, Block, Cancel> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BaseOp")
    }
}

/// The handle that completes an operation made by [`base_op`], once, from
/// any thread (it is `Send` when `T` is).
///
/// ```
/// use selvedge::{base_op, Op};
///
/// // A plain thread performs; another thread completes.
/// let (tx, rx) = std::sync::mpsc::channel();
/// let other = std::thread::spawn(move || {
///     let completer: selvedge::Completer<&str> = rx.recv().unwrap();
///     completer.complete("done")
/// });
/// let got = base_op(|| None, move |c| {
///     tx.send(c).unwrap();
///     || {}
/// })
/// .perform();
/// assert_eq!(got, "done");
/// assert_eq!(other.join().unwrap(), Ok(()));
/// ```
pub struct Completer<T> {
    shared: Arc<Shared<T>>,
}

impl<T> fmt::Debug for Completer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Completer")
    }
}

/// Where a registration stands.
enum Phase {
    /// `block` is running inside the perform, whose owner is therefore
    /// awake and checks for a commit before it waits.
    Registering { op: *const OpState, idx: usize },
    /// The perform waits.
    Waiting { op: *const OpState, idx: usize },
    /// Completed, or the perform is over (committed elsewhere, withdrawn):
    /// the pointer is gone.
    Over,
}

struct State<T> {
    phase: Phase,
    /// The value a completion brought, for the perform to take.
    value: Option<T>,
    /// Counts this registration as a wake that may still come, for the
    /// deadlock detector, while a completer can complete it.
    pending: Option<PendingWake>,
}

struct Shared<T> {
    state: SpinLock<State<T>>,
}

// SAFETY: the perform's state is reached through `Phase`'s pointer only
// under the lock, and only while the phase says the perform is registered:
// the perform sets `Over` under the same lock before its frame can end
// (`unregister`), or a completion does as it commits. Values of `T` move
// to the performer's thread, hence `T: Send`.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as for `Send`; all access is under the lock.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Completer<T> {
    /// Completes the operation with `value`, waking the perform. Returns
    /// the value if the operation can no longer take it: its perform
    /// committed another branch, or was withdrawn.
    pub fn complete(self, value: T) -> Result<(), T> {
        let mut state = self.shared.state.lock();
        let (op, idx, waiting) = match state.phase {
            Phase::Registering { op, idx } => (op, idx, false),
            Phase::Waiting { op, idx } => (op, idx, true),
            Phase::Over => return Err(value),
        };
        // SAFETY: the perform is registered (the phase says so, under the
        // lock it withdraws under), so its state is alive.
        let Some(claim) = (unsafe { &*op }).claim() else {
            // Committed elsewhere; it withdraws this leaf soon.
            return Err(value);
        };
        state.value = Some(value);
        state.phase = Phase::Over;
        let pending = state.pending.take();
        let token = if waiting {
            claim.commit(idx)
        } else {
            // Its owner is inside `register`: it sees the commit before
            // it waits, so no wake.
            claim.commit_own(idx);
            None
        };
        drop(state);
        drop(pending);
        if let Some(token) = token {
            token.wake();
        }
        Ok(())
    }

    /// Whether the operation can still be completed (its perform waits for
    /// it). A hint: it may change at once.
    pub fn is_waiting(&self) -> bool {
        !matches!(self.shared.state.lock().phase, Phase::Over)
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        // Nothing can complete the operation now.
        let pending = self.shared.state.lock().pending.take();
        drop(pending);
    }
}

impl<T, Try, Block, Cancel> Leaf for BaseOp<T, Try, Block, Cancel>
where
    Try: FnMut() -> Option<T>,
    Block: FnOnce(Completer<T>) -> Cancel,
    Cancel: FnOnce(),
{
    fn try_now(&mut self) -> bool {
        match (self.try_now)() {
            Some(v) => {
                self.value = Some(v);
                true
            }
            None => false,
        }
    }

    fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
        let block = self
            .block
            .take()
            .expect("a base operation registers once per perform");
        let op: *const OpState = cx.op;
        let shared = Arc::new(Shared {
            state: SpinLock::new(State {
                phase: Phase::Registering { op, idx },
                value: None,
                pending: context::pending_wake(),
            }),
        });
        self.shared = Some(shared.clone());
        // No lock held: `block` may complete at once.
        self.cancel = Some(block(Completer {
            shared: shared.clone(),
        }));
        let mut state = shared.state.lock();
        if let Phase::Registering { op, idx } = state.phase {
            state.phase = Phase::Waiting { op, idx };
        }
        // Completed meanwhile or not, the perform sees the commit before it
        // waits.
        Registered::Waiting
    }

    fn unregister(&mut self, _op: &OpState) {
        if let Some(shared) = &self.shared {
            let pending = {
                let mut state = shared.state.lock();
                state.phase = Phase::Over;
                state.pending.take()
            };
            drop(pending);
        }
        if let Some(cancel) = self.cancel.take() {
            cancel();
        }
    }

    fn describe(&self, out: &mut String) {
        out.push_str("a base operation");
    }
}

impl<T, Try, Block, Cancel> Tree<T> for BaseOp<T, Try, Block, Cancel>
where
    Try: FnMut() -> Option<T>,
    Block: FnOnce(Completer<T>) -> Cancel,
    Cancel: FnOnce(),
{
    one_leaf!();
    fn complete(mut self, _winner: usize, _: Token) -> T {
        if let Some(v) = self.value.take() {
            return v;
        }
        let shared = self
            .shared
            .as_ref()
            .expect("a base operation completed by its completer registered");
        let v = shared.state.lock().value.take();
        v.expect("a completed base operation has its value")
    }
}

impl<T, Try, Block, Cancel> Op for BaseOp<T, Try, Block, Cancel>
where
    Try: FnMut() -> Option<T>,
    Block: FnOnce(Completer<T>) -> Cancel,
    Cancel: FnOnce(),
{
    type Output = T;
}
