//! An echo server: one fiber per connection, straight-line reads and writes.
//!
//!     cargo run --release --example echo_server [-- --addr HOST:PORT] [--threads N] [--idle SECS]
//!
//! Listens on 127.0.0.1:7000 by default. With `--threads N` there are N
//! schedulers (one per OS thread), each with a listener of its own on the
//! same port (`SO_REUSEPORT`): the kernel spreads connections over them,
//! and each connection's fiber stays on the scheduler that accepted it. A connection silent for `--idle` seconds (60 by
//! default; fractions allowed), or that stops reading for as long while
//! the server writes to it, is closed, so no client can hold a descriptor
//! for ever. Ctrl-C stops accepting, gives live connections a second
//! to finish, shuts down the rest (their fibers see end-of-file), and
//! prints a summary. Load it with `cargo run --release --example echo_bench`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use selvedge::net::{TcpListener, TcpStream, UnixStream};
use selvedge::{after, io, select, spawn, Condition, Handle, Op, Runtime};

/// How long live connections may go on after Ctrl-C.
const GRACE: Duration = Duration::from_secs(1);

/// How long a connection may stay silent by default.
const IDLE: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Stats {
    connections: AtomicU64,
    bytes: AtomicU64,
    /// Connections closed for staying silent.
    idle_closed: AtomicU64,
    next_id: AtomicU64,
    /// Open connections, so shutdown can close them.
    live: Mutex<HashMap<u64, Arc<TcpStream>>>,
}

fn main() -> ExitCode {
    let Args {
        addr,
        threads,
        idle,
    } = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!(
                "echo_server: {msg}\n\
                 usage: echo_server [--addr HOST:PORT] [--threads N] [--idle SECS]"
            );
            return ExitCode::from(2);
        }
    };
    let runtime = match Runtime::builder().threads(threads).build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("echo_server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.run(|| serve(addr, threads, idle)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(addr: SocketAddr, threads: usize, idle: Duration) -> std::io::Result<()> {
    // One listener per scheduler, on one port.
    let listener = if threads == 1 {
        TcpListener::bind(addr)?
    } else {
        TcpListener::bind_reuseport(addr)?
    };
    let addr = listener.local_addr()?;
    let others = (1..threads)
        .map(|_| TcpListener::bind_reuseport(addr))
        .collect::<std::io::Result<Vec<_>>>()?;
    let stop = ctrl_c()?;
    let stats = Arc::new(Stats::default());
    let handle = Handle::current();
    let mut acceptors = Vec::new();
    for (i, listener) in (1..).zip(others) {
        let (stop, stats) = (stop.clone(), stats.clone());
        acceptors.push(handle.spawn_on(i, move || accept(listener, &stop, &stats, idle)));
    }
    // Said once every listener is open: whoever reads it may count them.
    println!(
        "selvedge echo server listening on {addr} ({threads} scheduler thread{})",
        if threads == 1 { "" } else { "s" }
    );
    accept(listener, &stop, &stats, idle);
    for acceptor in acceptors {
        let _ = acceptor.join();
    }
    let deadline = Instant::now() + GRACE;
    while live(&stats) > 0 && Instant::now() < deadline {
        selvedge::sleep(Duration::from_millis(10));
    }
    let lingering = live(&stats);
    for conn in stats.live.lock().unwrap().values() {
        let _ = conn.shutdown(Shutdown::Both);
    }
    while live(&stats) > 0 {
        selvedge::sleep(Duration::from_millis(10));
    }
    println!(
        "stopped: served {} connections, echoed {} bytes ({lingering} closed at shutdown, \
         {} for staying idle)",
        stats.connections.load(Ordering::Relaxed),
        stats.bytes.load(Ordering::Relaxed),
        stats.idle_closed.load(Ordering::Relaxed),
    );
    Ok(())
}

