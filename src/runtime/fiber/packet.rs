//! A fiber's closure and its join state in one block: the scheduler holds
//! it as a type-erased [`Body`], the fiber's `JoinHandle` through a
//! [`JoinView`]. One block instead of two saves a `malloc`/`free` pair per
//! spawn, and the block comes from this thread's cache of finished fibers'
//! blocks (`block_cache`), which is why the packet counts its own
//! references instead of being an `Arc` (an `Arc` frees through the global
//! allocator). The block starts with its `Head` (`head.rs`), which is all
//! that code without the packet's types reads.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
#[cfg(test)]
use std::panic::Location;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
// The runtime is not model-checked: its atomics stay std under loom.
use std::sync::atomic::{fence, Ordering};

use crate::op::oneshot::Oneshot;
use crate::runtime::cancelled::Cancelled;
use crate::runtime::current;
use crate::runtime::fiber::block_cache;
use crate::runtime::fiber::head::{Head, HeadRef, Spec, Start, VTable};
use crate::runtime::site::Site;

/// What the joiner waits for and takes: the fiber's result, put once.
pub(crate) type JoinState<T> = Oneshot<std::thread::Result<T>>;

/// A packet: `Head` first, so both halves find it; the join state next, so
/// its offset depends on `T` alone and the handle finds it without `F`.
#[repr(C)]
struct Packet<T, F> {
    head: Head,
    join: JoinState<T>,
    /// The user's function until the fiber is entered, which takes it,
    /// always before the body gives up its reference.
    closure: UnsafeCell<Option<F>>,
}

/// The prefix of every `Packet<T, _>`, for the offset of `join`.
#[repr(C)]
struct Prefix<T> {
    head: Head,
    join: JoinState<T>,
}

impl<T, F: FnOnce() -> T> Packet<T, F> {
    const VTABLE: VTable = VTable {
        enter: Self::enter,
        drop_fields: Self::drop_fields,
        layout: Layout::new::<Self>(),
    };

    /// # Safety
    ///
    /// `head` is a live `Packet<T, F>`, and the caller gives up the body's
    /// reference to it (this runs once per packet).
    unsafe fn enter(head: NonNull<Head>, start: Start) {
        let packet = head.cast::<Self>();
        // SAFETY: the caller's promise; the handle never touches the closure.
        let f = unsafe { (*packet.as_ref().closure.get()).take() };
        let finish = Finish {
            packet: Some(packet),
        };
        let result = match (start, f) {
            (Start::Run, Some(f)) => {
                panic::catch_unwind(AssertUnwindSafe(f)).map_err(rethrow_teardown)
            }
            (Start::Run, None) => unreachable!("a fiber is entered once"),
            // The closure is dropped unrun; a destructor of its captures
            // that panics is the fiber's panic, as if the fiber had run.
            // (Nothing runs on the fiber's stack, so no forced unwind can
            // be caught here.)
            (Start::Failed(message), f) => {
                match panic::catch_unwind(AssertUnwindSafe(|| drop(f))) {
                    Ok(()) => Err(Box::new(message) as Box<dyn std::any::Any + Send>),
                    Err(payload) => Err(payload),
                }
            }
            (Start::Cancelled, f) => match panic::catch_unwind(AssertUnwindSafe(|| drop(f))) {
                Ok(()) => Err(Box::new(Cancelled) as Box<dyn std::any::Any + Send>),
                Err(payload) => Err(payload),
            },
        };
        finish.complete(result);
    }

    /// # Safety
    ///
    /// `head` is a `Packet<T, F>` nobody references any more.
    unsafe fn drop_fields(head: NonNull<Head>) {
        // SAFETY: the caller's promise; this drops the head's spec too.
        unsafe { std::ptr::drop_in_place(head.cast::<Self>().as_ptr()) };
    }
}

/// Drops one reference to the packet at `head`, freeing it with the last.
/// Inlined: every spawn+join releases twice, and only the second frees.
///
/// # Safety
///
/// The caller holds a reference to a live packet and gives it up.
#[inline]
unsafe fn release(head: NonNull<Head>) {
    // SAFETY: the caller's reference keeps the packet alive until here.
    let h = unsafe { head.as_ref() };
    if h.refs.fetch_sub(1, Ordering::Release) == 1 {
        // SAFETY: that was the last reference.
        unsafe { free(head) };
    }
}

/// Drops a packet's fields and frees its block.
///
/// # Safety
///
/// `head` is a live packet whose last reference was just given up.
#[inline(never)]
unsafe fn free(head: NonNull<Head>) {
    // Everything the other reference's holder did to the packet happens
    // before the fields are dropped (as in `Arc`).
    fence(Ordering::Acquire);
    // SAFETY: the caller's promise: nobody else reaches the packet now.
    let vtable = unsafe { head.as_ref() }.vtable;
    // SAFETY: the block came from `block_cache::alloc(vtable.layout)` in
    // `packet_unbounded`, and its fields are dropped once, here.
    unsafe {
        (vtable.drop_fields)(head);
        block_cache::dealloc(head.cast(), vtable.layout);
    }
}

