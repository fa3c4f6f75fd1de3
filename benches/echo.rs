//! Echo server throughput and latency: selvedge against tokio's
//! current-thread runtime, one server thread each, driven by the same load
//! generator (`examples/echo_bench.rs`'s, on its own thread) in the same
//! run. Reports requests/s, p99, and the selvedge/tokio ratios.
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

fn selvedge_server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        selvedge::run(|| {
            let listener = selvedge::net::TcpListener::bind("127.0.0.1:0").unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            for conn in listener.incoming() {
                let conn = conn.unwrap();
                selvedge::spawn(move || {
                    let _ = echo_connection(&conn);
                });
            }
        })
    });
    rx.recv().unwrap()
}

fn tokio_server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
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
    let servers = [("selvedge", selvedge_server()), ("tokio", tokio_server())];
    println!("echo: 50 connections, 64-byte messages, {duration:?} per run, {rounds} round(s)");
    let mut best: [Option<Report>; 2] = [None, None];
    for round in 0..rounds {
        // Alternate the order, so drift on a shared machine hits both.
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let (name, addr) = servers[i];
            let r = measure(addr, duration);
            println!("  {name:>8}: {}", r.summary());
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
        "echo ratio selvedge/tokio: throughput {:.2}x, p99 latency {:.2}x (best run of each)",
        s.per_second() / t.per_second(),
        s.quantile(0.99).as_secs_f64() / t.quantile(0.99).as_secs_f64(),
    );
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
