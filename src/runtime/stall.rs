//! Stall warnings: a fiber that holds its scheduler too long without
//! reaching a suspension point is named on stderr.
//!
//! A fiber that makes a blocking system call, waits on a `std` lock, or
//! computes without yielding holds every other fiber of its scheduler.
//! With `Builder::stall_warning(threshold)` (or `SELVEDGE_STALL_WARNING_MS`
//! in the environment), a watchdog thread looks at each scheduler a few
//! times per threshold. A scheduler beats whenever it checks its timers
//! and descriptors, which it does every few fiber runs and at least every
//! half millisecond while fibers keep switching (`poll_pace`), and as it
//! goes idle; one that is awake and has not beaten for the threshold is
//! inside one fiber's run. The watchdog then sends that thread a signal
//! (SIGURG, which is otherwise ignored by default), whose handler names
//! the running fiber: `fiber 'name' (12, spawned at ...) has held
//! scheduler 0 for 1.2s without suspending`. Nothing of this costs the
//! runs themselves: the beat is a store at each check.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, Once, Weak};
use std::time::{Duration, Instant};

use crate::runtime::current;
use crate::runtime::fiber::coroutine::FiberSelf;
use crate::runtime::fiber::overflow::{write_fiber, SignalBuf};
use crate::runtime::inner::RuntimeInner;
use crate::runtime::signal::Previous;

/// The signal that asks a scheduler's thread to name its running fiber.
const SIGNAL: libc::c_int = libc::SIGURG;

/// The runtimes being watched, and how closely.
static WATCHED: Mutex<Vec<(Weak<RuntimeInner>, Duration)>> = Mutex::new(Vec::new());

/// Watches `runtime`'s schedulers for fibers that hold them longer than
/// `threshold`, for as long as the runtime lives.
pub(crate) fn watch(runtime: Weak<RuntimeInner>, threshold: Duration) {
    install_handler();
    static WATCHDOG: Once = Once::new();
    WATCHED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((runtime, threshold));
    WATCHDOG.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("selvedge-watchdog".into())
            .spawn(watchdog);
        if let Err(e) = spawned {
            eprintln!("selvedge: cannot start the stall watchdog: {e}");
        }
    });
}

/// The threshold `SELVEDGE_STALL_WARNING_MS` asks for, if set.
pub(crate) fn threshold_from_env() -> Option<Duration> {
    let ms = std::env::var("SELVEDGE_STALL_WARNING_MS").ok()?;
    match ms.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
        _ => {
            eprintln!(
                "selvedge: SELVEDGE_STALL_WARNING_MS must be a positive number of ms, got {ms:?}"
            );
            None
        }
    }
}

/// What the watchdog last saw of one scheduler.
#[derive(Clone, Copy)]
struct Seen {
    beat: u64,
    since: Instant,
    warned: bool,
}

fn watchdog() {
    // Per watched runtime, per scheduler.
    let mut seen: Vec<Vec<Seen>> = Vec::new();
    loop {
        let watched: Vec<_> = {
            let mut list = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
            list.retain(|(rt, _)| rt.strong_count() > 0);
            list.clone()
        };
        let tick = watched
            .iter()
            .map(|(_, t)| *t / 4)
            .min()
            .unwrap_or(Duration::from_millis(250))
            .max(Duration::from_millis(5));
        seen.resize(watched.len(), Vec::new());
        for ((runtime, threshold), seen) in watched.iter().zip(&mut seen) {
            if let Some(runtime) = runtime.upgrade() {
                look(&runtime, *threshold, seen);
            }
        }
        std::thread::sleep(tick);
    }
}

/// One look at every scheduler of `runtime`.
fn look(runtime: &RuntimeInner, threshold: Duration, seen: &mut Vec<Seen>) {
    let now = Instant::now();
    seen.resize(
        runtime.schedulers.len(),
        Seen {
            beat: u64::MAX,
            since: now,
            warned: false,
        },
    );
    let running = runtime.running.load(Ordering::Relaxed);
    for (shared, seen) in runtime.schedulers.iter().zip(seen) {
        let beat = shared.beat();
        if !running || beat != seen.beat || shared.is_sleeping() {
            *seen = Seen {
                beat,
                since: now,
                warned: false,
            };
            continue;
        }
        let held = now - seen.since;
        if held >= threshold && !seen.warned {
            seen.warned = true;
            if let Some(thread) = shared.thread() {
                shared.ask_stall_report(held);
                // SAFETY: `thread` is the scheduler's thread, alive while
                // its run lasts (a signal to one that ended is discarded
                // by the kernel with ESRCH).
                unsafe { libc::pthread_kill(thread, SIGNAL) };
            }
        }
    }
}

/// The handler that was installed before ours.
static PREVIOUS: Previous = Previous::new();

fn install_handler() {
    static INSTALL: Once = Once::new();
    // SAFETY: once, inside `INSTALL`'s `call_once`.
    INSTALL.call_once(|| unsafe { PREVIOUS.install(SIGNAL, handler, libc::SA_RESTART) });
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let asked = current::with_local(|l| {
        // SAFETY: a scheduler's local half points at its shared half,
        // which its runtime keeps alive while the scheduler runs.
        let shared = unsafe { l.home.as_ref() };
        shared
            .take_stall_report()
            .map(|held| (held, shared.index()))
    })
    .flatten();
    match asked {
        Some((held, index)) => report_stall(held, index),
        // SIGURG's default action is to ignore it: with no handler
        // before ours, there is nothing to pass on.
        None => {
            PREVIOUS.pass_on(sig, info, context);
        }
    }
}

/// Prints which fiber holds scheduler `index`, with no allocation.
fn report_stall(held: Duration, index: usize) {
    let mut out = SignalBuf::new();
    let _ = out.write_str("selvedge: ");
    // SAFETY: used only here, while the interrupted fiber still runs.
    match unsafe { FiberSelf::running() } {
        Some(me) => {
            write_fiber(&mut out, me);
            let _ = writeln!(
                out,
                " has held scheduler {index} for {held:.1?} without suspending: a blocking \
                 call, a lock held across a wait, or a long computation? (stall warning)"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "scheduler {index} has not switched fibers for {held:.1?} (stall warning)"
            );
        }
    }
    out.flush();
}
