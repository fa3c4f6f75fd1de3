//! Fiber stacks: handed out at a fiber's first run and pooled for reuse (a
//! fresh stack costs microseconds of kernel work, a reused one a pop).
//! A stack is pooled with its coroutine parked on it (a `Runner`), so the
//! next fiber starts without building a coroutine.

use std::fmt;
use std::io;

use crate::runtime::fiber::coroutine::Runner;
use crate::runtime::fiber::guard::page_size;
use crate::runtime::fiber::stack::{map_chunk, map_stack, FiberStack, Layout, CHUNK_STACKS};

/// Default usable stack size of a fiber: 256 KiB. Only touched pages cost
/// memory; the size bounds recursion depth and stack buffers per fiber.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Idle stacks kept for reuse; the excess is unmapped while the scheduler
/// has nothing else to do.
pub(crate) const MAX_IDLE: usize = 1024;

/// Stacks unmapped per idle moment. An `munmap` costs microseconds, so
/// unmapping every stack as its fiber finishes would delay the wake-ups due
/// meanwhile by as much as thousands of unmaps take; a batch bounds that
/// delay to a fraction of a millisecond.
const TRIM_BATCH: usize = 64;

/// The stacks of one scheduler.
pub(crate) struct StackPool {
    size: usize,
    layout: Layout,
    /// Parked coroutines of finished fibers, most recently used last.
    idle: Vec<Runner>,
    /// Carved stacks never used or emptied by `trim`: zeroed, no memory.
    fresh: Vec<FiberStack>,
    live: usize,
    /// Coroutines built so far: the stacks a pooled coroutine did not serve.
    created: usize,
    reported: bool,
    /// Usable bytes of the pool's stacks: `size` in whole pages. A runner
    /// on a stack of another span (`fiber::Builder::stack_size`, the main
    /// fiber's) is unmapped when its fiber finishes, not pooled.
    span: usize,
}

impl fmt::Debug for StackPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackPool")
            .field("size", &self.size)
            .field("layout", &self.layout)
            .field("idle", &self.idle.len())
            .field("live", &self.live)
            .field("created", &self.created)
            .finish()
    }
}

impl StackPool {
    /// A pool of stacks of `size` usable bytes (see `stack` for layouts).
    pub(crate) fn new(size: usize, layout: Layout) -> StackPool {
        StackPool {
            size,
            layout,
            idle: Vec::new(),
            fresh: Vec::new(),
            live: 0,
            created: 0,
            reported: false,
            span: size.div_ceil(page_size()) * page_size(),
        }
    }

    /// Usable bytes of the pool's stacks.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// A coroutine on a stack of at least `size` usable bytes: from the
    /// pool if that is the pool's size, else on a stack mapped for it
    /// alone (with a guard page).
    pub(crate) fn get_sized(&mut self, size: usize) -> Result<Runner, String> {
        if size.div_ceil(page_size()) * page_size() == self.span {
            return self.get();
        }
        let stack = map_stack(size).map_err(|e| {
            exhausted_message(Layout::Mapped, &e, self.live, size, process_mappings())
        })?;
        let runner = Runner::new(stack);
        self.created += 1;
        self.live += 1;
        Ok(runner)
    }

    /// A coroutine for a fiber about to start, parked or new; the error
    /// names the limit hit. Inlined, because the common case is one pop,
    /// and as a call its `Result` (with a `String` in it) goes through
    /// memory.
    #[inline]
    pub(crate) fn get(&mut self) -> Result<Runner, String> {
        let runner = match self.idle.pop() {
            Some(r) => r,
            None => self.build()?,
        };
        self.live += 1;
        Ok(runner)
    }

    /// A coroutine on a new stack, for `get` when none is idle: rare once
    /// the pool holds as many stacks as fibers wait at once.
    #[cold]
    #[inline(never)]
    fn build(&mut self) -> Result<Runner, String> {
        let stack = self.map_new().map_err(|e| self.exhausted(e))?;
        self.created += 1;
        Ok(Runner::new(stack))
    }

