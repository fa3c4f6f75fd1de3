//! Fibers as users start and wait for them: [`spawn`], [`Builder`] (a
//! name, a stack size), [`JoinHandle`], [`yield_now`], [`sleep`], and what
//! a fiber can learn of itself ([`current_name`]).
//!
//! A user-facing layer: it builds on `op` and reaches the runtime through
//! `runtime::context`, plus the fiber packet and join handle it hands out.

mod builder;
mod dump;
mod join;
mod join_set;
mod scope;

use std::panic::Location;
use std::time::Duration;

use crate::op::Op;
use crate::runtime::context;
use crate::runtime::fiber::packet::packet;

pub use crate::runtime::dump::{Dump, FiberInfo, State};
pub use crate::runtime::fiber::join::JoinHandle;
pub use builder::Builder;
pub use dump::dump;
pub use join::JoinOp;
pub use join_set::JoinSet;
pub use scope::{scope, Scope, ScopedJoinHandle};

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
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let (body, view) = packet(f, None, Location::caller());
    context::spawn(body)
        .expect("selvedge::spawn called outside a runtime: start fibers from inside selvedge::run");
    JoinHandle::new(view)
}

/// Lets every other runnable fiber run once before the caller continues.
/// Outside a fiber, yields the OS thread.
#[track_caller]
pub fn yield_now() {
    if context::in_fiber() {
        context::yield_current(std::panic::Location::caller());
    } else {
        std::thread::yield_now();
    }
}

/// Suspends the calling fiber (or thread) for at least `d`; the same as
/// `after(d).perform()`.
#[track_caller]
pub fn sleep(d: Duration) {
    crate::time::after(d).perform();
}

/// The name the running fiber was given with [`Builder::name`]; `None`
/// outside a fiber, or for a fiber spawned without one. The main fiber of
/// [`run`](crate::run) and [`Runtime::run`](crate::Runtime::run) is named
/// `"main"`.
///
/// ```
/// use selvedge::fiber;
/// selvedge::run(|| {
///     assert_eq!(fiber::current_name().as_deref(), Some("main"));
///     let h = fiber::Builder::new()
///         .name("worker")
///         .spawn(|| fiber::current_name())
///         .unwrap();
///     assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
///     assert_eq!(selvedge::spawn(fiber::current_name).join().unwrap(), None);
/// });
/// assert_eq!(fiber::current_name(), None);
/// ```
pub fn current_name() -> Option<String> {
    context::running_fiber(|head| head.name().map(str::to_owned)).flatten()
}
