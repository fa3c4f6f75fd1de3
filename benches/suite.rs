//! The benchmark suite: each workload on selvedge and on what users would
//! pick instead, in the same run, with the selvedge/peer ratio (below 1 is
//! selvedge ahead). Absolute times on shared machines drift; ratios hold.
//!
//!     cargo bench --bench suite                       # everything
//!     cargo bench --bench suite -- ring select4       # some workloads
//!     cargo bench --bench suite -- --quick            # CI: checks it runs
//!     cargo bench --bench suite -- --rounds 9         # more samples
//!     cargo bench --bench suite -- --svg docs/benchmarks.svg
//!
//! The suite runs in rounds (five by default, one with `--quick`): each
//! round runs every chosen workload on every runtime once, and the table
//! gives each number's median across rounds, its range, and the median of
//! the per-round selvedge/peer ratios.
//!
//! Workloads that report memory (skynet, parked_memory) run in a child
//! process each, so peak RSS belongs to that workload alone.

#[path = "support/floor.rs"]
mod floor;
#[path = "support/kernel.rs"]
mod kernel;
#[path = "support/minimal.rs"]
mod minimal;
#[path = "support/options.rs"]
mod options;
#[path = "support/report.rs"]
mod report;
mod support;
#[cfg(all(target_arch = "x86_64", unix))]
#[path = "support/symmetric.rs"]
mod symmetric;

use std::time::{Duration, Instant};

use options::Options;
use report::{chart_bars, ratio_table, target_table, Row, Series, TARGETS};
use selvedge::{after, channel, select, spawn, Op};
use support::{
    crossbeam_round_trips, ns, selvedge_cross_round_trips, selvedge_round_trips, std_round_trips,
};

struct Suite {
    quick: bool,
    rows: Vec<Row>,
}

impl Suite {
    fn scale(&self, full: u64) -> u64 {
        if self.quick {
            (full / 100).max(10)
        } else {
            full
        }
    }

    fn add(&mut self, workload: &'static str, who: &'static str, value: f64, unit: &'static str) {
        println!("  {workload:<16} {who:<34} {value:>12.1} {unit}");
        self.rows.push(Row {
            workload,
            who,
            value,
            unit,
        });
    }
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- pingpong

/// The peer that is selvedge's design with nothing else (`minimal.rs`).
const MINIMAL: &str = "minimal runtime, same design";

/// The peer that is a rendezvous with no logic around it (`floor.rs`).
const FLOOR: &str = "locks and switches alone (floor)";

/// The same runtime with fibers that switch straight to each other
/// (`symmetric.rs`, x86-64 only): what a switch of our own would buy.
#[cfg(all(target_arch = "x86_64", unix))]
fn symmetric(s: &mut Suite, workload: &'static str, unit: &'static str, ns: f64) {
    s.add(workload, "minimal runtime, symmetric switch", ns, unit);
}

fn pingpong(s: &mut Suite) {
    let n = s.scale(1_000_000);
    selvedge_round_trips(n / 10); // warm the stack pool
    s.add(
        "pingpong",
        "selvedge",
        ns(selvedge_round_trips(n), n),
        "ns/round trip",
    );
    let t = tokio_rt().block_on(async {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
        tokio::spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v + 1).await.unwrap();
            }
        });
        let start = Instant::now();
        let mut v = 0;
        for _ in 0..n {
            ping_tx.send(v).await.unwrap();
            v = pong_rx.recv().await.unwrap();
        }
        assert_eq!(v, n);
        start.elapsed()
    });
    s.add(
        "pingpong",
        "tokio current_thread mpsc(1)",
        ns(t, n),
        "ns/round trip",
    );
    s.add(
        "pingpong",
        MINIMAL,
        ns(minimal::minimal_round_trips::<minimal::CoroutineCx>(n), n),
        "ns/round trip",
    );
    #[cfg(all(target_arch = "x86_64", unix))]
    symmetric(
        s,
        "pingpong",
        "ns/round trip",
        ns(minimal::minimal_round_trips::<symmetric::DirectCx>(n), n),
    );
    s.add(
        "pingpong",
        FLOOR,
        ns(floor::floor_round_trips(n), n),
        "ns/round trip",
    );
    let m = (n / 10).max(10);
    s.add(
        "pingpong",
        "crossbeam bounded(0), 2 threads",
        ns(crossbeam_round_trips(m), m),
        "ns/round trip",
    );
    s.add(
        "pingpong",
        "std sync_channel(0), 2 threads",
        ns(std_round_trips(m), m),
        "ns/round trip",
    );
    let k = n * 10;
    let mut co = corosensei::Coroutine::new(|y: &corosensei::Yielder<(), ()>, ()| loop {
        y.suspend(());
    });
    let start = Instant::now();
    for _ in 0..k {
        co.resume(());
    }
    s.add(
        "pingpong",
        "corosensei resume+suspend (floor)",
        ns(start.elapsed(), k),
        "ns/switch pair",
    );
}