/// During teardown a fiber is unwound by force; its stack must unwind to
/// its coroutine's root, so the panic that does it is never swallowed as
/// the fiber's result.
fn rethrow_teardown(payload: Box<dyn std::any::Any + Send>) -> Box<dyn std::any::Any + Send> {
    if current::tearing_down() {
        panic::resume_unwind(payload);
    }
    payload
}

/// Delivers a fiber's result to its joiners exactly once, then gives up the
/// body's reference. If the fiber is unwound before finishing (torn down
/// while parked), the drop delivers an error instead, so a join from
/// outside the runtime returns rather than waiting forever.
struct Finish<T, F> {
    packet: Option<NonNull<Packet<T, F>>>,
}

impl<T, F> Finish<T, F> {
    /// Always inlined into `enter`, the hot caller: `torn_down` calls it
    /// too, which would otherwise leave it out of line.
    #[inline(always)]
    fn complete(mut self, result: std::thread::Result<T>) {
        if let Some(packet) = self.packet.take() {
            // SAFETY: `Finish` holds the body's reference.
            let p = unsafe { packet.as_ref() };
            // A detached fiber (its handle dropped; none can be made later)
            // has nobody to deliver to: skip the put.
            if p.head.refs.load(Ordering::Acquire) > 1 {
                // SAFETY: `Finish` puts once: it gives the packet up here.
                unsafe { p.join.put(result) };
            } else {
                drop_unclaimed(result);
            }
            // SAFETY: as above; given up here, once.
            unsafe { release(packet.cast()) };
        }
    }

    /// The fiber unwound before finishing: its joiner learns why.
    #[cold]
    #[inline(never)]
    fn torn_down(packet: NonNull<Packet<T, F>>) {
        // The body's reference passes to a new `Finish` (`complete` took
        // none from this one, or it would not be dropping with a packet).
        let finish = Finish {
            packet: Some(packet),
        };
        finish.complete(Err(Box::new(TORN_DOWN.to_string())));
    }
}

impl<T, F> Drop for Finish<T, F> {
    #[inline]
    fn drop(&mut self) {
        if let Some(packet) = self.packet.take() {
            Self::torn_down(packet);
        }
    }
}

/// Drops a detached fiber's result (its value, or its panic's payload),
/// which nobody can take. A destructor that panics here is reported by the
/// panic hook like any panic, and goes no further: the fiber's panic is
/// its own, not its scheduler's, and `run` returns main's value. (A
/// teardown's forced unwind cannot be caught here: it is thrown only where
/// a fiber suspends, and no fiber suspends while it is torn down.)
#[cold]
#[inline(never)]
fn drop_unclaimed<T>(result: std::thread::Result<T>) {
    let mut next = match panic::catch_unwind(AssertUnwindSafe(move || drop(result))) {
        Ok(()) => return,
        Err(payload) => payload,
    };
    // A payload may itself panic when dropped: drop what each drop
    // throws the same way, a few times, then leak it.
    for _ in 0..3 {
        match panic::catch_unwind(AssertUnwindSafe(move || drop(next))) {
            Ok(()) => return,
            Err(payload) => next = payload,
        }
    }
    std::mem::forget(next);
}

const TORN_DOWN: &str = "selvedge: the fiber was torn down before it finished \
                         (its runtime stopped when main returned)";

/// A fiber's body as its scheduler keeps it until the first run: one word.
/// Dropped without running (its runtime stopped first), it delivers an
/// error to the joiners, so nobody waits forever. Not `Send`: the closure
/// may have to stay on its thread.
pub(crate) struct Body {
    head: NonNull<Head>,
}

/// Tells packets apart: the body and the handle of one fiber have the same
/// id, and no two live packets do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PacketId(NonNull<Head>);

impl Body {
    #[inline]
    pub(crate) fn id(&self) -> PacketId {
        PacketId(self.head)
    }

    /// The packet's head: alive while the body is, and while its fiber
    /// runs (the body's reference is given up as the fiber finishes).
    #[inline]
    pub(crate) fn head(&self) -> HeadRef {
        HeadRef(self.head)
    }

    /// What `fiber::Builder` asked for, if it made this fiber.
    #[inline]
    pub(crate) fn spec(&self) -> Option<&Spec> {
        // SAFETY: the body holds a reference to its live packet.
        unsafe { self.head.as_ref() }.spec()
    }

    /// The fiber's head.
    #[inline]
    pub(crate) fn head_ref(&self) -> &Head {
        // SAFETY: the body holds a reference to its live packet.
        unsafe { self.head.as_ref() }
    }

    /// Whether the scheduler took a stack for this fiber at spawn.
    #[inline]
    pub(crate) fn is_reserved(&self) -> bool {
        self.spec()
            .is_some_and(|s| s.reserved.load(Ordering::Relaxed))
    }

    /// Records that the scheduler took a stack for this fiber at spawn.
    pub(crate) fn mark_reserved(&self) {
        if let Some(spec) = self.spec() {
            spec.reserved.store(true, Ordering::Relaxed);
        }
    }

