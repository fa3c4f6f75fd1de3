//! The timer workloads: many sleepers at once, and timers and I/O beside
//! a fiber that computes between yields.

use std::time::{Duration, Instant};

use selvedge::{spawn, Op};

use crate::{kernel, tokio_rt, Suite};

/// The sleeps of the timer workload: `n` pseudo-random 0–100 ms durations
/// (the same for every runtime).
fn sleep_plan(n: u64) -> Vec<Duration> {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            Duration::from_micros(seed % 100_000)
        })
        .collect()
}

/// How late one sleeper woke: past its own deadline as it saw it when it
/// began to sleep (timer overshoot), and past the plan (start + its sleep,
/// which includes the time the runtime took to start it).
struct Lateness {
    overshoot: Duration,
    behind_plan: Duration,
}

impl Lateness {
    /// `due` is start + the planned sleep; the sleeper began at `began` and
    /// woke at `now`. A sleeper that began after `due` should not wait.
    fn new(due: Instant, began: Instant, now: Instant) -> Lateness {
        Lateness {
            overshoot: now.saturating_duration_since(due.max(began)),
            behind_plan: now.saturating_duration_since(due),
        }
    }
}

/// In ms: wall time past the longest sleep, overshoot p50 and p99, and
/// p99 behind the plan.
fn timer_summary(plan: &[Duration], wall: Duration, late: Vec<Lateness>) -> [f64; 4] {
    let longest = plan.iter().max().copied().unwrap_or_default();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let sorted = |f: fn(&Lateness) -> Duration| {
        let mut v: Vec<Duration> = late.iter().map(f).collect();
        v.sort_unstable();
        v
    };
    let over = sorted(|l| l.overshoot);
    let behind = sorted(|l| l.behind_plan);
    let p = |v: &[Duration], q: usize| ms(v[v.len() * q / 100]);
    [
        ms(wall.saturating_sub(longest)),
        p(&over, 50),
        p(&over, 99),
        p(&behind, 99),
    ]
}

fn timers_selvedge(rt: &selvedge::Runtime, plan: &[Duration]) -> [f64; 4] {
    rt.run(|| {
        let start = Instant::now();
        let sleepers: Vec<_> = plan
            .iter()
            .map(|&d| {
                spawn(move || {
                    let began = Instant::now();
                    let due = start + d;
                    selvedge::at(due).perform();
                    Lateness::new(due, began, Instant::now())
                })
            })
            .collect();
        let late = sleepers.into_iter().map(|h| h.join().unwrap()).collect();
        timer_summary(plan, start.elapsed(), late)
    })
}

fn timers_tokio(plan: &[Duration]) -> [f64; 4] {
    tokio_rt().block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = plan
            .iter()
            .map(|&d| {
                tokio::spawn(async move {
                    let began = Instant::now();
                    let due = start + d;
                    tokio::time::sleep_until(due.into()).await;
                    Lateness::new(due, began, Instant::now())
                })
            })
            .collect();
        let mut late = Vec::new();
        for h in handles {
            late.push(h.await.unwrap());
        }
        timer_summary(plan, start.elapsed(), late)
    })
}

pub(crate) fn timers(s: &mut Suite) {
    const LABELS: [[&str; 4]; 2] = [
        [
            "selvedge: wall past the longest sleep",
            "selvedge: overshoot p50",
            "selvedge: overshoot p99",
            "selvedge: behind plan p99",
        ],
        [
            "tokio: wall past the longest sleep",
            "tokio: overshoot p50",
            "tokio: overshoot p99",
            "tokio: behind plan p99",
        ],
    ];
    for (n, name) in [(20_000u64, "timers 20k"), (100_000, "timers 100k")] {
        let n = if s.quick { n / 100 } else { n };
        let mut builder = selvedge::Runtime::builder();
        if n * 2 + 1000 > kernel::max_map_count() as u64 && !kernel::has_guard_regions() {
            println!(
                "  {name:<16} runs on unguarded stacks: without guard regions (Linux \
                 6.13+), {n} live guarded fibers need vm.max_map_count > {}",
                n * 2 + 1000
            );
            // SAFETY: a sleeper reads the clock and performs one timer op,
            // a few KiB of stack at most, far below the 256 KiB default.
            builder = unsafe { builder.unguarded_stacks() };
        }
        let rt = builder.build().expect("a runtime");
        let plan = sleep_plan(n);
        let results = [timers_selvedge(&rt, &plan), timers_tokio(&plan)];
        for (labels, values) in LABELS.iter().zip(results) {
            for (label, value) in labels.iter().zip(values) {
                s.add(name, label, value, "ms");
            }
        }
    }
}

