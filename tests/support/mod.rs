//! Helpers shared by the integration tests that include this module.

// Each test crate uses some of these.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a timing scenario with its time unit at 1 ms, then at 10 and
/// 100 ms while it returns `None`. A scenario returns `None` when one of
/// its fibers began outside the window it needs (say, arming a timer
/// before its deadline), which a stalled host (CI under load, qemu) can
/// make it miss; once every window holds, its outcome is deterministic.
pub(crate) fn in_time_windows<T>(scenario: impl Fn(Duration) -> Option<T>) -> T {
    [1, 10, 100]
        .into_iter()
        .find_map(|ms| scenario(Duration::from_millis(ms)))
        .expect("the host stalled a fiber past its window at every time unit, up to 100 ms")
}

/// Busy-waits until `t`: the scheduler runs nothing else meanwhile.
pub(crate) fn spin_until(t: Instant) {
    while Instant::now() < t {
        std::hint::spin_loop();
    }
}

/// This test binary, to run again as a child: through the command in
/// `SELVEDGE_TEST_RUNNER` if one is set (`.ci/aarch64` sets qemu, as the
/// host kernel cannot start an emulated binary by itself).
pub(crate) fn this_binary_again() -> Command {
    let exe = std::env::current_exe().unwrap();
    let runner = std::env::var("SELVEDGE_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(exe);
            command
        }
        None => Command::new(exe),
    }
}
