//! A scheduler's fibers, in slots that never move.
//!
//! A `Slab` moves its entries when it grows, so a coroutine kept in one had
//! to live in a box of its own for the scheduler to resume it in place.
//! Here slots come in fixed chunks that stay put until the table drops:
//! the coroutine sits inline in its slot, and resuming a fiber touches its
//! slot and its stack, not a third block.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::ptr::NonNull;

use crate::runtime::fiber::packet::Body;
use crate::runtime::fiber::slot::{FiberSlot, FiberState};
use crate::runtime::key::FiberKey;

/// Slots per chunk (a power of two, so an index splits with a shift).
const CHUNK_SHIFT: u32 = 6;
const CHUNK_SLOTS: usize = 1 << CHUNK_SHIFT;
const SLOT_MASK: u32 = (1 << CHUNK_SHIFT) - 1;

/// The generation of a vacant slot; live fibers never get it, so a lookup
/// tells a vacant slot from a live one without reading the slot's state
/// (which a running fiber's coroutine holds borrowed).
const VACANT: u32 = 0;

/// Ends the free list.
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// The fiber table of one scheduler. Not `Sync`: one thread's scheduler
/// reaches it, and no method calls out to other code while it holds a
/// reference into `chunks`.
pub(crate) struct FiberTable {
    /// Each points at `CHUNK_SLOTS` slots from a boxed slice, freed on drop.
    chunks: UnsafeCell<Vec<NonNull<FiberSlot>>>,
    /// The head of the free list threaded through the vacant slots.
    free: Cell<u32>,
    len: Cell<usize>,
    /// The last generation handed out, so a reused slot's new fiber is
    /// told apart from the one that had it before.
    generation: Cell<u32>,
}

impl Default for FiberTable {
    fn default() -> FiberTable {
        FiberTable::continuing(VACANT)
    }
}

impl FiberTable {
    /// An empty table whose generations continue after `last`, the last
    /// one an earlier table of the same scheduler handed out.
    pub(crate) fn continuing(last: u32) -> FiberTable {
        FiberTable {
            chunks: UnsafeCell::new(Vec::new()),
            free: Cell::new(NO_SLOT),
            len: Cell::new(0),
            generation: Cell::new(last),
        }
    }

    /// The last generation handed out.
    pub(crate) fn last_generation(&self) -> u32 {
        self.generation.get()
    }

    /// Live fibers.
    pub(crate) fn len(&self) -> usize {
        self.len.get()
    }

    /// The slot at `index`, vacant or not, if the table reaches that far.
    #[inline]
    fn slot(&self, index: u32) -> Option<&FiberSlot> {
        // SAFETY: `chunks` is only mutated by `grow`, which holds no other
        // reference to it, and this shared borrow ends within the block.
        let chunk = unsafe {
            (&*self.chunks.get())
                .get((index >> CHUNK_SHIFT) as usize)
                .copied()
        };
        // SAFETY: each chunk holds `CHUNK_SLOTS` initialised slots and stays
        // allocated, unmoved, until the table drops, which outlives `&self`.
        chunk.map(|c| unsafe { &*c.as_ptr().add((index & SLOT_MASK) as usize) })
    }

    /// The live fiber `key` names: `None` once it finished (a late wake).
    #[inline]
    pub(crate) fn get(&self, key: FiberKey) -> Option<&FiberSlot> {
        self.slot(key.index)
            .filter(|s| s.generation.get() == key.generation)
    }

    /// Adds a fiber that has not started, under a fresh generation.
    #[inline]
    pub(crate) fn insert(&self, body: Body) -> FiberKey {
        let mut generation = self.generation.get().wrapping_add(1);
        if generation == VACANT {
            generation = generation.wrapping_add(1);
        }
        self.generation.set(generation);
        if self.free.get() == NO_SLOT {
            self.grow();
        }
        let index = self.free.get();
        let slot = self.slot(index).expect("the free list names a slot");
        // SAFETY: the slot is vacant, so no coroutine borrows its state.
        let state = unsafe { &mut *slot.state.get() };
        let FiberState::Vacant(next) = *state else {
            unreachable!("the free list holds vacant slots only")
        };
        // SAFETY: `state` is a valid place, and its old value, `Vacant`,
        // owns nothing, so overwriting it without a drop leaks nothing. (An
        // assignment would call the state's drop glue, out of line.)
        unsafe { std::ptr::write(state, FiberState::Unstarted(body)) };
        self.free.set(next);
        slot.generation.set(generation);
        slot.open_batch.set(None);
        self.len.set(self.len.get() + 1);
        FiberKey { index, generation }
    }

    /// Empties a live fiber's slot, handing back its state (for the caller
    /// to drop outside any borrow of the table).
    ///
    /// The fiber must not be running: its state is moved out.
    pub(crate) fn take(&self, index: u32) -> FiberState {
        self.vacate(self.slot(index).expect("a live fiber's slot"), index)
    }

