//! Futures as operations: [`from_future`] polls a `std::future::Future`
//! in the performer's own context, and its waker resumes the performer
//! from any thread.
//!
//! A user-facing layer: a leaf whose `try_now` polls, whose `register`
//! points the future's waker at the perform, and whose `repoll` polls
//! again when the perform is woken without a commit.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake};

use crate::op::leaf::{commit_own, Leaf, RegisterCx, Registered};
use crate::op::state::OpState;
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::runtime::context::{self, PendingWake};
use crate::runtime::waker::Waker;

/// The operation of waiting for `fut` to complete, with its output.
///
/// The future is polled by whoever performs the operation, on its own
/// thread (a fiber on its stack, so the future need not be `Send`): once
/// when the perform begins, and again each time the future's waker is
/// woken, from any thread, until it is ready. In a choice it races the
/// other branches like any operation; if another branch wins, the future
/// is dropped unfinished (as `tokio::select!` drops the futures that
/// lose); it is not polled again once another branch has committed, but
/// one that completes at the very moment another branch commits on
/// another thread is dropped with its output. The future is boxed when
/// the operation is made; `try_perform` polls it once.
///
/// This makes runtime-agnostic async code usable from fibers and plain
/// threads: channels such as `async-channel` or `futures`' oneshot, async
/// locks, anything that wakes its waker when it can make progress. Futures
/// that need a particular async runtime's reactor or timer (tokio's
/// sockets and `sleep`) still need that runtime to be running.
///
/// ```
/// use selvedge::{after, from_future, Op};
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::{Arc, Mutex};
/// use std::task::{Context, Poll, Waker};
/// use std::time::Duration;
///
/// /// A future completed from another thread, as an async library's
/// /// would be.
/// #[derive(Clone, Default)]
/// struct Flag(Arc<Mutex<(bool, Option<Waker>)>>);
///
/// impl Future for Flag {
///     type Output = &'static str;
///     fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
///         let mut state = self.0.lock().unwrap();
///         if state.0 {
///             return Poll::Ready("set");
///         }
///         state.1 = Some(cx.waker().clone());
///         Poll::Pending
///     }
/// }
///
/// selvedge::run(|| {
///     let flag = Flag::default();
///     let setter = flag.clone();
///     std::thread::spawn(move || {
///         std::thread::sleep(Duration::from_millis(5));
///         let mut state = setter.0.lock().unwrap();
///         state.0 = true;
///         if let Some(waker) = state.1.take() {
///             waker.wake();
///         }
///     });
///     let got = from_future(flag)
///         .wrap(Some)
///         .or(after(Duration::from_secs(10)).wrap(|()| None))
///         .perform();
///     assert_eq!(got, Some("set"));
/// });
/// ```
pub fn from_future<F: Future>(fut: F) -> impl Op<Output = F::Output> {
    FromFuture {
        fut: Box::pin(fut),
        output: None,
        wake: None,
    }
}

/// The leaf of [`from_future`].
struct FromFuture<F: Future> {
    fut: Pin<Box<F>>,
    output: Option<F::Output>,
    /// The future's waker, made at its first poll.
    wake: Option<Arc<FutureWake>>,
}

impl<F: Future> fmt::Debug for FromFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFuture")
    }
}

/// What the future's waker shares with the perform.
struct FutureWake {
    /// Set by every wake; cleared by the poll it leads to.
    woken: AtomicBool,
    /// The perform to wake, while it is registered.
    target: Mutex<Target>,
}

#[derive(Default)]
struct Target {
    waker: Option<Waker>,
    /// Counts the registration as a wake that may still come, for the
    /// deadlock detector.
    _pending: Option<PendingWake>,
}

impl FutureWake {
    fn target(&self) -> std::sync::MutexGuard<'_, Target> {
        self.target.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Wake for FutureWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        // The waker is set only while the perform is registered, which is
        // what `wake_here_or_token` asks; the token is delivered unlocked.
        let token = self
            .target()
            .waker
            .as_ref()
            .and_then(Waker::wake_here_or_token);
        if let Some(token) = token {
            token.wake();
        }
    }
}

impl<F: Future> FromFuture<F> {
    /// Polls the future once; true if it is ready (its output kept).
    fn poll_once(&mut self) -> bool {
        let wake = self
            .wake
            .get_or_insert_with(|| {
                Arc::new(FutureWake {
                    woken: AtomicBool::new(false),
                    target: Mutex::new(Target::default()),
                })
            })
            .clone();
        wake.woken.store(false, Ordering::SeqCst);
        let waker = std::task::Waker::from(wake);
        match self.fut.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(v) => {
                self.output = Some(v);
                true
            }
            Poll::Pending => false,
        }
    }

    /// Points the waker away from the perform.
    fn detach(&mut self) {
        if let Some(wake) = &self.wake {
            *wake.target() = Target::default();
        }
    }
}

impl<F: Future> Drop for FromFuture<F> {
    fn drop(&mut self) {
        self.detach();
    }
}

impl<F: Future> Leaf for FromFuture<F> {
    fn try_now(&mut self) -> bool {
        // A choice may try again: a future that has completed is not
        // polled again.
        self.output.is_some() || self.poll_once()
    }

    fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
        if self.wake.is_none() {
            // Never polled (a choice that did not try it): poll first.
            if self.poll_once() {
                return commit_own(cx.op, idx);
            }
        }
        let wake = self.wake.as_ref().expect("polled once").clone();
        *wake.target() = Target {
            waker: Some(Waker::current()),
            _pending: context::pending_wake(),
        };
        // A wake that came before the waker pointed here: poll again
        // (unless another leaf has won meanwhile).
        if wake.woken.load(Ordering::SeqCst) && !cx.op.is_synced() && self.poll_once() {
            return commit_own(cx.op, idx);
        }
        Registered::Waiting
    }

    fn repoll(&mut self, op: &OpState, idx: usize) -> bool {
        let woken = self
            .wake
            .as_ref()
            .is_some_and(|w| w.woken.load(Ordering::SeqCst));
        // Not polled once the perform is committed elsewhere, so a future
        // is not finished for nothing.
        woken
            && !op.is_synced()
            && self.poll_once()
            && matches!(commit_own(op, idx), Registered::Committed)
    }

    fn unregister(&mut self, _op: &OpState) {
        self.detach();
    }

    fn describe(&self, out: &mut String) {
        out.push_str("future ");
        out.push_str(std::any::type_name::<F>());
    }
}

impl<F: Future> Tree<F::Output> for FromFuture<F> {
    one_leaf!();
    fn complete(mut self, _winner: usize, _: Token) -> F::Output {
        self.output
            .take()
            .expect("a committed future leaf has its output")
    }
}

impl<F: Future> Op for FromFuture<F> {
    type Output = F::Output;
}
