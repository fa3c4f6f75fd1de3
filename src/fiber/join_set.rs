//! `JoinSet`: a dynamic group of fibers whose results are taken as they
//! finish, by an operation (tokio's `JoinSet`, Go's `errgroup`).

use std::collections::HashMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use crate::channel::{unbounded, Receiver, Sender};
use crate::op::{always, Op};
use crate::runtime::cancelled::Cancelled;
use crate::runtime::fiber::join::JoinHandle;

/// A group of fibers spawned on the current scheduler, whose results are
/// taken in the order they finish: [`join_next`](JoinSet::join_next), or
/// [`next_op`](JoinSet::next_op) to wait for the next one in a choice
/// (beside a deadline, a channel, another set).
///
/// Dropping the set detaches its fibers: they run on, and their results
/// are dropped. Cancelling is asked for, not implied
/// ([`cancel_all`](JoinSet::cancel_all)), because a fiber may hold work
/// that must not be cut short; this differs from tokio, whose `JoinSet`
/// aborts its tasks on drop.
///
/// ```
/// use selvedge::{after, JoinSet, Op};
/// use std::time::Duration;
///
/// selvedge::run(|| {
///     let mut set = JoinSet::new();
///     for ms in [30, 10, 20] {
///         set.spawn(move || {
///             selvedge::sleep(Duration::from_millis(ms));
///             ms
///         });
///     }
///     let mut order = Vec::new();
///     while let Some(result) = set.join_next() {
///         order.push(result.unwrap());
///     }
///     assert_eq!(order, [10, 20, 30]); // as they finished
///
///     // Waiting for the next result in a choice.
///     set.spawn(|| {
///         selvedge::sleep(Duration::from_secs(3600));
///         0
///     });
///     let first = set
///         .next_op()
///         .wrap(|_| "a fiber")
///         .or(after(Duration::from_millis(5)).wrap(|()| "the deadline"))
///         .perform();
///     assert_eq!(first, "the deadline");
///     set.cancel_all();
///     assert!(set.join_next().unwrap().unwrap_err().is::<selvedge::Cancelled>());
/// });
/// ```
pub struct JoinSet<T> {
    results: Receiver<(u64, std::thread::Result<T>)>,
    tx: Sender<(u64, std::thread::Result<T>)>,
    /// The fibers not yet taken, by number: to cancel them.
    fibers: HashMap<u64, JoinHandle<()>>,
    next: u64,
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.fibers.len())
            .finish()
    }
}

impl<T: 'static> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

/// Sends a fiber's result to its set, once: its value or panic, or, if
/// the fiber never ran its closure (cancelled before it started, torn
/// down), `Cancelled`.
struct Deliver<T> {
    tx: Sender<(u64, std::thread::Result<T>)>,
    id: u64,
    sent: bool,
}

impl<T> Deliver<T> {
    fn send(&mut self, result: std::thread::Result<T>) {
        self.sent = true;
        // Unbounded: never waits. With the set gone, the result is dropped.
        let _ = self.tx.try_send((self.id, result));
    }
}

impl<T> Drop for Deliver<T> {
    fn drop(&mut self) {
        if !self.sent {
            self.send(Err(Box::new(Cancelled)));
        }
    }
}

impl<T: 'static> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        let (tx, results) = unbounded();
        JoinSet {
            results,
            tx,
            fibers: HashMap::new(),
            next: 0,
        }
    }

    /// Spawns a fiber running `f` on the current scheduler, in the set.
    ///
    /// # Panics
    ///
    /// Outside a runtime, as [`spawn`](crate::spawn) does.
    #[track_caller]
    pub fn spawn<F>(&mut self, f: F)
    where
        F: FnOnce() -> T + 'static,
    {
        let id = self.next;
        self.next += 1;
        let mut deliver = Deliver {
            tx: self.tx.clone(),
            id,
            sent: false,
        };
        let handle = super::spawn(move || {
            let result = panic::catch_unwind(AssertUnwindSafe(f));
            deliver.send(result);
        });
        self.fibers.insert(id, handle);
    }

    /// How many fibers' results are not taken yet.
    pub fn len(&self) -> usize {
        self.fibers.len()
    }

    /// Whether every result was taken.
    pub fn is_empty(&self) -> bool {
        self.fibers.is_empty()
    }

    /// Waits for the next fiber to finish and takes its result
    /// (`Err(payload)` if it panicked or was cancelled); `None` once the
    /// set is empty.
    #[track_caller]
    pub fn join_next(&mut self) -> Option<std::thread::Result<T>> {
        self.next_op().perform()
    }

    /// The operation of waiting for the next result (as
    /// [`join_next`](JoinSet::join_next)), to use in a choice: ready at
    /// once with `None` when the set is empty. Only a `next_op` that wins
    /// its choice takes a result; one that loses leaves it in the set.
    pub fn next_op(&mut self) -> impl Op<Output = Option<std::thread::Result<T>>> + '_ {
        if self.fibers.is_empty() {
            return always(None).boxed();
        }
        let JoinSet {
            results, fibers, ..
        } = self;
        results
            .recv_op()
            .wrap(move |r| {
                let (id, result) = r.expect("a set holds a sender of its results");
                fibers.remove(&id);
                Some(result)
            })
            .boxed()
    }

    /// Cancels every fiber of the set (see
    /// [`JoinHandle::cancel`](crate::JoinHandle::cancel)); their results,
    /// `Cancelled` for those that had not finished, are taken as usual.
    pub fn cancel_all(&self) {
        for handle in self.fibers.values() {
            handle.cancel();
        }
    }
}
