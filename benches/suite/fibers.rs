//! The fiber workloads: spawn+join, the skynet tree of a million fibers,
//! and the memory a parked fiber holds. Workloads that report memory run
//! in a child process each (this binary again, `--child`), so a peak RSS
//! belongs to that workload alone.

use std::time::Instant;

use selvedge::{channel, spawn};

use crate::peers::ns;
use crate::{tokio_rt, Suite};

pub(crate) fn spawn_join(s: &mut Suite) {
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
pub(crate) fn child(args: &[String]) {
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

pub(crate) fn skynet(s: &mut Suite) {
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

pub(crate) fn parked_memory(s: &mut Suite) {
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
