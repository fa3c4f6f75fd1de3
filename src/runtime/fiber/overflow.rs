//! A fiber that overflows its stack names itself before the process dies.
//!
//! Every guarded fiber stack has an inaccessible page below it, so running
//! off its end faults (SIGSEGV) instead of writing over other memory. The
//! default action kills the process with no word of which fiber it was; a
//! thread's overflow gets std's `thread 'x' has overflowed its stack`.
//! This handler, installed in front of whatever handled SIGSEGV and SIGBUS
//! before (std's, usually), looks at where the fault was: inside the guard
//! page of the fiber running on this thread, it prints `fiber 'name' (12)
//! has overflowed its stack of 256 KiB` and aborts, as std does for a
//! thread. Any other fault goes to the handler that was there.
//!
//! The handler runs on the thread's alternate signal stack (the fiber's
//! own has no room left): std gives every thread it starts one, and a
//! scheduler on a thread without one installs its own (`AltStack`). It
//! reads only this thread's fiber state and the running fiber's packet,
//! allocates nothing, and writes with `write(2)`.

use std::fmt::Write as _;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use crate::runtime::fiber::coroutine::FiberSelf;
use crate::runtime::fiber::guard::page_size;
use crate::runtime::signal::Previous;

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// The handlers that were installed before ours, by position in `SIGNALS`.
static PREVIOUS: [Previous; 2] = [Previous::new(), Previous::new()];
static PAGE: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();

/// Installs the handler for the process, once.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        PAGE.store(page_size(), Ordering::Relaxed);
        for (previous, &sig) in PREVIOUS.iter().zip(&SIGNALS) {
            // SAFETY: once per signal, inside `INSTALL`'s `call_once`.
            unsafe { previous.install(sig, handler, libc::SA_ONSTACK) };
        }
    });
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid `siginfo_t` for SA_SIGINFO.
    let addr = unsafe { (*info).si_addr() } as usize;
    // SAFETY: used only here, while the fiber (interrupted, not resumed
    // elsewhere) is still the running one.
    if let Some(me) = unsafe { FiberSelf::running() } {
        let (limit, top) = me.stack_bounds();
        let page = PAGE.load(Ordering::Relaxed);
        if addr < limit && addr >= limit.saturating_sub(page) {
            report_overflow(me, top - limit);
            // SAFETY: `abort` is async-signal-safe.
            unsafe { libc::abort() };
        }
    }
    chain(sig, info, context);
}

/// Hands a fault that is not a fiber's overflow to the handler installed
/// before ours; with none (the default action), restores the default and
/// returns, so the fault happens again and takes its default course.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let Some(i) = SIGNALS.iter().position(|&s| s == sig) else {
        return;
    };
    if PREVIOUS[i].pass_on(sig, info, context) {
        return;
    }
    // SAFETY: resets `sig` to its default action; the faulting access
    // runs again when the handler returns and ends the process.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &default, ptr::null_mut());
    }
}

/// Prints `fiber 'name' (12, spawned at ...) has overflowed its stack of
/// 256 KiB` with no allocation: into a buffer on the signal stack, then
/// `write(2)`.
fn report_overflow(me: &FiberSelf, span: usize) {
    let mut out = SignalBuf::new();
    let _ = out.write_str("\n");
    write_fiber(&mut out, me);
    let _ = write!(
        out,
        " has overflowed its stack of {} KiB\nfatal runtime error: stack overflow, aborting\n",
        span / 1024
    );
    out.flush();
}

/// Writes `fiber 'name' (12, spawned at src/main.rs:5:9)` for the running
/// fiber `me`, allocating nothing (for signal handlers).
pub(crate) fn write_fiber(out: &mut SignalBuf, me: &FiberSelf) {
    let _ = out.write_str("fiber ");
    // SAFETY: the running fiber's packet lives until it finishes.
    match me.packet().map(|p| unsafe { p.get() }) {
        Some(head) => {
            let at = head.spawned_at();
            let id = head.id().get();
            let (file, line, column) = (at.file(), at.line(), at.column());
            let _ = match head.name() {
                Some(name) => write!(out, "'{name}' ({id}, spawned at {file}:{line}:{column})"),
                None => write!(out, "{id} (spawned at {file}:{line}:{column})"),
            };
        }
        None => {
            let _ = out.write_str("(unknown)");
        }
    }
}

/// Text for `write(2)` from a signal handler: a fixed buffer, cut short
/// rather than grown.
pub(crate) struct SignalBuf {
    bytes: [u8; 768],
    len: usize,
}

impl SignalBuf {
    pub(crate) fn new() -> SignalBuf {
        SignalBuf {
            bytes: [0; 768],
            len: 0,
        }
    }

    pub(crate) fn flush(&self) {
        let mut at = 0;
        while at < self.len {
            // SAFETY: writes initialised bytes of our buffer to stderr;
            // `write` is async-signal-safe.
            let n = unsafe {
                libc::write(
                    libc::STDERR_FILENO,
                    self.bytes[at..].as_ptr().cast(),
                    self.len - at,
                )
            };
            if n <= 0 {
                return;
            }
            at += n as usize;
        }
    }
}

impl std::fmt::Write for SignalBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// An alternate signal stack for a scheduler's thread that had none (std
/// gives one to every thread it starts), so the handler has a stack to
/// run on when a fiber's is full. Removed when dropped.
pub(crate) struct AltStack {
    mapping: *mut libc::c_void,
    len: usize,
}

impl AltStack {
    /// Installs one if this thread has no alternate signal stack.
    pub(crate) fn ensure() -> Option<AltStack> {
        // SAFETY: queries the current alternate stack into a local.
        let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::sigaltstack(ptr::null(), &mut current) } != 0
            || current.ss_flags & libc::SS_DISABLE == 0
        {
            return None; // one is there (or we cannot tell)
        }
        let len = libc::SIGSTKSZ.max(64 * 1024);
        // SAFETY: a fresh private anonymous mapping aliases nothing.
        let mapping = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mapping == libc::MAP_FAILED {
            return None;
        }
        let stack = libc::stack_t {
            ss_sp: mapping,
            ss_flags: 0,
            ss_size: len,
        };
        // SAFETY: the mapping is ours and outlives the registration, which
        // `Drop` removes before unmapping it.
        if unsafe { libc::sigaltstack(&stack, ptr::null_mut()) } != 0 {
            // SAFETY: the mapping made above, which nothing uses.
            unsafe { libc::munmap(mapping, len) };
            return None;
        }
        Some(AltStack { mapping, len })
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let disable = libc::stack_t {
            ss_sp: ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: unregisters our stack (this thread is not on it: no
        // handler runs now), then unmaps it.
        unsafe {
            libc::sigaltstack(&disable, ptr::null_mut());
            libc::munmap(self.mapping, self.len);
        }
    }
}

impl std::fmt::Debug for AltStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AltStack").field("len", &self.len).finish()
    }
}