/// How long the busy task computes between yields.
const BUSY_SLICE: Duration = Duration::from_millis(1);
/// The sleep whose lateness is measured.
const BUSY_SLEEP: Duration = Duration::from_millis(5);

/// Computes for one `BUSY_SLICE`.
fn busy_slice() {
    let until = Instant::now() + BUSY_SLICE;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// p50 and p99 of `samples`, in milliseconds.
fn p50_p99_ms(mut samples: Vec<Duration>) -> [f64; 2] {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    [at(0.5), at(0.99)]
}

/// An echo server on a plain thread, for one connection: the peer of the
/// round trips in `busy`.
fn echo_thread() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_nodelay(true).unwrap();
        let mut byte = [0];
        while conn.read_exact(&mut byte).is_ok() && conn.write_all(&byte).is_ok() {}
    });
    addr
}

/// A task that computes in 1 ms slices and yields between them, beside a
/// task that sleeps 5 ms at a time (how late it wakes) and then makes TCP
/// round trips over loopback to an echo server on another thread (how long
/// each takes), on one scheduler: the latency a busy task costs timers and
/// I/O.
pub(crate) fn busy(s: &mut Suite) {
    use std::cell::Cell;
    use std::io::{Read, Write};
    use std::rc::Rc;
    let samples = if s.quick { 3 } else { 100 };
    let [sleep, rtt] = selvedge::run(|| {
        let stop = Rc::new(Cell::new(false));
        let busy = {
            let stop = stop.clone();
            spawn(move || {
                while !stop.get() {
                    busy_slice();
                    selvedge::yield_now();
                }
            })
        };
        let late: Vec<Duration> = (0..samples)
            .map(|_| {
                let began = Instant::now();
                selvedge::sleep(BUSY_SLEEP);
                began.elapsed() - BUSY_SLEEP
            })
            .collect();
        let mut client = selvedge::net::TcpStream::connect(echo_thread()).unwrap();
        client.set_nodelay(true).unwrap();
        let trips: Vec<Duration> = (0..samples)
            .map(|_| {
                let began = Instant::now();
                client.write_all(&[1]).unwrap();
                client.read_exact(&mut [0]).unwrap();
                began.elapsed()
            })
            .collect();
        stop.set(true);
        busy.join().unwrap();
        [p50_p99_ms(late), p50_p99_ms(trips)]
    });
    let [tokio_sleep, tokio_rtt] = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let busy = {
                let stop = stop.clone();
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        busy_slice();
                        tokio::task::yield_now().await;
                    }
                })
            };
            let mut late = Vec::new();
            for _ in 0..samples {
                let began = Instant::now();
                tokio::time::sleep(BUSY_SLEEP).await;
                late.push(began.elapsed() - BUSY_SLEEP);
            }
            let mut client = tokio::net::TcpStream::connect(echo_thread()).await.unwrap();
            client.set_nodelay(true).unwrap();
            let mut trips = Vec::new();
            for _ in 0..samples {
                let began = Instant::now();
                client.write_all(&[1]).await.unwrap();
                client.read_exact(&mut [0]).await.unwrap();
                trips.push(began.elapsed());
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            busy.await.unwrap();
            [p50_p99_ms(late), p50_p99_ms(trips)]
        });
    for (who, [p50, p99], [t50, t99]) in [
        ("selvedge", sleep, rtt),
        ("tokio current_thread", tokio_sleep, tokio_rtt),
    ] {
        s.add("busy sleep p50", who, p50, "ms late");
        s.add("busy sleep p99", who, p99, "ms late");
        s.add("busy rtt p50", who, t50, "ms");
        s.add("busy rtt p99", who, t99, "ms");
    }
}
