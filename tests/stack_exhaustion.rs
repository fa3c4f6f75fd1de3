//! Running out of kernel mappings for stacks is a clear per-fiber error,
//! never a crash. Its own test binary: the mapping limit is per process.

use selvedge::{run, spawn, Condition};

#[test]
fn too_many_live_fibers_fail_with_an_error_naming_the_limit_and_the_fix() {
    let limit: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65_530);
    if limit > 300_000 {
        eprintln!("vm.max_map_count is {limit}: too high to exhaust in a test; skipped");
        return;
    }
    let attempts = limit / 2 + 2_000;
    let (ok, failed, message) = run(move || {
        let gate = Condition::new();
        let handles: Vec<_> = (0..attempts)
            .map(|_| {
                let gate = gate.clone();
                spawn(move || gate.wait())
            })
            .collect();
        // Let every fiber start (and take a stack, or fail to).
        selvedge::yield_now();
        gate.signal();
        let mut ok = 0;
        let mut failed = 0;
        let mut message = String::new();
        for h in handles {
            match h.join() {
                Ok(()) => ok += 1,
                Err(e) => {
                    failed += 1;
                    message = e.downcast_ref::<String>().cloned().unwrap_or_default();
                }
            }
        }
        (ok, failed, message)
    });
    assert!(failed > 0, "expected some fibers to hit the limit");
    assert!(ok > 10_000, "only {ok} fibers got stacks");
    assert_eq!(ok + failed, attempts);
    assert!(message.contains("vm.max_map_count"), "{message}");
    assert!(message.contains("sysctl"), "{message}");
    // The process is healthy afterwards: stacks were returned to the pool.
    assert_eq!(run(|| spawn(|| 1).join().unwrap()), 1);
}
