//! The choice's randomness: a fast thread-local generator, the random
//! order in which a perform registers a choice's leaves, and the draw of
//! one leaf among those that may complete. Uniform, so that when several
//! branches are ready each is as likely to win.

use std::cell::Cell;

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A fast thread-local pseudo-random number (xorshift64*), for choice order.
#[inline]
pub(crate) fn random() -> u64 {
    // loom replays schedules and needs every run of a model to be
    // deterministic: choice order is fixed there.
    if cfg!(loom) {
        return 0;
    }
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            // Seed from the address of a stack slot and the clock: distinct
            // per thread and per run, which is all fairness needs.
            let local = 0u8;
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            x = (&local as *const u8 as u64) ^ t ^ 0x9E37_79B9_7F4A_7C15;
            x |= 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// Choices of up to this many leaves draw the leaf to try among those that
/// may complete (`pick_ready`); longer ones try every leaf in a random
/// order.
pub(crate) const PICK_MAX: usize = 4;

/// How many bits each `PICK_MAX`-bit set has.
const CANDIDATE_COUNT: [u8; 1 << PICK_MAX] = {
    let mut table = [0; 1 << PICK_MAX];
    let mut set = 0;
    while set < table.len() {
        table[set] = set.count_ones() as u8;
        set += 1;
    }
    table
};

/// The index of each set's `k`-th set bit, lowest first.
const CANDIDATE_INDEX: [[u8; PICK_MAX]; 1 << PICK_MAX] = {
    let mut table = [[0; PICK_MAX]; 1 << PICK_MAX];
    let mut set = 0;
    while set < table.len() {
        let (mut k, mut bit) = (0, 0);
        while bit < PICK_MAX {
            if set & (1 << bit) != 0 {
                table[set][k] = bit as u8;
                k += 1;
            }
            bit += 1;
        }
        set += 1;
    }
    table
};

/// A member of `set` (a non-empty bit set of fewer than `PICK_MAX` bits),
/// each as likely, drawn from `r`.
#[inline(always)]
pub(crate) fn draw_member(r: &mut u64, set: usize) -> usize {
    let k = draw(r, CANDIDATE_COUNT[set] as usize);
    CANDIDATE_INDEX[set][k] as usize
}

/// A random permutation of leaf indices. Up to eight fit in one `u64` (a
/// byte each), so the common case lives in a register: as a byte array in
/// memory, reading it back whole right after the byte swaps stalled
/// store-to-load forwarding (a quarter of `commit_one`'s samples).
pub(crate) enum Order {
    Inline { perm: u64, len: usize },
    Spill(Vec<u32>),
}

const IDENTITY: u64 = 0x0706_0504_0302_0100;

/// Choices of up to this many leaves (`select4`'s size, and the usual
/// two or three) take their order from `SMALL_PERMUTATIONS` in one draw,
/// instead of one draw and one byte swap per leaf.
const SMALL_MAX: usize = 4;
const FACTORIAL: [usize; SMALL_MAX + 1] = [1, 1, 2, 6, 24];
/// Where the permutations of each length start in `SMALL_PERMUTATIONS`.
const SMALL_START: [usize; SMALL_MAX + 1] = [0, 0, 0, 2, 8];

/// Every permutation of 2, 3 and 4 leaves, packed as `Order::Inline`'s
/// bytes, each length's in lexicographic order.
const SMALL_PERMUTATIONS: [u64; 32] = {
    let mut table = [0u64; 32];
    let mut len = 2;
    while len <= SMALL_MAX {
        let mut i = 0;
        while i < FACTORIAL[len] {
            table[SMALL_START[len] + i] = nth_permutation(len, i);
            i += 1;
        }
        len += 1;
    }
    table
};

/// The `index`-th permutation of `0..len` in lexicographic order (its
/// digits in the factorial number system pick the next unused leaf).
const fn nth_permutation(len: usize, mut index: usize) -> u64 {
    let mut unused = IDENTITY;
    let mut perm = 0;
    let mut pos = 0;
    while pos < len {
        let weight = FACTORIAL[len - 1 - pos];
        let k = index / weight;
        index %= weight;
        let leaf = (unused >> (8 * k)) & 0xff;
        let below = unused & ((1u64 << (8 * k)) - 1);
        unused = below | ((unused >> (8 * (k + 1))) << (8 * k));
        perm |= leaf << (8 * pos);
        pos += 1;
    }
    perm
}

/// A draw from `0..n` taken from the high half of `r * n`; the low half
/// becomes `r` for the next draw (Lemire's multiply-shift, batched as
/// Brackett-Rozinsky and Lemire do). Successive draws are the mixed-radix
/// digits of `r / 2^64`, so one random number shuffles up to eight leaves
/// with a bias under `8! / 2^64 < 2^-48`, and no draw divides (a 64-bit
/// division costs tens of cycles; the old shuffle paid one per leaf).
#[inline]
fn draw(r: &mut u64, n: usize) -> usize {
    let m = u128::from(*r) * n as u128;
    *r = m as u64;
    (m >> 64) as usize
}

impl Order {
    #[inline]
    pub(crate) fn shuffled(len: usize) -> Order {
        if len > 8 {
            let mut v: Vec<u32> = (0..len as u32).collect();
            for i in (1..len).rev() {
                v.swap(i, draw(&mut random(), i + 1));
            }
            return Order::Spill(v);
        }
        if len <= SMALL_MAX {
            // One draw picks the whole permutation from the table.
            let perm = match len {
                0 | 1 => IDENTITY,
                _ => {
                    let pick = draw(&mut random(), FACTORIAL[len]);
                    SMALL_PERMUTATIONS[SMALL_START[len] + pick]
                }
            };
            return Order::Inline { perm, len };
        }
        let mut perm = IDENTITY;
        let mut r = random();
        for i in (1..len).rev() {
            let j = draw(&mut r, i + 1);
            // Swap bytes i and j (an xor swap: nothing moves if i == j).
            let x = ((perm >> (8 * i)) ^ (perm >> (8 * j))) & 0xff;
            perm ^= (x << (8 * i)) | (x << (8 * j));
        }
        Order::Inline { perm, len }
    }

    #[inline]
    pub(crate) fn iter(&self) -> OrderIter<'_> {
        match self {
            Order::Inline { perm, len } => OrderIter {
                perm: *perm,
                left: *len,
                spill: [].iter(),
            },
            Order::Spill(v) => OrderIter {
                perm: 0,
                left: 0,
                spill: v.iter(),
            },
        }
    }
}

