//! The XPRESS (Huffman) encoder.
//!
//! Parsing depends on the level (see [`parameters`]): below 10 greedy (always
//! the longest match found), below 60 lazy (a match is deferred by one byte
//! when the next position has a better one), and from 60 near-optimal: the
//! chunk's matches are collected once with binary trees, then a minimum-cost
//! path through the literal/match graph is computed with a cost model taken
//! from the previous pass's Huffman code (the first pass assumes every symbol
//! costs 9 bits).
//!
//! The output is one block: the 512 four-bit codeword lengths, then the
//! symbols, then the end-of-data symbol (256, which decoders that stop at the
//! known output size never read, but Microsoft's decoder expects), a final
//! partial word and one zero word, exactly as the lazy bit reader of the format
//! lays them out.

use super::{MAX_CODEWORD_LEN, MIN_MATCH_LEN, NUM_SYMBOLS};
use crate::error::{check_level, EncodeError};
use crate::huffman_build::{canonical_codewords, LengthBuilder};
use crate::matchfinder::{BinaryTrees, HashChains, Match, SmallChains};

/// The end-of-data symbol: a match header (length 3, offset 1) by number.
const END_OF_DATA: usize = 256;
/// Bytes of the code length header.
const HEADER_BYTES: usize = NUM_SYMBOLS / 2;
/// Levels from which the near-optimal parser is used.
const MIN_LEVEL_NEAR_OPTIMAL: u32 = 60;
/// Levels from which wimlib parses lazily (below: greedily); our lazy search
/// settings change there too.
const MIN_LEVEL_LAZY: u32 = 30;
/// Matches the near-optimal parser may cache per byte of the chunk.
const CACHE_PER_POS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Greedy,
    Lazy,
    NearOptimal { passes: u32 },
}

/// Parsing strategy, search depth and nice length for a level.
///
/// wimlib uses greedy parsing below 30 (depth `level * 30 / 16`, nice length
/// `level * 60 / 16`), lazy parsing below 60 (`level * 30 / 32`,
/// `level * 60 / 32`) and near-optimal parsing from 60 (`level * 28 / 100`,
/// `level * 56 / 100`, `level / 40` passes). We keep the near-optimal
/// settings and greedy ones below 10, but from 10 to 59 use lazy parsing with
/// an offset-aware choice ([`lazy_prefers_next`]) and a shallower search: on
/// real files that gives about the same size as wimlib's settings in less
/// time (at 20 a depth of 5 where wimlib searches 37 candidates, at 50 a
/// depth of 21 where it searches 46: on 16 MiB of /usr files 1.0006x
/// wimlib's size at 1.01x its speed; a depth of 28 gave 0.9995x at 0.96x).
fn parameters(level: u32) -> (Strategy, u32, u32) {
    if level < 10 {
        (Strategy::Greedy, (level * 30 / 16).max(1), level * 60 / 16)
    } else if level < MIN_LEVEL_LAZY {
        (
            Strategy::Lazy,
            (level * 30 / 112).max(4),
            (level * 60 / 16).max(3),
        )
    } else if level < MIN_LEVEL_NEAR_OPTIMAL {
        (Strategy::Lazy, level * 14 / 32, level * 60 / 32)
    } else {
        let passes = (level / 40).max(1);
        (
            Strategy::NearOptimal { passes },
            (level * 28 / 100).max(1),
            level * 56 / 100,
        )
    }
}

/// A chosen literal or match, ready to write: bits 0-8 the symbol; for a
/// match, bits 9-24 the length minus 3, bits 25-28 the number of offset bits
/// and bits 32-47 those bits (lengths and offsets are below 2^16 since a
/// chunk is at most 64 KiB).
type Item = u64;

/// The match symbol, offset bit count and extra length bytes of a match.
#[inline(always)]
fn match_symbol(len: u32, offset: u32) -> (usize, u32, u32) {
    let adj = len - MIN_MATCH_LEN as u32;
    let log2 = 31 - offset.leading_zeros();
    let sym = 256 + ((log2 << 4) | adj.min(15)) as usize;
    let extra = if adj < 15 {
        0
    } else if adj - 15 < 255 {
        1
    } else {
        3
    };
    (sym, log2, extra)
}