    /// Runs the fiber's function (`Start::Run`) or records why it could not
    /// start, then delivers the result.
    pub(crate) fn enter(self, start: Start) {
        let body = ManuallyDrop::new(self);
        // SAFETY: the body holds a reference to a live packet, which it
        // gives up to `enter`, exactly once (`body` is not dropped).
        unsafe { (body.head.as_ref().vtable.enter)(body.head, start) };
    }
}

impl Body {
    /// The body as a plain pointer, for a hand-over through a cell without
    /// drop glue; `from_raw` takes it back.
    #[inline]
    pub(crate) fn into_raw(self) -> NonNull<()> {
        ManuallyDrop::new(self).head.cast()
    }

    /// # Safety
    ///
    /// `raw` came from `into_raw`, and is taken back once.
    #[inline]
    pub(crate) unsafe fn from_raw(raw: NonNull<()>) -> Body {
        Body { head: raw.cast() }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        // SAFETY: as in `enter`: the reference is given up once, here.
        unsafe {
            (self.head.as_ref().vtable.enter)(self.head, Start::Failed(TORN_DOWN.to_string()))
        };
    }
}

/// A reference that keeps a packet alive (a cancel request on its way to
/// the fiber's scheduler), reaching its head only.
pub(crate) struct PacketRef(NonNull<Head>);

// SAFETY: it reaches only the head, which is `Sync` (see `HeadRef`), and
// gives up its reference with the packet's atomic count.
unsafe impl Send for PacketRef {}
// SAFETY: as for `Send`.
unsafe impl Sync for PacketRef {}

impl PacketRef {
    pub(crate) fn head(&self) -> &Head {
        // SAFETY: the reference keeps the packet alive.
        unsafe { self.0.as_ref() }
    }
}

impl Drop for PacketRef {
    fn drop(&mut self) {
        // SAFETY: this reference, given up once.
        unsafe { release(self.0) };
    }
}

/// The handle's reference to a packet: reaches the join state only.
pub(crate) struct JoinView<T> {
    head: NonNull<Head>,
    _result: PhantomData<JoinState<T>>,
}

impl<T> JoinView<T> {
    #[inline]
    pub(crate) fn id(&self) -> PacketId {
        PacketId(self.head)
    }

    /// The fiber's head, as a pointer: alive while the view is.
    #[inline]
    pub(crate) fn head_ref(&self) -> HeadRef {
        HeadRef(self.head)
    }

    /// One more reference to the packet.
    pub(crate) fn packet_ref(&self) -> PacketRef {
        // SAFETY: the view's reference keeps the packet alive meanwhile;
        // a new reference needs no ordering (as `Arc::clone`).
        unsafe { self.head.as_ref() }
            .refs
            .fetch_add(1, Ordering::Relaxed);
        PacketRef(self.head)
    }

    #[inline]
    pub(crate) fn join(&self) -> &JoinState<T> {
        let offset = std::mem::offset_of!(Prefix<T>, join);
        // SAFETY: the view holds a reference to a live `Packet<T, _>`,
        // whose `join` sits at the same offset as in `Prefix<T>` (both are
        // `repr(C)` with the same fields before it).
        unsafe { &*self.head.as_ptr().cast::<u8>().add(offset).cast() }
    }
}

impl<T> Drop for JoinView<T> {
    fn drop(&mut self) {
        // SAFETY: the view's reference, given up once.
        unsafe { release(self.head) };
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
pub(crate) fn packet<F, T>(f: F, spec: Option<Box<Spec>>, at: Site) -> (Body, JoinView<T>)
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    // SAFETY: `F` and `T` are `'static`.
    unsafe { packet_unbounded(f, spec, at) }
}

/// The same for a fiber that may start on another thread.
pub(crate) fn packet_send<F, T>(
    f: F,
    spec: Option<Box<Spec>>,
    at: Site,
) -> (RemoteBody, JoinView<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (body, handle) = packet(f, spec, at);
    (RemoteBody(body), handle)
}

/// The same without the `'static` bounds, for the main fiber of `run`.
///
/// # Safety
///
/// The body must be entered or dropped before anything `F` or `T` borrows
/// goes away (the runtime guarantees it for the main fiber: `run` does not
/// return or unwind before its scheduler ran or dropped every body). The
/// closure is gone by then; the handle may live longer, and reaches only
/// the join state.
#[inline]
pub(crate) unsafe fn packet_unbounded<'a, F, T>(
    f: F,
    spec: Option<Box<Spec>>,
    at: Site,
) -> (Body, JoinView<T>)
where
    F: FnOnce() -> T + 'a,
    T: 'a,
{
    let layout = Layout::new::<Packet<T, F>>();
    let block = block_cache::alloc(layout).cast::<Packet<T, F>>();
    let packet = Packet {
        head: Head::new(&Packet::<T, F>::VTABLE, spec, at),
        join: Oneshot::new(),
        closure: UnsafeCell::new(Some(f)),
    };
    // SAFETY: the block is fresh, sized and aligned for the packet.
    unsafe { block.as_ptr().write(packet) };
    let head = block.cast::<Head>();
    (
        Body { head },
        JoinView {
            head,
            _result: PhantomData,
        },
    )
}

#[cfg(test)]
mod tests;
