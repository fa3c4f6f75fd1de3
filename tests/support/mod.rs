//! Helpers shared by the integration tests that include this module.

// Each test crate uses some of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Adds one to its counter when dropped: for tests that check a value was
/// dropped, and when.
pub(crate) struct DropCount(pub(crate) Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

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

/// Runs `program` through the command in `SELVEDGE_TEST_RUNNER` if one
/// is set (`.ci/aarch64` sets qemu, as the host kernel cannot start an
/// emulated binary by itself).
pub(crate) fn through_runner(program: &Path) -> Command {
    let runner = std::env::var("SELVEDGE_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(runner) => {
            let mut command = Command::new(runner);
            command.args(words).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// This test binary, to run again as a child.
pub(crate) fn this_binary_again() -> Command {
    through_runner(&std::env::current_exe().unwrap())
}

/// Set in a child that `child_test` started.
const CHILD: &str = "SELVEDGE_TEST_CHILD";

/// The ignored test `name` of this binary, run in a child process; the
/// test returns at once unless `in_child()` (so a plain `--ignored` run
/// passes over it).
pub(crate) fn child_test(name: &str) -> Command {
    let mut command = this_binary_again();
    command
        .args(["--ignored", "--exact", name, "--nocapture"])
        .env(CHILD, "1");
    command
}

/// Runs the ignored test `name` of this binary in a child process, without
/// backtraces (the parent reads its stderr), and waits for its output.
pub(crate) fn child_output(name: &str) -> std::process::Output {
    child_test(name)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

/// Recurses `n` levels of about 1 KiB of stack each (a frame the optimizer
/// cannot drop) and returns `n`.
pub(crate) fn deep(n: u32) -> u32 {
    let pad = std::hint::black_box([n as u8; 1024]);
    if n == 0 {
        u32::from(pad[0])
    } else {
        1 + deep(n - 1)
    }
}

/// Whether this process is a child that `child_test` started.
pub(crate) fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// The example `name` as `cargo test` builds it beside the tests, to start
/// through the runner; fails if it is missing or older than the library
/// (`cargo test --test NAME` builds no examples).
pub(crate) fn example(name: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join(name);
    let built = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified());
    let example_built = built(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): `cargo test` builds it (or `cargo build --examples`)",
            path.display()
        )
    });
    // The newest build of the library it links: an example older than
    // that was built from older code.
    let library_built = std::fs::read_dir(profile_dir.join("deps"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libselvedge-") && name.ends_with(".rlib")
        })
        .filter_map(|e| built(&e.path()).ok())
        .max();
    assert!(
        library_built.is_none_or(|lib| example_built >= lib),
        "{} was built before the library it runs: a plain `cargo test` rebuilds \
         it (`cargo test --test NAME` does not; run `cargo build --examples`)",
        path.display()
    );
    through_runner(&path)
}

/// Raises this process's soft limit on open descriptors towards `wanted`,
/// as far as the hard limit allows; returns the limit now in force.
pub(crate) fn raise_descriptor_limit(wanted: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads and sets this process's own limit through a local.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

/// The `echo_server` example, started as a child process on a free port
/// (`cargo test` builds the examples beside the tests).
pub(crate) struct EchoServer {
    child: std::process::Child,
    pub(crate) addr: std::net::SocketAddr,
    stdout: std::sync::mpsc::Receiver<String>,
}

impl EchoServer {
    /// Starts the server with `args` added, and waits until it listens.
    pub(crate) fn start(args: &[&str]) -> EchoServer {
        EchoServer::start_limited(args, None)
    }

    /// `start`, the server allowed at most `max_descriptors` open
    /// descriptors (`RLIMIT_NOFILE`), if given.
    pub(crate) fn start_limited(args: &[&str], max_descriptors: Option<u64>) -> EchoServer {
        use std::io::BufRead;
        let mut command = example("echo_server");
        command
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        if let Some(max) = max_descriptors {
            use std::os::unix::process::CommandExt;
            let limit = libc::rlimit {
                rlim_cur: max,
                rlim_max: max,
            };
            // SAFETY: runs in the forked child before exec, and only calls
            // `setrlimit`, which is async-signal-safe.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = command.spawn().unwrap();
        let (tx, stdout) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = stdout
            .recv_timeout(Duration::from_secs(60))
            .expect("the echo server says where it listens");
        let addr = first
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        EchoServer {
            child,
            addr,
            stdout,
        }
    }

    /// How many descriptors the server process holds open now.
    pub(crate) fn descriptors(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Waits up to `within` for the server's descriptors to come down to
    /// `baseline`, and fails the test if they do not.
    pub(crate) fn assert_descriptors_return_to(&self, baseline: usize, within: Duration) {
        let after = self.descriptors_settle_to(baseline, within);
        assert!(
            after <= baseline,
            "{after} descriptors open after, {baseline} before"
        );
    }

    /// Waits up to `within` for the server's descriptors to come down to
    /// `baseline`; the count it reached.
    fn descriptors_settle_to(&self, baseline: usize, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let now = self.descriptors();
            if now <= baseline || Instant::now() >= deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident memory of the server process, in KiB.
    pub(crate) fn rss_kib(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// CPU time the server process has used (user and system), in clock
    /// ticks (`sysconf(_SC_CLK_TCK)` per second).
    pub(crate) fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // utime and stime are fields 14 and 15 of the whole line.
        let field = |i: usize| {
            fields
                .get(i - 3)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        field(14) + field(15)
    }

    /// Stops the server with Ctrl-C (SIGINT) and returns what it printed
    /// after the address line.
    pub(crate) fn stop(mut self) -> String {
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().unwrap();
        // Everything it printed, up to the end of its output: the reader
        // thread may not have passed on the last lines yet.
        let mut printed = Vec::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(10)) {
            printed.push(line);
        }
        assert!(status.success(), "{status:?}: {printed:?}");
        printed.join("\n")
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
