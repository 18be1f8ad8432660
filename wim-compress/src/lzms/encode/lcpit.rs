//! A match finder built on the suffix array of the whole chunk.
//!
//! Per chunk: the suffix array is built with SA-IS (induced sorting; a
//! reduced string whose symbols are nearly all distinct is sorted by bucket
//! and comparison instead of recursively), the longest common prefixes of
//! neighbouring suffixes (capped at the finder's length limit) by direct
//! comparison, and from both the tree of LCP intervals:
//! each interval is a group of suffixes sharing a prefix of its length, its
//! parent the enclosing group with the next shorter shared prefix.
//!
//! The parser then visits the positions in increasing order. Visiting
//! position `q` walks from its deepest interval towards the root; every
//! interval on the way remembers the latest position that walked through
//! it, which is the most recent earlier occurrence of that interval's
//! prefix. Reading those gives, for each length, the nearest match, and the
//! walk then claims the intervals for `q`. Long stretches of the path that
//! the same earlier position claimed are jumped over in one step: each
//! position records where its claimed path currently ends, and the owner
//! stored in an interval is corrected lazily through those records.
//!
//! Memory: two `u32` arrays of one entry per byte of the chunk (the suffix
//! array, later reused for the intervals, and a per-position array that is
//! the walk state) and two bits per byte of SA-IS type flags. Chunks up to
//! `KEPT_MAX` keep all of it from one chunk to the next. Larger chunks (solid
//! resources, several compressed at once) hold only what each phase needs:
//! the suffix array, the type flags and the buckets of the reduced strings
//! while sorting (about 4.75 bytes per byte on real data), both arrays for
//! the short moment the intervals are built (8; one chunk at a time in the
//! process, see `BUILDING`), then the per-position array and the intervals,
//! which are about a third as many as the positions (about 5.5), and
//! nothing once the chunk is done (`release`). Intervals and positions are
//! packed with the interval's prefix length into 32 bits, so chunks are
//! limited to `MAX_SIZE` bytes.

use super::mf::{extend, Match};

/// Position/interval index bits in a packed reference.
const SHIFT: u32 = 26;
const MASK: u32 = (1 << SHIFT) - 1;
/// Largest chunk this finder handles.
pub(super) const MAX_SIZE: usize = 1 << SHIFT;
/// Largest length an interval can have.
pub(super) const MAX_LCP: usize = 63;
/// Reference to the root: prefix length 1, which no real interval has
/// (lengths below 2 are merged into the root).
const ROOT: u32 = 1 << SHIFT;
const EMPTY: u32 = u32::MAX;

pub(super) struct LcpFinder {
    /// Suffix array (with LCPs in the top bits), then intervals: an
    /// unvisited interval holds its parent's reference, a visited one the
    /// latest position that claimed it (top bits zero).
    iv: Vec<u32>,
    /// SA-IS buckets (chunks up to `KEPT_MAX`), then per position: before
    /// its visit the reference of its deepest interval, after it the
    /// reference of the first interval above its claimed path (`ROOT` if
    /// none).
    pd: Vec<u32>,
    /// SA-IS type bits for all recursion levels.
    bits: Vec<u64>,
    /// Largest chunk given to `new`.
    max: usize,
    /// Length limit of reported matches (at most `MAX_LCP`).
    pub(super) nice: usize,
    /// Results of the early loads (see `advance`), by position modulo
    /// `WARM_RING` (only the first when not `deep`).
    warm: [u32; WARM_RING],
    /// Whether the chunk is large enough for the deeper prefetches.
    deep: bool,
}

/// Chunks up to this size keep their arrays and suffix-sorting type bits
/// from one chunk to the next; larger ones allocate them per chunk and give
/// them back as soon as each is no longer needed. Reallocating costs page
/// faults, a fraction of a percent of the time of a chunk this large.
const KEPT_MAX: usize = 1 << 20;

/// Held while a chunk over `KEPT_MAX` builds its intervals, the one phase in
/// which it needs both of its arrays whole: with one such phase at a time,
/// compressors running side by side never all peak at once. The phase is a
/// few percent of a chunk's time, so they seldom wait for it.
static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How many positions ahead `advance` prefetches the first interval.
const PREFETCH_DISTANCE: usize = 8;
/// How many positions ahead `advance` loads it.
const WARM_DISTANCE: usize = 2;
/// Chunks from which `advance` fetches further ahead and deeper.
const DEEP_MIN: usize = 1 << 20;
/// How far ahead `advance` starts running ahead there, and the distances
/// of the steps of that.
const DEEP_PREFETCH: usize = 24;
const DEEP_STEPS: [usize; 3] = [18, 12, 6];
/// Entries kept of the early loads (a power of two above `DEEP_PREFETCH`).
const WARM_RING: usize = 32;

