//! `Multicast`: a channel every subscriber gets every message of (CML's
//! `Multicast`), built on bounded channels, one per subscriber.
//!
//! A user-facing layer over `channel` and `sync_var`: it imports nothing
//! of `op`'s protocol or of the runtime.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::channel::{bounded, Receiver, Sender};
use crate::sync_var::MVar;

/// A channel where every subscriber gets every message, in the order they
/// were sent (CML's multicast channel). [`port`](Multicast::port)
/// subscribes: it returns a plain [`Receiver`] that sees the messages sent
/// after it subscribed, so every receive operation, choice and timeout
/// works on it.
///
/// **A subscriber that does not keep up** holds up the senders: each port
/// buffers up to the capacity given to [`new`](Multicast::new), and a
/// [`send`](Multicast::send) waits (suspending only its fiber) for room in
/// every port, one after another. Nothing is dropped and every port sees
/// the same order; a port that must never slow the others should be
/// drained by a fiber of its own into an [`unbounded`](crate::unbounded)
/// channel. A port whose receivers are all dropped is unsubscribed at the
/// next send.
///
/// When every `Multicast` handle is dropped, ports see the end of the
/// stream (`RecvError`) once they have received what was sent.
///
/// ```
/// use selvedge::Multicast;
///
/// selvedge::run(|| {
///     let news = Multicast::new(4);
///     let readers: Vec<_> = (0..3)
///         .map(|_| {
///             let port = news.port();
///             selvedge::spawn(move || port.iter().collect::<Vec<&str>>())
///         })
///         .collect();
///     news.send("extra");
///     news.send("extra, extra");
///     drop(news); // the end of the stream
///     for r in readers {
///         assert_eq!(r.join().unwrap(), ["extra", "extra, extra"]);
///     }
/// });
/// ```
pub struct Multicast<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    /// Each port's capacity.
    cap: usize,
    /// The subscribed ports, by subscription number.
    ports: Mutex<Ports<T>>,
    /// Held by a send while it delivers (a fiber-aware lock: taking it
    /// suspends only the fiber), so every port sees the same order.
    turn: MVar<()>,
}

struct Ports<T> {
    next: u64,
    list: Vec<(u64, Sender<T>)>,
}

impl<T> Clone for Multicast<T> {
    fn clone(&self) -> Self {
        Multicast {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Multicast<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multicast")
            .field("ports", &self.ports().list.len())
            .field("capacity", &self.inner.cap)
            .finish()
    }
}

impl<T: Clone> Multicast<T> {
    /// A multicast channel whose ports buffer up to `cap` messages each
    /// (0: every send waits for every subscriber to take the message).
    #[track_caller]
    pub fn new(cap: usize) -> Multicast<T> {
        let turn = MVar::new();
        turn.put(());
        Multicast {
            inner: Arc::new(Inner {
                cap,
                ports: Mutex::new(Ports {
                    next: 0,
                    list: Vec::new(),
                }),
                turn,
            }),
        }
    }

    /// Subscribes: a receiver of every message sent from now on.
    #[track_caller]
    pub fn port(&self) -> Receiver<T> {
        let (tx, rx) = bounded(self.inner.cap);
        let mut ports = self.ports();
        let id = ports.next;
        ports.next += 1;
        ports.list.push((id, tx));
        rx
    }

    /// Sends a clone of `value` to every port (the last gets `value`
    /// itself), waiting for room in each in turn, and returns how many got
    /// it. Ports whose receivers are gone are unsubscribed.
    #[track_caller]
    pub fn send(&self, value: T) -> usize {
        self.inner.turn.take();
        // Returns the turn also if a send panics (a clone that panics).
        struct Turn<'a>(&'a MVar<()>);
        impl Drop for Turn<'_> {
            fn drop(&mut self) {
                self.0.put(());
            }
        }
        let _turn = Turn(&self.inner.turn);
        let ports: Vec<(u64, Sender<T>)> = self.ports().list.clone();
        let mut gone = Vec::new();
        let mut reached = 0;
        let mut value = Some(value);
        for (i, (id, tx)) in ports.iter().enumerate() {
            let v = if i + 1 == ports.len() {
                value.take().expect("the value goes to the last port only")
            } else {
                value
                    .clone()
                    .expect("the value is kept until the last port")
            };
            match tx.send(v) {
                Ok(()) => reached += 1,
                Err(_) => gone.push(*id),
            }
        }
        if !gone.is_empty() {
            self.ports().list.retain(|(id, _)| !gone.contains(id));
        }
        reached
    }

    /// How many ports are subscribed (counting those whose receivers are
    /// gone until the next send notices).
    pub fn ports_len(&self) -> usize {
        self.ports().list.len()
    }
}

impl<T> Multicast<T> {
    fn ports(&self) -> std::sync::MutexGuard<'_, Ports<T>> {
        self.inner.ports.lock().unwrap_or_else(|e| e.into_inner())
    }
}
