//! Match finders over one whole chunk.
//!
//! LZ matches: a binary tree of suffixes per 4-byte hash bucket (each new
//! position becomes the root of its bucket's tree, re-splitting the old tree
//! into the suffixes that sort below and above it), plus single-entry tables
//! for the nearest 2- and 3-byte matches. The tree is indexed by position, so
//! it costs 8 bytes per byte of the largest chunk.
//!
//! Delta matches: one hash table shared by spans 1, 2, 4, .., 32, keyed by the
//! span, the position's phase within the span and the next three byte
//! differences at that span; it remembers the latest position per key.

use super::lcpit::{self, LcpFinder};

/// "No position".
const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Default)]
pub(super) struct Match {
    pub(super) len: u32,
    pub(super) offset: u32,
}

#[inline(always)]
fn hash(x: u32, bits: u32) -> usize {
    (x.wrapping_mul(0x1E35_A7BD) >> (32 - bits)) as usize
}

#[inline(always)]
fn load_u32(data: &[u8], i: usize) -> u32 {
    match data.get(i..i + 4) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    }
}

/// Length of the common prefix of `data[a..]` and `data[b..]`, known to be
/// at least `len`, up to `max` (with `a + max <= data.len()` and `b < a`).
#[inline(always)]
pub(super) fn extend(data: &[u8], a: usize, b: usize, mut len: usize, max: usize) -> usize {
    while len + 8 <= max {
        let (Some(x), Some(y)) = (
            data.get(a + len..a + len + 8),
            data.get(b + len..b + len + 8),
        ) else {
            return len;
        };
        let x = u64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
        let y = u64::from_le_bytes([y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]]);
        let d = x ^ y;
        if d != 0 {
            return len + (d.trailing_zeros() / 8) as usize;
        }
        len += 8;
    }
    while len < max {
        match (data.get(a + len), data.get(b + len)) {
            (Some(x), Some(y)) if x == y => len += 1,
            _ => break,
        }
    }
    len
}

/// The LZ match finder: the suffix-array finder for chunks it can index,
/// the binary trees beyond that.
pub(super) enum LzFinder {
    Bt(BtFinder),
    Sa(LcpFinder),
}

impl LzFinder {
    /// Whether the suffix-array finder is used (it is at least as fast at
    /// every level measured, and finds the nearest match of every length).
    fn use_sa(max_size: usize, _level: u32) -> bool {
        max_size <= lcpit::MAX_SIZE
    }

    pub(super) fn new(max_size: usize, level: u32, depth: u32, nice: usize) -> Self {
        if Self::use_sa(max_size, level) {
            LzFinder::Sa(LcpFinder::new(max_size, nice))
        } else {
            LzFinder::Bt(BtFinder::new(max_size, depth, nice))
        }
    }

    pub(super) fn memory_usage(max_size: usize, level: u32) -> usize {
        if Self::use_sa(max_size, level) {
            LcpFinder::memory_usage(max_size)
        } else {
            BtFinder::memory_usage(max_size)
        }
    }

    /// Prepares for the chunk `data`.
    pub(super) fn reset(&mut self, data: &[u8]) {
        match self {
            LzFinder::Bt(f) => f.reset(data.len()),
            LzFinder::Sa(f) => f.reset(data),
        }
    }

    /// Gives back what only the chunk just done needed.
    pub(super) fn release(&mut self) {
        if let LzFinder::Sa(f) = self {
            f.release();
        }
    }

    /// Length from which an explicit match is taken without further search
    /// (matches are reported up to it).
    pub(super) fn nice(&self) -> usize {
        match self {
            LzFinder::Bt(f) => f.nice,
            LzFinder::Sa(f) => f.nice,
        }
    }

    /// Matches at `pos` by decreasing length, each shorter and nearer than
    /// the previous; returns how many. (The suffix-array walk finds them in
    /// that order; reversing them there right after storing them stalled.)
    #[inline(always)]
    pub(super) fn get_matches(&mut self, data: &[u8], pos: usize, out: &mut [Match]) -> usize {
        match self {
            LzFinder::Bt(f) => {
                let count = f.get_matches(data, pos, out);
                out[..count].reverse();
                count
            }
            LzFinder::Sa(f) => f.get_matches(data, pos, out),
        }
    }