impl LcpFinder {
    pub(super) fn new(max_size: usize, nice: usize) -> Self {
        let n = max_size.min(MAX_SIZE);
        let kept = if n <= KEPT_MAX { n } else { 0 };
        LcpFinder {
            iv: vec![0; kept],
            pd: vec![0; kept.max(512)],
            bits: vec![0; bit_words(n.min(KEPT_MAX))],
            max: n,
            nice: nice.clamp(2, MAX_LCP),
            warm: [ROOT; WARM_RING],
            deep: false,
        }
    }

    pub(super) fn memory_usage(max_size: usize) -> usize {
        let n = max_size.min(MAX_SIZE);
        4 * n + 4 * n.max(512) + 8 * bit_words(n)
    }

    /// Builds the structures for `data` (at most the size given to `new`).
    pub(super) fn reset(&mut self, data: &[u8]) {
        let n = data.len();
        if n == 0 || n > self.max {
            return;
        }
        self.warm = [ROOT; WARM_RING];
        self.deep = n >= DEEP_MIN;
        if self.iv.len() < n {
            // Zeroed by the system: no page is touched before the sort writes it.
            self.iv = vec![0; n];
        }
        let sa = &mut self.iv[..n];
        if n <= KEPT_MAX {
            if self.pd.len() < n {
                self.pd = vec![0; n];
            }
            sais(data, sa, 256, &mut self.pd, &mut self.bits);
            build_lcp_phi(data, sa, &mut self.pd[..n], self.nice as u32);
            build_intervals(sa, &mut self.pd[..n]);
            return;
        }
        // The buckets of the reduced strings are a fraction of a byte per
        // byte; they and the type bits are gone before the intervals.
        let mut bits = vec![0; bit_words(n)];
        let mut bkt = Vec::new();
        sais(data, sa, 256, &mut bkt, &mut bits);
        drop((bits, bkt));
        build_lcp(data, sa, self.nice as u32);
        let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
        if self.pd.len() < n {
            // The old array goes before the new one comes, not after.
            self.pd = Vec::new();
            self.pd = vec![0; n];
        }
        let intervals = build_intervals(sa, &mut self.pd[..n]);
        // The suffix array is consumed; its tail past the intervals goes back
        // to the system (a shrinking reallocation of a mapping this large
        // unmaps the tail in place).
        self.iv.truncate(intervals.max(1));
        self.iv.shrink_to_fit();
    }

    /// Gives back the arrays of a chunk over `KEPT_MAX` once it is done.
    pub(super) fn release(&mut self) {
        if self.max > KEPT_MAX {
            self.iv = Vec::new();
            self.pd = Vec::new();
        }
    }

    /// Finds matches at `pos` and claims it. Matches go to `out` by
    /// decreasing length (each shorter and nearer than the previous);
    /// returns how many. Lengths stop at `nice`. Positions must be visited
    /// in order, each once (here or through `skip`).
    #[inline]
    pub(super) fn get_matches(&mut self, data: &[u8], pos: usize, out: &mut [Match]) -> usize {
        if self.deep {
            self.advance::<true, true>(data, pos, out)
        } else {
            self.advance::<true, false>(data, pos, out)
        }
    }

    /// Claims `count` positions from `pos` without reporting matches.
    pub(super) fn skip(&mut self, pos: usize, count: usize) {
        for p in pos..pos + count {
            if self.deep {
                self.advance::<false, true>(&[], p, &mut []);
            } else {
                self.advance::<false, false>(&[], p, &mut []);
            }
        }
    }

