//! The scheduling policy keeps live stacks proportional to a computation's
//! depth, so these run at the default `vm.max_map_count` (~32k live stacks).

use selvedge::{channel, run, spawn, Sender};

fn skynet(out: Sender<u64>, num: u64, size: u64, div: u64) {
    if size == 1 {
        out.send(num).unwrap();
        return;
    }
    let (tx, rx) = channel();
    let step = size / div;
    for i in 0..div {
        let tx = tx.clone();
        spawn(move || skynet(tx, num + i * step, step, div));
    }
    drop(tx);
    out.send(rx.iter().sum()).unwrap();
}

#[test]
fn skynet_100k_leaves_runs_at_default_limits() {
    let sum = run(|| {
        let (tx, rx) = channel();
        spawn(move || skynet(tx, 0, 100_000, 10));
        rx.recv().unwrap()
    });
    assert_eq!(sum, (0..100_000u64).sum());
}

fn fib(n: u32, out: Sender<u64>) {
    if n < 2 {
        out.send(n as u64).unwrap();
        return;
    }
    let (tx, rx) = channel();
    let t2 = tx.clone();
    spawn(move || fib(n - 1, tx));
    spawn(move || fib(n - 2, t2));
    let a = rx.recv().unwrap();
    let b = rx.recv().unwrap();
    out.send(a + b).unwrap();
}

#[test]
fn recursive_fib_24_spawning_both_halves_runs_at_default_limits() {
    let v = run(|| {
        let (tx, rx) = channel();
        spawn(move || fib(24, tx));
        rx.recv().unwrap()
    });
    assert_eq!(v, 46_368);
}

#[test]
fn fan_in_of_five_thousand_producers_into_one_consumer() {
    let (count, sum) = run(|| {
        let (tx, rx) = channel::<u64>();
        for i in 0..5_000u64 {
            let tx = tx.clone();
            spawn(move || {
                for j in 0..4 {
                    tx.send(i * 4 + j).unwrap();
                }
            });
        }
        drop(tx);
        let consumer = spawn(move || rx.iter().fold((0u64, 0u64), |(c, s), v| (c + 1, s + v)));
        consumer.join().unwrap()
    });
    assert_eq!(count, 20_000);
    assert_eq!(sum, (0..20_000u64).sum());
}