    /// Inserts `count` positions from `pos` without reporting matches.
    #[inline]
    pub(super) fn skip(&mut self, data: &[u8], pos: usize, count: usize) {
        match self {
            LzFinder::Bt(f) => f.skip(data, pos, count),
            LzFinder::Sa(f) => f.skip(pos, count),
        }
    }
}

pub(super) struct BtFinder {
    /// Two children (smaller, larger suffix) per position.
    children: Vec<u32>,
    head4: Vec<u32>,
    head3: Vec<u32>,
    head2: Vec<u32>,
    bits4: u32,
    max_bits4: u32,
    bits3: u32,
    pub(super) depth: u32,
    pub(super) nice: usize,
    /// Heads read early for position `ahead_pos`.
    ahead: [u32; 3],
    ahead_pos: usize,
}

pub(super) const HEAD2_LEN: usize = 1 << 16;
const MAX_BITS3: u32 = 15;

/// log2 of the 4-byte hash table size for chunks of `size` bytes.
pub(super) fn bits4_for(size: usize) -> u32 {
    // About one bucket per four positions: small tables stay in cache.
    let log = usize::BITS - size.max(1).leading_zeros();
    log.saturating_sub(2).clamp(12, 22)
}

impl BtFinder {
    pub(super) fn new(max_size: usize, depth: u32, nice: usize) -> Self {
        let max_bits4 = bits4_for(max_size);
        BtFinder {
            children: vec![0; 2 * max_size],
            head4: vec![NIL; 1 << max_bits4],
            head3: vec![NIL; 1 << MAX_BITS3],
            head2: vec![NIL; HEAD2_LEN],
            bits4: max_bits4,
            max_bits4,
            bits3: MAX_BITS3,
            depth,
            nice,
            ahead: [NIL; 3],
            ahead_pos: usize::MAX,
        }
    }

    pub(super) fn memory_usage(max_size: usize) -> usize {
        4 * (2 * max_size + (1 << bits4_for(max_size)) + (1 << MAX_BITS3) + HEAD2_LEN)
    }

    /// Prepares for a chunk of `size` bytes.
    pub(super) fn reset(&mut self, size: usize) {
        self.bits4 = bits4_for(size).min(self.max_bits4);
        self.bits3 = self.bits4.min(MAX_BITS3);
        self.head4[..1 << self.bits4].fill(NIL);
        self.head3[..1 << self.bits3].fill(NIL);
        self.head2.fill(NIL);
        self.ahead_pos = usize::MAX;
    }

    /// Finds matches at `pos` and inserts it. Matches go to `out` by
    /// increasing length (each longer than the previous); returns how many.
    /// Lengths stop at `min(nice, bytes left)`.
    #[inline]
    pub(super) fn get_matches(&mut self, data: &[u8], pos: usize, out: &mut [Match]) -> usize {
        self.advance::<true>(data, pos, out)
    }

    /// Inserts `count` positions from `pos` without reporting matches.
    pub(super) fn skip(&mut self, data: &[u8], pos: usize, count: usize) {
        for p in pos..pos + count {
            self.advance::<false>(data, p, &mut []);
        }
    }

    /// Loads the table heads for position `next`, to be used when the
    /// finder gets there; nothing else writes them before then.
    #[inline(always)]
    fn read_ahead(&mut self, data: &[u8], next: usize) {
        if next + 4 > data.len() {
            self.ahead_pos = usize::MAX;
            return;
        }
        let word = load_u32(data, next);
        let h3 = hash(word & 0x00FF_FFFF, self.bits3) & ((1 << MAX_BITS3) - 1);
        let h4 = hash(word, self.bits4) & (self.head4.len() - 1);
        self.ahead = [
            self.head2[(word & 0xFFFF) as usize],
            self.head3[h3],
            self.head4[h4],
        ];
        self.ahead_pos = next;
    }

