//! `Cancelled`: the payload a cancelled fiber unwinds with. A leaf of the
//! runtime, which both the fiber mechanics and `current` use.

/// The panic payload of a fiber that was cancelled
/// ([`JoinHandle::cancel`](crate::JoinHandle::cancel)): its
/// [`join`](crate::JoinHandle::join) returns `Err(payload)` with
/// `payload.downcast_ref::<Cancelled>()` `Some`.
///
/// ```
/// use selvedge::{Cancelled, Op};
///
/// selvedge::run(|| {
///     let (_tx, rx) = selvedge::channel::<u32>();
///     let waiter = selvedge::spawn(move || rx.recv());
///     selvedge::yield_now(); // it waits in `recv`
///     waiter.cancel();
///     let payload = waiter.join().unwrap_err();
///     assert!(payload.downcast_ref::<Cancelled>().is_some());
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the fiber was cancelled")
    }
}

impl std::error::Error for Cancelled {}
