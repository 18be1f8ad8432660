//! Binary trees: for each hash of four bytes, a binary search tree of the
//! positions having it, ordered by the bytes that follow them (their
//! suffixes) and rooted at the newest position. Inserting a position walks
//! down from the root, splitting the tree into the suffixes smaller and
//! larger than the new one, which become the new root's two subtrees; the
//! nodes passed on the way are the closest suffixes, so they give the long
//! matches. A table of the newest positions per hash of three bytes gives
//! length-3 matches and, optionally, a direct table over all byte pairs gives
//! length-2 matches.

use super::window::{boxed, Window, PAD};
use super::{hash, next_base, Match, Pos, FIRST_BASE, LARGE_CAP, MAX_U16_CHUNK};

/// Binary trees over 4-byte sequences, with side tables for shorter matches.
///
/// Reports matches of length ≥ 3 (≥ 2 after `set_min_len(2)`). With an
/// unlimited depth the longest match is always found when it is 4 bytes or
/// longer; a 3-byte match is found when one of the two newest positions
/// sharing its 3-byte hash has those bytes; a 2-byte match is the newest
/// occurrence of the pair.
pub struct BinaryTrees {
    inner: Inner,
}

type SmallTrees = Trees<
    u16,
    MAX_U16_CHUNK,
    { MAX_U16_CHUNK + PAD },
    2,
    { 2 << 15 },
    { 1 << 16 },
    { 2 * MAX_U16_CHUNK },
>;
type LargeTrees =
    Trees<u32, LARGE_CAP, { LARGE_CAP + PAD }, 2, { 2 << 16 }, { 1 << 17 }, { 2 * LARGE_CAP }>;

enum Inner {
    Small(Box<SmallTrees>),
    Large(Box<LargeTrees>),
}

/// Trees for chunks of up to `CAP` bytes: `H3` slots (`WAYS` = 1 or 2 per
/// 3-byte hash), `H4` roots and `CH = 2 * CAP` child links.
struct Trees<
    P: Pos,
    const CAP: usize,
    const BUF: usize,
    const WAYS: usize,
    const H3: usize,
    const H4: usize,
    const CH: usize,
> {
    win: Window<CAP, BUF>,
    hash3: Box<[P; H3]>,
    hash4: Box<[P; H4]>,
    /// Newest position of each byte pair, when length-2 matches are on.
    hash2: Option<Box<[P; 1 << 16]>>,
    /// Left (smaller) and right (larger) child of each position.
    child: Box<[P; CH]>,
    base: u32,
}

impl BinaryTrees {
    /// A finder for chunks of at most `max_chunk_size` bytes.
    pub fn new(max_chunk_size: usize) -> Self {
        let inner = if max_chunk_size <= MAX_U16_CHUNK {
            Inner::Small(Box::new(Trees::new(max_chunk_size)))
        } else {
            Inner::Large(Box::new(Trees::new(max_chunk_size)))
        };
        Self { inner }
    }

    /// Bytes of memory the finder holds for `max_chunk_size`, including the
    /// length-2 table that [`Self::set_min_len`] may add.
    pub fn memory_usage(max_chunk_size: usize) -> usize {
        let (entry, cap, h3, h4) = if max_chunk_size <= MAX_U16_CHUNK {
            (2, MAX_U16_CHUNK, 2 << 15, 1 << 16)
        } else {
            (4, LARGE_CAP, 2 << 16, 1 << 17)
        };
        entry * (h3 + h4 + (1 << 16) + 2 * cap) + cap + PAD + 64
    }

    /// Sets the shortest match reported: 2 (LZX) or 3 (the default).
    pub fn set_min_len(&mut self, min_len: u32) {
        match &mut self.inner {
            Inner::Small(t) => t.set_min_len(min_len),
            Inner::Large(t) => t.set_min_len(min_len),
        }
    }

    /// Forgets the previous chunk.
    pub fn reset(&mut self) {
        match &mut self.inner {
            Inner::Small(t) => t.reset(),
            Inner::Large(t) => t.reset(),
        }
    }

    /// Appends to `out` the matches at `pos` of at most `max_len` bytes
    /// (clamped to the bytes left), in increasing length and each longer than
    /// the previous (so offsets are the smallest for their length among those
    /// seen), visiting at most `depth` tree nodes and stopping at `nice_len`.
    /// Appends at most `min(nice_len, max_len) - 1` matches. Inserts `pos`.
    #[inline]
    pub fn matches(
        &mut self,
        data: &[u8],
        pos: usize,
        max_len: u32,
        nice_len: u32,
        depth: u32,
        out: &mut Vec<Match>,
    ) {
        self.advance::<true, _>(data, pos, max_len, nice_len, depth, out);
    }

