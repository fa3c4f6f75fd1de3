//! A fiber's join handle: the right to take its result, over the
//! packet's one-shot join state. The operation of waiting for it
//! (`join`, `join_op`) belongs to the fiber layer above (`crate::fiber`).

use std::fmt;

use crate::op::oneshot::OneshotRecv;
use crate::runtime::fiber::head::HeadRef;
use crate::runtime::fiber::packet::{JoinView, PacketId, PacketRef};
use crate::runtime::shared;

/// Owns the right to wait for a fiber and take its result.
pub struct JoinHandle<T> {
    packet: JoinView<T>,
}

impl<T> JoinHandle<T> {
    /// The handle on the fiber whose packet `packet` views.
    pub(crate) fn new(packet: JoinView<T>) -> Self {
        JoinHandle { packet }
    }
}

// SAFETY: the handle reaches only the join state, a `Oneshot` (`Send` and
// `Sync` for a `Send` result), as its only reader, and moves the result
// out, so `T: Send` is what crossing threads needs. The packet's erased
// closure is never touched through the handle, and it is empty before the
// scheduler lets go of the packet, so a handle that frees the packet on
// another thread drops no closure there.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: through `&JoinHandle` only `is_finished` (an atomic load) is
// reachable; taking the result needs the handle by value or `&mut`.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Asks for the fiber of `packet` to be cancelled (see
/// `JoinHandle::cancel`).
pub(crate) fn request_cancel(packet: PacketRef) {
    let head = packet.head();
    head.mark_cancelled();
    // Placed before its handle was given out (a spawn places at once,
    // `Handle::spawn` names the scheduler first); a scheduler that is gone
    // has torn its fibers down.
    if let Some(shared) = shared::by_id(head.home()) {
        shared.request_cancel(packet);
    }
}

impl<T> JoinHandle<T> {
    /// Cancels the fiber: it unwinds from its next suspension point (an
    /// operation that waits, `yield_now`, `sleep`), and its
    /// [`join`](JoinHandle::join) then returns `Err(payload)` with
    /// `payload.downcast_ref::<Cancelled>()` `Some`. Whatever it was
    /// waiting on is withdrawn: nothing it had not committed happens (a
    /// send keeps its value, which its destructors then drop), and nothing
    /// it had committed is undone. The unwind runs its destructors and is
    /// not reported as a panic. A fiber that has not started never runs;
    /// one that has finished keeps its result (`cancel` does nothing). May
    /// be called from any thread, any number of times.
    ///
    /// A fiber that catches the unwind (`catch_unwind`) may go on; one
    /// already unwinding from a panic, and waiting in a destructor, goes
    /// on unwinding from that panic.
    ///
    /// ```
    /// use selvedge::Cancelled;
    /// use std::time::Duration;
    ///
    /// selvedge::run(|| {
    ///     let (tx, rx) = selvedge::channel::<String>();
    ///     let sender = selvedge::spawn(move || tx.send("kept?".to_string()));
    ///     let sleeper = selvedge::spawn(|| selvedge::sleep(Duration::from_secs(3600)));
    ///     selvedge::yield_now(); // both wait now
    ///     sender.cancel();
    ///     sleeper.cancel();
    ///     let e = sender.join().unwrap_err();
    ///     assert!(e.downcast_ref::<Cancelled>().is_some());
    ///     assert!(sleeper.join().unwrap_err().is::<Cancelled>());
    ///     assert!(rx.try_recv().is_err()); // the send never happened
    /// });
    /// ```
    pub fn cancel(&self) {
        if !self.is_finished() {
            request_cancel(self.packet.packet_ref());
        }
    }

    /// True once the fiber has finished (returned or panicked).
    pub fn is_finished(&self) -> bool {
        self.packet.join().is_put()
    }

    /// The fiber's packet head (id, name): alive while the handle is.
    pub(crate) fn head_ref(&self) -> HeadRef {
        self.packet.head_ref()
    }

    /// The identity of the fiber's packet, which its queued body shares.
    pub(crate) fn packet_id(&self) -> PacketId {
        self.packet.id()
    }

    /// The reader of the join state, as a leaf.
    pub(crate) fn reader(&mut self) -> OneshotRecv<'_, std::thread::Result<T>> {
        // SAFETY: the handle is the join state's only reader, and `&mut
        // self` keeps it from reading again while the reader lives.
        unsafe { OneshotRecv::new(self.packet.join()) }
    }

    /// The result, if the fiber finished and nobody took it yet.
    pub(crate) fn take_result(&mut self) -> Option<std::thread::Result<T>> {
        self.reader().take()
    }
}

#[cfg(test)]
mod tests {
    use super::JoinHandle;
    use crate::runtime::fiber::head::Start;
    use crate::runtime::fiber::packet::packet_send;

    #[test]
    fn a_panic_is_delivered_and_a_handle_may_free_the_packet_on_another_thread() {
        let (body, view) = packet_send(
            || -> u64 { panic!("boom") },
            None,
            std::panic::Location::caller(),
        );
        let h = JoinHandle::new(view);
        let body = body.into_local();
        body.enter(Start::Run); // prints the panic, as a fiber's would
        let taken = std::thread::spawn(move || {
            let mut h = h;
            h.take_result()
                .map(|r| r.map_err(|e| *e.downcast::<&str>().unwrap()))
        })
        .join()
        .unwrap();
        assert_eq!(taken.unwrap().unwrap_err(), "boom");
    }
}