/// Whether a literal then `next` (one byte later) beats `cur`: each byte of
/// length is worth a few bits of offset (XPRESS codes an offset in about
/// log2(offset) extra bits), so a slightly longer but much farther match
/// does not win, nor does an equally long one unless it is much closer.
#[inline(always)]
fn lazy_prefers_next(cur: Match, next: Match) -> bool {
    let bits = |m: Match| 31 - m.offset.leading_zeros() as i32;
    next.len >= cur.len && 3 * (next.len as i32 - cur.len as i32) + bits(cur) - bits(next) > 1
}

/// A reusable Xpress compressor for chunks up to a maximum size at one level.
pub struct XpressEncoder {
    max_chunk_size: usize,
    level: u32,
    strategy: Strategy,
    depth: u32,
    nice_len: u32,
    freqs: [u32; NUM_SYMBOLS],
    lens: [u8; NUM_SYMBOLS],
    codes: [u32; NUM_SYMBOLS],
    builder: LengthBuilder,
    /// The parse of the current chunk, and what it adds beyond codewords.
    items: Vec<Item>,
    offset_bits: u64,
    extra_bytes: usize,
    hc: Option<Box<SmallChains>>,
    near: Option<Box<NearOptimal>>,
}

/// State of the near-optimal parser.
struct NearOptimal {
    bt: BinaryTrees,
    /// Matches of every position in order; `counts[pos]` of them each.
    cache: Vec<Match>,
    counts: Vec<u16>,
    /// Cost in bits from each position to the end, and the first step of
    /// the cheapest path from there (`offset << 16 | len`, or `byte << 16 | 1`
    /// for a literal).
    cost_to_end: Vec<u32>,
    step: Vec<u32>,
    costs: [u32; NUM_SYMBOLS],
}

impl XpressEncoder {
    /// A compressor for chunks of at most `max_chunk_size` bytes at `level`
    /// (1..=100, wimlib's scale; 0 = default 50).
    pub fn new(max_chunk_size: usize, level: u32) -> Result<Self, EncodeError> {
        let level = check_level(level)?;
        if max_chunk_size == 0 || max_chunk_size > super::MAX_CHUNK_SIZE {
            return Err(EncodeError::UnsupportedChunkSize(max_chunk_size));
        }
        let (strategy, depth, nice_len) = parameters(level);
        let (hc, near) = match strategy {
            Strategy::NearOptimal { .. } => (
                None,
                Some(Box::new(NearOptimal {
                    bt: BinaryTrees::new(max_chunk_size),
                    cache: Vec::with_capacity(cache_capacity(max_chunk_size)),
                    counts: vec![0; max_chunk_size],
                    cost_to_end: vec![0; max_chunk_size + 1],
                    step: vec![0; max_chunk_size],
                    costs: [0; NUM_SYMBOLS],
                })),
            ),
            _ => (Some(Box::new(SmallChains::new(max_chunk_size))), None),
        };
        Ok(Self {
            max_chunk_size,
            level,
            strategy,
            depth,
            nice_len,
            freqs: [0; NUM_SYMBOLS],
            lens: [0; NUM_SYMBOLS],
            codes: [0; NUM_SYMBOLS],
            builder: LengthBuilder::new(),
            items: Vec::with_capacity(max_chunk_size),
            offset_bits: 0,
            extra_bytes: 0,
            hc,
            near,
        })
    }

    /// Upper bound of the bytes a compressor for these settings holds.
    pub fn memory_usage(max_chunk_size: usize, level: u32) -> usize {
        let level = check_level(level).unwrap_or(50);
        // The encoder itself and the Huffman length builder's scratch space.
        let fixed = std::mem::size_of::<Self>() + 16 * 1024;
        let items = 8 * max_chunk_size;
        let parser = match parameters(level).0 {
            Strategy::NearOptimal { .. } => {
                BinaryTrees::memory_usage(max_chunk_size)
                    + std::mem::size_of::<Match>() * cache_capacity(max_chunk_size)
                    + (2 + 4 + 4) * max_chunk_size
                    + 4
                    + std::mem::size_of::<NearOptimal>()
            }
            _ => HashChains::memory_usage(max_chunk_size),
        };
        fixed + items + parser
    }

