//! A fiber's stack, and where it comes from.
//!
//! A guard page below each stack makes an overflow fault instead of
//! silently writing over other memory. Made with `mprotect`, a guard page
//! splits the kernel's memory map, so such a stack costs two mappings and
//! `vm.max_map_count` (65530 by default) caps live fibers near 32k; it also
//! costs an `mmap` plus an `mprotect` per stack.
//!
//! So stacks are *carved* back to back from one read-write mapping per
//! chunk of `CHUNK_STACKS`, which the kernel merges with its neighbours,
//! and each gets its guard page from `MADV_GUARD_INSTALL` (Linux 6.13+),
//! which marks pages in the page table without splitting the mapping.
//! Live fibers are then bounded by memory, not by mappings. Where the
//! kernel lacks guard regions, each stack is *mapped* on its own with an
//! `mprotect`ed guard page (as corosensei's `DefaultStack`), and the
//! mapping limit applies again. The `unsafe` opt-in
//! `Builder::unguarded_stacks` carves stacks with no guard at all.

use std::io;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::OnceLock;

use corosensei::stack::valgrind::ValgrindStackRegistration;
use corosensei::stack::{Stack, StackPointer};

use crate::runtime::fiber::guard::{guard_regions_work, install_guard, install_guards, page_size};

/// Stacks carved from one mapping: few enough that a small runtime does
/// not reserve much address space, many enough that the `mmap` is paid
/// once per this many fibers.
pub(crate) const CHUNK_STACKS: usize = 64;

/// Bytes at the top of every stack kept out of corosensei's reach: the
/// fiber's coroutine record lives there (see `fiber::coroutine`). With the
/// stack's first words (corosensei's link to the resumer, just below), it
/// fills the stack's top cache line, the one line every switch touches
/// besides the suspended frames.
pub(crate) const TOP_RESERVE: usize = 48;

/// The stack a fiber runs on. Corosensei sees `[limit, base)`; the
/// `TOP_RESERVE` bytes from `base` up to the top of the memory are the
/// owner's (`reserved_top`). Two words, so the coroutine that holds it
/// fits the reserve.
pub(crate) struct FiberStack {
    /// `TOP_RESERVE` below the top; read on every resume.
    base: StackPointer,
    /// The mapping the stack is part of, unmapped with its last stack.
    chunk: Rc<Chunk>,
}

impl FiberStack {
    /// The `TOP_RESERVE` bytes above the stack: mapped, writable, 16-byte
    /// aligned, and never written by code running on the stack.
    #[inline]
    pub(crate) fn reserved_top(&self) -> NonNull<u8> {
        NonNull::new(self.base.get() as *mut u8).expect("a stack at address 0")
    }

    fn top(&self) -> usize {
        self.base.get() + TOP_RESERVE
    }

    /// Usable bytes, from the limit to the top (the reserve included).
    pub(crate) fn span(&self) -> usize {
        self.chunk.span
    }

    fn lowest(&self) -> usize {
        self.top() - self.chunk.span
    }

    /// Returns a carved stack's touched pages to the kernel, keeping its
    /// place (unmapping part of a chunk would split it) and its guard page,
    /// which `MADV_DONTNEED` leaves in place. The stack reads as zeros
    /// afterwards, as a fresh one does.
    pub(crate) fn release_memory(&self) {
        let len = self.chunk.span;
        // SAFETY: `[lowest, top)` is this stack's part of its chunk's
        // mapping, and no fiber runs on it (the pool only trims idle
        // stacks), so discarding its contents affects no live value.
        unsafe { libc::madvise(self.lowest() as *mut _, len, libc::MADV_DONTNEED) };
    }
}

// SAFETY: `[limit, base + TOP_RESERVE)` is one stack's part of its chunk,
// which stays mapped, readable and writable while the `Rc` lives, and no
// two stacks of a chunk overlap. `base` is `TOP_RESERVE` (a multiple of
// 16) below a page boundary, so it is aligned, and every stack spans far
// more than `MIN_STACK_SIZE`.
unsafe impl Stack for FiberStack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.base
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        StackPointer::new(self.lowest()).expect("a mapping at 0")
    }
}

