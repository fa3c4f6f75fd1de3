//! TCP: `TcpListener` and `TcpStream`.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::Incoming;
use crate::io::source::Source;
use crate::runtime::io::table::Dir;

/// A TCP socket server, listening for connections.
pub struct TcpListener {
    source: Source<std::net::TcpListener>,
}

/// A TCP connection.
pub struct TcpStream {
    source: Source<std::net::TcpStream>,
}

listener_common!(TcpListener, std::net::TcpListener, TcpStream, SocketAddr);
stream_common!(TcpStream, std::net::TcpStream);

impl TcpListener {
    /// Binds to `addr` (the first of its addresses that works) and listens.
    /// Port 0 asks the system for a free port; see [`local_addr`](Self::local_addr).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let l = std::net::TcpListener::bind(addr).map_err(super::explain_fd_limit)?;
        TcpListener::from_std(l)
    }

    /// Binds to `addr` with `SO_REUSEPORT` (and `SO_REUSEADDR`) and
    /// listens: several listeners, one per scheduler, may then share one
    /// port, and the kernel spreads new connections over them, so every
    /// scheduler accepts its own (each bound on its scheduler with
    /// [`Handle::spawn_on`](crate::Handle::spawn_on)). Bind the first to
    /// port 0 for a free port, and the others to its
    /// [`local_addr`](Self::local_addr). Linux 3.9 or later.
    ///
    /// ```
    /// use selvedge::net::{TcpListener, TcpStream};
    ///
    /// selvedge::run(|| {
    ///     let first = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let addr = first.local_addr().unwrap();
    ///     let second = TcpListener::bind_reuseport(addr).unwrap(); // the same port
    ///     assert_eq!(second.local_addr().unwrap(), addr);
    ///     let _client = TcpStream::connect(addr).unwrap();
    /// });
    /// ```
    pub fn bind_reuseport(addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::STREAM.nonblocking(),
            Some(Protocol::TCP),
        )
        .map_err(super::explain_fd_limit)?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.bind(&SockAddr::from(addr))?;
        socket.listen(1024)?;
        TcpListener::from_std(socket.into())
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get().local_addr()
    }

    /// Sets `IP_TTL` for accepted connections' packets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get().set_ttl(ttl)
    }

    /// The `IP_TTL` value.
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get().ttl()
    }
}

impl TcpStream {
    /// Connects to `addr`, trying each of its addresses in turn. The
    /// connect is non-blocking underneath: only the calling fiber waits, and
    /// a refused connection fails as soon as the kernel knows.
    ///
    /// A host *name* in `addr` is resolved by `std`'s blocking resolver on
    /// the calling thread, which holds up its scheduler's other fibers
    /// meanwhile (an arbitrary `ToSocketAddrs` cannot be handed to another
    /// thread). Resolve names with [`lookup_host`](super::lookup_host),
    /// which waits on the blocking pool, and connect to its addresses.
    #[track_caller]
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_addr(&a, None) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "could not resolve to any addresses",
            )
        }))
    }

    /// Connects to `addr`, failing with `ErrorKind::TimedOut` after
    /// `timeout`. Zero is an error, as in std.
    #[track_caller]
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_addr(addr, Some(timeout))
    }

    #[track_caller]
    fn connect_addr(addr: &SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let socket = Socket::new(
            Domain::for_address(*addr),
            Type::STREAM.nonblocking(),
            Some(Protocol::TCP),
        )
        .map_err(super::explain_fd_limit)?;
        let pending = match socket.connect(&SockAddr::from(*addr)) {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => true,
            Err(e) => return Err(e),
        };
        let stream = TcpStream::from_nonblocking(socket.into());
        if pending {
            stream.source.set_timeout(Dir::Write, timeout)?;
            let waited = stream.source.wait(Dir::Write);
            stream.source.set_timeout(Dir::Write, None)?;
            waited?;
            if let Some(e) = stream.take_error()? {
                return Err(e);
            }
        }
        Ok(stream)
    }

    /// The address of the remote end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get().peer_addr()
    }

    /// The address of the local end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when true).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.source.get().set_nodelay(nodelay)
    }

    /// The `TCP_NODELAY` value.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.source.get().nodelay()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get().set_ttl(ttl)
    }

    /// The `IP_TTL` value.
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get().ttl()
    }

    /// Receives data without removing it from the queue, waiting (the
    /// fiber only) until some arrives.
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source.io(Dir::Read, |s| s.peek(buf), |_| false)
    }
}
