//! Running fibers: `run`, the per-thread scheduler, its run-queue policy, and
//! the thread-safe half other threads use to wake its fibers.

pub(crate) mod context;
mod run_queue;
pub(crate) mod scheduler;
mod shared;

pub(crate) use shared::Shared;

use std::panic::{self, AssertUnwindSafe};

use crate::fiber::slot::Start;
use crate::fiber::stack_pool::DEFAULT_STACK_SIZE;
use scheduler::Scheduler;

/// Runs `main` as the first fiber of a one-thread runtime on the calling
/// thread and returns its value as soon as it returns.
///
/// Fibers still alive then are dropped, their stacks unwound so their
/// destructors run. `main` may borrow from the caller. A panic in `main` is
/// resumed out of `run` after that teardown.
///
/// # Panics
///
/// When called from inside a fiber (nest with [`spawn`](crate::spawn)
/// instead), or when the runtime cannot be created (no `epoll`/`eventfd`, or
/// no memory for `main`'s stack); the message names the cause.
///
/// ```
/// let v = vec![1, 2, 3];
/// let sum = selvedge::run(|| v.iter().sum::<i32>());
/// assert_eq!(sum, 6);
/// ```
pub fn run<T>(main: impl FnOnce() -> T) -> T {
    run_with(DEFAULT_STACK_SIZE, main)
}

pub(crate) fn run_with<T>(stack_size: usize, main: impl FnOnce() -> T) -> T {
    assert!(
        !context::in_runtime(),
        "selvedge::run called inside a running selvedge runtime (from a fiber); \
         use selvedge::spawn to start more fibers"
    );
    let sched = Scheduler::new(stack_size)
        .unwrap_or_else(|e| panic!("selvedge: cannot create the scheduler's poller: {e}"));
    let enter = context::enter(&sched);

    let mut out: Option<std::thread::Result<T>> = None;
    let out_ptr: *mut Option<std::thread::Result<T>> = &mut out;
    let body: Box<dyn FnOnce(Start) + '_> = Box::new(move |start| {
        let result = match start {
            Start::Run => panic::catch_unwind(AssertUnwindSafe(main)).map_err(rethrow_teardown),
            Start::Failed(message) => Err(Box::new(message) as Box<dyn std::any::Any + Send>),
        };
        // SAFETY: `out` outlives every fiber: `run_with` tears the scheduler
        // down (dropping this fiber) before `out` goes out of scope, and
        // nothing else reads `out` until `main_done` says it was written.
        unsafe { *out_ptr = Some(result) };
    });
    // SAFETY: only the lifetime is erased. The body borrows from this frame
    // (and `main` from the caller's); the scheduler runs or drops it before
    // `run_with` returns or unwinds: `teardown` below, or `Scheduler::drop`
    // while unwinding.
    let body: Box<dyn FnOnce(Start) + 'static> = unsafe { std::mem::transmute(body) };
    let main_key = sched.spawn(body);
    let finished = |_: &Scheduler| {
        // SAFETY: read between fiber runs, never while the body writes it.
        unsafe { (*out_ptr).is_some() }
    };
    let result = sched.run_until(|| finished(&sched));
    let _ = main_key;
    sched.teardown();
    drop(enter);
    drop(sched);
    if let Err(e) = result {
        panic!("selvedge: the scheduler's poller failed: {e}");
    }
    match out.expect("main fiber finished") {
        Ok(v) => v,
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// During teardown a fiber is unwound by force; its stack must unwind to the
/// root, so the panic that does it is never swallowed as the fiber's result.
pub(crate) fn rethrow_teardown(
    payload: Box<dyn std::any::Any + Send>,
) -> Box<dyn std::any::Any + Send> {
    if context::with_scheduler(Scheduler::is_tearing_down).unwrap_or(false) {
        panic::resume_unwind(payload);
    }
    payload
}
