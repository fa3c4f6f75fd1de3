//! Scoped fibers, in the shape of `std::thread::scope`: fibers that may
//! borrow from the caller's stack, all finished before `scope` returns.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;

use crate::channel::{unbounded, Receiver, Sender};
use crate::runtime::cancelled::Cancelled;
use crate::runtime::context;
use crate::runtime::fiber::join::{request_cancel, JoinHandle};
use crate::runtime::fiber::packet::{packet_unbounded, PacketRef};
use crate::runtime::key::FiberKey;

/// Runs `f` with a [`Scope`] whose fibers may borrow anything that
/// outlives the call, and returns once every fiber spawned in it has
/// finished (in `std::thread::scope`'s shape). Scoped fibers run on the
/// caller's scheduler.
///
/// Panics follow std's: a scoped fiber's panic goes to its
/// [`join`](ScopedJoinHandle::join); if a fiber that was not joined
/// panicked, `scope` panics once all have finished; a panic in `f` is
/// resumed once all have finished. If the calling fiber is cancelled
/// ([`JoinHandle::cancel`]) while in `scope`, its scoped fibers are
/// cancelled too and waited for before it unwinds further. Ending the
/// scope cancels nothing: it waits for its fibers, as std's waits for its
/// threads (cancel them with [`ScopedJoinHandle::cancel`] first to stop
/// them sooner).
///
/// # Panics
///
/// Outside a runtime, as [`spawn`](crate::spawn) does.
///
/// ```
/// selvedge::run(|| {
///     let mut counts = [0u32; 3];
///     let words = vec!["fiber", "scope", "borrow"];
///     selvedge::scope(|s| {
///         for (count, word) in counts.iter_mut().zip(&words) {
///             s.spawn(move || *count = word.len() as u32); // borrows both
///         }
///     });
///     assert_eq!(counts, [5, 5, 6]);
/// });
/// ```
///
/// A scoped fiber cannot outlive the borrow:
///
/// ```compile_fail
/// selvedge::run(|| {
///     let escaped = {
///         let local = String::from("gone at the brace");
///         selvedge::scope(|s| s.spawn(|| local.len()))
///     };
/// });
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    assert!(
        context::in_runtime(),
        "selvedge::scope called outside a runtime; call it inside selvedge::run"
    );
    let (done_tx, done) = unbounded();
    let scope = Scope {
        done_tx,
        done,
        spawned: Cell::new(0),
        children: RefCell::new(Vec::new()),
        keys: RefCell::new(Vec::new()),
        unjoined: RefCell::new(Vec::new()),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    if let Err(payload) = &result {
        if payload.is::<Cancelled>() {
            // The caller was cancelled: so are its scoped fibers.
            for child in scope.children.borrow_mut().drain(..) {
                request_cancel(child);
            }
        }
    }
    scope.wait_all();
    match result {
        Err(payload) => panic::resume_unwind(payload),
        Ok(_) if scope.unjoined.borrow().iter().any(|p| p.get()) => {
            panic!("selvedge::scope: a scoped fiber that was not joined panicked")
        }
        Ok(value) => value,
    }
}

/// The scope of [`scope`]: spawns fibers that may borrow from outside it.
pub struct Scope<'scope, 'env: 'scope> {
    /// Each fiber sends one message as it ends (however it ends).
    done_tx: Sender<()>,
    done: Receiver<()>,
    spawned: Cell<usize>,
    /// The fibers, to cancel them with the caller.
    children: RefCell<Vec<PacketRef>>,
    keys: RefCell<Vec<FiberKey>>,
    /// For each fiber whose handle was dropped unjoined: whether it
    /// panicked (set by the fiber).
    unjoined: RefCell<Vec<Rc<Cell<bool>>>>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("spawned", &self.spawned.get())
            .finish_non_exhaustive()
    }
}

/// Tells the scope that its fiber ended, when dropped: as the fiber
/// returns, panics, is cancelled or is torn down.
struct Done(Sender<()>);

impl Drop for Done {
    fn drop(&mut self) {
        // Unbounded, and the scope holds the receiver: never waits.
        let _ = self.0.try_send(());
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a fiber in the scope, on the caller's scheduler; it may
    /// borrow anything that outlives the scope. See [`scope`].
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + 'scope,
        T: 'scope,
    {
        let done = Done(self.done_tx.clone());
        let panicked = Rc::new(Cell::new(false));
        let flag = panicked.clone();
        let body = move || {
            let _done = done;
            match panic::catch_unwind(AssertUnwindSafe(f)) {
                Ok(v) => v,
                Err(payload) => {
                    // A cancellation, or a teardown's unwind, is no panic
                    // of the fiber's own.
                    if !payload.is::<Cancelled>() && !context::tearing_down() {
                        flag.set(true);
                    }
                    panic::resume_unwind(payload)
                }
            }
        };
        // SAFETY: the body borrows for 'scope at most, and `scope` does
        // not return or unwind before every fiber of the scope has ended
        // (`wait_all`, after catching any panic of its closure); teardown
        // ends scoped fibers first, the latest first, so each ends before
        // the fiber whose scope it borrows from unwinds.
        let (body, view) = unsafe { packet_unbounded(body, None, Location::caller()) };
        self.children.borrow_mut().push(view.packet_ref());
        let key = context::spawn_scoped(body)
            .expect("a scope only exists inside a runtime (checked by `scope`)");
        self.keys.borrow_mut().push(key);
        self.spawned.set(self.spawned.get() + 1);
        ScopedJoinHandle {
            handle: Some(JoinHandle::new(view)),
            panicked,
            unjoined: &self.unjoined,
        }
    }

    /// Waits until every fiber of the scope has ended. In a teardown none
    /// can run any more, and teardown ended them first: if one had not,
    /// waiting would hang and not waiting would free what it borrows, so
    /// the process aborts.
    fn wait_all(&self) {
        let mut left = self.spawned.get();
        while left > 0 {
            let ended = if context::tearing_down() {
                self.done.try_recv().is_ok()
            } else {
                self.done.recv().is_ok()
            };
            if !ended {
                eprintln!(
                    "selvedge: a scoped fiber outlived its scope during teardown; aborting \
                     rather than freeing what it borrows"
                );
                std::process::abort();
            }
            left -= 1;
        }
        context::forget_scoped(&self.keys.borrow());
    }
}

/// A scoped fiber's handle: see [`Scope::spawn`].
pub struct ScopedJoinHandle<'scope, T> {
    /// `None` once joined.
    handle: Option<JoinHandle<T>>,
    /// Whether the fiber panicked (set by the fiber).
    panicked: Rc<Cell<bool>>,
    /// The scope's list of unjoined fibers, which this joins if dropped.
    unjoined: &'scope RefCell<Vec<Rc<Cell<bool>>>>,
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the fiber to finish; `Err(payload)` if it panicked.
    #[track_caller]
    pub fn join(mut self) -> std::thread::Result<T> {
        self.handle.take().expect("joined once").join()
    }

    /// True once the fiber has finished.
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_some_and(JoinHandle::is_finished)
    }

    /// Cancels the fiber (see [`JoinHandle::cancel`]); a cancelled fiber
    /// that was not joined does not make the scope panic.
    pub fn cancel(&self) {
        if let Some(handle) = &self.handle {
            handle.cancel();
        }
    }
}

impl<T> Drop for ScopedJoinHandle<'_, T> {
    fn drop(&mut self) {
        // Not joined: the scope panics at its end if the fiber panicked.
        if self.handle.is_some() {
            self.unjoined.borrow_mut().push(self.panicked.clone());
        }
    }
}