    /// [`Self::matches`] into the start of a fixed array of `N` entries (`N` a
    /// power of two), returning how many were written; `max_len` is clamped to
    /// `N + 1` so that every match fits and the search needs no room check per
    /// match (nor a growable vector in the caller's hot loop).
    #[inline]
    pub fn matches_into_array<const N: usize>(
        &mut self,
        data: &[u8],
        pos: usize,
        max_len: u32,
        nice_len: u32,
        depth: u32,
        out: &mut [Match; N],
    ) -> usize {
        let max_len = max_len.min(u32::try_from(N + 1).unwrap_or(u32::MAX));
        let mut sink = ArraySink { buf: out, len: 0 };
        self.advance::<true, _>(data, pos, max_len, nice_len, depth, &mut sink);
        sink.len
    }

    /// Inserts `pos` without reporting matches (the tree still needs a
    /// search down to `nice_len` or `depth` to stay sorted).
    #[inline]
    pub fn skip(&mut self, data: &[u8], pos: usize, max_len: u32, nice_len: u32, depth: u32) {
        self.advance::<false, _>(data, pos, max_len, nice_len, depth, &mut NoSink);
    }

    /// Searches and inserts `pos` in whichever tree this is.
    #[inline(always)]
    fn advance<const REPORT: bool, S: Sink>(
        &mut self,
        data: &[u8],
        pos: usize,
        max_len: u32,
        nice_len: u32,
        depth: u32,
        sink: &mut S,
    ) {
        match &mut self.inner {
            Inner::Small(t) => t.advance::<REPORT, _>(data, pos, max_len, nice_len, depth, sink),
            Inner::Large(t) => t.advance::<REPORT, _>(data, pos, max_len, nice_len, depth, sink),
        }
    }
}

/// Where a search puts its matches.
trait Sink {
    fn push(&mut self, m: Match);
}

impl Sink for Vec<Match> {
    #[inline(always)]
    fn push(&mut self, m: Match) {
        Vec::push(self, m);
    }
}

struct ArraySink<'a, const N: usize> {
    buf: &'a mut [Match; N],
    len: usize,
}

impl<const N: usize> Sink for ArraySink<'_, N> {
    #[inline(always)]
    fn push(&mut self, m: Match) {
        const { assert!(N.is_power_of_two()) };
        self.buf[self.len & (N - 1)] = m;
        self.len += 1;
    }
}

struct NoSink;

impl Sink for NoSink {
    #[inline(always)]
    fn push(&mut self, _: Match) {}
}

