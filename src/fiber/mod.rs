//! Fibers: `spawn`, `JoinHandle`, `yield_now`, `sleep`, and the stack pool.

pub(crate) mod slot;
pub(crate) mod stack;
pub(crate) mod stack_pool;

use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use crate::op::leaf::LeafList;
use crate::op::perform::perform_leaf;
use crate::op::signal::{Signal, SignalWait};
use crate::op::Op;
use crate::runtime::context;
use crate::runtime::rethrow_teardown;
use crate::sync::{Arc, SpinLock};
use slot::Start;

struct JoinInner<T> {
    done: Signal,
    /// Held only to move the result in or out (no user code runs under it),
    /// so a spin lock does.
    result: SpinLock<Option<std::thread::Result<T>>>,
}

impl<T> JoinInner<T> {
    /// Stores the fiber's result and wakes its joiners.
    fn deliver(&self, result: std::thread::Result<T>) {
        *self.result.lock() = Some(result);
        self.done.fire();
    }

    /// The result, if the fiber finished and nobody took it yet.
    fn take(&self) -> Option<std::thread::Result<T>> {
        self.result.lock().take()
    }
}

/// Starts a fiber running `f` on the current fiber's scheduler.
///
/// The fiber never leaves this thread, so `f` need not be `Send`. `spawn`
/// returns before the fiber runs; fibers spawned by one fiber first run in
/// the order they were spawned. Dropping the handle detaches the fiber.
///
/// # Panics
///
/// Outside a runtime (call it from inside [`run`](crate::run)).
///
/// ```
/// use std::rc::Rc; // not Send: fine, fibers stay on their thread
/// selvedge::run(|| {
///     let shared = Rc::new(5);
///     let s = shared.clone();
///     let h = selvedge::spawn(move || *s * 2);
///     assert_eq!(h.join().unwrap(), 10);
/// });
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let (body, handle) = fiber_body(f);
    context::with_scheduler(|s| s.spawn(Box::new(body)))
        .expect("selvedge::spawn called outside a runtime: start fibers from inside selvedge::run");
    handle
}

/// The body of a fiber running `f` (catching its panic for `join`), and the
/// handle that joins it. The body is `Send` exactly when `F` and `T` are,
/// and lives as long as `F` and `T` do.
pub(crate) fn fiber_body<'a, F, T>(f: F) -> (impl FnOnce(Start) + 'a, JoinHandle<T>)
where
    F: FnOnce() -> T + 'a,
    T: 'a,
{
    let inner = Arc::new(JoinInner {
        done: Signal::new(),
        result: SpinLock::new(None),
    });
    let finish = Finish {
        inner: Some(inner.clone()),
    };
    let body = move |start: Start| {
        let result = match start {
            Start::Run => panic::catch_unwind(AssertUnwindSafe(f)).map_err(rethrow_teardown),
            Start::Failed(message) => Err(Box::new(message) as Box<dyn std::any::Any + Send>),
        };
        finish.complete(result);
    };
    let handle = JoinHandle {
        inner,
        _not_send: PhantomData,
    };
    (body, handle)
}

/// Delivers a fiber's result to its joiners exactly once. If the fiber is
/// dropped before finishing (torn down while parked, or never started because
/// its runtime stopped), the drop delivers an error instead, so a join from
/// outside the runtime returns rather than waiting forever.
struct Finish<T> {
    inner: Option<Arc<JoinInner<T>>>,
}

impl<T> Finish<T> {
    fn complete(mut self, result: std::thread::Result<T>) {
        if let Some(inner) = self.inner.take() {
            inner.deliver(result);
        }
    }
}

impl<T> Drop for Finish<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let message = "selvedge: the fiber was torn down before it finished \
                           (its runtime stopped when main returned)";
            inner.deliver(Err(Box::new(message.to_string())));
        }
    }
}

/// Owns the right to wait for a fiber and take its result.
pub struct JoinHandle<T> {
    inner: Arc<JoinInner<T>>,
    // `JoinHandle<T>` is `Send` exactly when `T: Send`, through `inner`.
    _not_send: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// Waits for the fiber to finish; `Err(payload)` if it panicked.
    pub fn join(mut self) -> std::thread::Result<T> {
        self.join_op().perform()
    }

    /// The operation of waiting for the fiber, to use in a choice.
    ///
    /// # Panics
    ///
    /// Performing it after an earlier `join_op` took the result.
    pub fn join_op(&mut self) -> JoinOp<'_, T> {
        JoinOp {
            wait: SignalWait {
                signal: &self.inner.done,
            },
            inner: &self.inner,
        }
    }

    /// True once the fiber has finished (returned or panicked).
    pub fn is_finished(&self) -> bool {
        self.inner.done.is_fired()
    }

    /// The result, if the fiber finished and nobody took it yet.
    pub(crate) fn take_result(&self) -> Option<std::thread::Result<T>> {
        self.inner.take()
    }
}

/// Waiting for a fiber: see [`JoinHandle::join_op`].
pub struct JoinOp<'a, T> {
    wait: SignalWait<&'a Signal>,
    inner: &'a JoinInner<T>,
}

impl<T> fmt::Debug for JoinOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinOp")
    }
}

impl<T> Op for JoinOp<'_, T> {
    type Output = std::thread::Result<T>;
    fn __prepare(&mut self) {}
    fn __leaves<'s>(&'s mut self, leaves: &mut LeafList<'s>) {
        leaves.push(&mut self.wait);
    }
    fn perform(mut self) -> std::thread::Result<T> {
        perform_leaf(&mut self.wait);
        self.__complete(0)
    }
    fn __complete(self, _winner: usize) -> std::thread::Result<T> {
        self.inner
            .take()
            .expect("selvedge: the fiber's result was already taken by an earlier join_op")
    }
}

/// Lets every other runnable fiber run once before the caller continues.
/// Outside a fiber, yields the OS thread.
pub fn yield_now() {
    if context::in_fiber() {
        context::with_scheduler(|s| s.yield_current());
    } else {
        std::thread::yield_now();
    }
}

/// Suspends the calling fiber (or thread) for at least `d`; the same as
/// `after(d).perform()`.
pub fn sleep(d: Duration) {
    crate::timer::after(d).perform();
}
