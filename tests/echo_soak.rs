//! The echo server example under load and under faults, as a separate
//! process driven from here: churn with random sizes, clients that reset,
//! half-close, never read, connect and vanish, thousands at once, a
//! server short of descriptors, and silent clients. Every byte must come
//! back, the server must keep serving the others, and its descriptors and
//! memory must come back down afterwards.
//!
//! The churn runs for `SELVEDGE_SOAK_SECS` seconds (2 by default, as CI
//! runs it; set a few minutes for a local soak).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use selvedge::{Handle, Runtime};

mod support;
use support::{raise_descriptor_limit, EchoServer};

/// Resident memory the server may keep after a churn, over what it had
/// before: its pool of idle fiber stacks (up to 1,024, whose touched pages
/// stay) and its allocator's caches.
const RSS_BOUND_KIB: usize = 64 * 1024;

fn soak_time() -> Duration {
    std::env::var("SELVEDGE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(Duration::from_secs(2), Duration::from_secs_f64)
}

/// A deterministic stream of numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// One client on a selvedge fiber: sends `len` bytes made from `seed`
/// (written by a second fiber while this one reads the echo), checks
/// every byte of the echo, and closes. Returns the bytes echoed.
fn fiber_client(addr: SocketAddr, seed: u64, len: usize) -> std::io::Result<usize> {
    let message: Vec<u8> = {
        let mut rng = Rng(seed | 1);
        (0..len).map(|_| rng.next() as u8).collect()
    };
    let conn = std::sync::Arc::new(selvedge::net::TcpStream::connect(addr)?);
    let writer = {
        let (conn, message) = (conn.clone(), message.clone());
        selvedge::spawn(move || -> std::io::Result<()> {
            (&*conn).write_all(&message)?;
            conn.shutdown(Shutdown::Write)
        })
    };
    let mut echo = Vec::with_capacity(len);
    (&*conn).read_to_end(&mut echo)?;
    writer.join().unwrap()?;
    if echo != message {
        return Err(std::io::Error::other(format!(
            "echo of {len} bytes differs ({} came back)",
            echo.len()
        )));
    }
    Ok(len)
}

/// Waves of 1,000 clients at once, each with 1 B to 64 KiB, for the soak
/// time; then the server's descriptors and memory come back down.
fn churn(server_args: &[&str]) {
    raise_descriptor_limit(4096);
    let server = EchoServer::start(server_args);
    let (fds_before, rss_before) = (server.descriptors(), server.rss_kib());
    let addr = server.addr;
    let rt = Runtime::builder().threads(2).build().unwrap();
    let until = Instant::now() + soak_time();
    let (connections, bytes) = rt.run(move || {
        let mut rng = Rng(0x5EED);
        let (mut connections, mut bytes) = (0, 0);
        while connections == 0 || Instant::now() < until {
            let clients: Vec<_> = (0..1000)
                .map(|_| {
                    let (seed, len) = (rng.next(), 1 + (rng.next() % 65_536) as usize);
                    Handle::current().spawn(move || fiber_client(addr, seed, len))
                })
                .collect();
            for client in clients {
                bytes += client.join().unwrap().unwrap();
                connections += 1;
            }
        }
        (connections, bytes)
    });
    server.assert_descriptors_return_to(fds_before, Duration::from_secs(10));
    let rss_after = server.rss_kib();
    eprintln!(
        "churn {server_args:?}: {connections} connections, {bytes} bytes; server RSS \
         {rss_before} KiB before, {rss_after} KiB after"
    );
    assert!(
        rss_after <= rss_before + RSS_BOUND_KIB,
        "RSS {rss_after} KiB after {connections} connections, {rss_before} KiB before"
    );
    let summary = server.stop();
    assert!(
        summary.contains(&format!("served {connections} connections")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("echoed {bytes} bytes")),
        "{summary}"
    );
}

#[test]
fn churn_with_random_sizes() {
    churn(&[]);
}

#[test]
fn churn_with_random_sizes_on_two_threads() {
    churn(&["--threads", "2"]);
}

/// Sends `message` and reads its echo back on a plain blocking socket.
fn echo_once(addr: SocketAddr, message: &[u8]) -> Vec<u8> {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(message).unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
    let mut echo = Vec::new();
    conn.read_to_end(&mut echo).unwrap();
    echo
}

#[test]
fn resets_half_closes_and_vanishing_clients_leave_the_others_served() {
    let server = EchoServer::start(&[]);
    let fds_before = server.descriptors();
    let addr = server.addr;
    for round in 0..50u8 {
        // Reset mid-message: half of 64 KiB sent, then an RST.
        let conn =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        conn.connect(&addr.into()).unwrap();
        let mut conn: TcpStream = conn.into();
        conn.write_all(&[round; 32 * 1024]).unwrap();
        socket2::SockRef::from(&conn)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(conn);
        // Connect and vanish: nothing sent.
        drop(TcpStream::connect(addr).unwrap());
        // Half-close: the echo still comes back in full.
        let message = vec![round; 1 + usize::from(round) * 100];
        assert_eq!(echo_once(addr, &message), message);
    }
    server.assert_descriptors_return_to(fds_before, Duration::from_secs(10));
    server.stop();
}

#[test]
fn a_client_that_never_reads_holds_bounded_memory() {
    let server = EchoServer::start(&[]);
    let (fds_before, rss_before) = (server.descriptors(), server.rss_kib());
    let conn = TcpStream::connect(server.addr).unwrap();
    conn.set_nonblocking(true).unwrap();
    // Write until the server has stopped reading because its echo cannot
    // be written (our receive buffer and its send buffer are full).
    let chunk = vec![7u8; 64 * 1024];
    let (mut sent, mut stuck_since) = (0usize, None::<Instant>);
    while stuck_since.is_none_or(|t| t.elapsed() < Duration::from_millis(300)) && sent < 256 << 20 {
        match (&conn).write(&chunk) {
            Ok(n) => {
                sent += n;
                stuck_since = None;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                stuck_since.get_or_insert_with(Instant::now);
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("write failed after {sent} bytes: {e}"),
        }
    }
    assert!(
        sent < 256 << 20,
        "the server read {sent} bytes without writing them back"
    );
    let rss = server.rss_kib();
    assert!(
        rss < rss_before + 8 * 1024,
        "RSS {rss} KiB, {rss_before} KiB before, after {sent} bytes"
    );
    // Everyone else is still served meanwhile.
    assert_eq!(echo_once(server.addr, b"others"), b"others");
    drop(conn);
    server.assert_descriptors_return_to(fds_before, Duration::from_secs(10));
    server.stop();
}

#[test]
fn five_thousand_connections_at_once() {
    let limit = raise_descriptor_limit(6000);
    // The client and the server each hold one descriptor per connection.
    let count = if limit >= 5100 {
        5000
    } else {
        eprintln!("descriptor limit {limit}: opening fewer than 5,000 connections");
        (limit as usize).saturating_sub(100)
    };
    let server = EchoServer::start(&[]);
    let fds_before = server.descriptors();
    let mut conns = Vec::with_capacity(count);
    for i in 0..count {
        let mut conn = TcpStream::connect(server.addr).unwrap();
        conn.write_all(&(i as u32).to_le_bytes()).unwrap();
        conns.push(conn);
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut echo = [0; 4];
        conn.read_exact(&mut echo).unwrap();
        assert_eq!(u32::from_le_bytes(echo), i as u32);
    }
    assert!(
        server.descriptors() >= fds_before + count,
        "all open at once"
    );
    drop(conns);
    server.assert_descriptors_return_to(fds_before, Duration::from_secs(30));
    let summary = server.stop();
    assert!(
        summary.contains(&format!("served {count} connections")),
        "{summary}"
    );
}

#[test]
fn out_of_descriptors_the_server_serves_the_others_and_recovers() {
    // 64 descriptors: the server's own dozen or so, and the rest for
    // connections; 80 clients then leave some waiting in the backlog.
    let server = EchoServer::start_limited(&[], Some(64));
    let mut open = Vec::new();
    for _ in 0..80 {
        open.push(TcpStream::connect(server.addr).unwrap());
    }
    std::thread::sleep(Duration::from_millis(300)); // accept runs out
                                                    // No busy loop while it is out of descriptors.
    let ticks_per_sec = {
        // SAFETY: sysconf has no preconditions.
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        u64::try_from(t).unwrap_or(100)
    };
    let before = server.cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let spent = server.cpu_ticks() - before;
    assert!(
        spent * 5 < ticks_per_sec,
        "{spent} ticks of CPU in a second out of descriptors"
    );
    // The accepted connections are served meanwhile.
    let mut served = 0;
    for conn in open.iter_mut() {
        conn.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        if conn.write_all(b"x").is_ok() {
            let mut echo = [0];
            if conn.read_exact(&mut echo).is_ok() {
                served += 1;
            }
        }
    }
    assert!(
        (30..80).contains(&served),
        "{served} of 80 served with 64 descriptors"
    );
    // Descriptors free up: the waiting clients are accepted and served.
    open.truncate(20);
    drop(open);
    for i in 0..40u8 {
        assert_eq!(echo_once(server.addr, &[i; 3]), [i; 3]);
    }
    server.stop();
}

#[test]
fn silent_clients_are_closed_after_the_idle_time() {
    let server = EchoServer::start(&["--idle", "0.3"]);
    let fds_before = server.descriptors();
    let mut silent = TcpStream::connect(server.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut talker = TcpStream::connect(server.addr).unwrap();
    talker
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    // The talker speaks every 100 ms for a second and stays open.
    for i in 0..10u8 {
        talker.write_all(&[i]).unwrap();
        let mut echo = [0];
        talker.read_exact(&mut echo).unwrap();
        assert_eq!(echo, [i]);
        std::thread::sleep(Duration::from_millis(100));
    }
    // The silent one was closed meanwhile: it reads end-of-file.
    let mut rest = Vec::new();
    assert_eq!(silent.read_to_end(&mut rest).unwrap(), 0);
    assert!(started.elapsed() >= Duration::from_millis(300));
    drop(talker);
    server.assert_descriptors_return_to(fds_before, Duration::from_secs(10));
    let summary = server.stop();
    assert!(summary.contains("1 for staying idle"), "{summary}");
}