    fn map_new(&mut self) -> io::Result<FiberStack> {
        if self.layout == Layout::Mapped {
            return map_stack(self.size);
        }
        if self.fresh.is_empty() {
            self.fresh = map_chunk(self.size, self.layout)?;
        }
        Ok(self.fresh.pop().expect("a chunk holds stacks"))
    }

    /// True the first time only: the error is printed once per scheduler
    /// (a detached fiber has nobody to hand it to), and returned every time.
    pub(crate) fn first_failure(&mut self) -> bool {
        !std::mem::replace(&mut self.reported, true)
    }

    /// Takes back the parked coroutine of a finished fiber. Never unmaps:
    /// see `trim`.
    ///
    /// # Safety
    ///
    /// `runner` is parked: its last resume returned `FiberYield::Finished`
    /// (or it never ran). The pool retires idle runners without unwinding.
    #[inline]
    pub(crate) unsafe fn put(&mut self, runner: Runner) {
        self.live -= 1;
        if runner.span() == self.span {
            self.idle.push(runner);
        } else {
            Self::unmap(runner);
        }
    }

    /// Ends a runner on a stack of another size than the pool's, and
    /// unmaps its stack.
    #[cold]
    #[inline(never)]
    fn unmap(runner: Runner) {
        drop(Self::retire(runner));
    }

    /// The stack of an idle runner, its coroutine ended.
    fn retire(runner: Runner) -> FiberStack {
        // SAFETY: `put` admits parked runners only.
        unsafe { runner.retire() }
    }

    /// True while more stacks are idle than the pool keeps.
    pub(crate) fn needs_trim(&self) -> bool {
        self.idle.len() > MAX_IDLE
    }

    /// Frees the memory of up to one batch of the idle stacks beyond the
    /// cap: a mapped stack is unmapped, a carved one keeps its place in its
    /// chunk and gives its pages back.
    pub(crate) fn trim(&mut self) {
        let excess = self.idle.len().saturating_sub(MAX_IDLE);
        let keep = self.idle.len() - excess.min(TRIM_BATCH);
        for runner in self.idle.drain(keep..) {
            let stack = Self::retire(runner);
            if self.layout != Layout::Mapped {
                stack.release_memory();
                self.fresh.push(stack);
            } // else dropping it unmaps it
        }
    }

    fn exhausted(&self, e: io::Error) -> String {
        let mappings = (self.layout == Layout::Mapped)
            .then(|| {
                // Each mapped stack this pool holds is two mappings; an
                // emulator's `/proc/self/maps` may not show them all.
                let ours = 2 * (self.live + self.idle.len());
                process_mappings().map(|(listed, limit)| (listed.max(ours), limit))
            })
            .flatten();
        exhausted_message(self.layout, &e, self.live, self.size, mappings)
    }
}

/// The process's kernel memory mappings and the most it may have
/// (`vm.max_map_count`), where `/proc` tells.
fn process_mappings() -> Option<(usize, usize)> {
    let limit = std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?;
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    Some((maps.lines().count(), limit.trim().parse().ok()?))
}

/// What failed, and the fixes that work for it. A mapped stack (kernels
/// without guard regions) costs two kernel mappings whatever its size, so
/// near the mapping limit a smaller stack would not help: the message then
/// names the fixes that take fewer mappings; elsewhere the size itself is
/// what the system could not map.
fn exhausted_message(
    layout: Layout,
    e: &io::Error,
    live: usize,
    size: usize,
    mappings: Option<(usize, usize)>,
) -> String {
    let fewer = "keep fewer fibers started at once (for example, bound fan-out with a channel)";
    match (layout, mappings) {
        (Layout::Mapped, Some((used, limit))) if used + 1024 >= limit => format!(
            "selvedge: cannot map a stack for a new fiber ({e}) while {live} fibers hold \
             stacks: the process has {used} kernel memory mappings of the {limit} that \
             vm.max_map_count allows, and each guarded stack takes 2 on this kernel (before \
             Linux 6.13, which has no guard regions), whatever its size. Fix: {fewer}, raise \
             the limit (`sysctl -w vm.max_map_count=1048576`), or, if every fiber's stack use \
             is known to fit, opt into unguarded stacks (`unsafe` Builder::unguarded_stacks), \
             which take no mapping each."
        ),
        _ => format!(
            "selvedge: cannot map {count} of {size} bytes ({e}) while {live} fibers hold \
             stacks: the system has no room for that much more address space or memory. Fix: \
             {fewer}, or lower the per-fiber stack size (Builder::stack_size).",
            count = if layout == Layout::Mapped {
                "a stack".to_owned()
            } else {
                format!("{CHUNK_STACKS} more stacks")
            },
        ),
    }
}

