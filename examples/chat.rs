//! Step 6 of the guide (docs/guide.md): a TCP chat server. One fiber per
//! client and a hub fiber; each client's fiber waits, in one `select!`, on
//! its socket, on the hub's messages for it, and on an idle deadline.
//!
//!     cargo run --example chat [-- --addr 127.0.0.1:7070] [--idle SECS]
//!
//! Connect with `nc 127.0.0.1 7070`: the first line you type is your name,
//! every later line goes to everyone else. A client silent for `--idle`
//! seconds (300 by default) is disconnected.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use selvedge::net::{TcpListener, TcpStream};
use selvedge::{at, bounded, channel, io, select, spawn, Receiver, Sender};

/// What clients tell the hub.
enum Event {
    Join {
        id: u64,
        name: String,
        to_client: Sender<Arc<str>>,
    },
    Say {
        id: u64,
        text: String,
    },
    Leave {
        id: u64,
    },
}

/// How many lines a client may have waiting: a client that does not read
/// them is dropped rather than slow everyone down.
const BACKLOG: usize = 64;

fn main() {
    let (addr, idle) = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("chat: {e}\nusage: chat [--addr HOST:PORT] [--idle SECS]");
            std::process::exit(2);
        }
    };
    selvedge::run(|| {
        let listener = match TcpListener::bind(addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("chat: cannot listen on {addr}: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "chat server listening on {}",
            listener.local_addr().unwrap()
        );
        let (events, hub_events) = channel();
        spawn(move || hub(hub_events));
        for (id, conn) in (0..).zip(listener.incoming()) {
            match conn {
                Ok(conn) => {
                    let events = events.clone();
                    spawn(move || client(id, conn, events, idle));
                }
                Err(e) => eprintln!("chat: accept failed: {e}"),
            }
        }
    });
}

/// The hub: knows every client and passes each line to the others.
fn hub(events: Receiver<Event>) {
    let mut clients: HashMap<u64, (String, Sender<Arc<str>>)> = HashMap::new();
    for event in events.iter() {
        let (from, line): (u64, Arc<str>) = match event {
            Event::Join {
                id,
                name,
                to_client,
            } => {
                let line = format!("* {name} joined\n").into();
                clients.insert(id, (name, to_client));
                (id, line)
            }
            Event::Say { id, text } => match clients.get(&id) {
                Some((name, _)) => (id, format!("{name}: {text}\n").into()),
                None => continue,
            },
            Event::Leave { id } => match clients.remove(&id) {
                Some((name, _)) => (id, format!("* {name} left\n").into()),
                None => continue,
            },
        };
        // Never wait on a slow client: one whose backlog is full is
        // dropped (its fiber sees its channel close and hangs up).
        clients.retain(|&id, (_, to)| id == from || to.try_send(line.clone()).is_ok());
    }
}

/// One client's fiber: its name first, then lines both ways until it
/// hangs up, stays silent for `idle`, or falls too far behind.
fn client(id: u64, conn: TcpStream, events: Sender<Event>, idle: Duration) {
    let mut input = Lines::default();
    let _ = (&conn).write_all(b"name? ");
    let mut deadline = Instant::now() + idle;
    let name = loop {
        select! {
            r = io::readable(&conn) => {
                if r.is_err() || !input.fill(&conn) {
                    return;
                }
                deadline = Instant::now() + idle;
                if let Some(name) = input.next_line() {
                    break name;
                }
            },
            () = at(deadline) => return,
        }
    };
    let (to_client, from_hub) = bounded(BACKLOG);
    if events
        .send(Event::Join {
            id,
            name,
            to_client,
        })
        .is_err()
    {
        return;
    }
    loop {
        select! {
            r = io::readable(&conn) => {
                if r.is_err() || !input.fill(&conn) {
                    break; // hung up
                }
                deadline = Instant::now() + idle;
                while let Some(text) = input.next_line() {
                    let _ = events.send(Event::Say { id, text });
                }
            },
            line = from_hub.recv_op() => match line {
                Ok(line) => {
                    if (&conn).write_all(line.as_bytes()).is_err() {
                        break;
                    }
                }
                Err(_) => break, // dropped by the hub for falling behind
            },
            () = at(deadline) => {
                let _ = (&conn).write_all(b"* idle for too long, bye\n");
                break;
            },
        }
    }
    let _ = events.send(Event::Leave { id });
}

/// Bytes read from a client, cut into lines.
#[derive(Default)]
struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    /// Reads what the socket has; false at end-of-file or on an error.
    fn fill(&mut self, conn: &TcpStream) -> bool {
        let mut chunk = [0; 1024];
        match (&*conn).read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next complete line, without its line ending.
    fn next_line(&mut self) -> Option<String> {
        let end = self.buf.iter().position(|&b| b == b'\n')?;
        let line: Vec<u8> = self.buf.drain(..=end).collect();
        let text = String::from_utf8_lossy(&line);
        Some(text.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn args() -> Result<(SocketAddr, Duration), String> {
    let mut addr: SocketAddr = "127.0.0.1:7070".parse().unwrap();
    let mut idle = Duration::from_secs(300);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => {
                addr = value
                    .parse()
                    .map_err(|e| format!("bad --addr {value}: {e}"))?
            }
            "--idle" => {
                idle = value
                    .parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or(format!("bad --idle {value}: seconds, more than 0"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok((addr, idle))
}
