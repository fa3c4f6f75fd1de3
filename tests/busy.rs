//! A fiber that computes between yields does not hold its scheduler's
//! timers and descriptors off: they are checked by time as well as by the
//! number of fibers run. Measured in slices of the busy fiber, not in
//! time, so the outcome does not depend on the host's speed.

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use selvedge::net::{TcpListener, TcpStream};
use selvedge::{spawn, yield_now};

/// A slice of the busy fiber: longer than any check budget.
const SLICE: Duration = Duration::from_millis(2);

/// Starts a fiber that computes in `SLICE`s, yielding between them, until
/// `stop` is set; it counts its slices.
fn busy(stop: Rc<Cell<bool>>) -> Rc<Cell<u32>> {
    let slices = Rc::new(Cell::new(0));
    let counted = slices.clone();
    spawn(move || {
        while !stop.get() {
            let until = Instant::now() + SLICE;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            counted.set(counted.get() + 1);
            yield_now();
        }
    });
    slices
}

#[test]
fn a_timer_fires_within_a_slice_or_two_of_a_busy_fiber() {
    let slices = selvedge::run(|| {
        let stop = Rc::new(Cell::new(false));
        let slices = busy(stop.clone());
        yield_now(); // the busy fiber is under way
        let before = slices.get();
        selvedge::sleep(Duration::from_millis(1));
        let waited = slices.get() - before;
        stop.set(true);
        waited
    });
    assert!(slices <= 3, "the timer waited {slices} busy slices");
}

#[test]
fn a_socket_round_trip_takes_a_slice_or_two_of_a_busy_fiber() {
    let slices = selvedge::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let echo = spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0; 64];
            let n = conn.read(&mut buf).unwrap();
            conn.write_all(&buf[..n]).unwrap();
        });
        let mut client = TcpStream::connect(addr).unwrap();
        yield_now(); // the echo fiber waits in accept, then in read
        let stop = Rc::new(Cell::new(false));
        let slices = busy(stop.clone());
        yield_now();
        let before = slices.get();
        client.write_all(b"ping").unwrap();
        let mut buf = [0; 4];
        client.read_exact(&mut buf).unwrap();
        let waited = slices.get() - before;
        assert_eq!(&buf, b"ping");
        stop.set(true);
        echo.join().unwrap();
        waited
    });
    assert!(slices <= 4, "the round trip waited {slices} busy slices");
}