/// Accepts connections on this scheduler until `stop`, each served by a
/// fiber of its own here.
fn accept(listener: TcpListener, stop: &Condition, stats: &Arc<Stats>, idle: Duration) {
    // Accept errors are reported once per run of them, not on every retry.
    let mut failing = false;
    loop {
        let accepted = select! {
            r = io::readable(&listener) => r.and_then(|()| listener.accept()),
            () = stop.wait_op() => break,
        };
        match accepted {
            Ok((conn, _peer)) => {
                failing = false;
                stats.connections.fetch_add(1, Ordering::Relaxed);
                let stats = stats.clone();
                spawn(move || connection(conn, &stats, idle));
            }
            Err(e) => {
                // Out of descriptors, typically: the error names the limit.
                // The listener stays readable, so back off instead of spinning.
                if !std::mem::replace(&mut failing, true) {
                    eprintln!("echo_server: accept failed: {e} (retrying every 100 ms)");
                }
                selvedge::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn live(stats: &Stats) -> usize {
    stats.live.lock().unwrap().len()
}

/// One connection's fiber. Whatever the client does (reset, half-close,
/// silence), only this fiber sees it.
fn connection(conn: TcpStream, stats: &Stats, idle: Duration) {
    let conn = Arc::new(conn);
    let id = stats.next_id.fetch_add(1, Ordering::Relaxed);
    stats.live.lock().unwrap().insert(id, conn.clone());
    let mut echoed = 0;
    // An error (a reset, say) ends only this connection; what it echoed
    // before still counts.
    match echo_connection(&conn, &mut echoed, idle) {
        Ok(Ended::Idle) => {
            stats.idle_closed.fetch_add(1, Ordering::Relaxed);
            let _ = conn.shutdown(Shutdown::Both);
        }
        Ok(Ended::Closed) | Err(_) => {}
    }
    stats.bytes.fetch_add(echoed, Ordering::Relaxed);
    stats.live.lock().unwrap().remove(&id);
}

/// Why a connection's echo loop ended.
enum Ended {
    /// The client closed its side.
    Closed,
    /// The client stayed silent for the idle time.
    Idle,
}

/// A condition signalled on the first SIGINT: the signal handler writes to
/// a socket pair, and a fiber waiting on the other end signals.
fn ctrl_c() -> std::io::Result<Condition> {
    let (rx, tx) = std::os::unix::net::UnixStream::pair()?;
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGINT, tx)?;
    let rx = UnixStream::from_std(rx)?;
    let stop = Condition::new();
    let signalled = stop.clone();
    spawn(move || {
        let _ = io::readable(&rx).perform();
        eprintln!("\necho_server: interrupted, shutting down");
        signalled.signal();
    });
    Ok(stop)
}

struct Args {
    addr: SocketAddr,
    threads: usize,
    idle: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let mut threads = 1;
    let mut idle = IDLE;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--addr" => {
                let v = value()?;
                addr = v.parse().map_err(|e| format!("bad --addr {v}: {e}"))?;
            }
            "--threads" => {
                let v = value()?;
                threads = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(format!("bad --threads {v}: a positive number"))?;
            }
            "--idle" => {
                let v = value()?;
                idle = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or(format!("bad --idle {v}: a positive number of seconds"))?;
            }
            "-h" | "--help" => return Err("an echo server on selvedge fibers".into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        addr,
        threads,
        idle,
    })
}

/// Echoes everything `conn` sends until it closes its side, counting the
/// bytes echoed in `echoed` (also when the connection fails), or until it
/// stays silent for `idle`: each read waits in a choice of the socket and
/// a deadline. A client that stops reading while the echo is written out
/// fails the write after as long (`set_write_timeout`). Only this
/// connection's fiber waits on it.
fn echo_connection(conn: &TcpStream, echoed: &mut u64, idle: Duration) -> std::io::Result<Ended> {
    conn.set_nodelay(true)?;
    conn.set_write_timeout(Some(idle))?;
    // Should a read find nothing after all, it waits no longer than that.
    conn.set_read_timeout(Some(idle))?;
    let mut buf = [0u8; 16 * 1024];
    loop {
        select! {
            ready = io::readable(conn) => ready?,
            () = after(idle) => return Ok(Ended::Idle),
        }
        let n = match (&*conn).read(&mut buf)? {
            0 => return Ok(Ended::Closed),
            n => n,
        };
        (&*conn).write_all(&buf[..n])?;
        *echoed += n as u64;
    }
}
