//! The `unsafe` opt-in for unguarded stacks lifts the cap that the kernel's
//! mapping limit puts on live fibers. Its own test binary: the mapping
//! limit is per process.

use selvedge::{Condition, Runtime};

use selvedge_harness::kernel;

#[test]
fn unguarded_stacks_hold_more_live_fibers_than_guarded_ones_can() {
    let limit = kernel::max_map_count();
    // Past what two mappings per guarded stack allow (capped so a raised
    // limit does not make the test huge; then it only checks the count).
    let fibers = (limit / 2 + 2_000).min(60_000);
    // SAFETY: the fibers below wait on a condition and add numbers, far
    // within 16 KiB of stack.
    let rt = unsafe { Runtime::builder().stack_size(16 * 1024).unguarded_stacks() }
        .build()
        .unwrap();
    let (sum, failed) = rt.run(move || {
        let gate = Condition::new();
        let handles: Vec<_> = (0..fibers as u64)
            .map(|i| {
                let gate = gate.clone();
                selvedge::spawn(move || {
                    gate.wait();
                    i
                })
            })
            .collect();
        // Every fiber starts, takes a stack and parks before the gate opens.
        selvedge::yield_now();
        gate.signal();
        let mut sum = 0u64;
        let mut failed = 0;
        for h in handles {
            match h.join() {
                Ok(i) => sum += i,
                Err(_) => failed += 1,
            }
        }
        (sum, failed)
    });
    assert_eq!(failed, 0, "every fiber got a stack");
    let n = fibers as u64;
    assert_eq!(sum, n * (n - 1) / 2);
}
