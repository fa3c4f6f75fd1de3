//! A fiber's closure and its join state in one allocation: the scheduler
//! holds it as a type-erased [`Body`], the [`JoinHandle`](super::JoinHandle)
//! as a [`JoinView`]. One block instead of two saves a `malloc`/`free` pair
//! per spawn (~120 instructions of a spawn+join's ~1,550).

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc; // the runtime is not model-checked; its Arc stays std under loom

use crate::fiber::slot::Start;
use crate::fiber::JoinHandle;
use crate::op::signal::Signal;
use crate::runtime::rethrow_teardown;
use crate::sync::SpinLock;

/// What joiners wait for and take.
pub(crate) struct JoinState<T> {
    pub(crate) done: Signal,
    /// Held only to move the result in or out (no user code runs under it),
    /// so a spin lock does.
    result: SpinLock<Option<std::thread::Result<T>>>,
}

impl<T> JoinState<T> {
    /// Stores the fiber's result and wakes its joiners.
    fn deliver(&self, result: std::thread::Result<T>) {
        *self.result.lock() = Some(result);
        self.done.fire();
    }

    /// The result, if the fiber finished and nobody took it yet.
    pub(crate) fn take(&self) -> Option<std::thread::Result<T>> {
        self.result.lock().take()
    }
}

/// The join state followed by the closure (`C` is a [`Closure`], or, seen
/// from the handle, unsized to `dyn Erased`).
pub(crate) struct Packet<T, C: ?Sized> {
    pub(crate) join: JoinState<T>,
    closure: C,
}

/// The user's function until the fiber is entered. Only [`Body`] touches
/// it, exactly once, and always before it lets go of the packet.
pub(crate) struct Closure<F>(UnsafeCell<Option<F>>);

/// A closure seen from the join handle, which never touches it: the type
/// is erased only so the handle can share (and free) the allocation.
pub(crate) trait Erased {}
impl<F> Erased for Closure<F> {}

/// The handle's view of a packet.
pub(crate) type JoinView<T> = Arc<Packet<T, dyn Erased>>;

/// Entering a fiber's packet: run (or fail) its closure and deliver the result.
trait Entry {
    fn enter(self: Arc<Self>, start: Start);
}

impl<T, F: FnOnce() -> T> Entry for Packet<T, Closure<F>> {
    fn enter(self: Arc<Self>, start: Start) {
        // SAFETY: `enter` runs at most once per packet (`Body` gives its one
        // reference up to it), and the handle never touches the closure.
        let f = unsafe { (*self.closure.0.get()).take() };
        let finish = Finish { packet: Some(self) };
        let result = match (start, f) {
            (Start::Run, Some(f)) => {
                panic::catch_unwind(AssertUnwindSafe(f)).map_err(rethrow_teardown)
            }
            (Start::Run, None) => unreachable!("a fiber is entered once"),
            (Start::Failed(message), _) => Err(Box::new(message) as Box<dyn std::any::Any + Send>),
        };
        finish.complete(result);
    }
}

/// Delivers a fiber's result to its joiners exactly once. If the fiber is
/// unwound before finishing (torn down while parked), the drop delivers an
/// error instead, so a join from outside the runtime returns rather than
/// waiting forever.
struct Finish<T, F> {
    packet: Option<Arc<Packet<T, Closure<F>>>>,
}

impl<T, F> Finish<T, F> {
    fn complete(mut self, result: std::thread::Result<T>) {
        if let Some(packet) = self.packet.take() {
            // A detached fiber (its handle dropped; none can be made later)
            // has nobody to deliver to: skip the two locks of `deliver`.
            if Arc::strong_count(&packet) > 1 {
                packet.join.deliver(result);
            }
        }
    }
}

impl<T, F> Drop for Finish<T, F> {
    fn drop(&mut self) {
        if let Some(packet) = self.packet.take() {
            packet.join.deliver(Err(Box::new(TORN_DOWN.to_string())));
        }
    }
}

const TORN_DOWN: &str = "selvedge: the fiber was torn down before it finished \
                         (its runtime stopped when main returned)";

/// A fiber's body as its scheduler keeps it until the first run. Dropped
/// without running (its runtime stopped first), it delivers an error to the
/// joiners, so nobody waits forever. Not `Send`: the closure may have to
/// stay on its thread.
pub(crate) struct Body {
    // Not an `Option`: the fiber table's state enum keeps using the
    // pointer's niche, so matching on it stays one well-predicted test
    // (with an `Option` here, spawn+join ran ~6% slower).
    entry: Arc<dyn Entry>,
}

impl Body {
    /// Runs the fiber's function (`Start::Run`) or records why it could not
    /// start, then delivers the result.
    pub(crate) fn enter(self, start: Start) {
        let body = ManuallyDrop::new(self);
        // SAFETY: `body` is never used or dropped after this read, so the
        // reference moves out exactly once.
        let entry = unsafe { std::ptr::read(&body.entry) };
        entry.enter(start);
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        self.entry
            .clone()
            .enter(Start::Failed(TORN_DOWN.to_string()));
    }
}

/// A body that may be started on another scheduler's thread.
pub(crate) struct RemoteBody(Body);

// SAFETY: built only by `packet_send`, whose closure and result are `Send`;
// the body holds nothing else.
unsafe impl Send for RemoteBody {}

impl RemoteBody {
    pub(crate) fn into_local(self) -> Body {
        self.0
    }
}

/// The body and the join handle of a fiber running `f`, for this thread.
pub(crate) fn packet<F, T>(f: F) -> (Body, JoinHandle<T>)
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    // SAFETY: `F` and `T` are `'static`.
    unsafe { packet_unbounded(f) }
}

/// The same for a fiber that may start on another thread.
pub(crate) fn packet_send<F, T>(f: F) -> (RemoteBody, JoinHandle<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (body, handle) = packet(f);
    (RemoteBody(body), handle)
}

/// The same without the `'static` bounds, for the main fiber of `run`.
///
/// # Safety
///
/// The body must be entered or dropped before anything `F` or `T` borrows
/// goes away (the runtime guarantees it for the main fiber: `run` does not
/// return or unwind before its scheduler ran or dropped every body). The
/// handle's erased closure is empty by then, so it can live longer.
pub(crate) unsafe fn packet_unbounded<'a, F, T>(f: F) -> (Body, JoinHandle<T>)
where
    F: FnOnce() -> T + 'a,
    T: 'a,
{
    let packet = Arc::new(Packet {
        join: JoinState {
            done: Signal::new(),
            result: SpinLock::new(None),
        },
        closure: Closure(UnsafeCell::new(Some(f))),
    });
    let view: Arc<Packet<T, dyn Erased + 'a>> = packet.clone();
    let entry: Arc<dyn Entry + 'a> = packet;
    // SAFETY: only lifetimes change, which leaves the layouts alone; the
    // caller keeps `'a` alive until the body is entered or dropped, and
    // both give up the closure before the last reference to the packet
    // goes (so the view never sees a live `F`).
    unsafe {
        (
            Body {
                entry: std::mem::transmute::<Arc<dyn Entry + 'a>, Arc<dyn Entry>>(entry),
            },
            JoinHandle {
                packet: std::mem::transmute::<Arc<Packet<T, dyn Erased + 'a>>, JoinView<T>>(view),
            },
        )
    }
}