    /// `take` for a caller that holds the slot already: `slot` must be
    /// this table's slot `index`.
    #[inline]
    pub(crate) fn vacate(&self, slot: &FiberSlot, index: u32) -> FiberState {
        debug_assert!(self.slot(index).is_some_and(|s| std::ptr::eq(s, slot)));
        debug_assert_ne!(slot.generation.get(), VACANT);
        // SAFETY: the fiber is not running (the caller's precondition: only
        // the scheduler loop and teardown take slots), so nothing borrows
        // its state.
        let state = unsafe { &mut *slot.state.get() };
        let state = std::mem::replace(state, FiberState::Vacant(self.free.get()));
        self.free.set(index);
        slot.generation.set(VACANT);
        self.len.set(self.len.get() - 1);
        state
    }

    /// The first live fiber at or after `from`, for teardown.
    pub(crate) fn next_live(&self, from: u32) -> Option<FiberKey> {
        // SAFETY: as in `slot`.
        let end = unsafe { (&*self.chunks.get()).len() } * CHUNK_SLOTS;
        (from as usize..end).find_map(|i| {
            let generation = self.slot(i as u32)?.generation.get();
            (generation != VACANT).then_some(FiberKey {
                index: i as u32,
                generation,
            })
        })
    }

    /// Adds a chunk of vacant slots and puts them on the free list.
    #[cold]
    fn grow(&self) {
        // SAFETY: no reference into `chunks` outlives the methods of this
        // table, and none of them is active while `grow` runs.
        let chunks = unsafe { &mut *self.chunks.get() };
        let first = chunks.len() * CHUNK_SLOTS;
        let last = u32::try_from(first + CHUNK_SLOTS - 1)
            .ok()
            .filter(|&l| l != NO_SLOT)
            .expect("selvedge: more than 2^32 live fibers on one scheduler");
        let slots: Box<[FiberSlot]> = (first as u32..=last)
            .map(|i| FiberSlot::vacant(if i == last { self.free.get() } else { i + 1 }))
            .collect();
        let slots = NonNull::from(Box::leak(slots));
        chunks.push(slots.cast());
        self.free.set(first as u32);
    }
}

impl Drop for FiberTable {
    fn drop(&mut self) {
        for chunk in self.chunks.get_mut().drain(..) {
            let slots = std::ptr::slice_from_raw_parts_mut(chunk.as_ptr(), CHUNK_SLOTS);
            // SAFETY: `slots` is the boxed slice `grow` leaked, freed once.
            drop(unsafe { Box::from_raw(slots) });
        }
    }
}

impl fmt::Debug for FiberTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiberTable")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::fiber::packet::packet;

    fn body() -> Body {
        packet(|| (), None, std::panic::Location::caller()).0
    }

    fn key(index: u32, generation: u32) -> FiberKey {
        FiberKey { index, generation }
    }

    #[test]
    fn slots_stay_put_while_the_table_grows() {
        let table = FiberTable::default();
        let first = table.insert(body());
        assert_eq!(first.generation, 1);
        let before: *const FiberSlot = table.get(key(first.index, 1)).unwrap();
        for _ in 2..(10 * CHUNK_SLOTS as u32) {
            table.insert(body());
        }
        let after: *const FiberSlot = table.get(key(first.index, 1)).unwrap();
        assert_eq!(before, after);
        assert_eq!(table.len(), 10 * CHUNK_SLOTS - 1);
    }

    #[test]
    fn a_freed_slot_is_reused_and_its_old_key_is_stale() {
        let table = FiberTable::default();
        let a = table.insert(body()).index;
        let b = table.insert(body()).index;
        assert!(matches!(table.take(a), FiberState::Unstarted(_)));
        assert!(table.get(key(a, 1)).is_none(), "a late wake finds nothing");
        let c = table.insert(body());
        assert_eq!(c.generation, 3);
        let c = c.index;
        assert_eq!(c, a, "the most recently freed slot is reused first");
        assert!(table.get(key(c, 1)).is_none());
        assert!(table.get(key(c, 3)).is_some());
        assert!(table.get(key(b, 2)).is_some());
        assert!(table.get(key(1000, 1)).is_none(), "beyond the table");
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn generations_skip_the_vacant_mark_when_they_wrap() {
        let table = FiberTable::default();
        table.generation.set(u32::MAX - 1);
        let a = table.insert(body());
        let b = table.insert(body());
        assert_eq!((a.generation, b.generation), (u32::MAX, 1));
        assert!(table.get(a).is_some() && table.get(b).is_some());
    }

    #[test]
    fn a_new_fiber_starts_with_a_clean_slot() {
        let table = FiberTable::default();
        let a = table.insert(body());
        let slot = table.get(a).unwrap();
        slot.open_batch.set(std::num::NonZeroU64::new(7));
        drop(table.take(a.index));
        let b = table.insert(body());
        assert_eq!(table.get(b).unwrap().open_batch.get(), None);
    }

    #[test]
    fn next_live_visits_live_fibers_in_index_order() {
        let table = FiberTable::default();
        let keys: Vec<u32> = (1..=200).map(|_| table.insert(body()).index).collect();
        for &i in keys.iter().filter(|&&i| i % 3 != 0) {
            drop(table.take(i));
        }
        let mut seen = Vec::new();
        let mut from = 0;
        while let Some(k) = table.next_live(from) {
            assert_eq!(k.generation, k.index + 1);
            seen.push(k.index);
            from = k.index + 1;
        }
        let expected: Vec<u32> = keys.into_iter().filter(|i| i % 3 == 0).collect();
        assert_eq!(seen, expected);
    }
}