#[cfg(test)]
impl StackPool {
    /// Idle runners, fresh stacks, coroutines created.
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        (self.idle.len(), self.fresh.len(), self.created)
    }
}

impl Drop for StackPool {
    /// Ends the parked coroutines without unwinding them (see
    /// `Runner::retire`); their stacks are then freed.
    fn drop(&mut self) {
        for runner in self.idle.drain(..) {
            drop(Self::retire(runner));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_stacks_are_kept_then_trimmed_in_batches_down_to_the_cap() {
        let mut pool = StackPool::new(16 * 1024, Layout::Mapped);
        let stacks: Vec<_> = (0..MAX_IDLE + 100).map(|_| pool.get().unwrap()).collect();
        for s in stacks {
            // SAFETY: new runners, never resumed.
            unsafe { pool.put(s) };
        }
        assert_eq!(pool.idle.len(), MAX_IDLE + 100, "put never unmaps");
        assert!(pool.needs_trim());
        pool.trim();
        assert_eq!(pool.idle.len(), MAX_IDLE + 100 - TRIM_BATCH);
        pool.trim();
        assert_eq!(pool.idle.len(), MAX_IDLE);
        assert!(!pool.needs_trim());
        pool.trim();
        assert_eq!(pool.idle.len(), MAX_IDLE);
    }

    #[test]
    fn carved_stacks_come_from_shared_chunks_and_trimming_keeps_them_for_reuse() {
        let mut pool = StackPool::new(16 * 1024, Layout::CarvedUnguarded);
        let count = MAX_IDLE + TRIM_BATCH;
        let stacks: Vec<_> = (0..count).map(|_| pool.get().unwrap()).collect();
        assert_eq!(
            pool.fresh.len(),
            count.div_ceil(CHUNK_STACKS) * CHUNK_STACKS - count
        );
        let fresh_before = pool.fresh.len();
        for s in stacks {
            // SAFETY: new runners, never resumed.
            unsafe { pool.put(s) };
        }
        pool.trim();
        assert_eq!(pool.idle.len(), MAX_IDLE);
        assert_eq!(
            pool.fresh.len(),
            fresh_before + TRIM_BATCH,
            "trimmed, not unmapped"
        );
        assert_eq!(pool.live, 0);
    }

    /// Near the mapping limit, the message names the fixes that take
    /// fewer mappings, and not a smaller stack, which takes as many.
    #[test]
    fn the_mapping_limit_error_names_the_limit_and_the_fixes_that_work() {
        let enomem = io::Error::from_raw_os_error(libc::ENOMEM);
        let message = exhausted_message(
            Layout::Mapped,
            &enomem,
            32_000,
            16 * 1024,
            Some((65_500, 65_530)),
        );
        for needle in [
            "vm.max_map_count",
            "65530",
            "sysctl",
            "unguarded_stacks",
            "fewer fibers",
        ] {
            assert!(message.contains(needle), "{needle} missing: {message}");
        }
        assert!(!message.contains("stack size"), "{message}");
    }

    /// Far from the mapping limit, what failed is the size itself.
    #[test]
    fn a_stack_the_system_cannot_map_is_named_by_its_size() {
        let enomem = io::Error::from_raw_os_error(libc::ENOMEM);
        for (layout, mappings) in [
            (Layout::Mapped, Some((300, 65_530))),
            (Layout::Mapped, None),
            (Layout::CarvedGuarded, None),
        ] {
            let message = exhausted_message(layout, &enomem, 0, 1 << 46, mappings);
            assert!(message.contains("stack size"), "{message}");
            assert!(message.contains(&(1u64 << 46).to_string()), "{message}");
            assert!(!message.contains("max_map_count"), "{message}");
        }
    }
}
