//! The chat example (`examples/chat.rs`) as a process: three clients join,
//! one line reaches the other two, and a silent client is dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::Duration;

mod support;

/// The chat server, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(idle_secs: &str) -> Server {
    let mut command = support::example("chat");
    let mut child = command
        .args(["--addr", "127.0.0.1:0", "--idle", idle_secs])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Server { child, addr }
}

/// A client: connected, named.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn join(addr: SocketAddr, name: &str) -> Client {
        let conn = TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut client = Client {
            writer: conn.try_clone().unwrap(),
            reader: BufReader::new(conn),
        };
        let mut prompt = [0; 6];
        client.reader.read_exact(&mut prompt).unwrap();
        assert_eq!(&prompt, b"name? ");
        client.say(name);
        client
    }

    fn say(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    /// Reads lines until one equals `want` (or the connection ends, or the
    /// read times out: then it fails).
    fn expect(&mut self, want: &str) {
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => panic!("connection ended before {want:?}; saw {seen:?}"),
                Ok(_) if line.trim_end() == want => return,
                Ok(_) => seen.push(line),
                Err(e) => panic!("{e} before {want:?}; saw {seen:?}"),
            }
        }
    }

    /// True if the server closes the connection (after its last lines).
    fn closed(&mut self) -> bool {
        let mut rest = String::new();
        self.reader.read_to_string(&mut rest).is_ok()
    }
}

#[test]
fn three_clients_share_lines_and_a_silent_one_is_dropped() {
    // Long enough for a slow machine (qemu) to join all three first.
    let server = start("3");
    let mut a = Client::join(server.addr, "ann");
    let mut b = Client::join(server.addr, "bob");
    a.expect("* bob joined");
    let mut c = Client::join(server.addr, "cat");
    a.expect("* cat joined");
    b.expect("* cat joined");

    a.say("hello, all");
    b.expect("ann: hello, all");
    c.expect("ann: hello, all");
    b.say("hi ann");
    a.expect("bob: hi ann");
    c.expect("bob: hi ann");

    // Everyone now goes silent: each is told and dropped after the idle
    // time, and the others hear that they left.
    c.expect("* idle for too long, bye");
    assert!(c.closed());
    a.expect("* idle for too long, bye");
    assert!(a.closed());
    b.expect("* idle for too long, bye");
    assert!(b.closed());
}
