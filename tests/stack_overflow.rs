//! A fiber that overflows its stack hits a guard page and the process dies
//! by SIGSEGV, instead of writing over the neighbouring fiber's stack. The
//! overflow runs in a child process (this test binary, re-run).

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

mod support;

/// Recurses forever with a 1 KiB frame the optimizer cannot drop.
#[allow(unconditional_recursion)] // the point: run off the end of the stack
fn dig(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth as u8; 1024]);
    dig(depth + 1) + u64::from(frame[depth as usize % 1024])
}

#[test]
#[ignore = "run by a_fiber_overflowing_its_stack_faults_on_the_guard_page"]
fn child_overflows_a_fiber_stack() {
    if std::env::var_os("SELVEDGE_OVERFLOW_CHILD").is_none() {
        return;
    }
    selvedge::run(|| {
        // Neighbours on both sides of the overflowing fiber's stack.
        let before = selvedge::spawn(|| selvedge::sleep(std::time::Duration::from_secs(5)));
        let digger = selvedge::spawn(|| dig(0));
        let after = selvedge::spawn(|| selvedge::sleep(std::time::Duration::from_secs(5)));
        let _ = (digger.join(), before.join(), after.join());
    });
    std::process::exit(0); // not reached when the guard page works
}

#[test]
fn a_fiber_overflowing_its_stack_faults_on_the_guard_page() {
    let status = support::this_binary_again()
        .args(["--ignored", "--exact", "child_overflows_a_fiber_stack"])
        .env("SELVEDGE_OVERFLOW_CHILD", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    const SIGSEGV: i32 = 11;
    assert_eq!(status.signal(), Some(SIGSEGV), "{status:?}");
}