    /// The level this compressor was created for.
    pub fn level(&self) -> u32 {
        self.level
    }

    /// Compresses `input` (at most the chunk size) into `output`, returning
    /// the compressed length, or `None` when the result would not fit in
    /// `output` (callers pass `input.len() - 1` bytes and store the chunk raw).
    pub fn compress(&mut self, input: &[u8], output: &mut [u8]) -> Option<usize> {
        // The smallest stream is the header and two words.
        if input.len() > self.max_chunk_size || output.len() < HEADER_BYTES + 4 {
            return None;
        }
        self.freqs = [0; NUM_SYMBOLS];
        self.items.clear();
        self.offset_bits = 0;
        self.extra_bytes = 0;
        let parsed = match self.strategy {
            Strategy::Greedy => self.parse_greedy(input),
            Strategy::Lazy => self.parse_lazy(input),
            Strategy::NearOptimal { passes } => self.parse_near_optimal(input, passes),
        };
        if !parsed {
            return None;
        }
        self.write(output)
    }

    #[inline(always)]
    fn literal(&mut self, byte: u8) {
        self.freqs[usize::from(byte)] += 1;
        self.items.push(Item::from(byte));
    }

    #[inline(always)]
    fn record_match(&mut self, len: u32, offset: u32) {
        let (sym, log2, extra) = match_symbol(len, offset);
        self.freqs[sym] += 1;
        self.offset_bits += u64::from(log2);
        self.extra_bytes += extra as usize;
        let adj = u64::from(len - MIN_MATCH_LEN as u32);
        let bits = u64::from(offset - (1 << log2));
        self.items
            .push(sym as u64 | adj << 9 | u64::from(log2) << 25 | bits << 32);
    }

    /// Length-3 matches this far back or farther cost more than literals.
    fn len3_too_far(n: usize) -> u32 {
        if n <= 8192 {
            2048
        } else {
            4096
        }
    }

    fn parse_greedy(&mut self, input: &[u8]) -> bool {
        let Some(mut hc) = self.hc.take() else {
            return false;
        };
        hc.reset();
        let n = input.len();
        let too_far = Self::len3_too_far(n);
        let (nice, depth) = (self.nice_len, self.depth);
        let mut pos = 0;
        while pos < n {
            let m = hc.longest_match(input, pos, 2, (n - pos) as u32, nice, depth);
            if m.len >= 3 && !(m.len == 3 && m.offset >= too_far) {
                self.record_match(m.len, m.offset);
                hc.skip(input, pos + 1, m.len as usize - 1);
                pos += m.len as usize;
            } else {
                self.literal(input[pos]);
                pos += 1;
            }
        }
        self.hc = Some(hc);
        true
    }

    fn parse_lazy(&mut self, input: &[u8]) -> bool {
        let Some(mut hc) = self.hc.take() else {
            return false;
        };
        hc.reset();
        let n = input.len();
        let too_far = Self::len3_too_far(n);
        let (nice, depth) = (self.nice_len, self.depth);
        let mut pos = 0;
        while pos < n {
            let mut cur = hc.longest_match(input, pos, 2, (n - pos) as u32, nice, depth);
            pos += 1;
            if cur.len < 3 || (cur.len == 3 && cur.offset >= too_far) {
                self.literal(input[pos - 1]);
                continue;
            }
            // `cur` starts at pos - 1.
            loop {
                if cur.len >= nice {
                    self.record_match(cur.len, cur.offset);
                    hc.skip(input, pos, cur.len as usize - 1);
                    pos += cur.len as usize - 1;
                    break;
                }
                let next = hc.longest_match(input, pos, cur.len, (n - pos) as u32, nice, depth / 2);
                pos += 1;
                if lazy_prefers_next(cur, next) {
                    self.literal(input[pos - 2]);
                    cur = next;
                } else {
                    self.record_match(cur.len, cur.offset);
                    hc.skip(input, pos, cur.len as usize - 2);
                    pos += cur.len as usize - 2;
                    break;
                }
            }
        }
        self.hc = Some(hc);
        true
    }

