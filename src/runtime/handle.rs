//! `Handle`: a thread-safe reference to a running `Runtime`, to place new
//! fibers on its schedulers.

use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::runtime::context;
use crate::runtime::current;
use crate::runtime::fiber::join::JoinHandle;
use crate::runtime::fiber::packet::{packet_send, JoinView, RemoteBody};
use crate::runtime::inner::RuntimeInner;

/// A cheap, thread-safe reference to a running
/// [`Runtime`](crate::Runtime), to place new fibers on its schedulers.
#[derive(Clone, Debug)]
pub struct Handle {
    inner: Arc<RuntimeInner>,
}

impl Handle {
    pub(crate) fn new(inner: Arc<RuntimeInner>) -> Handle {
        Handle { inner }
    }

    pub(crate) fn inner(&self) -> &RuntimeInner {
        &self.inner
    }
}

impl Handle {
    /// The runtime of the calling fiber.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn current() -> Handle {
        context::with_scheduler(|s| Handle::new(s.runtime.clone()))
            .expect("selvedge::Handle::current called outside a runtime")
    }

    /// Starts a fiber on a scheduler the runtime picks (round-robin over all
    /// schedulers, this one included); it stays on that scheduler's thread
    /// for life. Callable from any thread while the runtime runs. A spawn
    /// that races the end of [`Runtime::run`](crate::Runtime::run) either
    /// runs in that run or is dropped by its end, its `join` then returning
    /// an error; none is left waiting for a later run.
    ///
    /// # Panics
    ///
    /// When the runtime is not running.
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_packet(packet_send(f, None, Location::caller()))
    }

    /// Places a fiber's packet (`Handle::spawn`, `fiber::Builder::spawn_on`).
    #[track_caller]
    pub(crate) fn spawn_packet<T>(&self, (body, view): (RemoteBody, JoinView<T>)) -> JoinHandle<T> {
        let inner = &self.inner;
        let _in_flight = inner.detector.in_flight();
        assert!(
            inner.running.load(Ordering::SeqCst),
            "selvedge::Handle::spawn: the runtime is not running"
        );
        let handle = JoinHandle::new(view);
        let i = inner.next.fetch_add(1, Ordering::Relaxed) % inner.schedulers.len();
        let target = &inner.schedulers[i];
        // SAFETY: the handle keeps the packet alive.
        unsafe { handle.head_ref().get() }.set_home(target.id());
        if current::is_local_home(NonNull::from(&**target)) {
            context::with_scheduler(|s| s.spawn(body.into_local()));
        } else if let Err(refused) = inner.spawns[i].push(body, target) {
            drop(refused); // the run is ending: the join returns an error
        }
        handle
    }
}
