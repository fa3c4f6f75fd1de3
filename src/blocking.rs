//! `blocking`: a blocking call as an operation, run on a pool of OS
//! threads so that only the fiber that performs it waits.
//!
//! A user-facing layer: a `base_op` whose block step hands the call and
//! its completer to the runtime's pool (`runtime::blocking`).

use std::panic::{self, AssertUnwindSafe};

use crate::op::{base_op, Completer, Op};
use crate::runtime::context;

/// The operation of running `f` on a pool of OS threads, with its result:
/// a blocking call (a file, a name lookup, a C library, a long
/// computation) made so that only the performing fiber waits, not every
/// fiber of its scheduler.
///
/// `f` starts when the operation is performed and must wait: not when it
/// is made, and not by [`try_perform`](Op::try_perform), which returns
/// `None` without starting it. In a choice, if another branch wins, `f`
/// still runs to completion (a thread cannot be stopped) and its result
/// is dropped when it arrives. A panic in `f` is resumed in the performer.
/// Plain threads may perform it too. The pool is the runtime's (see
/// [`Builder::blocking_threads`](crate::Builder::blocking_threads)), or a
/// process-wide one of 64 threads outside a runtime. While a call is out,
/// its fiber is not counted as deadlocked.
///
/// ```
/// use selvedge::{after, blocking, Op};
/// use std::time::Duration;
///
/// selvedge::run(|| {
///     // A ticker keeps ticking while the blocking call runs elsewhere.
///     let ticker = selvedge::spawn(|| {
///         (0..5).for_each(|_| selvedge::sleep(Duration::from_millis(2)))
///     });
///     let slow = blocking(|| {
///         std::thread::sleep(Duration::from_millis(20)); // blocks a pool thread
///         42
///     });
///     assert_eq!(slow.perform(), 42);
///     ticker.join().unwrap();
///
///     // Raced against a deadline: the call runs on, its result dropped.
///     let late = blocking(|| std::thread::sleep(Duration::from_secs(1)))
///         .wrap(|()| "done")
///         .or(after(Duration::from_millis(5)).wrap(|()| "gave up"))
///         .perform();
///     assert_eq!(late, "gave up");
/// });
/// ```
pub fn blocking<F, T>(f: F) -> impl Op<Output = T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    base_op(
        || None,
        move |completer: Completer<std::thread::Result<T>>| {
            context::blocking_pool().submit(Box::new(move || {
                let result = panic::catch_unwind(AssertUnwindSafe(f));
                // Refused when another branch won: the result is dropped.
                drop(completer.complete(result));
            }));
            // The call cannot be taken back; its result is dropped.
            || {}
        },
    )
    .wrap(|result| result.unwrap_or_else(|payload| panic::resume_unwind(payload)))
}