    fn parse_near_optimal(&mut self, input: &[u8], passes: u32) -> bool {
        let Some(mut near) = self.near.take() else {
            return false;
        };
        let n = input.len();
        near.find_matches(input, self.nice_len, self.depth);
        near.costs = [9; NUM_SYMBOLS];
        for pass in 1..=passes {
            near.min_cost_path(input);
            self.freqs = [0; NUM_SYMBOLS];
            self.items.clear();
            self.offset_bits = 0;
            self.extra_bytes = 0;
            let mut pos = 0;
            while pos < n {
                let step = near.step[pos];
                let len = step & 0xffff;
                if len <= 1 {
                    self.literal(input[pos]);
                    pos += 1;
                } else {
                    self.record_match(len, step >> 16);
                    pos += len as usize;
                }
            }
            if pass < passes {
                self.freqs[END_OF_DATA] += 1;
                self.builder
                    .build(&self.freqs, &mut self.lens, MAX_CODEWORD_LEN);
                for (c, &l) in near.costs.iter_mut().zip(&self.lens) {
                    *c = if l == 0 {
                        MAX_CODEWORD_LEN
                    } else {
                        u32::from(l)
                    };
                }
            }
        }
        self.near = Some(near);
        true
    }

    /// Builds the code and writes the block, or returns `None` if it does not
    /// fit (worked out before writing anything past the header).
    fn write(&mut self, output: &mut [u8]) -> Option<usize> {
        self.freqs[END_OF_DATA] += 1;
        self.builder
            .build(&self.freqs, &mut self.lens, MAX_CODEWORD_LEN);
        canonical_codewords(&self.lens, &mut self.codes);
        let bits: u64 = self
            .freqs
            .iter()
            .zip(&self.lens)
            .map(|(&f, &l)| u64::from(f) * u64::from(l))
            .sum::<u64>()
            + self.offset_bits;
        // Two words are reserved at the start and one more each time a word
        // fills; the final partial word and a zero word close the stream.
        let size = HEADER_BYTES + 2 + 2 * bits.div_ceil(16) as usize + self.extra_bytes;
        if size > output.len() {
            return None;
        }
        let (header, body) = output[..size].split_at_mut(HEADER_BYTES);
        for (byte, pair) in header.iter_mut().zip(self.lens.chunks_exact(2)) {
            *byte = pair[0] | pair[1] << 4;
        }
        // Codeword and length together: one load per symbol.
        let mut table = [0u32; NUM_SYMBOLS];
        for ((t, &c), &l) in table.iter_mut().zip(&self.codes).zip(&self.lens) {
            *t = c | u32::from(l) << 16;
        }
        let mut w = BitWriter::new(body);
        // One path for literals and matches (a literal's length and offset
        // fields are zero: no extra byte and no offset bits), so that the
        // mix of the two costs no mispredicted branch.
        for &item in &self.items {
            let entry = table[item as usize & (NUM_SYMBOLS - 1)];
            w.bits(entry & 0xffff, entry >> 16);
            let adj = (item >> 9) as u32 & 0xffff;
            if adj >= 15 {
                w.byte((adj - 15).min(255) as u8);
                if adj >= 15 + 255 {
                    w.u16(adj as u16);
                }
            }
            w.bits((item >> 32) as u32 & 0xffff, (item >> 25) as u32 & 0xf);
        }
        let (codes, lens) = (&self.codes, &self.lens);
        w.bits(codes[END_OF_DATA], u32::from(lens[END_OF_DATA]));
        let written = w.finish();
        (written + HEADER_BYTES == size).then_some(size)
    }
}

fn cache_capacity(max_chunk_size: usize) -> usize {
    max_chunk_size * CACHE_PER_POS + 512
}