    /// One step of the walk; `DEEP` for chunks whose structures are far
    /// larger than the caches (see `DEEP_MIN`).
    #[inline(always)]
    fn advance<const REPORT: bool, const DEEP: bool>(
        &mut self,
        data: &[u8],
        q: usize,
        out: &mut [Match],
    ) -> usize {
        let (iv, pd) = (&mut self.iv[..], &mut self.pd[..]);
        let Some(&first) = pd.get(q) else {
            return 0;
        };
        if DEEP {
            // Fetch what later positions will read, so that the cache
            // misses overlap with the work until then: run ahead along the
            // path the position `DEEP_PREFETCH` ahead will walk, one load a
            // step at each of `DEEP_STEPS` ahead, each fetching what the
            // next step loads. The path is followed as it stands now (later
            // walks may still change it, and owners are not corrected): the
            // fetches are only hints.
            if let Some(&v) = pd.get(q + DEEP_PREFETCH) {
                crate::prefetch::prefetch(iv, (v & MASK) as usize);
                self.warm[(q + DEEP_PREFETCH) % WARM_RING] = v;
            }
            for d in DEEP_STEPS {
                let slot = &mut self.warm[(q + d) % WARM_RING];
                let v = *slot;
                if v == ROOT {
                    continue;
                }
                // An interval leads to its owner or parent, a position to
                // the interval above its claimed path.
                let next = if v >> SHIFT != 0 {
                    iv.get((v & MASK) as usize)
                } else {
                    pd.get(v as usize)
                };
                let Some(&next) = next else {
                    *slot = ROOT;
                    continue;
                };
                if next >> SHIFT != 0 {
                    crate::prefetch::prefetch(iv, (next & MASK) as usize);
                } else {
                    crate::prefetch::prefetch(pd, next as usize);
                }
                *slot = next;
            }
        } else {
            // The same in two stages: the first interval of the position
            // `PREFETCH_DISTANCE` ahead fetched, loaded `WARM_DISTANCE`
            // ahead, and the owner record of what that load gave fetched.
            let y = self.warm[0];
            if y >> SHIFT == 0 {
                crate::prefetch::prefetch(pd, y as usize);
            }
            if let Some(&far) = pd.get(q + PREFETCH_DISTANCE) {
                crate::prefetch::prefetch(iv, (far & MASK) as usize);
            }
            if let Some(&ahead) = pd.get(q + WARM_DISTANCE) {
                if let Some(&x) = iv.get((ahead & MASK) as usize) {
                    self.warm[0] = x;
                }
            }
        }
        let qq = q as u32;
        pd[q] = ROOT;
        let mut r = first;
        if r == ROOT {
            return 0;
        }
        // Intervals nobody visited yet: claim them.
        let mut p;
        loop {
            let x = iv[(r & MASK) as usize];
            if x >> SHIFT == 0 {
                p = x;
                break;
            }
            iv[(r & MASK) as usize] = qq;
            r = x;
            if r == ROOT {
                return 0;
            }
        }
        // Visited intervals: one match per earlier owner.
        let mut count = 0;
        loop {
            // `p` may have lost `r` to a later position since it was stored;
            // follow the owners of the points where claimed paths end.
            loop {
                let e = pd[p as usize];
                if e < r {
                    break;
                }
                p = iv[(e & MASK) as usize];
            }
            if REPORT {
                if DEEP {
                    // The parser reads the source just past the match
                    // (match, literal, repeat match): start that miss now.
                    crate::prefetch::prefetch(data, p as usize + (r >> SHIFT) as usize + 1);
                }
                if let Some(m) = out.get_mut(count) {
                    *m = Match {
                        len: r >> SHIFT,
                        offset: qq - p,
                    };
                    count += 1;
                }
            }
            iv[(r & MASK) as usize] = qq;
            let next = pd[p as usize];
            pd[p as usize] = r;
            if next == ROOT {
                return count;
            }
            r = next;
            p = iv[(r & MASK) as usize];
        }
    }
}

fn bit_words(n: usize) -> usize {
    // Each SA-IS level needs its length in bits plus a word of rounding;
    // the lengths at least halve from one level to the next.
    2 * n / 64 + 64
}

/// Symbols SA-IS sorts: bytes at the top level, names below.
trait Sym: Copy + PartialEq {
    fn idx(self) -> usize;
}

impl Sym for u8 {
    #[inline(always)]
    fn idx(self) -> usize {
        self as usize
    }
}

impl Sym for u32 {
    #[inline(always)]
    fn idx(self) -> usize {
        self as usize
    }
}

#[inline(always)]
fn is_s(bits: &[u64], i: usize) -> bool {
    bits[i >> 6] >> (i & 63) & 1 != 0
}

/// Whether `i` (< n) starts a leftmost-S suffix.
#[inline(always)]
fn is_lms(bits: &[u64], i: usize) -> bool {
    i > 0 && is_s(bits, i) && !is_s(bits, i - 1)
}

/// The LMS flags of positions `64 * w ..` (bit 0 of word 0, position 0,
/// is never LMS).
#[inline(always)]
fn lms_word(bits: &[u64], w: usize) -> u64 {
    let carry = if w == 0 { 1 } else { bits[w - 1] >> 63 };
    bits[w] & !((bits[w] << 1) | carry)
}

/// Calls `f` with each LMS position of a string whose type bits take
/// `words` words, in increasing order. Whole words at a time: most of the
/// positions are not LMS.
#[inline(always)]
fn for_each_lms(bits: &[u64], words: usize, mut f: impl FnMut(usize)) {
    for w in 0..words {
        let mut m = lms_word(bits, w);
        while m != 0 {
            f(64 * w + m.trailing_zeros() as usize);
            m &= m - 1;
        }
    }
}

/// Symbol counts of `s` into `cnt`.
fn count<T: Sym>(s: &[T], cnt: &mut [u32]) {
    cnt.fill(0);
    for &c in s {
        cnt[c.idx()] += 1;
    }
}