fn xpingpong(s: &mut Suite) {
    let n = s.scale(100_000);
    s.add(
        "xpingpong",
        "selvedge, 2 schedulers",
        ns(selvedge_cross_round_trips(n), n),
        "ns/round trip",
    );
    s.add(
        "xpingpong",
        "crossbeam bounded(0), 2 threads",
        ns(crossbeam_round_trips(n), n),
        "ns/round trip",
    );
    s.add(
        "xpingpong",
        "std sync_channel(0), 2 threads",
        ns(std_round_trips(n), n),
        "ns/round trip",
    );
}

// -------------------------------------------------------------------- ring

const RING: usize = 503;

fn ring(s: &mut Suite) {
    let hops = s.scale(1_000_000);
    let t = selvedge::run(|| {
        let (first_tx, mut prev_rx) = channel::<u64>();
        let (done_tx, done_rx) = channel::<()>();
        for _ in 1..RING {
            let (tx, rx) = channel::<u64>();
            let (done_tx, input) = (done_tx.clone(), std::mem::replace(&mut prev_rx, rx));
            spawn(move || relay(input, tx, done_tx));
        }
        let into_first = first_tx.clone();
        spawn(move || relay(prev_rx, into_first, done_tx));
        selvedge::yield_now(); // every relay is waiting
        let start = Instant::now();
        first_tx.send(hops).unwrap();
        done_rx.recv().unwrap();
        start.elapsed()
    });
    s.add("ring", "selvedge, 503 fibers", ns(t, hops), "ns/hop");
    let t = tokio_rt().block_on(async {
        let (first_tx, mut prev_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
        let relay = |mut rx: tokio::sync::mpsc::Receiver<u64>,
                     tx: tokio::sync::mpsc::Sender<u64>,
                     done: tokio::sync::mpsc::Sender<()>| async move {
            while let Some(v) = rx.recv().await {
                if v == 0 {
                    done.send(()).await.unwrap();
                    return;
                }
                if tx.send(v - 1).await.is_err() {
                    return;
                }
            }
        };
        for _ in 1..RING {
            let (tx, rx) = tokio::sync::mpsc::channel::<u64>(1);
            let input = std::mem::replace(&mut prev_rx, rx);
            tokio::spawn(relay(input, tx, done_tx.clone()));
        }
        tokio::spawn(relay(prev_rx, first_tx.clone(), done_tx));
        tokio::task::yield_now().await;
        let start = Instant::now();
        first_tx.send(hops).await.unwrap();
        done_rx.recv().await.unwrap();
        start.elapsed()
    });
    s.add(
        "ring",
        "tokio current_thread, 503 tasks",
        ns(t, hops),
        "ns/hop",
    );
    s.add(
        "ring",
        MINIMAL,
        ns(
            minimal::minimal_ring::<minimal::CoroutineCx>(RING, hops),
            hops,
        ),
        "ns/hop",
    );
    #[cfg(all(target_arch = "x86_64", unix))]
    symmetric(
        s,
        "ring",
        "ns/hop",
        ns(
            minimal::minimal_ring::<symmetric::DirectCx>(RING, hops),
            hops,
        ),
    );
    s.add(
        "ring",
        FLOOR,
        ns(floor::floor_ring(RING, hops), hops),
        "ns/hop",
    );
}

fn relay(input: selvedge::Receiver<u64>, out: selvedge::Sender<u64>, done: selvedge::Sender<()>) {
    for v in &input {
        if v == 0 {
            done.send(()).unwrap();
            return;
        }
        if out.send(v - 1).is_err() {
            return;
        }
    }
}

// ----------------------------------------------------------------- select

fn select4(s: &mut Suite) {
    let n = s.scale(1_000_000) / 4 * 4;
    let t = selvedge::run(|| {
        let rxs: Vec<_> = (0..4)
            .map(|_| {
                let (tx, rx) = channel::<u64>();
                // The sender is returned, not dropped: a disconnected
                // channel is always ready and would skew the choice.
                let keep = spawn(move || {
                    for i in 0..n / 4 {
                        tx.send(i).unwrap();
                    }
                    tx
                });
                (rx, keep)
            })
            .collect();
        let (rxs, _keep): (Vec<_>, Vec<_>) = rxs.into_iter().unzip();
        let start = Instant::now();
        let mut sum = 0;
        for _ in 0..n {
            sum += select! {
                v = rxs[0].recv_op() => v.unwrap(),
                v = rxs[1].recv_op() => v.unwrap(),
                v = rxs[2].recv_op() => v.unwrap(),
                v = rxs[3].recv_op() => v.unwrap(),
            };
        }
        assert_eq!(sum, 4 * (n / 4) * (n / 4 - 1) / 2);
        start.elapsed()
    });
    s.add("select4", "selvedge", ns(t, n), "ns/message");
    let t = tokio_rt().block_on(async {
        let (mut rxs, mut keep) = (Vec::new(), Vec::new());
        for _ in 0..4 {
            let (tx, rx) = tokio::sync::mpsc::channel::<u64>(1);
            keep.push(tokio::spawn(async move {
                for i in 0..n / 4 {
                    tx.send(i).await.unwrap();
                }
                tx
            }));
            rxs.push(rx);
        }
        let [mut a, mut b, mut c, mut d] = <[_; 4]>::try_from(rxs).unwrap();
        let start = Instant::now();
        let mut got = 0;
        while got < n {
            tokio::select! {
                Some(_) = a.recv() => got += 1,
                Some(_) = b.recv() => got += 1,
                Some(_) = c.recv() => got += 1,
                Some(_) = d.recv() => got += 1,
            }
        }
        let elapsed = start.elapsed();
        drop(keep);
        elapsed
    });
    s.add(
        "select4",
        "tokio current_thread select!",
        ns(t, n),
        "ns/message",
    );
    s.add(
        "select4",
        MINIMAL,
        ns(minimal::minimal_select4::<minimal::CoroutineCx>(n), n),
        "ns/message",
    );
    #[cfg(all(target_arch = "x86_64", unix))]
    symmetric(
        s,
        "select4",
        "ns/message",
        ns(minimal::minimal_select4::<symmetric::DirectCx>(n), n),
    );
    let m = (n / 10).max(4) / 4 * 4;
    let rxs: Vec<_> = (0..4)
        .map(|_| {
            let (tx, rx) = crossbeam_channel::bounded::<u64>(0);
            let keep = std::thread::spawn(move || {
                for i in 0..m / 4 {
                    tx.send(i).unwrap();
                }
                tx
            });
            (rx, keep)
        })
        .collect();
    let (rxs, _keep): (Vec<_>, Vec<_>) = rxs.into_iter().unzip();
    let start = Instant::now();
    for _ in 0..m {
        crossbeam_channel::select! {
            recv(rxs[0]) -> v => { v.unwrap(); },
            recv(rxs[1]) -> v => { v.unwrap(); },
            recv(rxs[2]) -> v => { v.unwrap(); },
            recv(rxs[3]) -> v => { v.unwrap(); },
        }
    }
    s.add(
        "select4",
        "crossbeam select!, 4 threads",
        ns(start.elapsed(), m),
        "ns/message",
    );
}

fn select_timeout(s: &mut Suite) {
    let n = s.scale(1_000_000);
    let run = |with_timer: bool| {
        selvedge::run(move || {
            let (tx, rx) = channel::<u64>();
            spawn(move || {
                for i in 0..n {
                    tx.send(i).unwrap();
                }
            });
            let start = Instant::now();
            for i in 0..n {
                let v = if with_timer {
                    rx.recv_op()
                        .wrap(|v| v.unwrap())
                        .or(after(Duration::from_secs(3600)).wrap(|()| unreachable!()))
                        .perform()
                } else {
                    select! { v = rx.recv_op() => v.unwrap() }
                };
                assert_eq!(v, i);
            }
            start.elapsed()
        })
    };
    let (timed, plain) = (ns(run(true), n), ns(run(false), n));
    s.add(
        "select_timeout",
        "selvedge recv or after(1h)",
        timed,
        "ns/message",
    );
    s.add(
        "select_timeout",
        "selvedge select over one channel",
        plain,
        "ns/message",
    );
    println!(
        "  select_timeout   with timer / without: {:.2} (target <= 1.5)",
        timed / plain
    );
    let t = tokio_rt().block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1);
        tokio::spawn(async move {
            for i in 0..n {
                tx.send(i).await.unwrap();
            }
        });
        let start = Instant::now();
        for _ in 0..n {
            tokio::time::timeout(Duration::from_secs(3600), rx.recv())
                .await
                .unwrap()
                .unwrap();
        }
        start.elapsed()
    });
    s.add(
        "select_timeout",
        "tokio timeout(1h, recv)",
        ns(t, n),
        "ns/message",
    );
}

