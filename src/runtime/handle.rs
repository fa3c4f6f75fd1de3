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
    /// schedulers, this one included; [`spawn_on`](Handle::spawn_on)
    /// chooses); it stays on that scheduler's thread for life. Callable from any thread while the runtime runs. A spawn
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
        self.spawn_packet(None, packet_send(f, None, Location::caller()))
    }

    /// Starts a fiber on scheduler `scheduler` (0 is the thread that called
    /// [`Runtime::run`](crate::Runtime::run), the others its worker
    /// threads, up to [`schedulers`](Handle::schedulers) − 1), to choose
    /// where work runs: beside the data it uses, away from a busy
    /// scheduler, one fiber per scheduler. Otherwise as
    /// [`spawn`](Handle::spawn).
    ///
    /// # Panics
    ///
    /// When the runtime is not running, or `scheduler` is out of range.
    ///
    /// ```
    /// use selvedge::{Handle, Runtime};
    /// let rt = Runtime::builder().threads(3).build().unwrap();
    /// let threads = rt.run(|| {
    ///     let handle = Handle::current();
    ///     let fibers: Vec<_> = (0..handle.schedulers())
    ///         .map(|i| handle.spawn_on(i, || std::thread::current().name().map(str::to_owned)))
    ///         .collect();
    ///     fibers.into_iter().map(|f| f.join().unwrap()).collect::<Vec<_>>()
    /// });
    /// assert_eq!(threads[1].as_deref(), Some("selvedge-1"));
    /// assert_eq!(threads[2].as_deref(), Some("selvedge-2"));
    /// ```
    #[track_caller]
    pub fn spawn_on<F, T>(&self, scheduler: usize, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let count = self.schedulers();
        assert!(
            scheduler < count,
            "selvedge::Handle::spawn_on: scheduler {scheduler} out of range (the runtime has \
             {count})"
        );
        self.spawn_packet(Some(scheduler), packet_send(f, None, Location::caller()))
    }

    /// How many schedulers (threads) the runtime has.
    pub fn schedulers(&self) -> usize {
        self.inner.schedulers.len()
    }

    /// Places a fiber's packet on scheduler `on`, or one picked round-robin
    /// (`Handle::spawn`, `spawn_on`, `fiber::Builder::spawn_on`).
    #[track_caller]
    pub(crate) fn spawn_packet<T>(
        &self,
        on: Option<usize>,
        (body, view): (RemoteBody, JoinView<T>),
    ) -> JoinHandle<T> {
        let inner = &self.inner;
        let _in_flight = inner.detector.in_flight();
        assert!(
            inner.running.load(Ordering::SeqCst),
            "selvedge::Handle::spawn: the runtime is not running"
        );
        let handle = JoinHandle::new(view);
        let i = on
            .unwrap_or_else(|| inner.next.fetch_add(1, Ordering::Relaxed) % inner.schedulers.len());
        let target = &inner.schedulers[i];
        // SAFETY: the handle keeps the packet alive.
        unsafe { handle.head_ref().get() }.set_home(target.id());
        if current::is_local_home(NonNull::from(&**target)) {
            context::with_scheduler(|s| s.spawn(body.into_local()));
        } else {
            // Counted as sent: `run` waits for it while it is on its way.
            inner.fiber_spawned();
            if let Err(refused) = inner.spawns[i].push(body, target) {
                drop(refused); // the run is ending: the join returns an error
                inner.fiber_finished();
            }
        }
        handle
    }
}