impl NearOptimal {
    /// Runs the chunk through the binary trees, caching every position's
    /// matches. After a match of `nice_len` or more, the positions it covers
    /// are only inserted (any sensible path takes that match).
    fn find_matches(&mut self, input: &[u8], nice_len: u32, depth: u32) {
        let n = input.len();
        self.bt.reset();
        self.cache.clear();
        let limit = self.cache.capacity().saturating_sub(512);
        let counts = &mut self.counts[..n];
        let mut pos = 0;
        while pos < n {
            let left = (n - pos) as u32;
            if self.cache.len() >= limit {
                // Practically unreachable: keep the remaining positions literal.
                counts[pos..].fill(0);
                break;
            }
            let start = self.cache.len();
            self.bt
                .matches(input, pos, left, nice_len, depth, &mut self.cache);
            let found = self.cache.len() - start;
            counts[pos] = found as u16;
            pos += 1;
            let best = self.cache.last().filter(|_| found > 0).map_or(0, |m| m.len);
            if best >= nice_len.min(left) && best > 1 {
                let skip_end = (pos + best as usize - 1).min(n);
                while pos < skip_end {
                    self.bt.skip(input, pos, (n - pos) as u32, nice_len, depth);
                    counts[pos] = 0;
                    pos += 1;
                }
            }
        }
    }

    /// Computes, from the end backwards, the cheapest way to code the rest
    /// of the chunk from each position under `costs`: a literal, or for each
    /// length up to the longest match, that length with the nearest offset
    /// that has it. `step[pos]` gets `len | offset << 16` (len 1: literal).
    fn min_cost_path(&mut self, input: &[u8]) {
        let n = input.len();
        let costs = &self.costs;
        let cost_to_end = &mut self.cost_to_end[..=n];
        let step = &mut self.step[..n];
        let counts = &self.counts[..n];
        let cache = &self.cache[..];
        cost_to_end[n] = 0;
        let mut cursor = cache.len();
        for pos in (0..n).rev() {
            let lit = input[pos];
            let mut best = costs[usize::from(lit)] + cost_to_end[pos + 1];
            let mut best_step = u32::from(lit) << 16 | 1;
            let count = usize::from(counts[pos]);
            cursor = cursor.saturating_sub(count);
            let matches = cache.get(cursor..cursor + count).unwrap_or(&[]);
            // Costs from here: `ahead[len]` is the cost after a step of `len`.
            let ahead = &cost_to_end[pos..];
            let mut len = MIN_MATCH_LEN;
            for m in matches {
                let log2 = 31 - m.offset.leading_zeros();
                let row = &costs[256 + (log2 << 4) as usize..][..16];
                let max = (m.len as usize).min(n - pos);
                // Lengths below 18 have their own header and no extra byte.
                let short_end = max.min(MIN_MATCH_LEN + 14);
                while len <= short_end {
                    let c = row[len - MIN_MATCH_LEN] + log2 + ahead[len];
                    if c < best {
                        best = c;
                        best_step = m.offset << 16 | len as u32;
                    }
                    len += 1;
                }
                while len <= max {
                    let extra = if len - MIN_MATCH_LEN - 15 < 255 {
                        8
                    } else {
                        24
                    };
                    let c = row[15] + log2 + extra + ahead[len];
                    if c < best {
                        best = c;
                        best_step = m.offset << 16 | len as u32;
                    }
                    len += 1;
                }
            }
            cost_to_end[pos] = best;
            step[pos] = best_step;
        }
    }
}

/// The format's output: 16-bit little-endian words of bits (first bit in the
/// most significant position) with bytes interleaved where the decoder's lazy
/// reader expects them. Two word slots are always reserved ahead: a word that
/// fills (its 17th bit arrives) goes into the older one, and bytes go after
/// the newer one. Filled words are written out in batches; any pending ones
/// are written before a byte, so the layout is the same.
struct BitWriter<'a> {
    out: &'a mut [u8],
    buf: u64,
    count: u32,
    word: usize,
    word2: usize,
    next: usize,
}

impl<'a> BitWriter<'a> {
    fn new(out: &'a mut [u8]) -> Self {
        Self {
            out,
            buf: 0,
            count: 0,
            word: 0,
            word2: 2,
            next: 4,
        }
    }

    #[inline(always)]
    fn put16(&mut self, at: usize, v: u16) {
        if let Some(s) = self.out.get_mut(at..at + 2) {
            s.copy_from_slice(&v.to_le_bytes());
        }
    }

    /// Writes out every filled word.
    #[inline(always)]
    fn flush_words(&mut self) {
        while self.count > 16 {
            self.count -= 16;
            self.put16(self.word, (self.buf >> self.count) as u16);
            self.word = self.word2;
            self.word2 = self.next;
            self.next += 2;
        }
    }