/// How a pool gets its stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Carved from chunks, each with a guard region below it.
    CarvedGuarded,
    /// Carved from chunks with no guard (`Builder::unguarded_stacks`).
    CarvedUnguarded,
    /// One mapping per stack with an `mprotect`ed guard page.
    Mapped,
}

impl Layout {
    /// The guarded layout this kernel supports best.
    pub(crate) fn guarded() -> Layout {
        static GUARD_REGIONS: OnceLock<bool> = OnceLock::new();
        if *GUARD_REGIONS.get_or_init(|| guard_regions_work(install_guard)) {
            Layout::CarvedGuarded
        } else {
            Layout::Mapped
        }
    }
}

/// One mapping holding stacks (`CHUNK_STACKS` carved ones, or one mapped
/// stack), unmapped when its last stack is dropped.
struct Chunk {
    start: NonNull<u8>,
    len: usize,
    /// Usable bytes of each stack, from its limit to its top.
    span: usize,
    /// Lets Valgrind tell a fiber switch from a wild stack pointer, as
    /// corosensei's own stacks do (free when not under Valgrind).
    _valgrind: Vec<ValgrindStackRegistration>,
}

impl Chunk {
    /// Maps `len` bytes of fresh private anonymous memory (`prot`, extra
    /// `flags`) for stacks of `span` usable bytes each.
    fn map(len: usize, span: usize, prot: libc::c_int, flags: libc::c_int) -> io::Result<Chunk> {
        // SAFETY: a fresh private anonymous mapping at an address the
        // kernel picks aliases nothing.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | flags,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Chunk {
            start: NonNull::new(start.cast::<u8>()).expect("mmap returned null"),
            len,
            span,
            _valgrind: Vec::new(),
        })
    }

    /// The chunk's stacks, whose tops are `stride` apart from the start.
    fn stacks(self, count: usize, stride: usize) -> Vec<FiberStack> {
        let first = self.start.as_ptr() as usize;
        let chunk = Rc::new(self);
        (1..=count)
            .map(|i| FiberStack {
                base: StackPointer::new(first + i * stride - TOP_RESERVE).expect("a mapping at 0"),
                chunk: chunk.clone(),
            })
            .collect()
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // SAFETY: `start..start + len` is the mapping this chunk made; every
        // stack in it holds an `Rc` of this chunk, so none is left.
        unsafe { libc::munmap(self.start.as_ptr().cast(), self.len) };
    }
}

/// Maps a chunk and carves it into `CHUNK_STACKS` stacks of at least `size`
/// usable bytes, with a guard page below each for `CarvedGuarded`. Fails
/// with `Unsupported` if the kernel has no guard regions.
pub(crate) fn map_chunk(size: usize, layout: Layout) -> io::Result<Vec<FiberStack>> {
    debug_assert_ne!(layout, Layout::Mapped);
    let page = page_size();
    let guard = if layout == Layout::CarvedGuarded {
        page
    } else {
        0
    };
    let slot = size.div_ceil(page) * page + guard;
    let len = slot * CHUNK_STACKS;
    let span = slot - guard;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let mut chunk = Chunk::map(len, span, rw, libc::MAP_NORESERVE)?;
    let first = chunk.start.as_ptr() as usize;
    chunk._valgrind = (0..CHUNK_STACKS)
        .map(|i| ValgrindStackRegistration::new((first + i * slot + guard) as *mut u8, span))
        .collect();
    if guard > 0 {
        let guards: [usize; CHUNK_STACKS] = std::array::from_fn(|i| first + i * slot);
        install_guards(&guards, guard)?; // drops (unmaps) the chunk on error
    }
    Ok(chunk.stacks(CHUNK_STACKS, slot))
}

