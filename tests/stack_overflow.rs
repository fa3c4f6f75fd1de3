//! A fiber that overflows its stack hits a guard page instead of writing
//! over the neighbouring fiber's stack, and the process aborts with a line
//! naming the fiber, as std does for a thread. Other faults keep their
//! default course. Each case runs in a child process (this test binary,
//! re-run).

use std::os::unix::process::ExitStatusExt;

mod support;

const SIGSEGV: i32 = 11;
const SIGABRT: i32 = 6;

/// Recurses forever with a 1 KiB frame the optimizer cannot drop.
#[allow(unconditional_recursion)] // the point: run off the end of the stack
fn dig(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth as u8; 1024]);
    dig(depth + 1) + u64::from(frame[depth as usize % 1024])
}

#[test]
#[ignore = "run by a_fiber_overflowing_its_stack_aborts_naming_the_fiber"]
fn child_overflows_a_named_fiber_stack() {
    if !support::in_child() {
        return;
    }
    selvedge::run(|| {
        // Neighbours on both sides of the overflowing fiber's stack.
        let before = selvedge::spawn(|| selvedge::sleep(std::time::Duration::from_secs(5)));
        let digger = selvedge::fiber::Builder::new()
            .name("digger")
            .spawn(|| dig(0))
            .unwrap();
        let after = selvedge::spawn(|| selvedge::sleep(std::time::Duration::from_secs(5)));
        let _ = (digger.join(), before.join(), after.join());
    });
    std::process::exit(0); // not reached when the guard page works
}

#[test]
fn a_fiber_overflowing_its_stack_aborts_naming_the_fiber() {
    let out = support::child_output("child_overflows_a_named_fiber_stack");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "{:?}\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("fiber 'digger' (")
            && stderr.contains("has overflowed its stack of 256 KiB"),
        "{stderr}"
    );
    assert!(
        stderr.contains("spawned at tests/stack_overflow.rs:"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("overflowed").count(),
        1,
        "reported once: {stderr}"
    );
}

#[test]
#[ignore = "run by the main fiber's overflow test"]
fn child_overflows_the_main_fiber_stack() {
    if !support::in_child() {
        return;
    }
    let rt = selvedge::Runtime::builder()
        .main_stack_size(64 * 1024)
        .build()
        .unwrap();
    rt.run(|| dig(0));
    std::process::exit(0);
}

#[test]
fn the_main_fiber_overflowing_its_stack_aborts_naming_it_and_its_size() {
    let out = support::child_output("child_overflows_the_main_fiber_stack");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "{:?}\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("fiber 'main' (") && stderr.contains("overflowed its stack of 64 KiB"),
        "{stderr}"
    );
}

#[test]
#[ignore = "run by the test of other faults"]
fn child_faults_elsewhere_in_a_fiber() {
    if !support::in_child() {
        return;
    }
    selvedge::run(|| {
        let wild = std::hint::black_box(16usize) as *mut u64;
        // SAFETY: none: the point is a fault that is not an overflow.
        unsafe { wild.write_volatile(1) };
    });
    std::process::exit(0);
}

#[test]
fn another_fault_in_a_fiber_keeps_its_default_course() {
    let out = support::child_output("child_faults_elsewhere_in_a_fiber");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(SIGSEGV),
        "{:?}\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("overflowed"), "{stderr}");
}

/// Recursion that works on a thread's main stack works in `run`'s main
/// fiber too: its stack is sized like a main thread's, not like a spawned
/// fiber's (about 1 MiB here, four times the default fiber stack).
#[test]
fn the_main_fiber_recurses_as_deep_as_a_main_thread() {
    assert_eq!(selvedge::run(|| support::deep(1000)), 1000);
}
