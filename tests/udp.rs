//! UDP: an echo server in a fiber, clients in fibers and threads,
//! timeouts, readiness in a choice.

use selvedge::net::UdpSocket;
use selvedge::{after, io, run, spawn, Op, Runtime};
use std::time::Duration;

#[test]
fn an_echo_server_answers_fibers_and_threads() {
    let rt = Runtime::builder().threads(2).build().unwrap();
    rt.run(|| {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let (stop_tx, stop_rx) = selvedge::channel::<()>();
        let echo = spawn(move || {
            let mut buf = [0; 1500];
            let mut served = 0;
            loop {
                let got = io::readable(&server)
                    .wrap(|r| r.map(|()| true))
                    .or(stop_rx.recv_op().wrap(|_| Ok(false)))
                    .perform()
                    .unwrap();
                if !got {
                    return served;
                }
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
                served += 1;
            }
        });
        let client = move |i: u32| {
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            sock.connect(addr).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            for k in 0..20u32 {
                let msg = format!("{i}:{k}");
                sock.send(msg.as_bytes()).unwrap();
                let mut buf = [0; 64];
                let n = sock.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], msg.as_bytes());
            }
        };
        let handle = selvedge::Handle::current();
        let fibers: Vec<_> = (0..4).map(|i| handle.spawn(move || client(i))).collect();
        let (done_tx, done_rx) = selvedge::channel();
        let thread = std::thread::spawn(move || {
            client(99);
            done_tx.send(()).unwrap();
        });
        fibers.into_iter().for_each(|f| f.join().unwrap());
        done_rx.recv().unwrap();
        thread.join().unwrap();
        stop_tx.send(()).unwrap();
        assert_eq!(echo.join().unwrap(), 5 * 20);
    });
}

#[test]
fn a_receive_times_out_and_a_sent_datagram_arrives() {
    run(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        let mut buf = [0; 16];
        let e = a.recv_from(&mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        // A receive raced against a timer in a choice.
        let got = io::readable(&a)
            .wrap(|r| r.is_ok())
            .or(after(Duration::from_millis(5)).wrap(|()| false))
            .perform();
        assert!(!got);
        let b_addr = b.local_addr().unwrap();
        let a_addr = a.local_addr().unwrap();
        let waiter = spawn(move || {
            let mut buf = [0; 16];
            let (n, from) = b.peek_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&b"hi"[..], a_addr));
            let (n, _) = b.recv_from(&mut buf).unwrap();
            n
        });
        selvedge::yield_now(); // the waiter blocks first
        assert_eq!(a.send_to(b"hi", b_addr).unwrap(), 2);
        assert_eq!(waiter.join().unwrap(), 2);
        assert!(a.try_clone().unwrap().local_addr().unwrap() == a_addr);
        assert!(a.into_std().is_ok());
    });
}
