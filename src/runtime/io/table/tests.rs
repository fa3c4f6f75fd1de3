use super::*;
use crate::runtime::waker::Waker;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

/// A registry that accepts every registration, counts deletions, and,
/// once `closed` is set, answers as the kernel does for a descriptor
/// closed behind its waiters (`EBADF`).
#[derive(Default)]
struct FakeRegistry {
    closed: AtomicBool,
    deleted: AtomicUsize,
}

impl Registry for FakeRegistry {
    unsafe fn add(&self, _: RawFd, _: Event, _: PollMode) -> io::Result<()> {
        Ok(())
    }
    fn modify(&self, _: BorrowedFd<'_>, _: Event, _: PollMode) -> io::Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            Err(closed_while_waiting())
        } else {
            Ok(())
        }
    }
    fn delete(&self, _: BorrowedFd<'_>) -> io::Result<()> {
        self.deleted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

type Shared = Arc<(Mutex<IoTable>, FakeRegistry)>;

/// A table shared as the reactor's is, one end of a socket pair to
/// wait on (and the other), and a channel for waiters' keys.
#[allow(clippy::type_complexity)]
fn shared_table() -> (
    Shared,
    Arc<UnixStream>,
    UnixStream,
    (mpsc::Sender<usize>, mpsc::Receiver<usize>),
) {
    let table = Arc::new((Mutex::new(IoTable::new(false)), FakeRegistry::default()));
    let (fd, peer) = UnixStream::pair().unwrap();
    (table, Arc::new(fd), peer, mpsc::channel())
}

/// On a thread of its own, registers a waiter for `dir` of `fd` as the
/// reactor does for a plain thread, reports its key, parks until it is
/// committed, and returns the leaf it committed and its result.
fn wait_on(
    table: &Shared,
    fd: &Arc<UnixStream>,
    dir: Dir,
    idx: usize,
    registered: mpsc::Sender<usize>,
) -> thread::JoinHandle<(usize, io::Result<()>)> {
    let (table, fd) = (table.clone(), fd.clone());
    thread::spawn(move || {
        let op = OpState::new(Waker::current());
        let mut result = None;
        let waiter = Waiter {
            op: &op,
            idx,
            result: &mut result,
        };
        let key = {
            let mut t = table.0.lock().unwrap();
            t.register(&table.1, fd.as_fd(), dir, 0, waiter).unwrap()
        };
        registered.send(key).unwrap();
        while !op.is_synced() {
            thread::park();
        }
        table.0.lock().unwrap().unregister(key, dir, &op);
        (op.winner(), result.expect("committed with a result"))
    })
}

#[test]
fn a_dispatch_on_another_thread_completes_a_waiting_thread() {
    let (table, fd, _peer, (tx, rx)) = shared_table();
    let waiting = wait_on(&table, &fd, Dir::Read, 3, tx);
    let key = rx.recv().unwrap();
    let dispatcher = {
        let table = table.clone();
        thread::spawn(move || {
            let mut t = table.0.lock().unwrap();
            // A write edge wakes nobody: the waiter wants to read.
            t.dispatch_all(&table.1, [Event::writable(key), Event::readable(key)]);
            t.has_waiters()
        })
    };
    assert!(!dispatcher.join().unwrap(), "the waiter left the table");
    let (winner, result) = waiting.join().unwrap();
    assert_eq!(winner, 3);
    assert!(result.is_ok());
}

#[test]
fn a_descriptor_closed_under_its_waiters_releases_both_directions_with_ebadf() {
    let (table, fd, _peer, (tx, rx)) = shared_table();
    let reader = wait_on(&table, &fd, Dir::Read, 0, tx.clone());
    let writer = wait_on(&table, &fd, Dir::Write, 1, tx);
    let key = rx.recv().unwrap();
    assert_eq!(rx.recv().unwrap(), key, "one entry per descriptor");
    table.1.closed.store(true, Ordering::Relaxed);
    {
        let mut t = table.0.lock().unwrap();
        assert!(t.next_check().is_some(), "borrowed waiters are checked");
        t.check_closed(&table.1, Instant::now());
        assert!(!t.has_waiters());
        assert_eq!(t.lookup(fd.as_raw_fd()), None, "the entry is gone");
    }
    for (waiting, idx) in [(reader, 0), (writer, 1)] {
        let (winner, result) = waiting.join().unwrap();
        assert_eq!(winner, idx);
        assert_eq!(result.unwrap_err().raw_os_error(), Some(EBADF));
    }
}

#[test]
fn a_withdrawn_waiter_is_left_alone_and_the_others_are_committed() {
    let registry = FakeRegistry::default();
    let mut table = IoTable::new(false);
    let (a, _b) = UnixStream::pair().unwrap();
    let stay = OpState::new(Waker::current());
    let mut stay_result = None;
    let stay_waiter = Waiter {
        op: &stay,
        idx: 1,
        result: &mut stay_result,
    };
    // The withdrawn perform's state and slot are freed before the
    // dispatch: Miri reports any use of them after.
    let key = {
        let gone = Box::new(OpState::new(Waker::current()));
        let mut gone_result = Box::new(None);
        let gone_waiter = Waiter {
            op: &*gone,
            idx: 0,
            result: &mut *gone_result,
        };
        let key = table
            .register(&registry, a.as_fd(), Dir::Read, 0, gone_waiter)
            .unwrap();
        let same = table
            .register(&registry, a.as_fd(), Dir::Read, 0, stay_waiter)
            .unwrap();
        assert_eq!(key, same);
        table.unregister(key, Dir::Read, &*gone);
        key
    };
    table.dispatch_all(&registry, [Event::readable(key)]);
    assert!(stay.is_synced());
    assert_eq!(stay.winner(), 1);
    assert!(matches!(stay_result, Some(Ok(()))));
    assert!(!table.has_waiters());
    assert_eq!(table.next_check(), None, "no borrowed waiter left");
}

#[test]
fn a_source_sees_its_edges_until_it_clears_them_and_forgets_its_descriptor() {
    let registry = FakeRegistry::default();
    let mut table = IoTable::new(true);
    let (a, _b) = UnixStream::pair().unwrap();
    let raw = a.as_raw_fd();
    let op = OpState::new(Waker::current());
    let mut result = None;
    let waiter = Waiter {
        op: &op,
        idx: 0,
        result: &mut result,
    };
    let key = table
        .register(&registry, a.as_fd(), Dir::Write, 7, waiter)
        .unwrap();
    assert_eq!(table.is_ready(raw, 7, Dir::Write), Some(false));
    assert_eq!(table.is_ready(raw, 8, Dir::Write), None, "another owner's");
    table.dispatch_all(&registry, [Event::all(key)]);
    assert!(op.is_synced());
    assert!(matches!(result, Some(Ok(()))));
    assert_eq!(table.is_ready(raw, 7, Dir::Read), Some(true));
    assert_eq!(table.is_ready(raw, 7, Dir::Write), Some(true));
    table.clear_ready(raw, 7, Dir::Read);
    assert_eq!(table.is_ready(raw, 7, Dir::Read), Some(false));
    assert_eq!(
        table.next_check(),
        None,
        "an owned descriptor is not checked"
    );
    table.forget(&registry, a.as_fd(), 8);
    assert_eq!(registry.deleted.load(Ordering::Relaxed), 0, "not the owner");
    table.forget(&registry, a.as_fd(), 7);
    assert_eq!(registry.deleted.load(Ordering::Relaxed), 1);
    assert_eq!(table.lookup(raw), None);
}