// ------------------------------------------------------------ spawn_join

fn spawn_join(s: &mut Suite) {
    let n = s.scale(1_000_000);
    let t = selvedge::run(|| {
        spawn(|| ()).join().unwrap(); // one pooled stack
        let start = Instant::now();
        for i in 0..n {
            assert_eq!(spawn(move || i).join().unwrap(), i);
        }
        start.elapsed()
    });
    s.add("spawn_join", "selvedge", ns(t, n), "ns/spawn+join");
    s.add(
        "spawn_join",
        MINIMAL,
        ns(minimal::minimal_spawn_joins::<minimal::CoroutineCx>(n), n),
        "ns/spawn+join",
    );
    let t = tokio_rt().block_on(async {
        let start = Instant::now();
        for i in 0..n {
            assert_eq!(tokio::spawn(async move { i }).await.unwrap(), i);
        }
        start.elapsed()
    });
    s.add(
        "spawn_join",
        "tokio current_thread",
        ns(t, n),
        "ns/spawn+join",
    );
    let m = (n / 100).max(10);
    let start = Instant::now();
    for i in 0..m {
        assert_eq!(std::thread::spawn(move || i).join().unwrap(), i);
    }
    s.add(
        "spawn_join",
        "std::thread",
        ns(start.elapsed(), m),
        "ns/spawn+join",
    );
}

