//! TCP, UDP and Unix-domain sockets whose blocking calls suspend only the
//! calling fiber.
//!
//! The types mirror `std::net` and `std::os::unix::net`: `Read` and `Write`
//! for the stream and for `&stream` (so one fiber can read while another
//! writes), `accept`, `connect`, `shutdown`, timeouts. Underneath, the
//! descriptors are non-blocking; a call that would block waits for
//! readiness through the scheduler's poller (or, on a plain thread, the
//! I/O reactor), so the same socket works in fibers and threads alike.
//! They implement `AsFd`, so [`io::readable`](crate::io::readable) and
//! [`io::writable`](crate::io::writable) take them directly.
//!
//! ```
//! use selvedge::net::{TcpListener, TcpStream};
//! use std::io::{Read, Write};
//!
//! selvedge::run(|| {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = selvedge::spawn(move || {
//!         let (mut conn, _) = listener.accept().unwrap();
//!         let mut buf = [0; 5];
//!         conn.read_exact(&mut buf).unwrap();
//!         conn.write_all(&buf).unwrap();
//!     });
//!     let mut client = TcpStream::connect(addr).unwrap();
//!     client.write_all(b"hello").unwrap();
//!     let mut echo = [0; 5];
//!     client.read_exact(&mut echo).unwrap();
//!     assert_eq!(&echo, b"hello");
//!     server.join().unwrap();
//! });
//! ```
//!
//! Timeouts (`set_read_timeout`, `set_write_timeout`) fail the call with
//! `ErrorKind::TimedOut` (std reports `WouldBlock` on Unix).
//!
//! The top layer: every socket is an `io::source::Source`, which does the
//! waiting; this module adds the `std`-shaped types and nothing beneath.

macro_rules! stream_common {
    ($ty:ident, $std:ty) => {
        impl $ty {
            fn from_nonblocking(s: $std) -> $ty {
                $ty {
                    source: crate::io::source::Source::new(s),
                }
            }

            /// Wraps a std stream, switching it to non-blocking mode.
            pub fn from_std(s: $std) -> std::io::Result<$ty> {
                s.set_nonblocking(true)?;
                Ok($ty::from_nonblocking(s))
            }

            /// Unwraps into a std stream, back in blocking mode.
            pub fn into_std(self) -> std::io::Result<$std> {
                let s = self.source.into_inner();
                s.set_nonblocking(false)?;
                Ok(s)
            }

            /// Shuts down the read half, the write half, or both. Fibers
            /// waiting to read see end-of-file; writers get an error.
            pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                self.source.get().shutdown(how)
            }

            /// A second handle to the same socket (a duplicated descriptor).
            pub fn try_clone(&self) -> std::io::Result<$ty> {
                Ok($ty::from_nonblocking(self.source.get().try_clone()?))
            }

            /// Makes reads that wait longer than `t` fail with
            /// `ErrorKind::TimedOut`; `None` waits forever. Zero is an error.
            pub fn set_read_timeout(&self, t: Option<std::time::Duration>) -> std::io::Result<()> {
                self.source
                    .set_timeout(crate::runtime::io::table::Dir::Read, t)
            }

            /// Like [`set_read_timeout`](Self::set_read_timeout), for writes.
            pub fn set_write_timeout(&self, t: Option<std::time::Duration>) -> std::io::Result<()> {
                self.source
                    .set_timeout(crate::runtime::io::table::Dir::Write, t)
            }

            /// The read timeout.
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.source.timeout(crate::runtime::io::table::Dir::Read))
            }

            /// The write timeout.
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.source.timeout(crate::runtime::io::table::Dir::Write))
            }

            /// Takes the socket's pending error (`SO_ERROR`).
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.source.get().take_error()
            }
        }

        impl std::io::Read for &$ty {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.source.io(
                    crate::runtime::io::table::Dir::Read,
                    |mut s| std::io::Read::read(&mut s, buf),
                    crate::io::source::read_never_drains,
                )
            }

            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.source.io(
                    crate::runtime::io::table::Dir::Read,
                    |mut s| std::io::Read::read_vectored(&mut s, bufs),
                    crate::io::source::read_never_drains,
                )
            }
        }

        impl std::io::Write for &$ty {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let len = buf.len();
                self.source.io(
                    crate::runtime::io::table::Dir::Write,
                    |mut s| std::io::Write::write(&mut s, buf),
                    // A short write filled the socket buffer.
                    |&n| n < len,
                )
            }

            #[track_caller]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                let len: usize = bufs.iter().map(|b| b.len()).sum();
                self.source.io(
                    crate::runtime::io::table::Dir::Write,
                    |mut s| std::io::Write::write_vectored(&mut s, bufs),
                    |&n| n < len,
                )
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $ty {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self).read(buf)
            }

            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
        }

        impl std::io::Write for $ty {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self).write(buf)
            }

            #[track_caller]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                (&*self).write_vectored(bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        fd_traits!($ty);
    };
}

