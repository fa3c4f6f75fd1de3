//! 500 concurrent connections on one scheduler. In its own test binary, so
//! its thousand descriptors stay within a default open-file limit (1024).

use std::io::{Read, Write};

use selvedge::net::{TcpListener, TcpStream};
use selvedge::spawn;

const CONNECTIONS: usize = 500;
const ROUNDS: usize = 20;

#[test]
fn five_hundred_connections_echo_correctly_on_one_scheduler() {
    let served = selvedge::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(move || {
            let conns: Vec<_> = (0..CONNECTIONS)
                .map(|_| {
                    let (mut conn, _) = listener.accept().unwrap();
                    spawn(move || {
                        let mut buf = [0; 256];
                        let mut echoed = 0;
                        loop {
                            match conn.read(&mut buf).unwrap() {
                                0 => return echoed,
                                n => {
                                    conn.write_all(&buf[..n]).unwrap();
                                    echoed += n;
                                }
                            }
                        }
                    })
                })
                .collect();
            conns.into_iter().map(|c| c.join().unwrap()).sum::<usize>()
        });
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|id| {
                spawn(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    for round in 0..ROUNDS {
                        // Every message names its connection and round, so
                        // a crossed wire or a stale wake shows as a mismatch.
                        let msg = format!("{id:04}:{round:02};");
                        c.write_all(msg.as_bytes()).unwrap();
                        let mut back = vec![0; msg.len()];
                        c.read_exact(&mut back).unwrap();
                        assert_eq!(back, msg.as_bytes());
                        selvedge::yield_now();
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap()
    });
    assert_eq!(served, CONNECTIONS * ROUNDS * "0000:00;".len());
}
