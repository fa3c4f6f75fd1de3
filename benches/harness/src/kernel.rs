//! What the running kernel allows for fiber stacks, which the benchmark
//! suite and the stack tests both ask.

/// `vm.max_map_count`: guarded stacks that each own a mapping take two.
pub fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65_530)
}

/// Whether guard regions (`MADV_GUARD_INSTALL`, Linux 6.13+) work here,
/// asked as selvedge asks before it relies on them: install one and see
/// whether reading it faults (`write(2)` from it fails with `EFAULT`).
/// Where they work, guarded stacks share mappings and `max_map_count` no
/// longer caps live fibers. (qemu's user-mode emulation accepts the advice
/// and ignores it.)
pub fn has_guard_regions() -> bool {
    const MADV_GUARD_INSTALL: libc::c_int = 102;
    // SAFETY: a fresh anonymous page, advised, read by the kernel on our
    // behalf (an unreadable one gives EFAULT, not a signal), and unmapped;
    // the pipe's two descriptors are closed once.
    unsafe {
        let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let at = libc::mmap(
            std::ptr::null_mut(),
            page,
            rw,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if at == libc::MAP_FAILED {
            return false;
        }
        let mut fds = [0; 2];
        let guarded = libc::madvise(at, page, MADV_GUARD_INSTALL) == 0
            && libc::pipe(fds.as_mut_ptr()) == 0
            && {
                let faulted = libc::write(fds[1], at, 1) < 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT);
                libc::close(fds[0]);
                libc::close(fds[1]);
                faulted
            };
        libc::munmap(at, page);
        guarded
    }
}

/// Whether the tests run under an emulator (`.ci/aarch64` sets
/// `SELVEDGE_TEST_RUNNER` to qemu), where exhausting the kernel's mappings
/// takes minutes and tests the emulator's memory map rather than ours.
pub fn emulated() -> bool {
    std::env::var_os("SELVEDGE_TEST_RUNNER").is_some()
}
