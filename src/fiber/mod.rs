//! Fibers: `spawn`, `JoinHandle`, `yield_now`, `sleep`, and the stack pool.

pub(crate) mod block_cache;
pub(crate) mod coroutine;
pub(crate) mod packet;
pub(crate) mod slot;
pub(crate) mod stack;
pub(crate) mod stack_pool;
pub(crate) mod table;

use std::fmt;
use std::time::Duration;

use crate::op::oneshot::OneshotRecv;
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::runtime::context;
use packet::{packet, JoinView};

/// Starts a fiber running `f` on the current fiber's scheduler.
///
/// The fiber never leaves this thread, so `f` need not be `Send`. `spawn`
/// returns before the fiber runs; fibers spawned by one fiber first run in
/// the order they were spawned. Dropping the handle detaches the fiber.
///
/// A panic in the fiber is caught and handed to [`JoinHandle::join`]; it
/// never takes down the scheduler or other fibers. One thing of a panic is
/// shared with them, as it belongs to the OS thread: while a panicking
/// fiber is suspended in the middle of unwinding (a destructor that waits
/// for something), `std::thread::panicking()` is true in the thread's
/// other fibers too, so a `std::sync::Mutex` guard one of them drops then
/// poisons the mutex.
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
    let (body, handle) = packet(f);
    context::with_scheduler(|s| s.spawn(body))
        .expect("selvedge::spawn called outside a runtime: start fibers from inside selvedge::run");
    handle
}

/// Owns the right to wait for a fiber and take its result.
pub struct JoinHandle<T> {
    packet: JoinView<T>,
}

// SAFETY: the handle reaches only the join state, a `Oneshot` (`Send` and
// `Sync` for a `Send` result), as its only reader, and moves the result
// out, so `T: Send` is what crossing threads needs. The packet's erased
// closure is never touched through the handle, and it is empty before the
// scheduler lets go of the packet, so a handle that frees the packet on
// another thread drops no closure there.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: through `&JoinHandle` only `is_finished` (an atomic load) is
// reachable; taking the result needs the handle by value or `&mut`.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// Waits for the fiber to finish; `Err(payload)` if it panicked.
    #[inline]
    pub fn join(mut self) -> std::thread::Result<T> {
        // A fiber that has not started and would run next anyway, once
        // this one waits, runs now, from here: see `run_next_fresh`. If it
        // finished, its result is taken without a perform.
        context::run_next_fresh(self.packet.id());
        match self.take_result() {
            Some(result) => result,
            None => self.join_op().perform(),
        }
    }

    /// The operation of waiting for the fiber, to use in a choice.
    ///
    /// # Panics
    ///
    /// Performing it after an earlier `join_op` took the result.
    pub fn join_op(&mut self) -> JoinOp<'_, T> {
        JoinOp {
            // SAFETY: the handle is the join state's only reader, and
            // `&mut self` keeps it from reading while the op lives.
            recv: unsafe { OneshotRecv::new(self.packet.join()) },
        }
    }

    /// True once the fiber has finished (returned or panicked).
    pub fn is_finished(&self) -> bool {
        self.packet.join().is_put()
    }

    /// The result, if the fiber finished and nobody took it yet.
    pub(crate) fn take_result(&mut self) -> Option<std::thread::Result<T>> {
        self.join_op().recv.take()
    }
}

/// Waiting for a fiber: see [`JoinHandle::join_op`].
pub struct JoinOp<'a, T> {
    recv: OneshotRecv<'a, std::thread::Result<T>>,
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
    one_leaf!(recv);
    fn complete(mut self, _winner: usize, _: Token) -> std::thread::Result<T> {
        self.recv
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