/// Bucket starts (or ends, exclusive) from the counts.
fn buckets(cnt: &[u32], bkt: &mut [u32], ends: bool) {
    let mut sum = 0u32;
    for (b, &c) in bkt.iter_mut().zip(cnt) {
        if ends {
            sum += c;
            *b = sum;
        } else {
            *b = sum;
            sum += c;
        }
    }
}

/// Marks entries the S pass induced (positions stay below 2^30).
const S_FLAG: u32 = 1 << 30;

/// Sorts all suffixes from the sorted LMS suffixes already at their bucket
/// ends. The type of each predecessor is read off the symbols: in the L
/// pass every scanned suffix is L-type or LMS, so its predecessor is L-type
/// exactly when its symbol is not smaller; in the S pass the suffixes this
/// pass placed are flagged, and the predecessor of a flagged suffix is S-type
/// unless its symbol is larger, of any other suffix only if it is smaller.
fn induce<T: Sym>(s: &[T], sa: &mut [u32], bkt: &mut [u32], cnt: &[u32]) {
    // Prefetches only pay where the symbols do not fit in the caches;
    // below that they are pure overhead.
    if std::mem::size_of_val(s) > INDUCE_WARM_MIN {
        induce_with::<T, true>(s, sa, bkt, cnt);
    } else {
        induce_with::<T, false>(s, sa, bkt, cnt);
    }
}

/// Bytes of symbols from which `induce` reads ahead.
const INDUCE_WARM_MIN: usize = 1 << 20;

#[inline(always)]
fn induce_with<T: Sym, const WARM: bool>(s: &[T], sa: &mut [u32], bkt: &mut [u32], cnt: &[u32]) {
    let n = s.len();
    buckets(cnt, bkt, false);
    // The (virtual, smallest) end sentinel induces the last suffix first.
    let c = s[n - 1].idx();
    sa[bkt[c] as usize] = (n - 1) as u32;
    bkt[c] += 1;
    let last = n - 1;
    // Prefetches of the symbols a later step will read (see `prefetch_symbol`).
    for i in 0..n {
        if WARM {
            prefetch_symbol(s, sa, i + INDUCE_WARM);
        }
        let j = sa[i];
        // Empty, or the whole string (no predecessor).
        if j.wrapping_sub(1) >= last as u32 {
            continue;
        }
        let j = j as usize;
        let c = s[j - 1].idx();
        if c >= s[j].idx() {
            sa[bkt[c] as usize] = (j - 1) as u32;
            bkt[c] += 1;
        }
    }
    buckets(cnt, bkt, true);
    for i in (0..n).rev() {
        if WARM {
            prefetch_symbol(s, sa, i.wrapping_sub(INDUCE_WARM));
        }
        let e = sa[i];
        if e == EMPTY {
            continue;
        }
        let j = (e & !S_FLAG) as usize;
        sa[i] = j as u32;
        if j == 0 {
            continue;
        }
        let c = s[j - 1].idx();
        let cj = s[j].idx();
        if c < cj || (c == cj && e & S_FLAG != 0) {
            bkt[c] -= 1;
            sa[bkt[c] as usize] = (j - 1) as u32 | S_FLAG;
        }
    }
}

/// How far ahead the induced-sorting scans prefetch symbols.
const INDUCE_WARM: usize = 16;

/// Prefetches the symbol before the suffix at `sa[i]` as it stands now (it
/// may still change; this only brings the symbol into the cache before the
/// scan needs it).
#[inline(always)]
fn prefetch_symbol<T: Sym>(s: &[T], sa: &[u32], i: usize) {
    if let Some(&e) = sa.get(i) {
        let j = (e & !S_FLAG) as usize;
        crate::prefetch::prefetch(s, j.wrapping_sub(1));
    }
}

/// Suffix array of `s` (symbols below `k`) into `sa[..s.len()]`, by
/// induced sorting. `bkt` is grown to the `2 * k` entries it needs (`k <=
/// s.len() / 2` in the recursion), `bits` needs `bit_words(s.len())` words.
fn sais<T: Sym>(s: &[T], sa: &mut [u32], k: usize, bkt: &mut Vec<u32>, bits: &mut [u64]) {
    if bkt.len() < 2 * k {
        bkt.resize(2 * k, 0);
    }
    // Prefetches of what the scans with random reads need, where the string
    // does not fit in the caches (below that they are pure overhead).
    if std::mem::size_of_val(s) > INDUCE_WARM_MIN {
        sais_with::<T, true>(s, sa, k, bkt, bits);
    } else {
        sais_with::<T, false>(s, sa, k, bkt, bits);
    }
}

