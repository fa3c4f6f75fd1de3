//! A fiber's join handle: the right to wait for its result, as an
//! operation or a blocking call, over the packet's one-shot join state.

use std::fmt;

use crate::op::oneshot::OneshotRecv;
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::runtime::context;
use crate::runtime::fiber::packet::JoinView;

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

impl<T> JoinHandle<T> {
    /// Waits for the fiber to finish; `Err(payload)` if it panicked.
    #[inline]
    pub fn join(mut self) -> std::thread::Result<T> {
        // A fiber that has not started and would run next anyway, once
        // this one waits, runs now, from here: see `run_next_fresh`. If it
        // finished, its result is taken without a perform.
        context::run_next_fresh(self.packet.id());
        match self.take_result() {
            Some(result) => result,
            None => self.join_op().perform(),
        }
    }

    /// The operation of waiting for the fiber, to use in a choice.
    ///
    /// # Panics
    ///
    /// Performing it after an earlier `join_op` took the result.
    pub fn join_op(&mut self) -> JoinOp<'_, T> {
        JoinOp {
            // SAFETY: the handle is the join state's only reader, and
            // `&mut self` keeps it from reading while the op lives.
            recv: unsafe { OneshotRecv::new(self.packet.join()) },
        }
    }

    /// True once the fiber has finished (returned or panicked).
    pub fn is_finished(&self) -> bool {
        self.packet.join().is_put()
    }

    /// The result, if the fiber finished and nobody took it yet.
    pub(crate) fn take_result(&mut self) -> Option<std::thread::Result<T>> {
        self.join_op().recv.take()
    }
}

/// Waiting for a fiber: see [`JoinHandle::join_op`].
pub struct JoinOp<'a, T> {
    recv: OneshotRecv<'a, std::thread::Result<T>>,
}

impl<T> fmt::Debug for JoinOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinOp")
    }
}

impl<T> Op for JoinOp<'_, T> {
    type Output = std::thread::Result<T>;
}

impl<T> Tree<std::thread::Result<T>> for JoinOp<'_, T> {
    one_leaf!(recv);
    fn complete(mut self, _winner: usize, _: Token) -> std::thread::Result<T> {
        self.recv
            .take()
            .expect("selvedge: the fiber's result was already taken by an earlier join_op")
    }
}

#[cfg(test)]
mod tests {
    use super::JoinHandle;
    use crate::runtime::fiber::packet::packet_send;
    use crate::runtime::fiber::packet::Start;

    #[test]
    fn a_panic_is_delivered_and_a_handle_may_free_the_packet_on_another_thread() {
        let (body, view) = packet_send(|| -> u64 { panic!("boom") });
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