macro_rules! fd_traits {
    ($ty:ident) => {
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.source.get().as_fd()
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.source.get().as_raw_fd()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.source.get().fmt(f)
            }
        }
    };
}

macro_rules! listener_common {
    ($ty:ident, $std:ty, $stream:ident, $addr:ty) => {
        impl $ty {
            /// Accepts a connection, suspending the calling fiber until one
            /// arrives.
            #[track_caller]
            pub fn accept(&self) -> std::io::Result<($stream, $addr)> {
                let (s, addr) = self
                    .source
                    .io(
                        crate::runtime::io::table::Dir::Read,
                        |l| l.accept(),
                        |_| false,
                    )
                    .map_err(crate::net::explain_fd_limit)?;
                s.set_nonblocking(true)?;
                Ok(($stream::from_nonblocking(s), addr))
            }

            /// An endless iterator of accepted connections (each
            /// `accept`'s result, address dropped), like std's `incoming`.
            pub fn incoming(&self) -> Incoming<'_, $ty> {
                Incoming { listener: self }
            }

            /// Wraps a std listener, switching it to non-blocking mode.
            pub fn from_std(l: $std) -> std::io::Result<$ty> {
                l.set_nonblocking(true)?;
                Ok($ty {
                    source: crate::io::source::Source::new(l),
                })
            }

            /// Unwraps into a std listener, back in blocking mode.
            pub fn into_std(self) -> std::io::Result<$std> {
                let l = self.source.into_inner();
                l.set_nonblocking(false)?;
                Ok(l)
            }

            /// A second handle to the same socket (a duplicated descriptor).
            pub fn try_clone(&self) -> std::io::Result<$ty> {
                Ok($ty {
                    source: crate::io::source::Source::new(self.source.get().try_clone()?),
                })
            }

            /// Takes the socket's pending error (`SO_ERROR`).
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.source.get().take_error()
            }
        }

        impl Iterator for Incoming<'_, $ty> {
            type Item = std::io::Result<$stream>;
            #[track_caller]
            fn next(&mut self) -> Option<Self::Item> {
                Some(self.listener.accept().map(|(s, _)| s))
            }
        }

        fd_traits!($ty);
    };
}

mod tcp;
mod udp;
mod unix;

/// Out of descriptors: say which limit was hit and how to raise it, keeping
/// the error kind. Other errors pass through unchanged.
pub(crate) fn explain_fd_limit(e: std::io::Error) -> std::io::Error {
    let limit = match e.raw_os_error() {
        Some(libc::EMFILE) => {
            "the process's open-file limit (RLIMIT_NOFILE); raise it with `ulimit -n`"
        }
        Some(libc::ENFILE) => "the system-wide open-file limit (fs.file-max)",
        _ => return e,
    };
    std::io::Error::new(
        e.kind(),
        format!("{e}: out of file descriptors, hit {limit}"),
    )
}

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

/// Looks up `host` (`"example.com:443"`, or any form `std`'s
/// `ToSocketAddrs` takes for a `String`) on the blocking pool, so that
/// only the calling fiber waits for the resolver: the addresses to pass to
/// [`TcpStream::connect`] (which, given a name itself, resolves it on the
/// calling thread).
///
/// ```
/// use selvedge::net::{lookup_host, TcpListener, TcpStream};
///
/// selvedge::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let port = listener.local_addr().unwrap().port();
///     let addrs = lookup_host(format!("localhost:{port}")).unwrap();
///     assert!(!addrs.is_empty());
///     let v4: Vec<_> = addrs.into_iter().filter(|a| a.is_ipv4()).collect();
///     let stream = TcpStream::connect(&v4[..]).unwrap();
///     assert_eq!(stream.peer_addr().unwrap().port(), port);
/// });
/// ```
#[track_caller]
pub fn lookup_host(host: impl Into<String>) -> std::io::Result<Vec<std::net::SocketAddr>> {
    crate::op::Op::perform(lookup_host_op(host))
}

/// The operation of [`lookup_host`], to race against a deadline or a
/// channel: if another branch wins, the lookup runs on and its result is
/// dropped.
pub fn lookup_host_op(
    host: impl Into<String>,
) -> impl crate::op::Op<Output = std::io::Result<Vec<std::net::SocketAddr>>> {
    let host = host.into();
    crate::blocking::blocking(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&host).map(|addrs| addrs.collect())
    })
}

/// The iterator of [`TcpListener::incoming`] and [`UnixListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a, L> {
    listener: &'a L,
}
