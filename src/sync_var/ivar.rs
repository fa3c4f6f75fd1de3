//! `IVar`: a write-once variable every reader gets the value of.

use std::fmt;
use std::sync::OnceLock;

use crate::op::signal::{Signal, SignalWait};
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::sync::Arc;

/// A write-once variable (CML's `ivar`, Hopac's `IVar`): the first
/// [`put`](IVar::put) fills it for good, and every reader, now or later,
/// gets a clone of the value. Reading is an operation, so a fiber can wait
/// for the value in a choice. Handles are `Clone` and share the variable;
/// `Send + Sync` when `T` is (as `OnceLock`).
///
/// ```
/// use selvedge::IVar;
///
/// selvedge::run(|| {
///     let answer = IVar::new();
///     let readers: Vec<_> = (0..3)
///         .map(|_| {
///             let answer = answer.clone();
///             selvedge::spawn(move || answer.read())
///         })
///         .collect();
///     assert_eq!(answer.put(42), Ok(()));
///     assert_eq!(answer.put(7), Err(7)); // written once
///     for r in readers {
///         assert_eq!(r.join().unwrap(), 42);
///     }
///     assert_eq!(answer.try_read(), Some(42));
/// });
/// ```
pub struct IVar<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    value: OnceLock<T>,
    /// Fired once the value is in.
    filled: Signal,
}

impl<T> Clone for IVar<T> {
    fn clone(&self) -> Self {
        IVar {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for IVar<T> {
    #[track_caller]
    fn default() -> Self {
        IVar::new()
    }
}

impl<T> fmt::Debug for IVar<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IVar")
            .field("filled", &self.inner.value.get().is_some())
            .finish()
    }
}

impl<T> IVar<T> {
    /// An empty variable.
    #[track_caller]
    pub fn new() -> IVar<T> {
        IVar {
            inner: Arc::new(Inner {
                value: OnceLock::new(),
                filled: Signal::new("ivar", Some(std::panic::Location::caller())),
            }),
        }
    }

    /// Fills the variable and wakes every reader; `Err(value)` if it was
    /// filled already.
    pub fn put(&self, value: T) -> Result<(), T> {
        self.inner.value.set(value)?;
        self.inner.filled.fire();
        Ok(())
    }

    /// A clone of the value, if the variable is filled.
    pub fn try_read(&self) -> Option<T>
    where
        T: Clone,
    {
        self.inner.value.get().cloned()
    }

    /// A clone of the value, blocking until the variable is filled.
    #[track_caller]
    pub fn read(&self) -> T
    where
        T: Clone,
    {
        self.read_op().perform()
    }

    /// The operation of reading the value: ready once the variable is
    /// filled, with a clone of it.
    pub fn read_op(&self) -> impl Op<Output = T> + '_
    where
        T: Clone,
    {
        ReadOp {
            wait: SignalWait {
                signal: &self.inner.filled,
            },
            value: &self.inner.value,
        }
    }
}

/// Reading an `IVar`: waits for its signal, then clones the value.
struct ReadOp<'a, T> {
    wait: SignalWait<&'a Signal>,
    value: &'a OnceLock<T>,
}

impl<T: Clone> Tree<T> for ReadOp<'_, T> {
    one_leaf!(wait);
    fn complete(self, _winner: usize, _: Token) -> T {
        // The signal fires only after the value is set, and its commit
        // orders the set before this read.
        self.value
            .get()
            .expect("an IVar's signal fires after its value is set")
            .clone()
    }
}

impl<T: Clone> Op for ReadOp<'_, T> {
    type Output = T;
}