fn sais_with<T: Sym, const FAR: bool>(
    s: &[T],
    sa: &mut [u32],
    k: usize,
    bkt: &mut Vec<u32>,
    bits: &mut [u64],
) {
    let n = s.len();
    if n == 0 {
        return;
    }
    if n == 1 {
        sa[0] = 0;
        return;
    }
    let words = n / 64 + 1;
    let (bits, rest_bits) = bits.split_at_mut(words);
    // Types: S (1) when the suffix is smaller than the next one.
    bits.fill(0);
    // Built a word at a time in a register; each word is stored when its
    // lowest position is reached.
    let mut next_s = false;
    let mut word = 0u64;
    for i in (0..n - 1).rev() {
        let (a, b) = (s[i].idx(), s[i + 1].idx());
        let t = a < b || (a == b && next_s);
        word |= u64::from(t) << (i & 63);
        if i & 63 == 0 {
            bits[i >> 6] = word;
            word = 0;
        }
        next_s = t;
    }

    // Sort the LMS substrings.
    let sa = &mut sa[..n];
    sa.fill(EMPTY);
    {
        let (bp, cnt) = bkt.split_at_mut(k);
        let cnt = &mut cnt[..k];
        count(s, cnt);
        buckets(cnt, bp, true);
        for_each_lms(bits, words, |i| {
            let c = s[i].idx();
            bp[c] -= 1;
            sa[bp[c] as usize] = i as u32;
        });
        induce(s, sa, bp, cnt);
    }

    // Collect them in sorted order and name them.
    let mut n1 = 0;
    for i in 0..n {
        if FAR {
            if let Some(&a) = sa.get(i + SAIS_PREFETCH) {
                crate::prefetch::prefetch(bits, a as usize >> 6);
            }
        }
        let j = sa[i];
        if j != EMPTY && is_lms(bits, j as usize) {
            sa[n1] = j;
            n1 += 1;
        }
    }
    sa[n1..].fill(EMPTY);
    // Each LMS substring's length (to the next LMS position; 0 for the last
    // one, which ends at the sentinel and equals no other), in the slot its
    // name will take. LMS positions are at least two apart, so these slots
    // are distinct.
    let mut next = n;
    for w in (0..words).rev() {
        let mut m = lms_word(bits, w);
        while m != 0 {
            let b = 63 - m.leading_zeros() as usize;
            m &= !(1 << b);
            let i = 64 * w + b;
            sa[n1 + i / 2] = if next == n { 0 } else { (next - i) as u32 };
            next = i;
        }
    }
    // Two LMS substrings of the same length and symbols (both ends LMS)
    // have the same types too.
    let mut names = 0u32;
    let (mut prev, mut prev_len) = (0usize, 0usize);
    for i in 0..n1 {
        if FAR && i + SAIS_PREFETCH < n1 {
            let a = sa[i + SAIS_PREFETCH] as usize;
            crate::prefetch::prefetch(sa, n1 + a / 2);
            crate::prefetch::prefetch(s, a);
        }
        let p = sa[i] as usize;
        let len = sa[n1 + p / 2] as usize;
        if i == 0 || len == 0 || len != prev_len || s[p..=p + len] != s[prev..=prev + len] {
            names += 1;
        }
        prev = p;
        prev_len = len;
        sa[n1 + p / 2] = names - 1;
    }
    let mut j = n;
    for i in (n1..n).rev() {
        if sa[i] != EMPTY {
            j -= 1;
            sa[j] = sa[i];
        }
    }

    // Sort the LMS suffixes: recursively unless the names are all distinct.
    {
        let (head, tail) = sa.split_at_mut(n - n1);
        let s1 = &tail[..];
        if (names as usize) < n1 {
            if bkt.len() < names as usize {
                bkt.resize(names as usize, 0);
            }
            if !sort_mostly_unique(s1, &mut head[..n1], names as usize, bkt) {
                sais(s1, &mut head[..n1], names as usize, bkt, rest_bits);
            }
        } else {
            for (i, &c) in s1.iter().enumerate() {
                head[c as usize] = i as u32;
            }
        }
        // Map the order of the reduced string back to positions.
        let mut j = 0;
        for_each_lms(bits, words, |i| {
            tail[j] = i as u32;
            j += 1;
        });
        if FAR {
            for i in 0..n1 {
                if let Some(&a) = head.get(i + SAIS_PREFETCH) {
                    crate::prefetch::prefetch(tail, a as usize);
                }
                head[i] = tail[head[i] as usize];
            }
        } else {
            for h in head[..n1].iter_mut() {
                *h = tail[*h as usize];
            }
        }
    }

    // Place them at their bucket ends, largest first, and induce the rest.
    sa[n1..].fill(EMPTY);
    let (bp, cnt) = bkt.split_at_mut(k);
    let cnt = &mut cnt[..k];
    count(s, cnt);
    buckets(cnt, bp, true);
    for i in (0..n1).rev() {
        if FAR && i >= SAIS_PREFETCH {
            crate::prefetch::prefetch(s, sa[i - SAIS_PREFETCH] as usize);
        }
        let j = sa[i] as usize;
        sa[i] = EMPTY;
        let c = s[j].idx();
        bp[c] -= 1;
        sa[bp[c] as usize] = j as u32;
    }
    induce(s, sa, bp, cnt);
}

