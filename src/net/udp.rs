//! UDP: `UdpSocket`.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::io::source::{read_never_drains, Source};
use crate::runtime::io::table::Dir;

/// A UDP socket whose sends and receives suspend only the calling fiber
/// (and block a plain thread), in `std::net::UdpSocket`'s shape.
///
/// ```
/// use selvedge::net::UdpSocket;
///
/// selvedge::run(|| {
///     let server = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let addr = server.local_addr().unwrap();
///     let echo = selvedge::spawn(move || {
///         let mut buf = [0; 64];
///         let (n, from) = server.recv_from(&mut buf).unwrap(); // waits here
///         server.send_to(&buf[..n], from).unwrap();
///     });
///     let client = UdpSocket::bind("127.0.0.1:0").unwrap();
///     client.connect(addr).unwrap();
///     client.send(b"ping").unwrap();
///     let mut buf = [0; 64];
///     let n = client.recv(&mut buf).unwrap();
///     assert_eq!(&buf[..n], b"ping");
///     echo.join().unwrap();
/// });
/// ```
pub struct UdpSocket {
    source: Source<std::net::UdpSocket>,
}

fd_traits!(UdpSocket);

/// A send that succeeds never shows the socket's buffer full.
fn send_never_drains(_: &usize) -> bool {
    false
}

impl UdpSocket {
    /// Binds to `addr` (the first of its addresses that works). Port 0
    /// asks the system for a free port; see [`local_addr`](Self::local_addr).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let s = std::net::UdpSocket::bind(addr).map_err(super::explain_fd_limit)?;
        UdpSocket::from_std(s)
    }

    /// Wraps a std socket, switching it to non-blocking mode.
    pub fn from_std(s: std::net::UdpSocket) -> io::Result<UdpSocket> {
        s.set_nonblocking(true)?;
        Ok(UdpSocket {
            source: Source::new(s),
        })
    }

    /// Unwraps into a std socket, back in blocking mode.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let s = self.source.into_inner();
        s.set_nonblocking(false)?;
        Ok(s)
    }

    /// Sets the peer that [`send`](Self::send) sends to and the only one
    /// [`recv`](Self::recv) receives from.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.source.get().connect(addr)
    }

    /// Sends `buf` as one datagram to the connected peer.
    #[track_caller]
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.source
            .io(Dir::Write, |s| s.send(buf), send_never_drains)
    }

    /// Receives one datagram from the connected peer, suspending the
    /// calling fiber until one arrives; a datagram longer than `buf` is
    /// cut short.
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source
            .io(Dir::Read, |s| s.recv(buf), read_never_drains)
    }

    /// Sends `buf` as one datagram to `addr` (its first address).
    #[track_caller]
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let to: SocketAddr = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.source
            .io(Dir::Write, |s| s.send_to(buf, to), send_never_drains)
    }

    /// Receives one datagram and the address it came from, suspending the
    /// calling fiber until one arrives.
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source.io(Dir::Read, |s| s.recv_from(buf), |_| false)
    }

    /// Like [`recv_from`](Self::recv_from), leaving the datagram queued.
    #[track_caller]
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source.io(Dir::Read, |s| s.peek_from(buf), |_| false)
    }

    /// The address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get().peer_addr()
    }

    /// A second handle to the same socket (a duplicated descriptor).
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        UdpSocket::from_std(self.source.get().try_clone()?)
    }

    /// Makes receives that wait longer than `t` fail with
    /// `ErrorKind::TimedOut`; `None` waits forever. Zero is an error.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.source.set_timeout(Dir::Read, t)
    }

    /// Like [`set_read_timeout`](Self::set_read_timeout), for sends.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.source.set_timeout(Dir::Write, t)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.timeout(Dir::Read))
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.timeout(Dir::Write))
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.source.get().set_broadcast(on)
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get().set_ttl(ttl)
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get().take_error()
    }
}
