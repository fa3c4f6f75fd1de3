//! Signal handlers installed in front of the ones that were there before
//! (std's, an application's), passing on what is not theirs: the stack
//! overflow handler (`fiber::overflow`) and the stall report (`stall`).

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

/// A handler for `SA_SIGINFO`.
pub(crate) type Handler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// The action that was installed for one signal before ours.
pub(crate) struct Previous {
    action: UnsafeCell<MaybeUninit<libc::sigaction>>,
    /// Set once `action` is written, before our handler is installed.
    saved: AtomicBool,
}

// SAFETY: `action` is written once, in `install`, before `saved` is set
// (Release) and before our handler can run; it is read only after `saved`
// is seen (Acquire).
unsafe impl Sync for Previous {}

impl Previous {
    pub(crate) const fn new() -> Previous {
        Previous {
            action: UnsafeCell::new(MaybeUninit::uninit()),
            saved: AtomicBool::new(false),
        }
    }

    /// Installs `handler` for `sig` with `flags` (and `SA_SIGINFO`), saving
    /// the action it replaces.
    ///
    /// # Safety
    ///
    /// Called once for this `Previous` (under a `Once`), which no other
    /// signal uses.
    pub(crate) unsafe fn install(&self, sig: libc::c_int, handler: Handler, flags: libc::c_int) {
        // SAFETY: `sigaction` with valid pointers; the previous action is
        // saved and published before our handler, which reads it, is in
        // place; nothing else writes it (the caller's promise).
        unsafe {
            libc::sigaction(sig, ptr::null(), (*self.action.get()).as_mut_ptr());
            self.saved.store(true, Ordering::Release);
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as usize;
            action.sa_flags = libc::SA_SIGINFO | flags;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, ptr::null_mut());
        }
    }

    /// Calls the saved handler for a signal that is not ours. False, with
    /// nothing called, if the saved action is the default or to ignore (or
    /// none was saved yet). Async-signal-safe.
    pub(crate) fn pass_on(
        &self,
        sig: libc::c_int,
        info: *mut libc::siginfo_t,
        context: *mut libc::c_void,
    ) -> bool {
        if !self.saved.load(Ordering::Acquire) {
            return false;
        }
        // SAFETY: written before `saved` was set, never again.
        let previous = unsafe { (*self.action.get()).assume_init_ref() };
        let f = previous.sa_sigaction;
        if f == libc::SIG_DFL || f == libc::SIG_IGN {
            return false;
        }
        if previous.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: an SA_SIGINFO handler takes these three arguments.
            let f: Handler = unsafe { std::mem::transmute(f) };
            f(sig, info, context);
        } else {
            // SAFETY: a plain handler takes the signal number.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(f) };
            f(sig);
        }
        true
    }
}
