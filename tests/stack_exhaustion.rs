//! Live fibers are not capped by the kernel's mapping limit where guard
//! regions exist, and running out of room for stacks is a clear per-fiber
//! error, never a crash. Its own test binary: the mapping limit is per
//! process.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use selvedge::{run, spawn, Condition, Runtime};

use selvedge_harness::kernel;

/// Held by each test: one may use up the process's mappings, which the
/// other needs.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Spawns `count` fibers that all park at once; returns how many ran, how
/// many could not start, and the last start error.
fn park_all(count: usize) -> (usize, usize, String) {
    let gate = Condition::new();
    let handles: Vec<_> = (0..count)
        .map(|_| {
            let gate = gate.clone();
            spawn(move || gate.wait())
        })
        .collect();
    // Let every fiber start (and take a stack, or fail to).
    selvedge::yield_now();
    gate.signal();
    let (mut ok, mut failed, mut message) = (0, 0, String::new());
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
}

#[test]
fn live_fibers_beyond_the_mapping_limit_run_or_fail_with_an_error_naming_the_fix() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let limit = kernel::max_map_count();
    if limit > 300_000 {
        eprintln!("vm.max_map_count is {limit}: too high to exhaust in a test; skipped");
        return;
    }
    if kernel::emulated() && !kernel::has_guard_regions() {
        eprintln!(
            "emulated, without guard regions: exhausting the mappings takes minutes; skipped"
        );
        return;
    }
    // Two mappings per stack would hit the limit before this many.
    let attempts = limit / 2 + 2_000;
    let (ok, failed, message) = run(move || park_all(attempts));
    assert_eq!(ok + failed, attempts);
    if kernel::has_guard_regions() {
        assert_eq!(failed, 0, "guarded stacks share mappings here: {message}");
    } else {
        assert!(failed > 0, "expected some fibers to hit the limit");
        assert!(ok > 10_000, "only {ok} fibers got stacks");
        assert!(message.contains("vm.max_map_count"), "{message}");
        assert!(message.contains("sysctl"), "{message}");
        assert!(message.contains("unguarded_stacks"), "{message}");
    }
    // The process is healthy afterwards: stacks were returned to the pool.
    assert_eq!(run(|| spawn(|| 1).join().unwrap()), 1);
}

#[test]
fn a_stack_too_large_to_map_fails_with_an_error_naming_the_stack_size() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The largest stack the builder accepts, 64 PiB: more than any user
    // address space holds, so every kernel (and emulator) refuses it at
    // once.
    let rt = Runtime::builder().stack_size(1 << 56).build().unwrap();
    let err = rt.run(|| spawn(|| 1).join()).unwrap_err();
    let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("cannot map"), "{message}");
    assert!(message.contains("stack size"), "{message}");
    // The main fiber's stack, sized on its own, fails the same way.
    let rt = Runtime::builder().main_stack_size(1 << 56).build().unwrap();
    let err = catch_unwind(AssertUnwindSafe(|| rt.run(|| 1))).unwrap_err();
    let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("cannot map"), "{message}");
    assert!(message.contains("stack size"), "{message}");
    // The same process still runs fibers with a sensible size.
    assert_eq!(run(|| spawn(|| 2).join().unwrap()), 2);
}