/// How many entries ahead the scans of `sais` with random reads prefetch.
const SAIS_PREFETCH: usize = 32;

/// Symbols compared past the first before `sort_mostly_unique` gives up.
const SHORT_DEPTH: usize = 12;

/// Suffix array of the reduced string `s` (symbols below `k`) when most of
/// its symbols are unique: bucket the suffixes by their first symbol and sort
/// the few shared buckets by comparison. Gives up (returning false, `sa`
/// garbage) when too many suffixes share buckets or two of them agree on
/// `SHORT_DEPTH` further symbols; SA-IS then does it properly. `bkt` needs
/// `k` entries.
fn sort_mostly_unique(s: &[u32], sa: &mut [u32], k: usize, bkt: &mut [u32]) -> bool {
    let n = s.len();
    // Suffixes beyond the first of each bucket: many of them is not cheap.
    let dup = n - k;
    if dup > n / 4 {
        return false;
    }
    let bkt = &mut bkt[..k];
    bkt.fill(0);
    for &c in s {
        bkt[c as usize] += 1;
    }
    let mut sum = 0;
    for b in bkt.iter_mut() {
        let c = *b;
        *b = sum;
        sum += c;
    }
    for (i, &c) in s.iter().enumerate() {
        let b = &mut bkt[c as usize];
        sa[*b as usize] = i as u32;
        *b += 1;
    }
    // Now bkt[c] is the end of bucket c. Sort the shared ones.
    let mut start = 0usize;
    let mut deep = false;
    for &end in bkt.iter() {
        let end = end as usize;
        if end - start > 1 {
            sa[start..end].sort_unstable_by(|&a, &b| {
                let (a, b) = (a as usize + 1, b as usize + 1);
                let (ra, rb) = (&s[a.min(n)..], &s[b.min(n)..]);
                for d in 0..SHORT_DEPTH {
                    match (ra.get(d), rb.get(d)) {
                        (Some(x), Some(y)) if x == y => {}
                        (x, y) => return x.cmp(&y),
                    }
                }
                // Too alike: keep the order total, and redo it properly.
                deep = true;
                a.cmp(&b)
            });
            if deep {
                return false;
            }
        }
        start = end;
    }
    true
}

/// Does what `build_lcp` does, for chunks that fit in the caches: in text
/// order each LCP is at least the previous one less one (also with the
/// cap), so nearly every entry costs one or two byte compares instead of up
/// to a cap's worth. Needs `phi.len() == sa.len()` as scratch. Large
/// chunks keep `build_lcp`, whose cache misses are fewer.
fn build_lcp_phi(data: &[u8], sa: &mut [u32], phi: &mut [u32], cap: u32) {
    let n = data.len();
    // The suffix sorted just before each one (`EMPTY` for the first).
    let mut prev = EMPTY;
    for &e in sa.iter() {
        if let Some(slot) = phi.get_mut(e as usize) {
            *slot = prev;
        }
        prev = e;
    }
    let mut l = 0usize;
    for (p, slot) in phi.iter_mut().enumerate() {
        let q = *slot;
        if q == EMPTY {
            *slot = 0;
            l = 0;
            continue;
        }
        let q = q as usize;
        let (a, b) = (p.max(q), p.min(q));
        let max = (cap as usize).min(n - a);
        l = extend(data, a, b, l.min(max), max);
        *slot = l as u32;
        l = l.saturating_sub(1);
    }
    for e in sa.iter_mut() {
        let l = phi.get(*e as usize).copied().unwrap_or(0);
        let l = if l < 2 { 0 } else { l };
        *e |= l << SHIFT;
    }
}

/// Replaces each suffix array entry by itself with the LCP (capped at
/// `cap`, and 0 below 2) of that suffix and the previous one in the top
/// bits. Compared directly: with the cap, that is at most a few word
/// compares per entry and one new suffix read each, fewer cache misses than
/// going through the permuted LCP array.
fn build_lcp(data: &[u8], sa: &mut [u32], cap: u32) {
    let n = data.len();
    let mut prev = 0usize;
    for i in 0..sa.len() {
        // The suffixes a few entries on are read soon: start those misses.
        if let Some(&ahead) = sa.get(i + LCP_PREFETCH) {
            crate::prefetch::prefetch(data, ahead as usize);
        }
        let e = &mut sa[i];
        let cur = *e as usize;
        if i > 0 {
            let (a, b) = (cur.max(prev), cur.min(prev));
            let max = (cap as usize).min(n - a);
            let l = extend(data, a, b, 0, max) as u32;
            let l = if l < 2 { 0 } else { l };
            *e |= l << SHIFT;
        }
        prev = cur;
    }
}

