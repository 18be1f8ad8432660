//! Hash chains: for each hash of four bytes, the positions having it, newest
//! first, linked through one `next` entry per position; plus one entry per
//! hash of three bytes holding the newest position with it.

use super::window::{boxed, Window, PAD};
use super::{hash, next_base, Match, Pos, FIRST_BASE, LARGE_CAP, MAX_U16_CHUNK};

/// Hash chains over 4-byte sequences, with a 3-byte table for length-3 matches.
///
/// Finds matches of length ≥ 3. With an unlimited depth the longest match is
/// always found when it is 4 bytes or longer; a 3-byte match is found when
/// the newest position sharing its 3-byte hash has those bytes.
pub struct HashChains {
    inner: Inner,
}

/// Hash chains for chunks of up to 64 KiB, for callers that know their
/// chunks are that small (XPRESS): the same methods without a dispatch.
pub(crate) type SmallChains =
    Chains<u16, MAX_U16_CHUNK, { MAX_U16_CHUNK + PAD }, { 1 << 15 }, { 1 << 16 }>;
type LargeChains = Chains<u32, LARGE_CAP, { LARGE_CAP + PAD }, { 1 << 16 }, { 1 << 17 }>;

enum Inner {
    Small(Box<SmallChains>),
    Large(Box<LargeChains>),
}

/// Chains for chunks of up to `CAP` bytes with `H3` and `H4` hash slots.
pub(crate) struct Chains<
    P: Pos,
    const CAP: usize,
    const BUF: usize,
    const H3: usize,
    const H4: usize,
> {
    win: Window<CAP, BUF>,
    hash3: Box<[P; H3]>,
    hash4: Box<[P; H4]>,
    next: Box<[P; CAP]>,
    base: u32,
    /// Bytes of a chunk that are used (`max_chunk_size`, at most `CAP`).
    limit: u32,
    /// A position (`usize::MAX`: none) whose 3-byte and 4-byte hash slots
    /// were already computed and prefetched, by the call before.
    pend: usize,
    pend_h3: usize,
    pend_h4: usize,
}

const NONE: Match = Match { len: 0, offset: 0 };

impl HashChains {
    /// A finder for chunks of at most `max_chunk_size` bytes.
    pub fn new(max_chunk_size: usize) -> Self {
        let inner = if max_chunk_size <= MAX_U16_CHUNK {
            Inner::Small(Box::new(Chains::new(max_chunk_size)))
        } else {
            Inner::Large(Box::new(Chains::new(max_chunk_size)))
        };
        Self { inner }
    }

    /// Bytes of memory the finder holds for `max_chunk_size`.
    pub fn memory_usage(max_chunk_size: usize) -> usize {
        let (entry, cap, h3, h4) = if max_chunk_size <= MAX_U16_CHUNK {
            (2, MAX_U16_CHUNK, 1 << 15, 1 << 16)
        } else {
            (4, LARGE_CAP, 1 << 16, 1 << 17)
        };
        entry * (h3 + h4 + cap) + cap + PAD + 64
    }

    /// Forgets the previous chunk.
    pub fn reset(&mut self) {
        match &mut self.inner {
            Inner::Small(c) => c.reset(),
            Inner::Large(c) => c.reset(),
        }
    }

    /// The longest match at `pos` (if longer than `best_len`) of at most
    /// `max_len` bytes (clamped to the bytes left), looking at no more than
    /// `depth` candidates of 4 or more bytes (the 3-byte candidate is free)
    /// and stopping once one reaches `nice_len`. Inserts `pos`. Returns
    /// `len == 0` when nothing longer was found; otherwise `len >= 3`.
    #[inline]
    pub fn longest_match(
        &mut self,
        data: &[u8],
        pos: usize,
        best_len: u32,
        max_len: u32,
        nice_len: u32,
        depth: u32,
    ) -> Match {
        match &mut self.inner {
            Inner::Small(c) => c.longest_match(data, pos, best_len, max_len, nice_len, depth),
            Inner::Large(c) => c.longest_match(data, pos, best_len, max_len, nice_len, depth),
        }
    }

