//! Readiness for plain OS threads: one process-wide poller, started on
//! first use, whose thread commits the performs of threads blocked on a
//! descriptor. A thread waiting in `perform` just parks, as it does for a
//! channel, so readiness composes with everything else from threads too.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use polling::{Events, Poller};

use crate::op::state::OpState;
use crate::runtime::io::table::{Dir, IoTable, Waiter, CLOSED_CHECK_INTERVAL};
use crate::sync::{lock, Mutex};

pub(crate) struct Reactor {
    poller: Poller,
    table: Mutex<IoTable>,
    started: AtomicBool,
    starting: Mutex<()>,
}

static REACTOR: OnceLock<io::Result<Reactor>> = OnceLock::new();

impl Reactor {
    /// The process's reactor, started on first use. Failing to create the
    /// poller or its thread is reported to the caller (and retried by the
    /// next one, for the thread).
    fn get() -> io::Result<&'static Reactor> {
        let r = REACTOR.get_or_init(|| {
            Ok(Reactor {
                poller: Poller::new()?,
                table: Mutex::new(IoTable::new(false)),
                started: AtomicBool::new(false),
                starting: Mutex::new(()),
            })
        });
        let r: &'static Reactor = r
            .as_ref()
            .map_err(|e| io::Error::new(e.kind(), format!("selvedge: no I/O reactor: {e}")))?;
        if !r.started.load(Ordering::Acquire) {
            let _g = lock(&r.starting);
            if !r.started.load(Ordering::Acquire) {
                std::thread::Builder::new()
                    .name("selvedge-io".into())
                    .spawn(move || r.run())?;
                r.started.store(true, Ordering::Release);
            }
        }
        Ok(r)
    }

    fn run(&self) -> ! {
        let mut events = Events::new();
        loop {
            events.clear();
            // The timeout only paces the closed-descriptor check.
            let _ = self.poller.wait(&mut events, Some(CLOSED_CHECK_INTERVAL));
            lock(&self.table).dispatch_all(&self.poller, events.iter());
        }
    }
}

/// Registers a waiting thread's leaf with the reactor.
pub(crate) fn register(fd: BorrowedFd<'_>, dir: Dir, waiter: Waiter) -> io::Result<usize> {
    let r = Reactor::get()?;
    let key = lock(&r.table).register(&r.poller, fd, dir, 0, waiter)?;
    Ok(key)
}

pub(crate) fn unregister(key: usize, dir: Dir, op: *const OpState) {
    if let Ok(r) = Reactor::get() {
        lock(&r.table).unregister(key, dir, op);
    }
}
