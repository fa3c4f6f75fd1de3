//! The echo server example (`cargo run --release --example echo_server`)
//! under churn, as a separate process: every byte comes back, and the
//! descriptors of connections that closed are given back.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

mod support;
use support::EchoServer;

/// Clients that send a message, half-close, read the echo to end-of-file
/// and close, `per_thread` each on `threads` threads at once. Returns how
/// many did not get their echo and end-of-file back.
fn half_closing_clients(addr: std::net::SocketAddr, threads: usize, per_thread: usize) -> usize {
    let clients: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut failed = 0;
                for i in 0..per_thread {
                    let message: Vec<u8> = (0..100).map(|b| (b + i + t) as u8).collect();
                    let ok = (|| -> std::io::Result<bool> {
                        let mut conn = TcpStream::connect(addr)?;
                        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
                        // Data and FIN back to back: one poll sees both.
                        conn.write_all(&message)?;
                        conn.shutdown(Shutdown::Write)?;
                        let mut echo = Vec::new();
                        conn.read_to_end(&mut echo)?;
                        Ok(echo == message)
                    })();
                    if !matches!(ok, Ok(true)) {
                        eprintln!("client {t}/{i}: {ok:?}");
                        failed += 1;
                    }
                }
                failed
            })
        })
        .collect();
    clients.into_iter().map(|c| c.join().unwrap()).sum()
}

#[test]
fn half_closing_clients_get_their_echo_and_their_descriptors_back() {
    let server = EchoServer::start(&[]);
    let baseline = server.descriptors();
    let failed = half_closing_clients(server.addr, 8, 150);
    assert_eq!(failed, 0, "clients without their echo and end-of-file");
    server.assert_descriptors_return_to(baseline, Duration::from_secs(10));
    let summary = server.stop();
    assert!(summary.contains("served 1200 connections"), "{summary}");
}