    /// Appends the low `n` (≤ 16) bits of `v`, most significant first.
    #[inline(always)]
    fn bits(&mut self, v: u32, n: u32) {
        self.buf = (self.buf << n) | u64::from(v);
        self.count += n;
        if self.count >= 48 {
            self.flush_words();
        }
    }

    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.flush_words();
        if let Some(s) = self.out.get_mut(self.next) {
            *s = b;
        }
        self.next += 1;
    }

    #[inline(always)]
    fn u16(&mut self, v: u16) {
        self.flush_words();
        self.put16(self.next, v);
        self.next += 2;
    }

    /// Writes the partial word and the zero word; returns the bytes used.
    fn finish(mut self) -> usize {
        self.flush_words();
        let last = (self.buf << (16 - self.count)) as u16;
        self.put16(self.word, last);
        self.put16(self.word2, 0);
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xpress::XpressDecoder;

    fn xorshift(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn text(len: usize, seed: u64) -> Vec<u8> {
        let words = [
            &b"the "[..],
            b"image ",
            b"Windows ",
            b"file ",
            b"of ",
            b"and ",
            b"resource ",
            b"chunk\r\n",
            b"compression ",
            b"DISM ",
        ];
        let mut s = seed | 1;
        let mut v = Vec::with_capacity(len + 16);
        while v.len() < len {
            v.extend_from_slice(words[(xorshift(&mut s) % 10) as usize]);
            if xorshift(&mut s) % 9 == 0 {
                v.push(b'0' + (xorshift(&mut s) % 10) as u8);
            }
        }
        v.truncate(len);
        v
    }

    fn random(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..len).map(|_| xorshift(&mut s) as u8).collect()
    }

    fn pattern(len: usize, period: usize) -> Vec<u8> {
        (0..len).map(|i| ((i % period) * 37 % 251) as u8).collect()
    }

    /// Compresses with plenty of room and checks the round trip; returns the
    /// compressed size.
    fn round_trip(enc: &mut XpressEncoder, data: &[u8]) -> usize {
        let mut out = vec![0u8; data.len() + 1024];
        let n = enc
            .compress(data, &mut out)
            .expect("fits in a generous buffer");
        let mut dec = XpressDecoder::new(enc.max_chunk_size).unwrap();
        let mut back = vec![0u8; data.len()];
        dec.decompress(&out[..n], &mut back)
            .unwrap_or_else(|e| panic!("level {}: {e:?} (len {})", enc.level, data.len()));
        assert!(
            back == data,
            "level {}: mismatch (len {})",
            enc.level,
            data.len()
        );
        n
    }

    const LEVELS: [u32; 7] = [1, 20, 29, 30, 50, 80, 100];

    #[test]
    fn parameters_by_level() {
        assert_eq!(parameters(20), (Strategy::Lazy, 5, 75));
        assert_eq!(parameters(50), (Strategy::Lazy, 21, 93));
        assert_eq!(
            parameters(100),
            (Strategy::NearOptimal { passes: 2 }, 28, 56)
        );
        assert_eq!(
            parameters(60),
            (Strategy::NearOptimal { passes: 1 }, 16, 33)
        );
        assert_eq!(parameters(1), (Strategy::Greedy, 1, 3));
        assert_eq!(parameters(10), (Strategy::Lazy, 4, 37));
    }

    #[test]
    fn tiny_inputs_round_trip() {
        for level in LEVELS {
            let mut enc = XpressEncoder::new(65536, level).unwrap();
            for data in [
                &b""[..],
                b"a",
                b"ab",
                b"abc",
                b"aaaa",
                b"abcabc",
                b"abcabcabcabcabcabcabc",
            ] {
                round_trip(&mut enc, data);
            }
        }
    }

    #[test]
    fn zeros_and_long_match_lengths() {
        // Lengths around each encoding boundary: 3 + 15 (one extra byte),
        // 3 + 15 + 255 (three extra bytes), and up to the whole chunk.
        let mut lens = vec![1, 2, 3, 4, 17, 18, 19, 20, 272, 273, 274, 275, 1000, 65535];
        lens.extend([65536, 4096, 32768, 32767, 65534]);
        for level in LEVELS {
            let mut enc = XpressEncoder::new(65536, level).unwrap();
            for &n in &lens {
                let n = round_trip(&mut enc, &vec![0u8; n]);
                assert!(n < 300, "zeros compress to little");
            }
            // A literal then matches of every length near the boundaries.
            for run in [17usize, 18, 19, 272, 273, 274, 275, 276, 530] {
                let mut d = Vec::new();
                for k in 0..8u8 {
                    d.push(k.wrapping_mul(71));
                    d.push(k);
                    d.extend(std::iter::repeat_n(k, run));
                }
                round_trip(&mut enc, &d);
            }
        }
    }

    #[test]
    fn all_kinds_round_trip_at_every_level() {
        let sizes = [4096usize, 32768, 65536, 65535, 1000, 25, 100];
        for level in LEVELS {
            let mut enc = XpressEncoder::new(65536, level).unwrap();
            for &n in &sizes {
                let t = round_trip(&mut enc, &text(n, n as u64));
                if n >= 4096 {
                    assert!(t < n / 2, "text compresses: {t} of {n}");
                }
                round_trip(&mut enc, &pattern(n, 7));
                round_trip(&mut enc, &pattern(n, 300));
                round_trip(&mut enc, &random(n, 5));
                let mut mixed = text(n / 2, 3);
                mixed.extend(random(n - n / 2, 9));
                round_trip(&mut enc, &mixed);
            }
        }
    }

    #[test]
    fn small_chunk_sizes() {
        for level in LEVELS {
            for max in [1usize, 2, 300, 4096, 32768] {
                let mut enc = XpressEncoder::new(max, level).unwrap();
                round_trip(&mut enc, &text(max, 1));
                round_trip(&mut enc, &text(max - 1, 2));
                round_trip(&mut enc, &pattern(max, 3));
                let mut out = vec![0u8; max * 2 + 600];
                assert_eq!(enc.compress(&vec![0u8; max + 1], &mut out), None);
            }
        }
    }

    #[test]
    fn random_data_does_not_compress() {
        for level in LEVELS {
            let mut enc = XpressEncoder::new(65536, level).unwrap();
            for n in [0usize, 1, 24, 300, 4096, 65536] {
                let data = random(n, 77);
                let mut out = vec![0u8; n.saturating_sub(1)];
                assert_eq!(enc.compress(&data, &mut out), None, "level {level} n {n}");
            }
        }
    }

    #[test]
    fn too_small_output_returns_none_at_every_length() {
        for level in [1u32, 20, 50, 80, 100] {
            let mut enc = XpressEncoder::new(32768, level).unwrap();
            for data in [text(5000, 4), pattern(3000, 300), vec![0u8; 20000]] {
                let size = round_trip(&mut enc, &data);
                let mut out = vec![0xaau8; size + 40];
                let rooms = (0..size + 40).filter(|&r| r + 40 >= size || r % 97 == 0 || r < 270);
                for room in rooms {
                    let r = enc.compress(&data, &mut out[..room]);
                    if room >= size {
                        assert_eq!(r, Some(size));
                    } else {
                        assert_eq!(r, None, "room {room} size {size}");
                    }
                }
                assert!(out[size..].iter().all(|&b| b == 0xaa));
            }
        }
    }

    #[test]
    fn levels_rank_by_size() {
        let data = text(65536, 11);
        let mut sizes = Vec::new();
        for level in [1u32, 20, 50, 100] {
            let mut enc = XpressEncoder::new(65536, level).unwrap();
            sizes.push(round_trip(&mut enc, &data));
        }
        assert!(sizes[3] <= sizes[2] && sizes[2] <= sizes[0], "{sizes:?}");
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert!(XpressEncoder::new(0, 50).is_err());
        assert!(XpressEncoder::new(65537, 50).is_err());
        assert!(XpressEncoder::new(65536, 101).is_err());
        assert!(XpressEncoder::new(65536, 0).is_ok());
        assert!(XpressEncoder::memory_usage(65536, 100) > 65536);
    }
}