/// How many suffix array entries ahead `build_lcp` and `build_intervals`
/// prefetch what those entries point to.
const LCP_PREFETCH: usize = 16;

/// Turns the suffix array with LCPs into the interval tree, in place: the
/// intervals overwrite suffix array entries already read. Writes each
/// position's deepest interval to `leaf`. Returns how many intervals there are.
fn build_intervals(sa: &mut [u32], leaf: &mut [u32]) -> usize {
    let n = sa.len();
    let deep = n >= DEEP_MIN;
    // Open intervals, by increasing LCP: (lcp, reference).
    let mut stack = [(0u32, ROOT); MAX_LCP + 2];
    let mut sp = 0usize;
    let mut next_id = 0u32;
    let mut prev_pos = (sa[0] & MASK) as usize;
    for i in 1..=n {
        // The leaf entries a few steps on are written soon (they miss the
        // caches in large chunks only).
        if deep {
            if let Some(&ahead) = sa.get(i + LCP_PREFETCH) {
                crate::prefetch::prefetch(leaf, (ahead & MASK) as usize);
            }
        }
        let (l, cur_pos) = if i < n {
            (sa[i] >> SHIFT, sa[i] & MASK)
        } else {
            (0, 0)
        };
        let top_before = stack[sp];
        while l < stack[sp].0 {
            let (_, id) = stack[sp];
            sp -= 1;
            let parent = if l > stack[sp].0 {
                // A new interval with this LCP opens and encloses it.
                let r = (l << SHIFT) | next_id;
                next_id += 1;
                sp += 1;
                stack[sp] = (l, r);
                r
            } else {
                stack[sp].1
            };
            sa[(id & MASK) as usize] = parent;
        }
        if l > stack[sp].0 {
            let r = (l << SHIFT) | next_id;
            next_id += 1;
            sp += 1;
            stack[sp] = (l, r);
        }
        // The deeper of the intervals shared with either neighbour.
        let deepest = if l > top_before.0 {
            stack[sp].1
        } else {
            top_before.1
        };
        leaf[prev_pos] = deepest;
        prev_pos = cur_pos as usize;
    }
    next_id as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::xorshift_bytes;

    fn naive_sa(s: &[u8]) -> Vec<u32> {
        let mut v: Vec<u32> = (0..s.len() as u32).collect();
        v.sort_by(|&a, &b| s[a as usize..].cmp(&s[b as usize..]));
        v
    }

    fn check_sa(s: &[u8]) {
        let n = s.len();
        let mut sa = vec![0u32; n];
        let mut bkt = vec![0u32; n.max(512)];
        let mut bits = vec![0u64; bit_words(n)];
        sais(s, &mut sa, 256, &mut bkt, &mut bits);
        assert_eq!(sa, naive_sa(s), "{s:?}");
    }

    #[test]
    fn sais_matches_naive() {
        for s in [
            &b""[..],
            b"a",
            b"aa",
            b"ab",
            b"ba",
            b"banana",
            b"mississippi",
            b"aaaaaaa",
        ] {
            check_sa(s);
        }
        for seed in 1..200u64 {
            let len = (seed as usize * 7) % 300;
            for alpha in [1, 2, 3, 4, 256] {
                check_sa(&xorshift_bytes(len, seed, alpha));
            }
        }
    }

    #[test]
    fn lcp_phi_matches_direct() {
        for seed in 1..120u64 {
            let len = 1 + (seed as usize * 37) % 2000;
            for alpha in [1, 2, 3, 256] {
                let s = xorshift_bytes(len, seed, alpha);
                let mut sa = naive_sa(&s);
                let mut sa2 = sa.clone();
                let mut phi = vec![0u32; len];
                for cap in [2, 7, 63] {
                    build_lcp(&s, &mut sa, cap);
                    build_lcp_phi(&s, &mut sa2, &mut phi, cap);
                    assert_eq!(sa, sa2, "{seed} {alpha} {cap}");
                    sa = naive_sa(&s);
                    sa2 = sa.clone();
                }
            }
        }
    }

    /// Most recent match of each length, the slow way.
    fn naive_matches(s: &[u8], q: usize, nice: usize) -> Vec<Match> {
        let mut out: Vec<Match> = Vec::new();
        let mut best = 1;
        for p in (0..q).rev() {
            let mut l = 0;
            while q + l < s.len() && l < nice && s[p + l] == s[q + l] {
                l += 1;
            }
            if l > best {
                best = l;
                out.push(Match {
                    len: l as u32,
                    offset: (q - p) as u32,
                });
            }
        }
        out
    }

    /// A large chunk's finder holds the suffix array only until its
    /// intervals are built, and nothing after `release`.
    #[test]
    fn large_chunks_give_their_arrays_back() {
        let n = 3 * KEPT_MAX;
        let mut s = xorshift_bytes(n / 2, 5, 4);
        s.extend(xorshift_bytes(n - s.len(), 6, 256));
        let mut f = LcpFinder::new(n, 63);
        assert!(f.iv.is_empty());
        f.reset(&s);
        assert_eq!(f.pd.len(), n);
        assert!(f.iv.len() < n / 2, "{} intervals kept", f.iv.len());
        assert!(f.iv.capacity() < n / 2);
        let mut out = vec![Match::default(); 64];
        let found: usize = (0..n).map(|q| f.get_matches(&s, q, &mut out)).sum();
        assert!(found > n / 4);
        f.release();
        assert_eq!(f.iv.capacity() + f.pd.capacity(), 0);
        // Small finders keep theirs.
        let mut f = LcpFinder::new(1000, 63);
        f.reset(&s[..1000]);
        f.release();
        assert!(f.iv.len() == 1000 && f.pd.len() >= 1000);
    }

    #[test]
    fn finder_matches_naive() {
        for seed in 1..60u64 {
            let len = 1 + (seed as usize * 37) % 700;
            for alpha in [1, 2, 3, 8, 256] {
                let s = xorshift_bytes(len, seed, alpha);
                for nice in [2, 5, 63] {
                    let mut f = LcpFinder::new(len, nice);
                    f.reset(&s);
                    let mut out = vec![Match::default(); 300];
                    for q in 0..len {
                        if (q + seed as usize) % 7 == 0 {
                            f.skip(q, 1);
                            continue;
                        }
                        let c = f.get_matches(&s, q, &mut out);
                        let got: Vec<(u32, u32)> =
                            out[..c].iter().rev().map(|m| (m.len, m.offset)).collect();
                        let want: Vec<(u32, u32)> = naive_matches(&s, q, nice)
                            .iter()
                            .map(|m| (m.len, m.offset))
                            .collect();
                        assert_eq!(got, want, "seed {seed} alpha {alpha} nice {nice} q {q}");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod bench {
    use super::*;

    use super::super::tests::thread_cpu as cpu;

    /// Build and walk time per byte on the file named by
    /// `LZMS_BENCH_FILE` (run by hand with --ignored --nocapture).
    #[test]
    #[ignore]
    fn build_speed() {
        let Some(path) = std::env::var_os("LZMS_BENCH_FILE") else {
            return;
        };
        let Ok(data) = std::fs::read(path) else {
            return;
        };
        let chunks: Vec<usize> = std::env::var("LZMS_BENCH_CHUNKS")
            .ok()
            .map(|v| v.split(',').filter_map(|c| c.parse().ok()).collect())
            .unwrap_or_else(|| vec![131072, 8 << 20]);
        for chunk in chunks {
            let mut f = LcpFinder::new(chunk, 63);
            let (mut t1, mut t2, mut t3, mut t4) = (0.0, 0.0, 0.0, 0.0);
            let mut out = vec![Match::default(); 300];
            let mut total = 0;
            for _ in 0..2 {
                for c in data.chunks(chunk) {
                    let n = c.len();
                    f.iv.resize(n.max(f.iv.len()), 0);
                    f.pd.resize(n.max(f.pd.len()), 0);
                    let t = cpu();
                    let mut bits = vec![0; bit_words(n)];
                    sais(c, &mut f.iv[..n], 256, &mut f.pd, &mut bits);
                    t1 += cpu() - t;
                    let t = cpu();
                    build_lcp(c, &mut f.iv[..n], 63);
                    t2 += cpu() - t;
                    let t = cpu();
                    build_intervals(&mut f.iv[..n], &mut f.pd[..n]);
                    t3 += cpu() - t;
                    let t = cpu();
                    for p in 0..n {
                        total += f.get_matches(c, p, &mut out);
                    }
                    t4 += cpu() - t;
                }
            }
            let ns = 1e9 / data.len() as f64 / 2.0;
            eprintln!(
                "chunk {chunk}: sais {:.1} lcp {:.1} intervals {:.1} walk {:.1} ns/B ({total})",
                t1 * ns,
                t2 * ns,
                t3 * ns,
                t4 * ns
            );
        }
    }
}
