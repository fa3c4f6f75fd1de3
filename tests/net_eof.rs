//! End-of-file and errors are never lost by the readiness bookkeeping: a
//! short read must not hide a peer's FIN that the poller already reported,
//! whatever the buffer size, for TCP and Unix sockets alike.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use selvedge::net::{TcpListener, TcpStream, UnixStream};
use selvedge::{spawn, yield_now};

/// How long a read may wait before the test calls it lost: far longer
/// than a loopback FIN takes, short enough to fail fast.
const LOST: Duration = Duration::from_secs(3);

/// A connected pair of streams of one kind, made in a fiber.
trait Pair: Read + Write + Sized + 'static {
    fn pair() -> (Self, Self);
    fn set_read_timeout(&self, t: Option<Duration>);
    fn shutdown_write(&self);
}

impl Pair for TcpStream {
    fn pair() -> (Self, Self) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }
    fn set_read_timeout(&self, t: Option<Duration>) {
        TcpStream::set_read_timeout(self, t).unwrap();
    }
    fn shutdown_write(&self) {
        self.shutdown(Shutdown::Write).unwrap();
    }
}

impl Pair for UnixStream {
    fn pair() -> (Self, Self) {
        UnixStream::pair().unwrap()
    }
    fn set_read_timeout(&self, t: Option<Duration>) {
        UnixStream::set_read_timeout(self, t).unwrap();
    }
    fn shutdown_write(&self) {
        self.shutdown(Shutdown::Write).unwrap();
    }
}

/// A reader waits; the peer then writes 100 bytes and shuts its write side
/// down before the scheduler polls again, so one poll reports both. The
/// reader reads with a `buffer`-byte buffer until end-of-file: the bytes it
/// got, or the error that ended it.
fn read_after_data_and_fin<S: Pair>(buffer: usize) -> Result<usize, ErrorKind> {
    selvedge::run(move || {
        let (reader, peer) = S::pair();
        reader.set_read_timeout(Some(LOST));
        let reading = spawn(move || {
            let mut reader = reader;
            let mut buf = vec![0; buffer];
            let mut total = 0;
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => return Ok(total),
                    Ok(n) => total += n,
                    Err(e) => return Err(e.kind()),
                }
            }
        });
        yield_now(); // the reader finds nothing and waits for readiness
        let mut peer = peer;
        peer.write_all(&[7; 100]).unwrap();
        peer.shutdown_write();
        // Both arrive before the reader's scheduler polls again.
        std::thread::sleep(Duration::from_millis(20));
        reading.join().unwrap()
    })
}

#[test]
fn tcp_eof_after_a_short_read_is_seen() {
    assert_eq!(read_after_data_and_fin::<TcpStream>(4096), Ok(100));
}

#[test]
fn tcp_eof_after_full_reads_is_seen() {
    assert_eq!(read_after_data_and_fin::<TcpStream>(50), Ok(100));
    assert_eq!(read_after_data_and_fin::<TcpStream>(100), Ok(100));
}

#[test]
fn unix_eof_after_a_short_read_is_seen() {
    assert_eq!(read_after_data_and_fin::<UnixStream>(4096), Ok(100));
}

#[test]
fn unix_eof_after_full_reads_is_seen() {
    assert_eq!(read_after_data_and_fin::<UnixStream>(50), Ok(100));
    assert_eq!(read_after_data_and_fin::<UnixStream>(100), Ok(100));
}

/// As `read_after_data_and_fin`, but the peer resets the connection
/// (`SO_LINGER` 0) instead of shutting down: the reader ends, with
/// end-of-file or the reset, and never waits for an event already gone.
#[test]
fn tcp_reset_after_a_short_read_is_seen() {
    let ended = selvedge::run(|| {
        let (reader, peer) = <TcpStream as Pair>::pair();
        reader.set_read_timeout(Some(LOST)).unwrap();
        let reading = spawn(move || {
            let mut reader = reader;
            let mut buf = vec![0; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e.kind()),
                }
            }
        });
        yield_now();
        let mut peer = peer;
        peer.write_all(&[7; 100]).unwrap();
        let peer = socket2::Socket::from(peer.into_std().unwrap());
        peer.set_linger(Some(Duration::ZERO)).unwrap();
        drop(peer); // sends a reset
        std::thread::sleep(Duration::from_millis(20));
        reading.join().unwrap()
    });
    assert!(
        matches!(ended, Ok(()) | Err(ErrorKind::ConnectionReset)),
        "{ended:?}"
    );
}
