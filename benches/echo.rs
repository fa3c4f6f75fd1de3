//! Echo server throughput and latency: selvedge against tokio, with one
//! server thread each (tokio's current-thread runtime), then two (a
//! selvedge listener per scheduler on one port, tokio's multi-thread
//! runtime), driven by the same load generator (`examples/echo_bench.rs`'s,
//! on its own thread) in the same run. Reports requests/s, p99, and the
//! selvedge/tokio ratios.
//!
//!     cargo bench --bench echo [-- --quick] [-- --duration 5s]

// The example's load generator, shared this way round so that the
// example stands alone.
#[path = "../examples/echo_bench.rs"]
#[allow(dead_code)] // its `main` and argument parsing
mod echo_bench;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use echo_bench::load::{parse_duration, run_load, Load, Report};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn selvedge_server(threads: usize) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = selvedge::Runtime::builder()
            .threads(threads)
            .build()
            .unwrap();
        rt.run(|| {
            // One listener per scheduler on one port, as the example does.
            let bind = |addr| selvedge::net::TcpListener::bind_reuseport(addr).unwrap();
            let first = bind("127.0.0.1:0".parse().unwrap());
            let addr = first.local_addr().unwrap();
            let handle = selvedge::Handle::current();
            for i in 1..threads {
                let listener = bind(addr);
                handle.spawn_on(i, move || accept(listener));
            }
            tx.send(addr).unwrap();
            accept(first);
        })
    });
    rx.recv().unwrap()
}

fn accept(listener: selvedge::net::TcpListener) {
    for conn in listener.incoming() {
        let conn = conn.unwrap();
        selvedge::spawn(move || {
            let _ = echo_connection(&conn);
        });
    }
}

fn tokio_server(workers: usize) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = if workers == 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .unwrap()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_io()
                .build()
                .unwrap()
        };
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                conn.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if conn.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        })
    });
    rx.recv().unwrap()
}

fn measure(addr: SocketAddr, duration: Duration) -> Report {
    let load = Load {
        addr,
        connections: 50,
        size: 64,
        duration,
        progress: false,
    };
    let report = selvedge::run(|| run_load(&load));
    assert_eq!(report.errors, 0, "{:?}", report.first_error);
    assert!(report.requests > 0);
    report
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let duration = args
        .iter()
        .position(|a| a == "--duration")
        .and_then(|i| args.get(i + 1))
        .and_then(|d| parse_duration(d))
        .unwrap_or(if quick {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(5)
        });
    let rounds = if quick { 1 } else { 2 };
    println!("echo: 50 connections, 64-byte messages, {duration:?} per run, {rounds} round(s)");
    // One server thread each, then two: selvedge with a listener per
    // scheduler (SO_REUSEPORT), tokio's multi-thread runtime.
    for (threads, peer) in [(1, "tokio current_thread"), (2, "tokio multi_thread(2)")] {
        let servers = [
            (
                format!("selvedge threads({threads})"),
                selvedge_server(threads),
            ),
            (peer.to_string(), tokio_server(threads)),
        ];
        let mut best: [Option<Report>; 2] = [None, None];
        for round in 0..rounds {
            // Alternate the order, so drift on a shared machine hits both.
            let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let (name, addr) = &servers[i];
                let r = measure(*addr, duration);
                println!("  {name:>24}: {}", r.summary());
                if best[i]
                    .as_ref()
                    .is_none_or(|b| r.per_second() > b.per_second())
                {
                    best[i] = Some(r);
                }
            }
        }
        let [Some(s), Some(t)] = best else {
            unreachable!()
        };
        println!(
            "echo ratio selvedge/tokio, {threads} thread(s): throughput {:.2}x, p99 latency \
             {:.2}x (best run of each)",
            s.per_second() / t.per_second(),
            s.quantile(0.99).as_secs_f64() / t.quantile(0.99).as_secs_f64(),
        );
    }
}

/// The echo server's connection loop (as `examples/echo_server.rs`'s).
fn echo_connection(conn: &selvedge::net::TcpStream) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match (&*conn).read(&mut buf)? {
            0 => return Ok(()),
            n => n,
        };
        (&*conn).write_all(&buf[..n])?;
    }
}