/// Maps one stack of at least `size` usable bytes with an `mprotect`ed
/// guard page below it, as corosensei's `DefaultStack` does: two kernel
/// mappings.
pub(crate) fn map_stack(size: usize) -> io::Result<FiberStack> {
    let page = page_size();
    let span = size.div_ceil(page) * page;
    let len = span + page;
    let mut chunk = Chunk::map(len, span, libc::PROT_NONE, 0)?;
    // SAFETY: the guard page lies within the mapping.
    let usable = unsafe { chunk.start.as_ptr().add(page) };
    chunk._valgrind = vec![ValgrindStackRegistration::new(usable, span)];
    // SAFETY: `[usable, usable + span)` is the mapping just made, less its
    // guard page; nothing uses it yet.
    let protected =
        unsafe { libc::mprotect(usable.cast(), span, libc::PROT_READ | libc::PROT_WRITE) };
    if protected != 0 {
        return Err(io::Error::last_os_error()); // drops (unmaps) the chunk
    }
    Ok(chunk.stacks(1, len).pop().expect("one stack"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::fiber::guard::{install_guards_after, reading_faults};

    fn check_chunk(layout: Layout, gap: usize) {
        let stacks = map_chunk(20_000, layout).unwrap();
        assert_eq!(stacks.len(), CHUNK_STACKS);
        for pair in stacks.windows(2) {
            assert_eq!(pair[0].top() + gap, pair[1].lowest());
        }
        for s in &stacks {
            let len = s.top() - s.lowest();
            assert!(len >= 20_000 && len % page_size() == 0);
            // SAFETY: the stack is ours and nothing runs on it.
            unsafe {
                let p = s.lowest() as *mut u8;
                p.write(7);
                p.add(len - 1).write(7);
            }
            s.release_memory();
            // SAFETY: as above; the mapping is still there.
            assert_eq!(unsafe { (s.lowest() as *const u8).read() }, 0);
        }
    }

    #[test]
    fn unguarded_chunks_hold_back_to_back_stacks_that_release_their_pages() {
        check_chunk(Layout::CarvedUnguarded, 0);
    }

    /// A guard is trusted only once it faults: an install that succeeds
    /// without guarding (as qemu's user-mode emulation does) is caught, and
    /// the pool then maps stacks with `mprotect`ed guard pages instead.
    #[test]
    fn a_guard_that_does_not_fault_is_not_trusted() {
        assert!(!guard_regions_work(|_, _| Ok(())), "a no-op install");
        assert!(!guard_regions_work(|_, _| Err(
            io::ErrorKind::Unsupported.into()
        )));
        let kernel_guards = guard_regions_work(install_guard);
        let pagemap_says = guards_show_in_pagemap();
        assert!(
            !pagemap_says || kernel_guards,
            "pagemap shows a guard that did not fault"
        );
        let expected = if kernel_guards {
            Layout::CarvedGuarded
        } else {
            Layout::Mapped
        };
        assert_eq!(Layout::guarded(), expected);
    }

    #[test]
    fn reading_faults_tells_an_inaccessible_page_from_a_readable_one() {
        let page = page_size();
        let none = Chunk::map(page, page, libc::PROT_NONE, 0).unwrap();
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let readable = Chunk::map(page, page, rw, 0).unwrap();
        assert!(reading_faults(none.start.as_ptr() as usize));
        assert!(!reading_faults(readable.start.as_ptr() as usize));
    }

    #[test]
    fn guarded_chunks_leave_one_guard_page_between_stacks() {
        if Layout::guarded() == Layout::CarvedGuarded {
            check_chunk(Layout::CarvedGuarded, page_size());
        }
    }

    /// Whether `/proc/self/pagemap` marks the page at `addr` as a guard
    /// region (bit 58, Linux 6.14+); `None` if it cannot be read.
    fn pagemap_guard_bit(addr: usize) -> Option<bool> {
        use std::os::unix::fs::FileExt;
        let file = std::fs::File::open("/proc/self/pagemap").ok()?;
        let mut entry = [0u8; 8];
        let offset = (addr / page_size() * 8) as u64;
        file.read_exact_at(&mut entry, offset).ok()?;
        Some(u64::from_ne_bytes(entry) >> 58 & 1 == 1)
    }

    /// Every guard of a chunk is installed, not only the first: the batched
    /// `process_madvise` and its `madvise` fallback must both cover all 64.
    #[test]
    fn every_stack_of_a_chunk_gets_its_guard_page() {
        if !guards_show_in_pagemap() {
            return;
        }
        let stacks = map_chunk(20_000, Layout::CarvedGuarded).unwrap();
        let below = |s: &FiberStack| s.lowest() - page_size();
        for (i, s) in stacks.iter().enumerate() {
            assert_eq!(pagemap_guard_bit(below(s)), Some(true), "stack {i}");
            assert_eq!(pagemap_guard_bit(s.lowest()), Some(false), "stack {i}");
        }
    }

    /// Whether the kernel has guard regions and `/proc/self/pagemap`
    /// reports them (Linux 6.14+), so tests can check guards page by page.
    /// Probed on a guard of its own: probing the first guard under test
    /// would skip the test exactly when that guard is missing.
    fn guards_show_in_pagemap() -> bool {
        if Layout::guarded() != Layout::CarvedGuarded {
            return false; // the kernel has no guard regions: the pool maps stacks
        }
        let (_probe, at) = chunk_and_guard_sites();
        install_guard(at[0], page_size()).unwrap();
        pagemap_guard_bit(at[0]) == Some(true)
    }

    /// A chunk of `2 * CHUNK_STACKS` pages and every other page's
    /// address, to be guards.
    fn chunk_and_guard_sites() -> (Chunk, [usize; CHUNK_STACKS]) {
        let page = page_size();
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let chunk = Chunk::map(2 * CHUNK_STACKS * page, page, rw, libc::MAP_NORESERVE).unwrap();
        let first = chunk.start.as_ptr() as usize;
        (chunk, std::array::from_fn(|i| first + 2 * i * page))
    }

    /// The `madvise` fallback installs every guard the batch did not: all
    /// of them when the kernel refuses the batch (before Linux 6.14), the
    /// rest when it stops early.
    #[test]
    fn the_fallback_installs_the_guards_a_batch_left() {
        if !guards_show_in_pagemap() {
            return;
        }
        let page = page_size();
        for batched in [0, 1, 10, CHUNK_STACKS - 1] {
            let (_chunk, at) = chunk_and_guard_sites();
            let stopping_early = |at: &[usize; CHUNK_STACKS], len: usize| {
                for &a in &at[..batched] {
                    install_guard(a, len).unwrap();
                }
                batched
            };
            install_guards_after(stopping_early, &at, page).unwrap();
            for (i, &a) in at.iter().enumerate() {
                let (guard, usable) = (pagemap_guard_bit(a), pagemap_guard_bit(a + page));
                assert_eq!(guard, Some(true), "guard {i} after {batched} batched");
                assert_eq!(usable, Some(false), "page above guard {i}");
            }
        }
    }

    /// A guard the kernel will not install fails the chunk with its error,
    /// rather than leaving a stack unguarded.
    #[test]
    fn a_guard_that_fails_to_install_fails_the_chunk() {
        if Layout::guarded() != Layout::CarvedGuarded {
            return;
        }
        let (_chunk, mut at) = chunk_and_guard_sites();
        at[CHUNK_STACKS - 1] += 1; // not page-aligned
        let err = install_guards_after(|_, _| 0, &at, page_size()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    }

    /// Child half of the tests below: writes just below a stack of the
    /// layout the parent names, after it released its memory (carved).
    #[test]
    #[ignore = "run by the guard_pages_fault tests"]
    fn child_writes_into_a_guard_page() {
        let below = match std::env::var("SELVEDGE_GUARD_CHILD").as_deref() {
            Ok("carved") => {
                let stacks = map_chunk(20_000, Layout::CarvedGuarded).unwrap();
                stacks[1].release_memory();
                stacks[1].lowest() - 1
            }
            Ok("mapped") => map_stack(20_000).unwrap().lowest() - 1,
            _ => return,
        };
        // SAFETY: none; this write must fault and kill the process.
        unsafe { (below as *mut u8).write(1) };
        std::process::exit(0);
    }

    /// This test binary, to run again as a child: through the command in
    /// `SELVEDGE_TEST_RUNNER` if one is set (`.ci/aarch64` sets qemu, as
    /// the host kernel cannot start an emulated binary by itself).
    fn this_binary_again() -> std::process::Command {
        let exe = std::env::current_exe().unwrap();
        let runner = std::env::var("SELVEDGE_TEST_RUNNER").unwrap_or_default();
        let mut words = runner.split_whitespace();
        match words.next() {
            Some(program) => {
                let mut command = std::process::Command::new(program);
                command.args(words).arg(exe);
                command
            }
            None => std::process::Command::new(exe),
        }
    }

    fn child_write_below(layout: &str) -> std::process::ExitStatus {
        // The child test's path within the crate, wherever this module is.
        let module = module_path!().trim_start_matches("selvedge::");
        let child = format!("{module}::child_writes_into_a_guard_page");
        this_binary_again()
            .args(["--ignored", "--exact", &child])
            .env("SELVEDGE_GUARD_CHILD", layout)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
    }

    #[test]
    fn guard_pages_fault_even_after_a_stack_released_its_memory() {
        use std::os::unix::process::ExitStatusExt;
        if Layout::guarded() != Layout::CarvedGuarded {
            return; // the kernel has no guard regions: the pool maps stacks
        }
        let status = child_write_below("carved");
        assert_eq!(status.signal(), Some(libc::SIGSEGV), "{status:?}");
    }

    #[test]
    fn guard_pages_of_mapped_stacks_fault() {
        use std::os::unix::process::ExitStatusExt;
        let status = child_write_below("mapped");
        assert_eq!(status.signal(), Some(libc::SIGSEGV), "{status:?}");
    }

    /// Sums `n` down to 0 with a kilobyte frame per level, so `n` levels
    /// use `n` KiB of the coroutine's stack.
    fn deep_sum(n: u64) -> u64 {
        let frame = std::hint::black_box([n; 128]);
        if n == 0 {
            0
        } else {
            frame[127] + deep_sum(n - 1)
        }
    }

    /// Corosensei runs on both kinds of stack down to (nearly) their
    /// limit, and leaves the reserved top alone.
    #[test]
    fn coroutines_run_on_mapped_and_carved_stacks_and_keep_off_the_reserve() {
        use corosensei::{Coroutine, CoroutineResult};
        let mut stacks = map_chunk(1024 * 1024, Layout::CarvedUnguarded).unwrap();
        stacks.truncate(2);
        stacks.push(map_stack(1024 * 1024).unwrap());
        for stack in stacks {
            assert_eq!(stack.base().get() % 16, 0);
            assert_eq!(stack.limit().get(), stack.lowest());
            assert!(stack.base().get() - stack.limit().get() >= 1024 * 1024 - TOP_RESERVE);
            let reserve = stack.reserved_top().as_ptr();
            // SAFETY: the reserve is mapped and writable, and ours.
            unsafe { reserve.write_bytes(0xA5, TOP_RESERVE) };
            let mut co = Coroutine::with_stack(stack, |y, n: u64| {
                let first = deep_sum(n);
                let n = y.suspend(first);
                deep_sum(n)
            });
            assert!(matches!(co.resume(100), CoroutineResult::Yield(5050)));
            assert!(matches!(co.resume(140), CoroutineResult::Return(9870)));
            let stack = co.into_stack();
            // SAFETY: as above.
            let kept = unsafe { std::slice::from_raw_parts(reserve, TOP_RESERVE) };
            assert!(kept.iter().all(|&b| b == 0xA5), "the reserve was written");
            drop(stack);
        }
    }
}
