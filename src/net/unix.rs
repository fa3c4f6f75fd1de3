//! Unix-domain stream sockets: `UnixListener` and `UnixStream`.

use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use super::Incoming;
use crate::io::source::Source;

/// A Unix-domain socket server, listening for connections.
pub struct UnixListener {
    source: Source<std::os::unix::net::UnixListener>,
}

/// A Unix-domain stream connection.
pub struct UnixStream {
    source: Source<std::os::unix::net::UnixStream>,
}

listener_common!(
    UnixListener,
    std::os::unix::net::UnixListener,
    UnixStream,
    SocketAddr
);
stream_common!(UnixStream, std::os::unix::net::UnixStream);

impl UnixListener {
    /// Binds to the socket file `path` and listens.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::from_std(std::os::unix::net::UnixListener::bind(path)?)
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get().local_addr()
    }
}

impl UnixStream {
    /// Connects to the socket file `path`. (A local connect completes at
    /// once or fails; it does not wait for the peer.)
    #[track_caller]
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        UnixStream::from_std(std::os::unix::net::UnixStream::connect(path)?)
    }

    /// A connected pair of sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// The address of the remote end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get().peer_addr()
    }

    /// The address of the local end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get().local_addr()
    }
}
