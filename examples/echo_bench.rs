//! Load generator for the echo server, written with selvedge itself: each
//! connection is a fiber that sends a message and waits for its echo (one
//! request outstanding per connection).
//!
//!     cargo run --release --example echo_bench -- [--addr HOST:PORT]
//!         [--connections 50] [--size 64] [--duration 5s] [--threads 1]
//!
//! Prints a live progress line, then requests/s and latency percentiles.
//! Exits non-zero if any connection failed or nothing was echoed.

#[path = "../benches/support/echo.rs"]
mod echo;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use echo::{parse_duration, run_load, Load};
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