    #[inline(always)]
    fn advance<const REPORT: bool>(&mut self, data: &[u8], pos: usize, out: &mut [Match]) -> usize {
        let n = data.len();
        if pos + 4 > n {
            return 0;
        }
        let rem = n - pos;
        let max_len = rem.min(self.nice);
        let word = load_u32(data, pos);
        let mut count = 0usize;
        let mut best = 1usize;

        let h2 = (word & 0xFFFF) as usize;
        let h3 = hash(word & 0x00FF_FFFF, self.bits3) & ((1 << MAX_BITS3) - 1);
        let h4 = hash(word, self.bits4) & (self.head4.len() - 1);
        // The heads for this position were usually read one step early (see
        // `read_ahead`), which hides most of their cache misses.
        let [c2, c3, mut cur] = if self.ahead_pos == pos {
            self.ahead
        } else {
            [self.head2[h2], self.head3[h3], self.head4[h4]]
        };
        self.head2[h2] = pos as u32;
        self.head3[h3] = pos as u32;
        self.head4[h4] = pos as u32;
        self.read_ahead(data, pos + 1);
        if REPORT {
            if c2 != NIL {
                // Direct-indexed, so two bytes match.
                best = 2;
                if let Some(m) = out.get_mut(0) {
                    *m = Match {
                        len: 2,
                        offset: pos as u32 - c2,
                    };
                    count = 1;
                }
            }
            if c3 != NIL && load_u32(data, c3 as usize) & 0x00FF_FFFF == word & 0x00FF_FFFF {
                best = 3;
                let m = Match {
                    len: 3,
                    offset: pos as u32 - c3,
                };
                if count == 1 && out[0].offset == m.offset {
                    out[0] = m;
                } else if let Some(slot) = out.get_mut(count) {
                    *slot = m;
                    count += 1;
                }
            }
        }

        let children = &mut self.children[..];
        let mut lt_slot = 2 * pos;
        let mut gt_slot = 2 * pos + 1;
        let mut lt_len = 0usize;
        let mut gt_len = 0usize;
        let mut depth = self.depth;
        loop {
            if cur == NIL || depth == 0 {
                children[lt_slot] = NIL;
                children[gt_slot] = NIL;
                return count;
            }
            depth -= 1;
            let c = cur as usize;
            let mut len = lt_len.min(gt_len);
            if data[c + len] == data[pos + len] {
                len = extend(data, pos, c, len + 1, max_len);
                if REPORT && len > best {
                    best = len;
                    let m = Match {
                        len: len as u32,
                        offset: (pos - c) as u32,
                    };
                    if count > 0 && out[count - 1].offset == m.offset {
                        out[count - 1] = m;
                    } else if let Some(slot) = out.get_mut(count) {
                        *slot = m;
                        count += 1;
                    }
                }
                if len >= max_len {
                    // Equal up to the limit: take over this node's subtrees.
                    children[lt_slot] = children[2 * c];
                    children[gt_slot] = children[2 * c + 1];
                    return count;
                }
            }
            if data[c + len] < data[pos + len] {
                children[lt_slot] = cur;
                lt_slot = 2 * c + 1;
                cur = children[lt_slot];
                lt_len = len;
            } else {
                children[gt_slot] = cur;
                gt_slot = 2 * c;
                cur = children[gt_slot];
                gt_len = len;
            }
        }
    }
}

/// A delta match candidate.
#[derive(Clone, Copy, Default)]
pub(super) struct DeltaMatch {
    pub(super) power: u32,
    pub(super) raw: u32,
    pub(super) len: u32,
}

/// Spans 1 << 0 ..= 1 << (POWERS - 1) are searched.
pub(super) const POWERS: u32 = 6;
/// Positions are stored with the power in the top bits.
pub(super) const DELTA_POS_BITS: u32 = 28;
const DELTA_POS_MASK: u32 = (1 << DELTA_POS_BITS) - 1;
const DELTA_BITS: u32 = 15;

/// Entries of the delta hash table.
const TABLE_LEN: usize = 1 << DELTA_BITS;
/// Multiplier of `hash`.
const HASH_MUL: u32 = 0x1E35_A7BD;

/// `hash` of a key is `(phase << 24 | diffs) * HASH_MUL >> (32 -
/// DELTA_BITS)`, and with the phase in the top byte and the differences
/// below it, the product is the sum of `(phase << 24) * HASH_MUL` (this
/// table, by position modulo `MAX_SPAN` and power) and `diffs * HASH_MUL`.
const PHASE_MUL: [[u32; POWERS as usize]; MAX_SPAN] = {
    let mut t = [[0u32; POWERS as usize]; MAX_SPAN];
    let mut p = 0;
    while p < MAX_SPAN {
        let mut power = 0;
        while power < POWERS as usize {
            let span = 1usize << power;
            let phase = (span + (p & (span - 1))) as u32;
            t[p][power] = (phase << 24).wrapping_mul(HASH_MUL);
            power += 1;
        }
        p += 1;
    }
    t
};