/// The indices of an `Order`: the bytes of `perm`, lowest first, then the
/// spilled ones. One struct rather than a chain of two mapped iterators,
/// whose every step would test which half it is in.
pub(crate) struct OrderIter<'a> {
    perm: u64,
    left: usize,
    spill: std::slice::Iter<'a, u32>,
}

impl Iterator for OrderIter<'_> {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.left > 0 {
            self.left -= 1;
            let i = (self.perm & 0xff) as usize;
            self.perm >>= 8;
            return Some(i);
        }
        self.spill.next().map(|&i| i as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::Order;

    /// Every leaf comes first equally often, and of any two leaves each
    /// comes before the other equally often, so whichever subset of a
    /// choice is ready, each ready leaf is as likely to win.
    #[test]
    fn orders_are_uniform_for_every_pair_of_leaves() {
        const SAMPLES: u32 = 40_000;
        for len in [2, 3, 4, 8, 12] {
            let mut first = vec![0u32; len];
            let mut before = vec![vec![0u32; len]; len];
            for _ in 0..SAMPLES {
                let order: Vec<usize> = Order::shuffled(len).iter().collect();
                first[order[0]] += 1;
                for (pos, &a) in order.iter().enumerate() {
                    for &b in &order[pos + 1..] {
                        before[a][b] += 1;
                    }
                }
            }
            let expected = SAMPLES / len as u32;
            for (leaf, &n) in first.iter().enumerate() {
                assert!(
                    n.abs_diff(expected) < expected / 8,
                    "len {len}: leaf {leaf} first {n} times, expected ~{expected}"
                );
            }
            for (a, row) in before.iter().enumerate() {
                for (b, &n) in row.iter().enumerate() {
                    if a != b {
                        assert!(
                            n.abs_diff(SAMPLES / 2) < SAMPLES / 20,
                            "len {len}: {a} before {b} {n} times of {SAMPLES}"
                        );
                    }
                }
            }
        }
    }

    /// The small-choice table holds each permutation of 2, 3 and 4 leaves
    /// exactly once.
    #[test]
    fn the_small_table_lists_every_permutation_once() {
        use super::{FACTORIAL, SMALL_MAX, SMALL_PERMUTATIONS, SMALL_START};
        for len in 2..=SMALL_MAX {
            let perms = &SMALL_PERMUTATIONS[SMALL_START[len]..][..FACTORIAL[len]];
            let mut seen: Vec<Vec<u64>> = perms
                .iter()
                .map(|p| (0..len).map(|i| (p >> (8 * i)) & 0xff).collect())
                .collect();
            for order in &seen {
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..len as u64).collect::<Vec<_>>());
            }
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), FACTORIAL[len], "len {len}: duplicates");
        }
    }

    #[test]
    fn orders_are_permutations() {
        for len in 0..20 {
            for _ in 0..50 {
                let mut seen: Vec<usize> = Order::shuffled(len).iter().collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..len).collect::<Vec<_>>());
            }
        }
    }
}
