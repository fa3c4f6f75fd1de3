//! Fiber stacks: mmap'd with a guard page, handed out at a fiber's first run
//! and pooled for reuse (a fresh mmap costs ~10 µs, a reused stack ~13 ns).

use std::fmt;
use std::io;

use corosensei::stack::DefaultStack;

/// Default usable stack size of a fiber: 256 KiB. Only touched pages cost
/// memory; the size bounds recursion depth and stack buffers per fiber.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Idle stacks kept for reuse; the excess is unmapped while the scheduler
/// has nothing else to do.
const MAX_IDLE: usize = 1024;

/// Stacks unmapped per idle moment. An `munmap` costs several microseconds
/// (8 µs on the 2-core VM of docs/benchmarks.md), so unmapping as fibers
/// finish delayed the wake-ups due meanwhile by up to 50 ms when 20k
/// sleepers finished; a batch bounds that delay to ~0.5 ms.
const TRIM_BATCH: usize = 64;

/// The stacks of one scheduler.
pub(crate) struct StackPool {
    size: usize,
    idle: Vec<DefaultStack>,
    live: usize,
    reported: bool,
}

impl fmt::Debug for StackPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackPool")
            .field("size", &self.size)
            .field("idle", &self.idle.len())
            .field("live", &self.live)
            .finish()
    }
}

impl StackPool {
    pub(crate) fn new(size: usize) -> StackPool {
        StackPool {
            size,
            idle: Vec::new(),
            live: 0,
            reported: false,
        }
    }

    /// A stack for a fiber about to start; the error names the limit hit.
    pub(crate) fn get(&mut self) -> Result<DefaultStack, String> {
        let stack = match self.idle.pop() {
            Some(s) => s,
            None => DefaultStack::new(self.size).map_err(|e| self.exhausted(e))?,
        };
        self.live += 1;
        Ok(stack)
    }

    /// True the first time only: the error is printed once per scheduler
    /// (a detached fiber has nobody to hand it to), and returned every time.
    pub(crate) fn first_failure(&mut self) -> bool {
        !std::mem::replace(&mut self.reported, true)
    }

    /// Takes back the stack of a finished fiber. Never unmaps: see `trim`.
    pub(crate) fn put(&mut self, stack: DefaultStack) {
        self.live -= 1;
        self.idle.push(stack);
    }

    /// True while more stacks are idle than the pool keeps.
    pub(crate) fn needs_trim(&self) -> bool {
        self.idle.len() > MAX_IDLE
    }

    /// Unmaps up to one batch of the idle stacks beyond the cap.
    pub(crate) fn trim(&mut self) {
        let excess = self.idle.len().saturating_sub(MAX_IDLE);
        let keep = self.idle.len() - excess.min(TRIM_BATCH);
        self.idle.truncate(keep);
    }

    fn exhausted(&self, e: io::Error) -> String {
        let limit = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        format!(
            "selvedge: cannot map a stack for a new fiber ({e}) while {live} fibers hold \
             stacks of {size} bytes. Each guarded stack takes 2 kernel memory mappings and \
             vm.max_map_count is {limit}, which caps live fibers near half that. Fix: keep \
             fewer fibers started at once (for example, bound fan-out with a channel), lower \
             the per-fiber stack size, or raise the limit \
             (`sysctl -w vm.max_map_count=1048576`).",
            live = self.live,
            size = self.size,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_stacks_are_kept_then_trimmed_in_batches_down_to_the_cap() {
        let mut pool = StackPool::new(16 * 1024);
        let stacks: Vec<_> = (0..MAX_IDLE + 100).map(|_| pool.get().unwrap()).collect();
        for s in stacks {
            pool.put(s);
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
}