pub(super) struct DeltaFinder {
    table: Box<[u32; TABLE_LEN]>,
    /// For position `ahead_pos`, per power: the table slot and the entry
    /// read early (see `prepare`). Powers from `ahead_powers` on have no key
    /// (their span reaches before the chunk).
    slot: [u32; POWERS as usize],
    ahead: [u32; POWERS as usize],
    ahead_powers: usize,
    ahead_pos: usize,
}

/// The largest span searched.
const MAX_SPAN: usize = 1 << (POWERS - 1);

const HIGH32: u32 = 0x8080_8080;
const HIGH64: u64 = 0x8080_8080_8080_8080;

/// Byte-wise wrapping differences `a - b` of four packed bytes.
#[inline(always)]
fn sub_bytes32(a: u32, b: u32) -> u32 {
    ((a | HIGH32).wrapping_sub(b & !HIGH32)) ^ ((a ^ !b) & HIGH32)
}

#[inline(always)]
fn sub_bytes64(a: u64, b: u64) -> u64 {
    ((a | HIGH64).wrapping_sub(b & !HIGH64)) ^ ((a ^ !b) & HIGH64)
}

#[inline(always)]
fn load_u64(data: &[u8], i: usize) -> Option<u64> {
    let b = data.get(i..i + 8)?;
    Some(u64::from_le_bytes([
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
    ]))
}

/// Length of the delta match of `pos` against `m` (< `pos`) at `span`,
/// known to be at least `len`; `m >= span`.
#[inline]
pub(super) fn extend_delta(
    data: &[u8],
    pos: usize,
    m: usize,
    span: usize,
    mut len: usize,
) -> usize {
    let n = data.len();
    while pos + len + 8 <= n {
        let (Some(a), Some(b), Some(c), Some(d)) = (
            load_u64(data, pos + len),
            load_u64(data, pos + len - span),
            load_u64(data, m + len),
            load_u64(data, m + len - span),
        ) else {
            return len;
        };
        let diff = sub_bytes64(a, b) ^ sub_bytes64(c, d);
        if diff != 0 {
            return len + (diff.trailing_zeros() / 8) as usize;
        }
        len += 8;
    }
    while pos + len < n {
        let x = data[pos + len].wrapping_sub(data[pos + len - span]);
        let y = data[m + len].wrapping_sub(data[m + len - span]);
        if x != y {
            break;
        }
        len += 1;
    }
    len
}

impl DeltaFinder {
    pub(super) fn new() -> Self {
        DeltaFinder {
            table: Box::new([NIL; TABLE_LEN]),
            slot: [0; POWERS as usize],
            ahead: [NIL; POWERS as usize],
            ahead_powers: 0,
            ahead_pos: usize::MAX,
        }
    }

    pub(super) fn memory_usage() -> usize {
        4 << DELTA_BITS
    }

    pub(super) fn reset(&mut self) {
        self.table.fill(NIL);
        self.ahead_pos = usize::MAX;
    }

    /// The three byte differences at `span` of position `p` (`p >= span`,
    /// `p + 4 <= data.len()`).
    #[inline(always)]
    fn diffs(data: &[u8], p: usize, span: usize) -> u32 {
        sub_bytes32(load_u32(data, p), load_u32(data, p - span)) & 0x00FF_FFFF
    }

    /// Computes the keys of position `p` (`p + 4 <= data.len()`), and with
    /// `LOAD` reads their table entries early: the parser works on other
    /// things before it comes back, which hides most of the misses. (All
    /// are read before `find` replaces any: two spans may share a slot.)
    #[inline(always)]
    fn prepare<const LOAD: bool>(&mut self, data: &[u8], p: usize) {
        // Past the first few bytes every span fits (a constant count, so
        // the loop unrolls).
        if p >= MAX_SPAN {
            self.keys::<LOAD>(data, p, POWERS as usize);
        } else {
            self.keys::<LOAD>(data, p, (usize::BITS - p.leading_zeros()) as usize);
        }
    }