impl<
        P: Pos,
        const CAP: usize,
        const BUF: usize,
        const WAYS: usize,
        const H3: usize,
        const H4: usize,
        const CH: usize,
    > Trees<P, CAP, BUF, WAYS, H3, H4, CH>
{
    /// log2 of the number of 3-byte hashes (`WAYS` slots each).
    const ORDER3: u32 = H3.trailing_zeros() - (WAYS == 2) as u32;
    const ORDER4: u32 = H4.trailing_zeros();

    fn new(max_chunk_size: usize) -> Self {
        Self {
            win: Window::new(max_chunk_size),
            hash3: boxed(),
            hash4: boxed(),
            hash2: None,
            child: boxed(),
            base: FIRST_BASE,
        }
    }

    fn set_min_len(&mut self, min_len: u32) {
        if min_len <= 2 {
            if self.hash2.is_none() {
                // Entries of the current chunk are missing: start clean.
                self.hash2 = Some(boxed());
            }
        } else {
            self.hash2 = None;
        }
    }

    fn reset(&mut self) {
        self.win.reset();
        match next_base::<P>(self.base, CAP) {
            Some(b) => self.base = b,
            None => {
                if let Some(h) = &mut self.hash2 {
                    h.fill(P::default());
                }
                self.hash3.fill(P::default());
                self.hash4.fill(P::default());
                self.base = FIRST_BASE;
            }
        }
    }

    #[inline(always)]
    fn advance<const REPORT: bool, S: Sink>(
        &mut self,
        data: &[u8],
        pos: usize,
        max_len: u32,
        nice_len: u32,
        depth: u32,
        out: &mut S,
    ) {
        let n = self.win.load(data);
        if pos >= n {
            return;
        }
        let max_len = (max_len as usize).min(n - pos);
        let nice_len = (nice_len as usize).clamp(1, max_len.max(1));
        // Small trees never move their base: a constant frees a register
        // in the tree walk.
        let base = if P::EPOCHS { self.base } else { FIRST_BASE };
        let cur = base + pos as u32;
        let cur_p = P::new(cur);
        let win = self.win.view();
        let mut best = 1usize;

        if max_len < 2 {
            return;
        }
        let v = win.u32_at(pos);
        // The next position's slots, fetched while this one is searched.
        let vn = win.u32_at(pos + 1);
        crate::prefetch::prefetch(&self.hash4[..], hash(vn, Self::ORDER4) & (H4 - 1));
        crate::prefetch::prefetch(
            &self.hash3[..],
            (hash(vn & 0xff_ffff, Self::ORDER3) * WAYS) & (H3 - 1),
        );
        if let Some(h2) = &mut self.hash2 {
            crate::prefetch::prefetch(&h2[..], (vn & 0xffff) as usize);
            let c = std::mem::replace(&mut h2[(v & 0xffff) as usize], cur_p).get();
            if REPORT && c >= base && c < cur {
                best = 2;
                out.push(Match {
                    len: 2,
                    offset: cur - c,
                });
            }
        }
        if max_len < 3 {
            return;
        }

        let seq3 = v & 0xff_ffff;
        let (c1, c2) = if WAYS == 2 {
            let h3 = (hash(seq3, Self::ORDER3) * 2) & (H3 - 2);
            let c1 = self.hash3[h3].get();
            let c2 = self.hash3[h3 + 1].get();
            self.hash3[h3 + 1] = self.hash3[h3];
            self.hash3[h3] = cur_p;
            (c1, c2)
        } else {
            let h3 = hash(seq3, Self::ORDER3) & (H3 - 1);
            (std::mem::replace(&mut self.hash3[h3], cur_p).get(), 0)
        };
        if REPORT && best < 3 {
            for c in [c1, c2] {
                if c >= base && c < cur {
                    let cp = (c - base) as usize;
                    if win.u32_at(cp) & 0xff_ffff == seq3 {
                        best = 3;
                        out.push(Match {
                            len: 3,
                            offset: cur - c,
                        });
                        break;
                    }
                }
            }
        }
        if max_len < 4 {
            return;
        }

        let h4 = hash(v, Self::ORDER4) & (H4 - 1);
        let mut node = std::mem::replace(&mut self.hash4[h4], cur_p).get();
        let child: &mut [P; CH] = &mut self.child;
        let cm = CH - 1;
        // Slots waiting for the next node smaller (lt) or larger (gt) than the
        // new suffix: at first the new node's own left and right children.
        let mut lt_slot = (2 * pos) & cm;
        let mut gt_slot = (2 * pos + 1) & cm;
        // Common prefix lengths of the new suffix with the nearest smaller
        // and larger suffixes seen: every node below shares at least the
        // smaller of the two.
        let (mut lt_len, mut gt_len) = (0usize, 0usize);
        let mut len = 0usize;
        let mut remaining = depth;
        // Without reporting, only reaching `nice_len` matters: the tree comes
        // out the same for a shorter scan.
        let cap = if REPORT { max_len } else { nice_len };
        loop {
            // `node - base < pos` (wrapping): an entry of this chunk, older
            // than `pos`.
            let np = node.wrapping_sub(base) as usize;
            if np >= pos || remaining == 0 {
                child[lt_slot] = P::default();
                child[gt_slot] = P::default();
                return;
            }
            remaining -= 1;
            // Extend the common prefix (at least `len` bytes) and find the
            // first differing bytes, eight at a time.
            let (theirs, ours);
            let a = win.u64_le(np + len);
            let b = win.u64_le(pos + len);
            if a != b {
                let shift = (a ^ b).trailing_zeros() & !7;
                len += (shift / 8) as usize;
                theirs = (a >> shift) as u8;
                ours = (b >> shift) as u8;
            } else {
                len = win.extend(np, pos, len + 8, cap);
                theirs = win.byte(np + len);
                ours = win.byte(pos + len);
            }
            let len_capped = len.min(cap);
            if REPORT && len_capped > best {
                best = len_capped;
                out.push(Match {
                    len: len_capped as u32,
                    offset: (pos - np) as u32,
                });
            }
            if len_capped >= nice_len {
                // Close enough to stand in for the node: take over its
                // subtrees and drop it from the tree.
                child[lt_slot] = child[(2 * np) & cm];
                child[gt_slot] = child[(2 * np + 1) & cm];
                return;
            }
            // Below `cap` the two bytes differ.
            if theirs < ours {
                child[lt_slot] = P::new(node);
                lt_slot = (2 * np + 1) & cm;
                node = child[lt_slot].get();
                lt_len = len;
                len = len.min(gt_len);
            } else {
                child[gt_slot] = P::new(node);
                gt_slot = (2 * np) & cm;
                node = child[gt_slot].get();
                gt_len = len;
                len = len.min(lt_len);
            }
        }
    }
}