// ------------------------------------------------------------------ timers

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

fn timers(s: &mut Suite) {
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

// ------------------------------------------- memory (in child processes)

fn skynet_selvedge(out: selvedge::Sender<u64>, num: u64, size: u64) {
    if size == 1 {
        let _ = out.send(num);
        return;
    }
    let (tx, rx) = channel();
    let step = size / 10;
    for i in 0..10 {
        let tx = tx.clone();
        spawn(move || skynet_selvedge(tx, num + i * step, step));
    }
    drop(tx);
    let _ = out.send(rx.iter().sum());
}

fn skynet_tokio(num: u64, size: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = u64>>> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let step = size / 10;
        let (tx, mut rx) = tokio::sync::mpsc::channel(10);
        for i in 0..10 {
            let tx = tx.clone();
            tokio::task::spawn_local(async move {
                let _ = tx.send(skynet_tokio(num + i * step, step).await).await;
            });
        }
        drop(tx);
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        sum
    })
}

/// Runs one memory workload in this (child) process; prints `value rss_kib`.
fn child(args: &[String]) {
    let n: u64 = args[2].parse().unwrap();
    let (value, rss) = match (args[0].as_str(), args[1].as_str()) {
        ("skynet", "selvedge") => {
            let start = Instant::now();
            let sum = selvedge::run(|| {
                let (tx, rx) = channel();
                spawn(move || skynet_selvedge(tx, 0, n));
                rx.recv().unwrap()
            });
            assert_eq!(sum, n * (n - 1) / 2);
            (start.elapsed().as_secs_f64() * 1e3, rss_kib("VmHWM"))
        }
        ("skynet", "tokio") => {
            let start = Instant::now();
            let local = tokio::task::LocalSet::new();
            let sum = local.block_on(&tokio_rt(), skynet_tokio(0, n));
            assert_eq!(sum, n * (n - 1) / 2);
            (start.elapsed().as_secs_f64() * 1e3, rss_kib("VmHWM"))
        }
        ("parked", "selvedge") => selvedge::run(|| {
            let before = rss_kib("VmRSS");
            let (tx, rx) = channel::<()>();
            let parked: Vec<_> = (0..n)
                .map(|_| {
                    let rx = rx.clone();
                    spawn(move || {
                        let _ = rx.recv();
                    })
                })
                .collect();
            selvedge::yield_now(); // every fiber has run and parked
            let per = (rss_kib("VmRSS") - before) as f64 * 1024.0 / n as f64;
            drop(tx);
            for p in parked {
                p.join().unwrap();
            }
            (per, 0)
        }),
        ("parked", "tokio") => tokio_rt().block_on(async {
            let before = rss_kib("VmRSS");
            let (tx, rx) = tokio::sync::watch::channel(());
            let parked: Vec<_> = (0..n)
                .map(|_| {
                    let mut rx = rx.clone();
                    tokio::spawn(async move {
                        let _ = rx.changed().await;
                    })
                })
                .collect();
            tokio::task::yield_now().await;
            let per = (rss_kib("VmRSS") - before) as f64 * 1024.0 / n as f64;
            drop(tx);
            for p in parked {
                p.await.unwrap();
            }
            (per, 0)
        }),
        other => panic!("unknown child workload {other:?}"),
    };
    println!("{value} {rss}");
}

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Runs `child` in a fresh process; `None` if it failed (and says why).
fn in_child(workload: &str, who: &str, n: u64) -> Option<(f64, u64)> {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--child", workload, who, &n.to_string()])
        .output()
        .unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        println!(
            "  {workload} {who} {n}: failed: {}",
            err.lines().last().unwrap_or("")
        );
        return None;
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let mut it = text.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn skynet(s: &mut Suite) {
    for (n, name) in [(100_000u64, "skynet 100k"), (1_000_000, "skynet 1M")] {
        let n = if s.quick { n / 100 } else { n };
        for (who, label) in [("selvedge", "selvedge"), ("tokio", "tokio current_thread")] {
            if let Some((ms, rss)) = in_child("skynet", who, n) {
                s.add(name, label, ms, "ms");
                let peak: &'static str = if who == "selvedge" {
                    "selvedge peak RSS"
                } else {
                    "tokio peak RSS"
                };
                s.add(name, peak, rss as f64 / 1024.0, "MiB");
            }
        }
    }
}

