//! Taking a dump of a runtime's fibers: `Handle::dump`, `fiber::dump`.

use crate::op::signal::{Signal, SignalWait};
use crate::op::tree::{one_leaf, Token, Tree};
use crate::op::Op;
use crate::runtime::context;
use crate::runtime::dump::{Dump, PATIENCE};
use crate::runtime::Handle;

impl Handle {
    /// Every fiber of this runtime, now: its id and name, its scheduler,
    /// its state, and for a waiting fiber what it waits for and where. Each
    /// scheduler answers for its own fibers between two fiber runs; one
    /// that does not answer within a second (a fiber holds it without
    /// suspending) is listed in [`Dump::unanswered`]. Callable from any
    /// thread or fiber; a runtime that is not running has no fibers.
    ///
    /// A dump costs the runtime nothing until it is asked for: fibers
    /// record nothing while they run, and describe themselves only when
    /// their scheduler asks.
    #[track_caller]
    pub fn dump(&self) -> Dump {
        let inner = self.inner();
        if !inner.running.load(std::sync::atomic::Ordering::SeqCst) {
            return Dump::default();
        }
        if !context::in_fiber() {
            return inner.dump_from_thread();
        }
        let request = inner.request_dump();
        // This fiber's own scheduler answers once it waits here.
        let done = DumpDone {
            wait: SignalWait {
                signal: &request.done,
            },
        };
        done.or(crate::time::after(PATIENCE)).perform();
        inner.dumps.remove(&request);
        request.take()
    }
}

/// A dump of the calling fiber's runtime: [`Handle::dump`] of
/// [`Handle::current`].
///
/// # Panics
///
/// Outside a runtime.
#[track_caller]
pub fn dump() -> Dump {
    Handle::current().dump()
}

/// Waiting for every scheduler's answer to a dump.
struct DumpDone<'a> {
    wait: SignalWait<&'a Signal>,
}

impl Op for DumpDone<'_> {
    type Output = ();
}

impl Tree<()> for DumpDone<'_> {
    one_leaf!(wait);
    fn complete(self, _winner: usize, _: Token) {}
}

impl std::fmt::Debug for DumpDone<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DumpDone")
    }
}
