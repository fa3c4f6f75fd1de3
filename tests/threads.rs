//! Plain OS threads: perform blocks the thread; threads and fibers share channels.

use selvedge::{after, channel, run, spawn, Op};
use std::time::Duration;

#[test]
fn two_plain_threads_rendezvous_without_a_runtime() {
    let (tx, rx) = channel();
    let t = std::thread::spawn(move || (0..1000).map(|_| rx.recv().unwrap()).sum::<u64>());
    for i in 0..1000u64 {
        tx.send(i).unwrap();
    }
    assert_eq!(t.join().unwrap(), (0..1000).sum());
}

#[test]
fn a_thread_feeds_fibers_and_fibers_answer_it() {
    let (req_tx, req_rx) = channel::<u32>();
    let (resp_tx, resp_rx) = channel::<u32>();
    let client = std::thread::spawn(move || {
        let mut total = 0;
        for i in 0..500 {
            req_tx.send(i).unwrap();
            total += resp_rx.recv().unwrap();
        }
        total
    });
    run(move || {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (rx, tx) = (req_rx.clone(), resp_tx.clone());
                spawn(move || {
                    for v in &rx {
                        tx.send(v * 2).unwrap();
                    }
                })
            })
            .collect();
        drop((req_rx, resp_tx));
        workers.into_iter().for_each(|h| h.join().unwrap());
    });
    assert_eq!(client.join().unwrap(), (0..500).map(|i| i * 2).sum());
}

#[test]
fn a_thread_performs_a_choice_with_a_timeout() {
    let (tx, rx) = channel::<u8>();
    let r = rx
        .recv_op()
        .wrap(|_| "msg")
        .or(after(Duration::from_millis(5)).wrap(|()| "timeout"))
        .perform();
    assert_eq!(r, "timeout");
    let t = std::thread::spawn(move || tx.send(1));
    let r = rx
        .recv_op()
        .wrap(|r| r.map(|_| "msg").unwrap())
        .or(after(Duration::from_secs(60)).wrap(|()| "timeout"))
        .perform();
    assert_eq!(r, "msg");
    t.join().unwrap().unwrap();
}

#[test]
fn runtimes_on_two_threads_talk_over_one_channel() {
    let (tx, rx) = channel::<u64>();
    let producer = std::thread::spawn(move || {
        run(move || {
            let hs: Vec<_> = (0..10)
                .map(|f| {
                    let tx = tx.clone();
                    spawn(move || (0..100).for_each(|i| tx.send(f * 100 + i).unwrap()))
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
        })
    });
    let sum = run(move || {
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                spawn(move || rx.iter().sum::<u64>())
            })
            .collect();
        drop(rx);
        consumers
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum::<u64>()
    });
    producer.join().unwrap();
    assert_eq!(sum, (0..1000).sum());
}