fn parked_memory(s: &mut Suite) {
    let n = if s.quick { 2_000 } else { 20_000 };
    for (who, label) in [
        ("selvedge", "selvedge, per parked fiber"),
        ("tokio", "tokio, per parked task"),
    ] {
        if let Some((bytes, _)) = in_child("parked", who, n) {
            s.add("parked_memory", label, bytes / 1024.0, "KiB");
        }
    }
}

// ------------------------------------------------------------------- main

type Workload = (&'static str, fn(&mut Suite));

// ---------------------------------------------------------------- busy

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
fn busy(s: &mut Suite) {
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

const WORKLOADS: &[Workload] = &[
    ("pingpong", pingpong),
    ("ring", ring),
    ("select4", select4),
    ("select_timeout", select_timeout),
    ("skynet", skynet),
    ("spawn_join", spawn_join),
    ("timers", timers),
    ("parked_memory", parked_memory),
    ("xpingpong", xpingpong),
    ("busy", busy),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    let names: Vec<&str> = WORKLOADS.iter().map(|(name, _)| *name).collect();
    let options = Options::parse(&args, &names).unwrap_or_else(|e| usage_error(&e));
    let rounds = options.rounds;
    println!(
        "selvedge benchmark suite{}, {rounds} round{}",
        if options.quick {
            " (quick: checks it runs)"
        } else {
            ""
        },
        if rounds == 1 { "" } else { "s" }
    );
    let mut samples = Vec::new();
    for round in 1..=rounds {
        if rounds > 1 {
            println!("round {round} of {rounds}");
        }
        let mut suite = Suite {
            quick: options.quick,
            rows: Vec::new(),
        };
        for (name, run) in WORKLOADS {
            if options.runs(name) {
                run(&mut suite);
            }
        }
        samples.push(suite.rows);
    }
    let series = Series::gather(&samples);
    println!("\n{}", ratio_table(&series));
    println!("{}", target_table(&series, TARGETS, options.quick));
    if let Some(path) = &options.svg {
        std::fs::write(path, support::svg::chart(&chart_bars(&series))).unwrap();
        println!("wrote {path}");
    }
}

/// Bad arguments: says what is wrong and exits with status 2.
fn usage_error(message: &str) -> ! {
    eprintln!("suite: {message}");
    std::process::exit(2)
}
