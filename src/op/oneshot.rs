//! A one-shot channel in one atomic word: a value put once, by one writer,
//! and taken by one reader, who may wait for it as a leaf of any operation.
//! A fiber's join is one: the finishing fiber puts its result, the
//! `JoinHandle` takes it.
//!
//! A join has at most one waiter at a time (the handle is not `Clone`, and
//! `join_op` borrows it mutably), so where a [`Signal`](super::signal::Signal)
//! with the result beside it would need a waiter list and two locks, this
//! needs one state word, and a spawn+join two atomic read-modify-writes
//! fewer.
//!
//! The state moves EMPTY ⇄ WAITING (the reader registers and withdraws),
//! then, once, to PUTTING (the writer commits the registered perform, if
//! any) and FULL. A reader withdrawing while the writer is PUTTING waits
//! for FULL, so the writer never touches a perform that has returned.

use crate::op::leaf::{commit_own, Leaf, RegisterCx, Registered};
use crate::op::state::OpState;
use crate::sync::{spin_loop, AtomicU8, Ordering, UnsafeCell};

/// No value; the reader is not registered.
const EMPTY: u8 = 0;
/// No value; the reader's perform is registered in `waiter`.
const WAITING: u8 = 1;
/// The value is in; the writer is committing the perform it found
/// registered (or about to say FULL).
const PUTTING: u8 = 2;
/// The value is in (and may have been taken); the writer is done.
const FULL: u8 = 3;

/// A write-once value with at most one reader; see the module docs.
pub(crate) struct Oneshot<T> {
    state: AtomicU8,
    /// The registered perform and its leaf index: written by the reader
    /// before it publishes WAITING, read by the writer that moves WAITING
    /// to PUTTING.
    waiter: UnsafeCell<(*const OpState, usize)>,
    /// Written by the writer before it leaves EMPTY or WAITING; read by the
    /// reader only after it sees PUTTING or FULL.
    value: UnsafeCell<Option<T>>,
}

// SAFETY: the value moves from the writer's thread to the reader's, hence
// `T: Send`; `waiter` is a pointer the writer dereferences only while the
// protocol keeps its perform registered, and `OpState` is `Sync`.
unsafe impl<T: Send> Send for Oneshot<T> {}
// SAFETY: as for `Send`: the state word orders every access to the cells.
unsafe impl<T: Send> Sync for Oneshot<T> {}

impl<T> Oneshot<T> {
    pub(crate) fn new() -> Self {
        Oneshot {
            state: AtomicU8::new(EMPTY),
            waiter: UnsafeCell::new((std::ptr::null(), 0)),
            value: UnsafeCell::new(None),
        }
    }

    /// True once the value is in (it may have been taken since).
    #[inline]
    pub(crate) fn is_put(&self) -> bool {
        self.state.load(Ordering::Acquire) >= PUTTING
    }

    /// Puts the value and commits the reader's waiting perform, if any.
    /// Inlined for the common case: nobody registered yet.
    ///
    /// # Safety
    ///
    /// At most once per cell.
    #[inline]
    pub(crate) unsafe fn put(&self, value: T) {
        // SAFETY: the reader reads `value` only after seeing PUTTING or
        // FULL, which the swap below publishes; no other writer exists. The
        // cell still holds the `None` of `new` (one put), so nothing is
        // dropped by overwriting it.
        self.value.with_mut(|v| unsafe { v.write(Some(value)) });
        if self.state.swap(PUTTING, Ordering::AcqRel) != WAITING {
            self.state.store(FULL, Ordering::Release);
            return;
        }
        self.commit_waiter();
    }

    /// The rest of a put that found the reader registered: commits its
    /// perform, then says FULL. Out of line: a joiner that waits has paid
    /// for a switch already.
    #[inline(never)]
    fn commit_waiter(&self) {
        // SAFETY: the reader wrote `waiter` before publishing WAITING, which
        // the swap acquired; it writes again only after it sees the perform
        // committed or the state FULL, both after this read.
        let (op, idx) = self.waiter.with(|w| unsafe { *w });
        // SAFETY: the perform stays registered, so its `OpState` alive,
        // while the state is PUTTING: a reader withdrawing waits for FULL,
        // and a reader the commit below wakes does not withdraw this leaf.
        let op = unsafe { &*op };
        let token = op.claim().and_then(|claim| claim.commit(idx));
        self.state.store(FULL, Ordering::Release);
        if let Some(token) = token {
            token.wake();
        }
    }
}

