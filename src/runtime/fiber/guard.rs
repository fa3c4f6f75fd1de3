//! Guard pages for stacks carved from shared mappings: guard regions
//! (`MADV_GUARD_INSTALL`, Linux 6.13+), installed in one batch where the
//! kernel takes it, and the probe that trusts them only once one faults.

use std::io;

/// `MADV_GUARD_INSTALL` from Linux's uapi `mman-common.h` (not yet in libc).
#[cfg(target_os = "linux")]
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// The size of a memory page.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).expect("a page size")
}

/// Whether `install` makes a guard that faults: maps two pages, guards the
/// first with it, and has the kernel read from it. A kernel without guard
/// regions refuses the advice; qemu's user-mode emulation accepts advice
/// it ignores, so success alone proves nothing.
pub(crate) fn guard_regions_work(install: impl FnOnce(usize, usize) -> io::Result<()>) -> bool {
    let page = page_size();
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    // SAFETY: a fresh private anonymous mapping at an address the kernel
    // picks aliases nothing.
    let probe = unsafe { libc::mmap(std::ptr::null_mut(), page, rw, flags, -1, 0) };
    if probe == libc::MAP_FAILED {
        return false;
    }
    let at = probe as usize;
    let works = install(at, page).is_ok() && reading_faults(at);
    // SAFETY: the page mapped above, which nothing else knows.
    unsafe { libc::munmap(probe, page) };
    works
}

/// Whether reading the byte at `addr` faults, asked without risking a
/// signal: `write(2)` of that byte to a pipe fails with `EFAULT` where a
/// read by the process would fault.
pub(crate) fn reading_faults(addr: usize) -> bool {
    let mut fds = [0; 2];
    // SAFETY: `pipe2` writes two new descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return false;
    }
    // SAFETY: the kernel reads one byte at `addr` on our behalf, and
    // reports an address it cannot read as `EFAULT` rather than a signal;
    // the pipe is empty, so there is room for the byte.
    let written = unsafe { libc::write(fds[1], addr as *const libc::c_void, 1) };
    let faulted = written < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT);
    for fd in fds {
        // SAFETY: both descriptors were made above and are closed once.
        unsafe { libc::close(fd) };
    }
    faulted
}

/// Installs a guard region of `len` bytes at each address in `at`: in one
/// batch where the kernel takes it, else (and for what a batch left) with
/// one `madvise` per guard.
pub(crate) fn install_guards<const N: usize>(at: &[usize; N], len: usize) -> io::Result<()> {
    install_guards_after(install_guards_batched, at, len)
}

/// `install_guards` with the batch as a parameter, so that a test can
/// make it install fewer guards than asked, or none, as an older kernel
/// does: the fallback never runs where the batch works.
pub(crate) fn install_guards_after<const N: usize>(
    batch: impl FnOnce(&[usize; N], usize) -> usize,
    at: &[usize; N],
    len: usize,
) -> io::Result<()> {
    let done = batch(at, len);
    at[done..].iter().try_for_each(|&a| install_guard(a, len))
}

/// One `process_madvise` for every guard, where the kernel lets a process
/// advise itself that way (Linux 6.14+): one system call for a chunk's
/// guards instead of one each. Returns how many guards it installed (from
/// the first).
#[cfg(target_os = "linux")]
fn install_guards_batched<const N: usize>(at: &[usize; N], len: usize) -> usize {
    use std::sync::atomic::{AtomicBool, Ordering};
    /// Cleared once the kernel refuses the batched call for a reason other
    /// than memory, so later chunks go straight to `madvise`.
    static BATCH: AtomicBool = AtomicBool::new(true);
    /// `PIDFD_SELF_THREAD` from Linux's uapi `pidfd.h` (not yet in libc).
    const PIDFD_SELF_THREAD: libc::c_int = -10000;

    if !BATCH.load(Ordering::Relaxed) {
        return 0;
    }
    let iov: [libc::iovec; N] = std::array::from_fn(|i| libc::iovec {
        iov_base: at[i] as *mut libc::c_void,
        iov_len: len,
    });
    // SAFETY: every range lies in a chunk mapped by the caller that no
    // stack uses yet, and a guard region only makes accesses there fault;
    // `iov` outlives the call and holds `iov.len()` entries.
    let advised = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF_THREAD,
            iov.as_ptr(),
            iov.len(),
            MADV_GUARD_INSTALL,
            0,
        )
    };
    match usize::try_from(advised) {
        Ok(bytes) => bytes / len, // the kernel may stop early
        Err(_) => {
            if io::Error::last_os_error().raw_os_error() != Some(libc::ENOMEM) {
                BATCH.store(false, Ordering::Relaxed);
            }
            0
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn install_guards_batched<const N: usize>(_at: &[usize; N], _len: usize) -> usize {
    0
}

#[cfg(target_os = "linux")]
pub(crate) fn install_guard(at: usize, len: usize) -> io::Result<()> {
    // SAFETY: `[at, at + len)` lies in a chunk mapped by the caller that
    // no stack uses yet; a guard region only makes accesses there fault.
    match unsafe { libc::madvise(at as *mut _, len, MADV_GUARD_INSTALL) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn install_guard(_at: usize, _len: usize) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}
