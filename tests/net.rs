//! TCP and Unix sockets: straight-line reads and writes that suspend only
//! the calling fiber.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use selvedge::net::{TcpListener, TcpStream, UnixStream};
use selvedge::{after, io, select, spawn};

fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

#[test]
fn a_socket_pair_is_filled_and_drained_by_two_fibers() {
    const TOTAL: usize = 8 << 20; // far more than the socket buffers hold
    selvedge::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        let writer = spawn(move || {
            let block: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
            let mut sent = 0;
            while sent < TOTAL {
                let n = (TOTAL - sent).min(block.len());
                (&a).write_all(&block[..n]).unwrap();
                sent += n;
            }
            sent
        });
        let mut buf = vec![0; 10_000];
        let mut got = 0usize;
        loop {
            let n = (&b).read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            for (i, &byte) in buf[..n].iter().enumerate() {
                assert_eq!(byte, ((got + i) % (64 * 1024) % 256) as u8);
            }
            got += n;
            if got == TOTAL {
                break;
            }
        }
        assert_eq!(writer.join().unwrap(), TOTAL);
        assert_eq!(got, TOTAL);
    });
}

#[test]
fn tcp_echo_between_fibers() {
    selvedge::run(|| {
        let (l, addr) = listener();
        let server = spawn(move || {
            let (mut conn, peer) = l.accept().unwrap();
            assert_eq!(conn.peer_addr().unwrap(), peer);
            let mut buf = [0; 1024];
            let mut echoed = 0;
            loop {
                let n = conn.read(&mut buf).unwrap();
                if n == 0 {
                    return echoed;
                }
                conn.write_all(&buf[..n]).unwrap();
                echoed += n;
            }
        });
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        assert_eq!(c.peer_addr().unwrap(), addr);
        for i in 0..100u32 {
            let msg = i.to_le_bytes();
            c.write_all(&msg).unwrap();
            let mut back = [0; 4];
            c.read_exact(&mut back).unwrap();
            assert_eq!(back, msg);
        }
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(server.join().unwrap(), 400);
    });
}

#[test]
fn accept_with_a_timeout() {
    selvedge::run(|| {
        let (l, addr) = listener();
        let accepted = select! {
            r = io::readable(&l) => Some(r),
            () = after(Duration::from_millis(20)) => None,
        };
        assert!(accepted.is_none(), "nobody connected");
        let client = spawn(move || TcpStream::connect(addr).unwrap());
        let accepted = select! {
            r = io::readable(&l) => { r.unwrap(); Some(l.accept().unwrap()) },
            () = after(Duration::from_secs(5)) => None,
        };
        let (_conn, peer) = accepted.expect("the client connected");
        assert_eq!(peer, client.join().unwrap().local_addr().unwrap());
    });
}

#[test]
fn the_peer_closing_gives_eof() {
    selvedge::run(|| {
        let (l, addr) = listener();
        let client = spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(b"bye").unwrap();
            // dropped: closed
        });
        let (mut conn, _) = l.accept().unwrap();
        client.join().unwrap();
        let mut all = Vec::new();
        conn.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"bye");
        assert_eq!(conn.read(&mut [0; 8]).unwrap(), 0);
    });
}

#[test]
fn a_refused_connect_fails_fast() {
    // Find a port nobody listens on: bind, note it, close.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    selvedge::run(move || {
        let started = Instant::now();
        let err = TcpStream::connect(addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        assert!(started.elapsed() < Duration::from_secs(2));
    });
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn shutting_down_a_socket_releases_its_waiting_reader_and_writer() {
    selvedge::run(|| {
        let (l, addr) = listener();
        let _peer = TcpStream::connect(addr).unwrap();
        let (conn, _) = l.accept().unwrap();
        // Fill the send side so a writer blocks; the peer never reads.
        conn.set_write_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let chunk = vec![0u8; 65536];
        while (&conn).write(&chunk).is_ok() {}
        conn.set_write_timeout(None).unwrap();
        let conn = Rc::new(conn);
        let reader = {
            let conn = conn.clone();
            spawn(move || (&*conn).read(&mut [0; 16]))
        };
        let writer = {
            let conn = conn.clone();
            spawn(move || (&*conn).write_all(&[1; 65536]))
        };
        selvedge::yield_now();
        assert!(!reader.is_finished() && !writer.is_finished());
        conn.shutdown(Shutdown::Both).unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), 0, "readers see EOF");
        assert!(writer.join().unwrap().is_err(), "writers see an error");
    });
}

#[test]
fn read_timeouts_fail_with_timed_out() {
    selvedge::run(|| {
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(a.set_read_timeout(Some(Duration::ZERO)).is_err());
        a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        assert_eq!(a.read_timeout().unwrap(), Some(Duration::from_millis(20)));
        let err = (&a).read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn sockets_work_on_plain_threads_too() {
    let (l, addr) = listener();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = l.accept().unwrap();
        let mut buf = [0; 5];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(&buf).unwrap();
    });
    selvedge::run(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"hello").unwrap();
        let mut back = [0; 5];
        c.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"hello");
    });
    server.join().unwrap();
}

#[test]
fn spurious_wakes_never_surface_as_would_block() {
    selvedge::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        let b = Rc::new(b);
        // Two readers wait on one socket; one byte arrives at a time, so
        // each wake finds one reader with nothing to read, which must wait
        // again rather than report WouldBlock.
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                spawn(move || {
                    let mut byte = [0; 1];
                    (&*b).read(&mut byte).map(|n| (n, byte[0]))
                })
            })
            .collect();
        selvedge::yield_now();
        (&a).write_all(&[1]).unwrap();
        selvedge::sleep(Duration::from_millis(5));
        (&a).write_all(&[2]).unwrap();
        let mut got: Vec<(usize, u8)> = readers
            .into_iter()
            .map(|r| r.join().unwrap().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, [(1, 1), (1, 2)]);
    });
}

#[test]
fn a_stream_dropped_on_another_thread_does_not_confuse_its_reused_number() {
    selvedge::run(|| {
        for round in 0..10u8 {
            let (a, b) = UnixStream::pair().unwrap();
            let writer = spawn(move || {
                selvedge::yield_now();
                (&a).write_all(&[round]).unwrap();
                a
            });
            let mut byte = [0; 1];
            (&b).read_exact(&mut byte).unwrap(); // waits: registers b
            assert_eq!(byte[0], round);
            let a = writer.join().unwrap();
            // Dropped elsewhere: this scheduler keeps a stale entry, and the
            // next round's pair most likely reuses both numbers.
            std::thread::spawn(move || drop((a, b))).join().unwrap();
        }
    });
}

#[test]
fn std_conversions_round_trip() {
    let (l, addr) = listener();
    let l = l.into_std().unwrap();
    let l = TcpListener::from_std(l).unwrap();
    l.set_ttl(42).unwrap();
    assert_eq!(l.ttl().unwrap(), 42);
    let c = TcpStream::connect(addr).unwrap();
    let (s, _) = l.accept().unwrap();
    let std_stream = s.into_std().unwrap();
    std_stream
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    // Blocking again: a read with nothing to read times out rather than
    // returning WouldBlock at once.
    let started = Instant::now();
    assert!((&std_stream).read(&mut [0; 1]).is_err());
    assert!(started.elapsed() >= Duration::from_millis(1));
    let clone = c.try_clone().unwrap();
    assert_eq!(clone.local_addr().unwrap(), c.local_addr().unwrap());
    let mut incoming = l.incoming();
    let _d = TcpStream::connect(addr).unwrap();
    assert!(incoming.next().unwrap().is_ok());
}
