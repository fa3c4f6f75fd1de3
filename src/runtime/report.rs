//! How a fiber's panic is reported: by its name, not its thread's.
//!
//! The panic hook prints `thread 'main' panicked at ...`, naming the OS
//! thread, which says nothing about which of its fibers panicked. So the
//! first runtime built installs a hook in front of the one set before: a
//! panic inside a fiber is reported as `fiber 'conn-42' (12) panicked at
//! ...`, in the standard hook's form (and with a backtrace when
//! `RUST_BACKTRACE` asks for one); any other panic goes to the hook that
//! was there. A hook set later replaces this one, as with any hook; it can
//! name the fiber with `fiber::current_name`.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::io::Write;
use std::panic::{self, PanicHookInfo};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crate::runtime::context;

/// Installs the hook, once per process.
pub(crate) fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            match context::running_fiber(|head| head.label()) {
                Some(label) => report_fiber_panic(&label, info),
                None => previous(info),
            }
        }));
    });
}

/// Prints a panic of the fiber `label` as the standard hook prints a
/// thread's.
fn report_fiber_panic(label: &str, info: &PanicHookInfo<'_>) {
    /// The note about `RUST_BACKTRACE` is printed once, as std does.
    static NOTED: AtomicBool = AtomicBool::new(false);
    let message = payload_text(info.payload());
    let at = info
        .location()
        .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    let backtrace = Backtrace::capture();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n{label} panicked{at}:\n{message}");
    match backtrace.status() {
        BacktraceStatus::Captured => {
            let full = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v == "full");
            let text = backtrace.to_string();
            let _ = writeln!(
                err,
                "stack backtrace:\n{}",
                if full { text } else { short_backtrace(&text) }
            );
            if !full {
                let _ = writeln!(
                    err,
                    "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a \
                     verbose backtrace."
                );
            }
        }
        _ if !NOTED.swap(true, Ordering::Relaxed) => {
            let _ = writeln!(
                err,
                "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
            );
        }
        _ => {}
    }
}

/// The fiber's own frames of a backtrace: from the frame that panicked on
/// down to the fiber's entry, without the hook and panic machinery above
/// them or the scheduler (and the thread) below, as std's short
/// backtraces leave out the runtime's frames.
fn short_backtrace(text: &str) -> String {
    /// The panic machinery's last frames, above the one that panicked.
    const TOP: [&str; 3] = [
        "__rust_end_short_backtrace",
        "rust_begin_unwind",
        "core::panicking::",
    ];
    /// The fiber's entry, and the `catch_unwind` it calls the body under.
    const BOTTOM: [&str; 4] = [
        "selvedge::runtime::fiber::",
        "catch_unwind",
        "__rust_try",
        "AssertUnwindSafe",
    ];
    // Frames: a numbered line, then its `at file:line` lines.
    let mut frames: Vec<&str> = Vec::new();
    let mut at = 0;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let is_frame = line
            .trim_start()
            .split_once(": ")
            .is_some_and(|(n, _)| n.parse::<u32>().is_ok());
        if is_frame && at > start {
            frames.push(&text[start..at]);
            start = at;
        }
        at += line.len();
    }
    frames.push(&text[start..]);
    let Some(end_of_machinery) = frames.iter().position(|f| f.contains(TOP[0])) else {
        return text.to_owned(); // not std's panic path: leave it whole
    };
    let from = (end_of_machinery..frames.len())
        .find(|&j| !TOP.iter().any(|m| frames[j].contains(m)))
        .unwrap_or(frames.len());
    let mut to = (from..frames.len())
        .find(|&j| frames[j].contains(BOTTOM[0]))
        .unwrap_or(frames.len());
    while to > from && BOTTOM.iter().any(|m| frames[to - 1].contains(m)) {
        to -= 1;
    }
    frames[from..to].concat()
}

/// A panic payload as text: its message, or what kind of value it is.
pub(crate) fn payload_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}
