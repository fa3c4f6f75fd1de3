//! Freed fiber packets, kept per thread for the next spawns.
//!
//! Every spawn allocates one block (the fiber's closure and its join state,
//! `fiber::packet`), and every joined fiber frees one. The global allocator
//! is a large share of a spawn+join; a free list per size class in front
//! of it costs a few loads and stores. A block freed
//! on any thread goes to that thread's lists (the memory came from the
//! global allocator, so any thread may reuse or release it), and a thread's
//! lists are released when it exits.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// Blocks are cached in classes of this many bytes...
const CLASS_BYTES: usize = 64;
/// ...up to this many classes (blocks of up to 512 bytes); bigger or more
/// aligned packets go straight to the global allocator.
const CLASSES: usize = 8;
/// Every cached block has this alignment.
const ALIGN: usize = 16;
/// Blocks kept per class: enough for the fibers a program starts and joins
/// in one go, few enough that a thread holds at most 144 KiB.
const MAX_PER_CLASS: u32 = 64;

/// A free block; its first word links to the next.
struct Free {
    next: *mut Free,
}

struct Lists {
    heads: [Cell<*mut Free>; CLASSES],
    lens: [Cell<u32>; CLASSES],
}

impl Drop for Lists {
    fn drop(&mut self) {
        for (class, head) in self.heads.iter().enumerate() {
            let mut block = head.replace(ptr::null_mut());
            while !block.is_null() {
                // SAFETY: every block on the list is free, was allocated
                // with its class's layout, and is on no other list.
                unsafe {
                    let next = (*block).next;
                    alloc::dealloc(block.cast(), class_layout(class));
                    block = next;
                }
            }
        }
    }
}

thread_local! {
    static LISTS: Lists = const {
        Lists {
            heads: [const { Cell::new(ptr::null_mut()) }; CLASSES],
            lens: [const { Cell::new(0) }; CLASSES],
        }
    };
}

/// The class of blocks that fit `layout`, if it is cached at all.
#[inline(always)]
fn class_of(layout: Layout) -> Option<usize> {
    let class = layout.size().max(1).div_ceil(CLASS_BYTES) - 1;
    (layout.align() <= ALIGN && class < CLASSES).then_some(class)
}

fn class_layout(class: usize) -> Layout {
    Layout::from_size_align((class + 1) * CLASS_BYTES, ALIGN).expect("a small layout")
}

/// A block for `layout` (not zero-sized): a cached one of its class if
/// this thread has one, else a fresh one from the global allocator.
#[inline]
pub(crate) fn alloc(layout: Layout) -> NonNull<u8> {
    debug_assert_ne!(layout.size(), 0);
    let cached = class_of(layout).and_then(|class| {
        LISTS
            .try_with(|lists| {
                let block = lists.heads[class].get();
                (!block.is_null()).then(|| {
                    // SAFETY: a listed block is free and starts with its link.
                    lists.heads[class].set(unsafe { (*block).next });
                    lists.lens[class].set(lists.lens[class].get() - 1);
                    block
                })
            })
            .ok()
            .flatten()
    });
    match cached {
        Some(block) => NonNull::new(block.cast()).expect("a listed block"),
        None => alloc_fresh(layout),
    }
}

#[cold]
fn alloc_fresh(layout: Layout) -> NonNull<u8> {
    let layout = class_of(layout).map_or(layout, class_layout);
    // SAFETY: `layout` has a non-zero size (see `alloc`).
    let block = unsafe { alloc::alloc(layout) };
    NonNull::new(block).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

/// Gives back a block `alloc` returned for `layout`.
///
/// # Safety
///
/// `block` came from `alloc(layout)`, on any thread, and is not used after.
#[inline]
pub(crate) unsafe fn dealloc(block: NonNull<u8>, layout: Layout) {
    let Some(class) = class_of(layout) else {
        // SAFETY: an uncached block was allocated with `layout` itself.
        return unsafe { alloc::dealloc(block.as_ptr(), layout) };
    };
    let kept = LISTS.try_with(|lists| {
        let len = lists.lens[class].get();
        if len >= MAX_PER_CLASS {
            return false;
        }
        let free = block.cast::<Free>().as_ptr();
        // SAFETY: the block is ours now and at least a word big and aligned.
        unsafe {
            free.write(Free {
                next: lists.heads[class].get(),
            })
        };
        lists.heads[class].set(free);
        lists.lens[class].set(len + 1);
        true
    });
    if kept != Ok(true) {
        // SAFETY: a cached class's blocks are allocated with its layout.
        unsafe { alloc::dealloc(block.as_ptr(), class_layout(class)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_block_serves_the_next_request_of_its_class() {
        let small = Layout::from_size_align(100, 8).unwrap();
        let same_class = Layout::from_size_align(128, 16).unwrap();
        let a = alloc(small);
        // SAFETY: `a` came from `alloc(small)` and is not used after.
        unsafe { dealloc(a, small) };
        let b = alloc(same_class);
        assert_eq!(a, b, "the freed block is reused");
        let c = alloc(same_class);
        assert_ne!(b, c);
        // SAFETY: as above.
        unsafe {
            b.as_ptr().write_bytes(1, 128);
            dealloc(b, same_class);
            dealloc(c, same_class);
        }
    }

    #[test]
    fn big_or_overaligned_blocks_bypass_the_lists() {
        for layout in [
            Layout::from_size_align(CLASSES * CLASS_BYTES + 1, 8).unwrap(),
            Layout::from_size_align(64, 64).unwrap(),
        ] {
            assert_eq!(class_of(layout), None);
            let a = alloc(layout);
            assert_eq!(a.as_ptr() as usize % layout.align(), 0);
            // SAFETY: `a` came from `alloc(layout)` and is not used after.
            unsafe { dealloc(a, layout) };
        }
    }

    #[test]
    fn a_class_keeps_at_most_its_cap_and_blocks_move_between_threads() {
        let layout = Layout::from_size_align(300, 8).unwrap();
        let class = class_of(layout).unwrap();
        let blocks: Vec<usize> = (0..MAX_PER_CLASS + 10)
            .map(|_| alloc(layout).as_ptr() as usize)
            .collect();
        // Freed on another thread: they go to that thread's lists, which
        // release them (and the excess at once) when it exits.
        std::thread::spawn(move || {
            for &b in &blocks {
                // SAFETY: each came from `alloc(layout)`, used nowhere else.
                unsafe { dealloc(NonNull::new(b as *mut u8).unwrap(), layout) };
            }
            LISTS.with(|l| assert_eq!(l.lens[class].get(), MAX_PER_CLASS));
        })
        .join()
        .unwrap();
    }
}
