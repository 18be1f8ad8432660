//! LZ77 match finders shared by the XPRESS and LZX encoders.
//!
//! Every WIM chunk is compressed independently, so a finder works on one
//! chunk at a time: `reset` before each chunk, then positions are visited in
//! increasing order, each exactly once, by either a search or a `skip`.
//!
//! - [`HashChains`] finds the longest match at a position (lazy parsing).
//! - [`BinaryTrees`] finds every match that is longer than all closer ones
//!   (near-optimal parsing needs the whole list).
//!
//! PLACEHOLDER IMPLEMENTATION: correct but slow; the API is what the encoders
//! program against.

/// One match: `len` bytes equal to those `offset` bytes back (offset ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Match {
    pub len: u32,
    pub offset: u32,
}

const HASH_BITS: u32 = 15;

fn hash3(data: &[u8], pos: usize) -> usize {
    let v = u32::from(data[pos]) | u32::from(data[pos + 1]) << 8 | u32::from(data[pos + 2]) << 16;
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

fn match_len(data: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut n = 0;
    while n < max && data[a + n] == data[b + n] {
        n += 1;
    }
    n
}

/// Hash chains over 3-byte prefixes.
pub struct HashChains {
    head: Vec<u32>,
    prev: Vec<u32>,
}

impl HashChains {
    /// A finder for chunks of at most `max_chunk_size` bytes.
    pub fn new(max_chunk_size: usize) -> Self {
        Self {
            head: vec![u32::MAX; 1 << HASH_BITS],
            prev: vec![u32::MAX; max_chunk_size],
        }
    }

    /// Bytes of memory the finder holds for `max_chunk_size`.
    pub fn memory_usage(max_chunk_size: usize) -> usize {
        (1 << HASH_BITS) * 4 + max_chunk_size * 4
    }

    /// Forgets the previous chunk.
    pub fn reset(&mut self) {
        self.head.fill(u32::MAX);
    }

    /// The longest match at `pos` (if longer than `best_len`) of at most
    /// `max_len` bytes (callers clamp it to the bytes left), looking at no more
    /// than `depth` candidates and stopping once one reaches `nice_len`.
    /// Inserts `pos`. Returns `len == 0` when nothing longer was found.
    pub fn longest_match(
        &mut self,
        data: &[u8],
        pos: usize,
        best_len: u32,
        max_len: u32,
        nice_len: u32,
        depth: u32,
    ) -> Match {
        let mut best = Match { len: 0, offset: 0 };
        if pos + 3 > data.len() {
            return best;
        }
        let h = hash3(data, pos);
        let mut cand = self.head[h];
        self.prev[pos] = cand;
        self.head[h] = pos as u32;
        let max_len = (max_len as usize).min(data.len() - pos);
        let mut longest = best_len as usize;
        let mut left = depth;
        while cand != u32::MAX && left > 0 {
            left -= 1;
            let c = cand as usize;
            let n = match_len(data, c, pos, max_len);
            if n > longest {
                longest = n;
                best = Match {
                    len: n as u32,
                    offset: (pos - c) as u32,
                };
                if n >= nice_len as usize || n == max_len {
                    break;
                }
            }
            cand = self.prev[c];
        }
        best
    }

    /// Inserts `count` positions starting at `pos` without searching.
    pub fn skip(&mut self, data: &[u8], pos: usize, count: usize) {
        for p in pos..pos + count {
            if p + 3 > data.len() {
                break;
            }
            let h = hash3(data, p);
            self.prev[p] = self.head[h];
            self.head[h] = p as u32;
        }
    }
}

/// Binary trees over 3-byte prefixes (placeholder: hash chains underneath).
pub struct BinaryTrees {
    chains: HashChains,
}

impl BinaryTrees {
    /// A finder for chunks of at most `max_chunk_size` bytes.
    pub fn new(max_chunk_size: usize) -> Self {
        Self {
            chains: HashChains::new(max_chunk_size),
        }
    }

    /// Bytes of memory the finder holds for `max_chunk_size`.
    pub fn memory_usage(max_chunk_size: usize) -> usize {
        HashChains::memory_usage(max_chunk_size)
    }

    /// Forgets the previous chunk.
    pub fn reset(&mut self) {
        self.chains.reset();
    }

    /// Appends to `out` the matches at `pos` of at most `max_len` bytes, in
    /// increasing length and each longer than the previous (so offsets are
    /// the smallest for their length among those seen), visiting at most
    /// `depth` candidates and stopping at `nice_len`. Inserts `pos`.
    pub fn matches(
        &mut self,
        data: &[u8],
        pos: usize,
        max_len: u32,
        nice_len: u32,
        depth: u32,
        out: &mut Vec<Match>,
    ) {
        if pos + 3 > data.len() {
            return;
        }
        let c = &mut self.chains;
        let h = hash3(data, pos);
        let mut cand = c.head[h];
        c.prev[pos] = cand;
        c.head[h] = pos as u32;
        let max_len = (max_len as usize).min(data.len() - pos);
        let mut longest = 2usize;
        let mut left = depth;
        while cand != u32::MAX && left > 0 {
            left -= 1;
            let p = cand as usize;
            let n = match_len(data, p, pos, max_len);
            if n > longest {
                longest = n;
                out.push(Match {
                    len: n as u32,
                    offset: (pos - p) as u32,
                });
                if n >= nice_len as usize || n == max_len {
                    break;
                }
            }
            cand = c.prev[p];
        }
    }

    /// Inserts `pos` without reporting matches.
    pub fn skip(&mut self, data: &[u8], pos: usize, _max_len: u32, _nice_len: u32, _depth: u32) {
        self.chains.skip(data, pos, 1);
    }
}