    #[inline(always)]
    fn keys<const LOAD: bool>(&mut self, data: &[u8], p: usize, powers: usize) {
        let cur = load_u32(data, p);
        let phase = &PHASE_MUL[p % MAX_SPAN];
        for (power, &ph) in phase.iter().enumerate().take(powers) {
            let span = 1usize << power;
            let d = sub_bytes32(cur, load_u32(data, p.wrapping_sub(span))) & 0x00FF_FFFF;
            let h = ph.wrapping_add(d.wrapping_mul(HASH_MUL)) >> (32 - DELTA_BITS);
            self.slot[power] = h;
            if LOAD {
                self.ahead[power] = self.table[h as usize % TABLE_LEN];
            }
        }
        self.ahead_powers = powers;
        self.ahead_pos = p;
    }

    /// Whether position `p` takes part (far enough from the end, and small
    /// enough to pack).
    #[inline(always)]
    fn usable(data: &[u8], p: usize) -> bool {
        p + 4 <= data.len() && p <= DELTA_POS_MASK as usize
    }

    /// Finds delta matches at `pos` (one per power at most) and inserts `pos`.
    pub(super) fn find(&mut self, data: &[u8], pos: usize, out: &mut [DeltaMatch]) -> usize {
        if !Self::usable(data, pos) {
            return 0;
        }
        if self.ahead_pos != pos {
            self.prepare::<true>(data, pos);
        }
        let count = if self.ahead_powers >= POWERS as usize {
            self.probe(data, pos, out, POWERS as usize)
        } else {
            self.probe(data, pos, out, self.ahead_powers)
        };
        if Self::usable(data, pos + 1) {
            self.prepare::<true>(data, pos + 1);
        }
        count
    }

    /// The lookups and insertions of `find` for the first `powers` powers.
    #[inline(always)]
    fn probe(&mut self, data: &[u8], pos: usize, out: &mut [DeltaMatch], powers: usize) -> usize {
        let mut count = 0;
        for pw in 0..powers.min(POWERS as usize) {
            let power = pw as u32;
            let e = self.ahead[pw];
            self.table[self.slot[pw] as usize % TABLE_LEN] = (power << DELTA_POS_BITS) | pos as u32;
            if e >> DELTA_POS_BITS != power {
                continue;
            }
            let span = 1usize << power;
            let prev = (e & DELTA_POS_MASK) as usize;
            let offset = pos - prev;
            if offset == 0 || offset & (span - 1) != 0 {
                continue;
            }
            // prev >= span, so every byte read below is inside the chunk.
            // Eight differences are compared at once where they fit: most
            // candidates fail or end within them.
            let len = match (
                load_u64(data, pos),
                load_u64(data, pos - span),
                load_u64(data, prev),
                load_u64(data, prev - span),
            ) {
                (Some(a), Some(b), Some(c), Some(d)) => {
                    let diff = sub_bytes64(a, b) ^ sub_bytes64(c, d);
                    if diff & 0xFF_FFFF != 0 {
                        continue;
                    }
                    if diff != 0 {
                        (diff.trailing_zeros() / 8) as usize
                    } else {
                        extend_delta(data, pos, prev, span, 8)
                    }
                }
                _ => {
                    if Self::diffs(data, prev, span) != Self::diffs(data, pos, span) {
                        continue;
                    }
                    extend_delta(data, pos, prev, span, 3)
                }
            };
            if let Some(slot) = out.get_mut(count) {
                *slot = DeltaMatch {
                    power,
                    raw: (offset >> power) as u32,
                    len: len as u32,
                };
                count += 1;
            }
        }
        count
    }

    #[inline(always)]
    fn insert(&mut self, p: usize, powers: usize) {
        for power in 0..powers.min(POWERS as usize) {
            let h = self.slot[power] as usize % TABLE_LEN;
            self.table[h] = ((power as u32) << DELTA_POS_BITS) | p as u32;
        }
    }

    /// Inserts `count` positions from `pos`.
    pub(super) fn skip(&mut self, data: &[u8], pos: usize, count: usize) {
        for p in pos..pos + count {
            if !Self::usable(data, p) {
                return;
            }
            if self.ahead_pos != p {
                self.prepare::<false>(data, p);
            }
            if self.ahead_powers >= POWERS as usize {
                self.insert(p, POWERS as usize);
            } else {
                self.insert(p, self.ahead_powers);
            }
        }
        let next = pos + count;
        if Self::usable(data, next) {
            self.prepare::<true>(data, next);
        }
    }
}