    /// Inserts `count` positions starting at `pos` without searching.
    #[inline]
    pub fn skip(&mut self, data: &[u8], pos: usize, count: usize) {
        match &mut self.inner {
            Inner::Small(c) => c.skip(data, pos, count),
            Inner::Large(c) => c.skip(data, pos, count),
        }
    }
}

impl<P: Pos, const CAP: usize, const BUF: usize, const H3: usize, const H4: usize>
    Chains<P, CAP, BUF, H3, H4>
{
    const ORDER3: u32 = H3.trailing_zeros();
    const ORDER4: u32 = H4.trailing_zeros();

    /// See [`HashChains::new`] (`max_chunk_size` is capped at `CAP`).
    pub(crate) fn new(max_chunk_size: usize) -> Self {
        Self {
            win: Window::new(max_chunk_size),
            hash3: boxed(),
            hash4: boxed(),
            next: boxed(),
            base: FIRST_BASE,
            limit: max_chunk_size.min(CAP) as u32,
            pend: usize::MAX,
            pend_h3: 0,
            pend_h4: 0,
        }
    }

    /// The largest value a `P` holds.
    #[inline(always)]
    fn pos_max() -> u32 {
        P::new(u32::MAX).get()
    }

    /// The 3-byte and 4-byte hash slots of the four bytes `v`.
    #[inline(always)]
    fn slots(v: u32) -> (usize, usize) {
        (
            hash(v & 0xff_ffff, Self::ORDER3) & (H3 - 1),
            hash(v, Self::ORDER4) & (H4 - 1),
        )
    }

    /// The hash slots of `pos`, reusing those computed ahead if they are
    /// for `pos`.
    #[inline(always)]
    fn slots_at(&self, pos: usize) -> (usize, usize) {
        if self.pend == pos {
            (self.pend_h3 & (H3 - 1), self.pend_h4 & (H4 - 1))
        } else {
            Self::slots(self.win.view().u32_at(pos))
        }
    }

    /// Computes and prefetches the hash slots of `pos` for the next call.
    #[inline(always)]
    fn prepare(&mut self, pos: usize) {
        let (h3, h4) = Self::slots(self.win.view().u32_at(pos));
        crate::prefetch::prefetch(&self.hash4[..], h4);
        crate::prefetch::prefetch(&self.hash3[..], h3);
        self.pend = pos;
        self.pend_h3 = h3;
        self.pend_h4 = h4;
    }

    /// See [`HashChains::reset`].
    pub(crate) fn reset(&mut self) {
        self.win.reset();
        self.pend = usize::MAX;
        // Without epochs (16-bit positions), the base can still advance past
        // the chunk while the next chunk's stored values fit: positions from
        // `limit - 2` on are never stored (too few bytes left to hash), so
        // the values of a chunk are below `base + limit - 2`.
        let advanced = if P::EPOCHS {
            next_base::<P>(self.base, CAP)
        } else {
            self.base
                .checked_add(self.limit)
                .filter(|&b| u64::from(b) + u64::from(self.limit) <= u64::from(Self::pos_max()) + 2)
        };
        match advanced {
            Some(b) => self.base = b,
            None => {
                self.hash3.fill(P::default());
                self.hash4.fill(P::default());
                self.base = FIRST_BASE;
            }
        }
    }

    /// Inserts `pos` (< the chunk length and the limit) into the tables,
    /// returning the previous heads of its 3-byte and 4-byte lists (0 when
    /// there is none or `pos` has too few bytes left to be hashed).
    #[inline(always)]
    fn insert(&mut self, pos: usize, n: usize) -> (u32, u32) {
        let cur = P::new(self.base.wrapping_add(pos as u32));
        let (h3, h4) = self.slots_at(pos);
        // The next position's slots, fetched while this one is searched.
        self.prepare(pos + 1);
        let (hash3, hash4, next) = (&mut *self.hash3, &mut *self.hash4, &mut *self.next);
        if pos + 4 <= n {
            let c3 = std::mem::replace(&mut hash3[h3], cur);
            let c4 = std::mem::replace(&mut hash4[h4], cur);
            next[pos & (CAP - 1)] = c4;
            (c3.get(), c4.get())
        } else if pos + 3 <= n {
            (std::mem::replace(&mut hash3[h3], cur).get(), 0)
        } else {
            (0, 0)
        }
    }

    /// See [`HashChains::longest_match`].
    #[inline(always)]
    pub(crate) fn longest_match(
        &mut self,
        data: &[u8],
        pos: usize,
        best_len: u32,
        max_len: u32,
        nice_len: u32,
        depth: u32,
    ) -> Match {
        let n = self.win.load(data);
        if pos >= n {
            return NONE;
        }
        let (c3, c4) = self.insert(pos, n);
        let max_len = (max_len as usize).min(n - pos);
        let nice_len = (nice_len as usize).clamp(1, max_len.max(1));
        let base = self.base;
        let win = self.win.view();
        let mut best = best_len as usize;
        let mut found = NONE;
        if best >= max_len || max_len < 3 {
            return NONE;
        }
        let head = win.u32_at(pos);
        if best < 4 && c3 < base {
            // No earlier position shares the 3-byte hash, so none shares the
            // first four bytes: the 4-byte chain holds only collisions.
            return NONE;
        }
        if best < 3 {
            let cp = (c3 - base) as usize;
            // Taken as 3 bytes: if it is longer, the 4-byte chain has it.
            if cp < pos && (win.u32_at(cp) ^ head) & 0xff_ffff == 0 {
                best = 3;
                found = Match {
                    len: 3,
                    offset: (pos - cp) as u32,
                };
            }
        }
        if max_len < 4 {
            return found;
        }
        let next: &[P; CAP] = &self.next;
        // The four bytes ending with the one that would make a candidate
        // longer than the best so far (the first four while best < 4): a
        // candidate must have them and the first four to be worth extending.
        let mut tail = best.saturating_sub(3);
        let mut want = win.u32_at(pos + tail);
        let mut cand = c4;
        let mut remaining = depth;
        while cand >= base && remaining > 0 {
            remaining -= 1;
            let cp = (cand - base) as usize;
            // The link is loaded before the compare so that the two loads
            // overlap, and both compares go to one branch.
            let link = next[cp & (CAP - 1)].get();
            if (win.u32_at(cp + tail) ^ want) | (win.u32_at(cp) ^ head) == 0 {
                let len = win.extend(cp, pos, 4, max_len);
                if len > best {
                    best = len;
                    found = Match {
                        len: len as u32,
                        offset: (pos - cp) as u32,
                    };
                    if len >= nice_len {
                        break;
                    }
                    tail = best - 3;
                    want = win.u32_at(pos + tail);
                }
            }
            cand = link;
        }
        found
    }

    /// See [`HashChains::skip`].
    #[inline(always)]
    pub(crate) fn skip(&mut self, data: &[u8], pos: usize, count: usize) {
        let n = self.win.load(data);
        let end = pos.saturating_add(count).min(n);
        // Positions with four bytes left go into both tables.
        let end4 = end.min(n.saturating_sub(3));
        if pos < end4 {
            let base = self.base.wrapping_add(pos as u32);
            let (mut h3, mut h4) = self.slots_at(pos);
            let (win, hash3, hash4, next) = (
                self.win.view(),
                &mut *self.hash3,
                &mut *self.hash4,
                &mut *self.next,
            );
            for (i, p) in (pos..end4).enumerate() {
                let cur = P::new(base.wrapping_add(i as u32));
                // Each position's slots are computed once, one step ahead.
                let (n3, n4) = Self::slots(win.u32_at(p + 1));
                hash3[h3 & (H3 - 1)] = cur;
                next[p & (CAP - 1)] = std::mem::replace(&mut hash4[h4 & (H4 - 1)], cur);
                (h3, h4) = (n3, n4);
            }
            crate::prefetch::prefetch(&hash4[..], h4);
            crate::prefetch::prefetch(&hash3[..], h3);
            self.pend = end4;
            self.pend_h3 = h3;
            self.pend_h4 = h4;
        }
        for p in end4.max(pos)..end {
            self.insert(p, n);
        }
    }
}