/// The reading end of a [`Oneshot`] as an operation leaf.
pub(crate) struct OneshotRecv<'a, T> {
    cell: &'a Oneshot<T>,
}

impl<'a, T> OneshotRecv<'a, T> {
    /// # Safety
    ///
    /// No other reader of `cell` (another `OneshotRecv`, or `take`) may be
    /// used while this one lives.
    #[inline]
    pub(crate) unsafe fn new(cell: &'a Oneshot<T>) -> Self {
        OneshotRecv { cell }
    }

    /// Whether the value came and was taken already.
    pub(crate) fn was_taken(&mut self) -> bool {
        // SAFETY: as in `take`: read after `is_put`, by the only reader.
        self.cell.is_put() && self.cell.value.with_mut(|v| unsafe { (*v).is_none() })
    }

    /// The value, if it is in and was not taken yet.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<T> {
        if !self.cell.is_put() {
            return None;
        }
        // SAFETY: the value was written before the state became PUTTING,
        // which `is_put` acquired, and the writer never touches it again;
        // this is the only reader (`new`'s contract).
        self.cell.value.with_mut(|v| unsafe { (*v).take() })
    }
}

impl<T> Leaf for OneshotRecv<'_, T> {
    #[inline]
    fn try_now(&mut self) -> bool {
        self.cell.is_put()
    }

    #[inline]
    fn may_complete(&self) -> bool {
        self.cell.is_put()
    }

    #[inline]
    fn register(&mut self, cx: &mut RegisterCx<'_>, idx: usize) -> Registered {
        // SAFETY: the only reader writes `waiter` while not registered, so
        // no writer reads it now: one that saw WAITING did so before this
        // reader's last perform was committed or its withdrawal saw FULL.
        self.cell
            .waiter
            .with_mut(|w| unsafe { *w = (std::ptr::from_ref(cx.op), idx) });
        match self
            .cell
            .state
            .compare_exchange(EMPTY, WAITING, Ordering::Release, Ordering::Acquire)
        {
            Ok(_) => Registered::Waiting,
            Err(_) => commit_own(cx.op, idx), // the value is in
        }
    }

    #[inline]
    fn unregister(&mut self, _op: &OpState) {
        if self
            .cell
            .state
            .compare_exchange(WAITING, EMPTY, Ordering::Relaxed, Ordering::Acquire)
            .is_err()
        {
            // Put meanwhile: the writer may still be reading our perform.
            while self.cell.state.load(Ordering::Acquire) == PUTTING {
                spin_loop();
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::runtime::waker::Waker;

    fn op() -> OpState {
        OpState::new(Waker::Thread(std::thread::current()))
    }

    fn cx(op: &OpState) -> RegisterCx<'_> {
        RegisterCx { op, deadline: None }
    }

    #[test]
    fn a_put_commits_the_registered_perform_to_its_leaf() {
        let cell = Oneshot::new();
        // SAFETY: the only reader.
        let mut recv = unsafe { OneshotRecv::new(&cell) };
        let op = op();
        assert!(!recv.try_now());
        assert!(matches!(
            recv.register(&mut cx(&op), 3),
            Registered::Waiting
        ));
        // SAFETY: the only put.
        unsafe { cell.put(5) };
        assert!(op.is_synced());
        assert_eq!(op.winner(), 3);
        assert_eq!((recv.take(), recv.take()), (Some(5), None));
    }

    #[test]
    fn a_withdrawn_reader_is_not_committed_and_registers_again() {
        let cell = Oneshot::new();
        // SAFETY: the only reader.
        let mut recv = unsafe { OneshotRecv::new(&cell) };
        for _ in 0..3 {
            let op = op();
            assert!(matches!(
                recv.register(&mut cx(&op), 0),
                Registered::Waiting
            ));
            recv.unregister(&op);
            assert!(!op.is_synced());
        }
        // SAFETY: the only put.
        unsafe { cell.put("late") };
        let op = op();
        assert!(recv.try_now());
        assert!(matches!(
            recv.register(&mut cx(&op), 1),
            Registered::Committed
        ));
        assert_eq!(op.winner(), 1);
        assert_eq!(recv.take(), Some("late"));
    }
}
