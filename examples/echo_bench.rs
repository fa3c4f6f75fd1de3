//! Load generator for the echo server, written with selvedge itself: each
//! connection is a fiber that sends a message and waits for its echo (one
//! request outstanding per connection).
//!
//!     cargo run --release --example echo_bench -- [--addr HOST:PORT]
//!         [--connections 50] [--size 64] [--duration 5s] [--threads 1]
//!
//! Prints a live progress line, then requests/s and latency percentiles.
//! Exits non-zero if any connection failed or nothing was echoed.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use load::{parse_duration, run_load, Load};
use selvedge::Runtime;

fn main() -> ExitCode {
    let (load, threads) = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!(
                "echo_bench: {msg}\nusage: echo_bench [--addr HOST:PORT] [--connections N] \
                 [--size BYTES] [--duration 5s] [--threads N]"
            );
            return ExitCode::from(2);
        }
    };
    println!(
        "echo_bench: {} connections, {}-byte messages, {:?} against {}",
        load.connections, load.size, load.duration, load.addr
    );
    let runtime = match Runtime::builder().threads(threads).build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("echo_bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.run(|| run_load(&load));
    println!("{}", report.summary());
    if let Some(e) = &report.first_error {
        eprintln!("echo_bench: first error: {e}");
    }
    if report.errors > 0 || report.requests == 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn parse_args() -> Result<(Load, usize), String> {
    let mut load = Load {
        addr: "127.0.0.1:7000".parse().unwrap(),
        connections: 50,
        size: 64,
        duration: Duration::from_secs(5),
        progress: true,
    };
    let mut threads = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let v = match arg.as_str() {
            "-h" | "--help" => return Err("an echo load generator on selvedge fibers".into()),
            _ => args.next().ok_or(format!("{arg} needs a value"))?,
        };
        let positive = |v: &str| v.parse::<usize>().ok().filter(|&n| n > 0);
        let bad = |what: &str| format!("bad {arg} {v}: {what}");
        match arg.as_str() {
            "--addr" => load.addr = resolve(&v).ok_or(bad("HOST:PORT"))?,
            "--connections" => load.connections = positive(&v).ok_or(bad("a positive number"))?,
            "--size" => load.size = positive(&v).ok_or(bad("a positive number of bytes"))?,
            "--duration" => load.duration = parse_duration(&v).ok_or(bad("like 5s or 500ms"))?,
            "--threads" => threads = positive(&v).ok_or(bad("a positive number"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok((load, threads))
}

fn resolve(s: &str) -> Option<SocketAddr> {
    s.to_socket_addrs().ok()?.next()
}

/// The load itself: each connection a fiber making request/echo round
/// trips until the time is up. (`cargo bench --bench echo` runs it too.)
pub(crate) mod load {
    use std::io::{self, Read, Write};
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use selvedge::net::TcpStream;
    use selvedge::{spawn, Handle};

    /// What the load generator does.
    #[derive(Clone, Debug)]
    pub(crate) struct Load {
        pub(crate) addr: SocketAddr,
        pub(crate) connections: usize,
        pub(crate) size: usize,
        pub(crate) duration: Duration,
        /// Print a live progress line (to stderr) every second.
        pub(crate) progress: bool,
    }

    /// What the load generator measured.
    #[derive(Debug)]
    pub(crate) struct Report {
        pub(crate) requests: u64,
        pub(crate) errors: u64,
        pub(crate) first_error: Option<String>,
        pub(crate) elapsed: Duration,
        /// Round-trip latencies in nanoseconds, sorted.
        pub(crate) latencies: Vec<u64>,
    }

    impl Report {
        pub(crate) fn per_second(&self) -> f64 {
            self.requests as f64 / self.elapsed.as_secs_f64()
        }

        /// The latency at quantile `q` (0..=1).
        pub(crate) fn quantile(&self, q: f64) -> Duration {
            if self.latencies.is_empty() {
                return Duration::ZERO;
            }
            let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
            Duration::from_nanos(self.latencies[i])
        }

        pub(crate) fn summary(&self) -> String {
            format!(
                "{} requests in {:.2} s: {:.0} req/s, latency p50 {:?}, p99 {:?}, max {:?}, errors {}",
                self.requests,
                self.elapsed.as_secs_f64(),
                self.per_second(),
                self.quantile(0.5),
                self.quantile(0.99),
                self.quantile(1.0),
                self.errors,
            )
        }
    }

    /// One connection's share of the load: request/echo round trips, one
    /// outstanding at a time, until `end`.
    fn client(load: &Load, end: Instant, done: &AtomicU64) -> io::Result<Vec<u64>> {
        let conn = TcpStream::connect(load.addr)?;
        conn.set_nodelay(true)?;
        // A server that stops answering fails the run instead of hanging it.
        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
        let msg: Vec<u8> = (0..load.size).map(|i| (i % 251) as u8).collect();
        let mut back = vec![0u8; load.size];
        let mut latencies = Vec::with_capacity(1 << 16);
        loop {
            let start = Instant::now();
            if start >= end {
                return Ok(latencies);
            }
            (&conn).write_all(&msg)?;
            (&conn).read_exact(&mut back)?;
            latencies.push(start.elapsed().as_nanos() as u64);
            done.fetch_add(1, Ordering::Relaxed);
            if back != msg {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "echo differs"));
            }
        }
    }

    /// Runs the load; call from inside a selvedge runtime. Clients are placed
    /// on the runtime's schedulers by `Handle::spawn`.
    pub(crate) fn run_load(load: &Load) -> Report {
        let started = Instant::now();
        let end = started + load.duration;
        let done = Arc::new(AtomicU64::new(0));
        let clients: Vec<_> = (0..load.connections)
            .map(|_| {
                let (load, done) = (load.clone(), done.clone());
                Handle::current().spawn(move || client(&load, end, &done))
            })
            .collect();
        let progress = load.progress.then(|| {
            let done = done.clone();
            spawn(move || {
                let mut last = 0;
                let mut second = 0;
                while Instant::now() + Duration::from_secs(1) <= end {
                    selvedge::sleep(Duration::from_secs(1));
                    second += 1;
                    let now = done.load(Ordering::Relaxed);
                    eprint!("\r  [{second:>3} s] {:>9} req/s", now - last);
                    last = now;
                }
                eprintln!();
            })
        });
        let mut report = Report {
            requests: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            latencies: Vec::new(),
        };
        for c in clients {
            match c.join() {
                Ok(Ok(lat)) => report.latencies.extend(lat),
                Ok(Err(e)) => {
                    report.errors += 1;
                    report.first_error.get_or_insert_with(|| e.to_string());
                }
                Err(panic) => {
                    report.errors += 1;
                    report
                        .first_error
                        .get_or_insert_with(|| format!("{panic:?}"));
                }
            }
        }
        if let Some(p) = progress {
            p.join().unwrap();
        }
        report.elapsed = started.elapsed();
        report.requests = report.latencies.len() as u64;
        report.latencies.sort_unstable();
        report
    }

    /// Parses `5s`, `500ms` or a bare number of seconds.
    pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
        if let Some(ms) = s.strip_suffix("ms") {
            return ms.parse().ok().map(Duration::from_millis);
        }
        let secs = s.strip_suffix('s').unwrap_or(s);
        secs.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
    }
}
