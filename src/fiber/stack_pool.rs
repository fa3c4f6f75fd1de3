//! Fiber stacks: mmap'd with a guard page, handed out at a fiber's first run
//! and pooled for reuse (a fresh mmap costs ~10 µs, a reused stack ~13 ns).

use std::fmt;
use std::io;

use corosensei::stack::DefaultStack;

/// Default usable stack size of a fiber: 256 KiB. Only touched pages cost
/// memory; the size bounds recursion depth and stack buffers per fiber.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Idle stacks kept for reuse; beyond this they are unmapped.
const MAX_IDLE: usize = 1024;

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

    pub(crate) fn put(&mut self, stack: DefaultStack) {
        self.live -= 1;
        if self.idle.len() < MAX_IDLE {
            self.idle.push(stack);
        }
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
