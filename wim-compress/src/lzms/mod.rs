//! LZMS decoder.
//!
//! An LZMS chunk carries two interleaved streams: a binary range-coded stream
//! of 16-bit little-endian words read forwards from the start, which decides
//! what kind of item comes next, and a Huffman/verbatim bit stream of 16-bit
//! words read backwards from the end, which carries literals, offsets and
//! lengths. All probabilities and Huffman codes adapt as items are decoded,
//! in lockstep with the encoder, so there is no per-chunk header at all. After
//! the items are decoded, an x86 address translation is reversed over the
//! whole chunk.
//!
//! Reads past either end of the input yield zero bits, as the reference
//! decoder does; a damaged chunk therefore decodes to garbage or fails a
//! match bounds check, but never reads outside the input.

mod constants;
mod encode;
mod x86;

pub use encode::LzmsEncoder;

use crate::huffman::{build_table, LEN_BITS, SUBTABLE};
use crate::huffman_build::LengthBuilder;
use crate::DecodeError;
use constants::*;
use x86::X86Filter;

/// Largest chunk Lzms allows in a WIM.
pub const MAX_CHUNK_SIZE: usize = 1 << 30;

/// Primary-table sizes (in entries) only trade table-fill time against
/// long-codeword lookups.
const LITERAL_TABLE: usize = 1 << 10;
const LENGTH_TABLE: usize = 1 << 10;
const LZ_OFFSET_TABLE: usize = 1 << 10;
const DELTA_OFFSET_TABLE: usize = 1 << 10;
const DELTA_POWER_TABLE: usize = 1 << 8;

/// One adaptive probability: the last 64 bits decoded with it and how many of
/// them were zero.
#[derive(Clone, Copy)]
struct Prob {
    recent: u64,
    zeros: u32,
}

impl Prob {
    const INITIAL: Prob = Prob {
        recent: INITIAL_RECENT_BITS,
        zeros: INITIAL_ZERO_COUNT,
    };
}

/// Probability tables for every binary decision, each indexed by the recent
/// history of decisions of its kind.
#[derive(Clone)]
struct Probs {
    main: [Prob; NUM_MAIN_STATES],
    is_delta: [Prob; NUM_MATCH_STATES],
    lz_is_rep: [Prob; NUM_LZ_STATES],
    lz_rep: [[Prob; NUM_LZ_REP_STATES]; NUM_REP_DECISIONS],
    delta_is_rep: [Prob; NUM_DELTA_STATES],
    delta_rep: [[Prob; NUM_DELTA_REP_STATES]; NUM_REP_DECISIONS],
}

impl Probs {
    const INITIAL: Probs = Probs {
        main: [Prob::INITIAL; NUM_MAIN_STATES],
        is_delta: [Prob::INITIAL; NUM_MATCH_STATES],
        lz_is_rep: [Prob::INITIAL; NUM_LZ_STATES],
        lz_rep: [[Prob::INITIAL; NUM_LZ_REP_STATES]; NUM_REP_DECISIONS],
        delta_is_rep: [Prob::INITIAL; NUM_DELTA_STATES],
        delta_rep: [[Prob::INITIAL; NUM_DELTA_REP_STATES]; NUM_REP_DECISIONS],
    };
}

/// The forward, range-coded stream.
struct RangeDecoder<'a> {
    range: u32,
    code: u32,
    input: &'a [u8],
    /// Byte index of the next unread word.
    next: usize,
}

impl<'a> RangeDecoder<'a> {
    fn new(input: &'a [u8]) -> Self {
        let word = |i: usize| {
            input
                .get(i..i + 2)
                .map_or(0, |w| u32::from(u16::from_le_bytes([w[0], w[1]])))
        };
        Self {
            range: u32::MAX,
            code: (word(0) << 16) | word(2),
            input,
            next: 4,
        }
    }

    /// Decodes a bit with an adaptive probability picked by `state`, then
    /// updates both. `N` is a power of two, so the mask keeps the index in range.
    ///
    /// Each outcome updates the state in its own branch rather than through
    /// selects on the decoded bit: the caller branches on the bit anyway, and
    /// with the updates behind that (usually predicted) branch the next
    /// decision does not wait for this one's multiply and compare.
    #[inline(always)]
    fn decode<const N: usize>(&mut self, state: &mut usize, probs: &mut [Prob; N]) -> u32 {
        if self.range <= 0xFFFF {
            self.range <<= 16;
            self.code <<= 16;
            if let Some(w) = self.input.get(self.next..self.next + 2) {
                self.code |= u32::from(u16::from_le_bytes([w[0], w[1]]));
                self.next += 2;
            }
        }
        let entry = &mut probs[*state & (N - 1)];
        // Certainty is never allowed: 0/64 and 64/64 are pulled in by one.
        // Branch-free and without selects: zeros - 1 wraps to a set top bit
        // only for 0, and zeros >> PROB_BITS is 1 only for 64.
        let zeros = entry.zeros;
        let prob = zeros + (zeros.wrapping_sub(1) >> 31) - (zeros >> PROB_BITS);
        let bound = (self.range >> PROB_BITS) * prob;
        // The bit leaving the 64-bit window no longer counts; the new one does.
        let leaving = (entry.recent >> 63) as u32;
        if self.code < bound {
            self.range = bound;
            entry.zeros += leaving;
            entry.recent <<= 1;
            *state = (*state << 1) & (N - 1);
            0
        } else {
            self.range -= bound;
            self.code -= bound;
            entry.zeros = entry.zeros + leaving - 1;
            entry.recent = (entry.recent << 1) | 1;
            *state = ((*state << 1) | 1) & (N - 1);
            1
        }
    }
}

/// The backward bit stream: Huffman codewords and verbatim extra bits, most
/// significant bit first within each 16-bit word.
struct BitReader<'a> {
    /// Unconsumed bits, left-aligned.
    buf: u64,
    avail: u32,
    input: &'a [u8],
    /// Byte index one past the next word to read.
    next: usize,
}

impl<'a> BitReader<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self {
            buf: 0,
            avail: 0,
            input,
            next: input.len() & !1,
        }
    }

    /// Makes at least 49 bits available, padding with zeros past the start.
    #[inline(always)]
    fn refill(&mut self) {
        // Words read backwards are exactly a little-endian u64 read top down.
        // The eight bytes ending where the new words end also hold the words
        // the buffer still has bits of, so shifting out the bits already
        // consumed from those gives the whole new buffer in one load.
        let gap = 64 - self.avail;
        let take = 2 * (gap / 16) as usize;
        if let Some(start) = self.next.checked_sub(take) {
            if let Some(bytes) = self.input.get(start..start + 8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(bytes);
                self.buf = u64::from_le_bytes(w) << (gap % 16);
                self.avail += gap & !15;
                self.next = start;
                return;
            }
        }
        (self.buf, self.avail, self.next) =
            refill_slow(self.input, self.buf, self.avail, self.next);
    }

    #[inline(always)]
    fn ensure(&mut self, n: u32) {
        if self.avail < n {
            self.refill();
        }
    }

    /// Next `n` (0..=32) bits without consuming them; `ensure(n)` first.
    #[inline(always)]
    fn peek(&self, n: u32) -> u32 {
        // Two shifts so that n = 0 needs no special case.
        ((self.buf >> 1) >> (63 - n)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.avail -= n;
    }

    #[inline(always)]
    fn read(&mut self, n: u32) -> u32 {
        self.ensure(n);
        let v = self.peek(n);
        self.consume(n);
        v
    }
}

const _: () = assert!(MAX_NUM_OFFSET_SYMS <= 1024 && NUM_LENGTH_SYMS <= 64);

/// Word-by-word refill near the start of the input. A free function over
/// plain values so the reader's state can stay in registers in the hot loop.
#[cold]
#[inline(never)]
fn refill_slow(input: &[u8], mut buf: u64, mut avail: u32, mut next: usize) -> (u64, u32, usize) {
    while avail <= 48 {
        let w = if next >= 2 {
            next -= 2;
            match input.get(next..next + 2) {
                Some(w) => u64::from(u16::from_le_bytes([w[0], w[1]])),
                None => 0,
            }
        } else {
            0
        };
        buf |= w << (48 - avail);
        avail += 16;
    }
    (buf, avail, next)
}

/// A Huffman code rebuilt from running symbol counts every `rebuild_freq`
/// symbols. The primary table and the counts are arrays inside the struct,
/// and all codes live in one allocation with the probabilities, so the hot
/// loop reaches any of them from a single base pointer.
struct AdaptiveCode<const TABLE: usize, const SLOTS: usize> {
    primary: [u16; TABLE],
    /// Running counts; only the first `num_syms` are meaningful. Sized to a
    /// power of two so a masked symbol index needs no bounds check.
    freqs: [u32; SLOTS],
    until_rebuild: u32,
    rebuild_freq: u32,
    num_syms: usize,
    subtables: Vec<u16>,
}

impl<const TABLE: usize, const SLOTS: usize> AdaptiveCode<TABLE, SLOTS> {
    const TABLE_BITS: u32 = TABLE.trailing_zeros();

    fn new(rebuild_freq: u32) -> Self {
        Self {
            primary: [0; TABLE],
            freqs: [0; SLOTS],
            until_rebuild: rebuild_freq,
            rebuild_freq,
            num_syms: 0,
            subtables: Vec::new(),
        }
    }

    /// Starts a chunk: every symbol equally likely.
    fn reset(&mut self, num_syms: usize, scratch: &mut Scratch) -> Result<(), DecodeError> {
        self.num_syms = num_syms.min(SLOTS);
        self.freqs[..self.num_syms].fill(1);
        self.build(scratch)
    }

    fn build(&mut self, scratch: &mut Scratch) -> Result<(), DecodeError> {
        let n = self.num_syms;
        let lens = &mut scratch.lens[..n];
        scratch
            .builder
            .build(&self.freqs[..n], lens, MAX_CODEWORD_LEN);
        self.until_rebuild = self.rebuild_freq;
        build_table(
            &mut self.primary,
            &mut self.subtables,
            &mut scratch.sorted,
            Self::TABLE_BITS,
            MAX_CODEWORD_LEN,
            lens,
        )
    }

    #[cold]
    #[inline(never)]
    fn rebuild(&mut self, scratch: &mut Scratch) -> Result<(), DecodeError> {
        self.build(scratch)?;
        // Halve the history so the code follows the recent data.
        for f in &mut self.freqs[..self.num_syms] {
            *f = (*f >> 1) + 1;
        }
        Ok(())
    }

    #[inline(always)]
    fn decode(
        &mut self,
        bits: &mut BitReader<'_>,
        scratch: &mut Scratch,
    ) -> Result<usize, DecodeError> {
        bits.ensure(MAX_CODEWORD_LEN);
        let index = (bits.buf >> (64 - Self::TABLE_BITS)) as usize & (TABLE - 1);
        let mut entry = self.primary[index];
        if entry & SUBTABLE != 0 {
            // Inline rather than a call: long codewords are routine for the
            // large offset alphabets.
            const SUB_BITS_MAX: u32 = MAX_CODEWORD_LEN;
            let sub_bits = SUB_BITS_MAX - Self::TABLE_BITS;
            let base = usize::from(entry & !SUBTABLE) << sub_bits;
            let low =
                (bits.buf >> (64 - sub_bits - Self::TABLE_BITS)) as usize & ((1 << sub_bits) - 1);
            entry = self.subtables.get(base + low).copied().unwrap_or(0);
        }
        let len = u32::from(entry & ((1 << LEN_BITS) - 1));
        if len == 0 {
            return Err(DecodeError::InvalidSymbol);
        }
        bits.consume(len);
        let sym = usize::from(entry >> LEN_BITS);
        // The table only yields symbols below num_syms (or the rejected
        // invalid marker), so the mask never changes a symbol.
        self.freqs[sym & (SLOTS - 1)] += 1;
        self.until_rebuild -= 1;
        if self.until_rebuild == 0 {
            self.rebuild(scratch)?;
        }
        Ok(sym)
    }
}

/// Everything the item loop touches, in one allocation.
struct State {
    probs: Probs,
    history: History,
    literal: AdaptiveCode<LITERAL_TABLE, 256>,
    lz_offset: AdaptiveCode<LZ_OFFSET_TABLE, 1024>,
    length: AdaptiveCode<LENGTH_TABLE, 64>,
    delta_offset: AdaptiveCode<DELTA_OFFSET_TABLE, 1024>,
    delta_power: AdaptiveCode<DELTA_POWER_TABLE, 8>,
}

/// Takes entry `i` out of a queue of recent offsets (the entries behind it move
/// up; the last stays where it was).
#[inline(always)]
fn take_rep<T: Copy>(reps: &mut [T; 4], i: usize) -> T {
    let v = reps[i];
    for k in i..3 {
        reps[k] = reps[k + 1];
    }
    v
}

/// Puts `v` at the front of a queue of recent offsets, dropping the oldest.
#[inline(always)]
fn push_rep<T: Copy>(reps: &mut [T; 4], v: T) {
    *reps = [v, reps[0], reps[1], reps[2]];
}

/// Decoder state used only by matches. It lives in memory on purpose: the
/// literal path, which dominates, then gets the registers for the range
/// coder and bit reader instead of having them spilled around this state.
struct History {
    match_state: usize,
    lz_state: usize,
    lz_rep_states: [usize; NUM_REP_DECISIONS],
    delta_state: usize,
    delta_rep_states: [usize; NUM_REP_DECISIONS],
    /// Recently used offsets, most recent first; the fourth slot catches
    /// the one pushed out while a used entry is pending re-insertion.
    lz_reps: [u32; 4],
    /// Delta matches remember (power, raw offset) pairs packed in a u64.
    delta_reps: [u64; 4],
    /// The offset of the latest match joins the queue only once another
    /// item has followed it; 0 means nothing is pending.
    lz_pending: u32,
    lz_pending_end: usize,
    delta_pending: u64,
    delta_pending_end: usize,
}

impl History {
    const INITIAL: History = History {
        match_state: 0,
        lz_state: 0,
        lz_rep_states: [0; NUM_REP_DECISIONS],
        delta_state: 0,
        delta_rep_states: [0; NUM_REP_DECISIONS],
        lz_reps: [1, 2, 3, 4],
        delta_reps: [1, 2, 3, 4],
        lz_pending: 0,
        lz_pending_end: usize::MAX,
        delta_pending: 0,
        delta_pending_end: usize::MAX,
    };
}

/// Buffers shared by all code rebuilds.
struct Scratch {
    builder: LengthBuilder,
    lens: Vec<u8>,
    sorted: Vec<u16>,
}

/// A reusable Lzms chunk decoder.
pub struct LzmsDecoder {
    max_chunk_size: usize,
    state: Box<State>,
    scratch: Scratch,
    x86: X86Filter,
}

impl LzmsDecoder {
    /// A decoder for chunks of at most `max_chunk_size` bytes.
    pub fn new(max_chunk_size: usize) -> Result<Self, DecodeError> {
        if max_chunk_size == 0 || max_chunk_size > MAX_CHUNK_SIZE {
            return Err(DecodeError::UnsupportedChunkSize(max_chunk_size));
        }
        Ok(Self {
            max_chunk_size,
            state: Box::new(State {
                probs: Probs::INITIAL,
                history: History::INITIAL,
                literal: AdaptiveCode::new(LITERAL_REBUILD_FREQ),
                lz_offset: AdaptiveCode::new(LZ_OFFSET_REBUILD_FREQ),
                length: AdaptiveCode::new(LENGTH_REBUILD_FREQ),
                delta_offset: AdaptiveCode::new(DELTA_OFFSET_REBUILD_FREQ),
                delta_power: AdaptiveCode::new(DELTA_POWER_REBUILD_FREQ),
            }),
            scratch: Scratch {
                builder: LengthBuilder::new(),
                lens: vec![0; MAX_NUM_OFFSET_SYMS],
                sorted: Vec::with_capacity(MAX_NUM_OFFSET_SYMS),
            },
            x86: X86Filter::new(),
        })
    }

    /// Decodes one chunk into `output`, whose length is the uncompressed size.
    pub fn decompress(&mut self, input: &[u8], output: &mut [u8]) -> Result<(), DecodeError> {
        if output.len() > self.max_chunk_size {
            return Err(DecodeError::UnsupportedChunkSize(output.len()));
        }
        // The format is made of 16-bit words, and the range decoder starts by
        // loading two of them.
        if input.len() < 4 || input.len() % 2 != 0 {
            return Err(DecodeError::Truncated);
        }
        let offset_syms = num_offset_slots(output.len());
        let st = &mut *self.state;
        let scratch = &mut self.scratch;
        st.probs = Probs::INITIAL;
        st.history = History::INITIAL;
        st.literal.reset(NUM_LITERAL_SYMS, scratch)?;
        st.lz_offset.reset(offset_syms, scratch)?;
        st.length.reset(NUM_LENGTH_SYMS, scratch)?;
        st.delta_offset.reset(offset_syms, scratch)?;
        st.delta_power.reset(NUM_DELTA_POWER_SYMS, scratch)?;

        self.decode_items(input, output)?;
        self.x86.undo(output);
        Ok(())
    }

    fn decode_items(&mut self, input: &[u8], out: &mut [u8]) -> Result<(), DecodeError> {
        let mut rd = RangeDecoder::new(input);
        let mut bits = BitReader::new(input);
        let st = &mut *self.state;
        let scratch = &mut self.scratch;
        let probs = &mut st.probs;
        let h = &mut st.history;
        let literal = &mut st.literal;
        let lz_offset = &mut st.lz_offset;
        let length_code = &mut st.length;
        let delta_offset = &mut st.delta_offset;
        let delta_power = &mut st.delta_power;
        let mut main_state = 0usize;

        let end = out.len();
        let mut pos = 0usize;
        while pos < end {
            if rd.decode(&mut main_state, &mut probs.main) == 0 {
                let sym = literal.decode(&mut bits, scratch)?;
                out[pos] = sym as u8;
                pos += 1;
                continue;
            }

            if rd.decode(&mut h.match_state, &mut probs.is_delta) == 0 {
                // LZ match.
                if h.lz_pending != 0 && pos != h.lz_pending_end {
                    push_rep(&mut h.lz_reps, h.lz_pending);
                    h.lz_pending = 0;
                }
                let offset = if rd.decode(&mut h.lz_state, &mut probs.lz_is_rep) == 0 {
                    let slot = lz_offset.decode(&mut bits, scratch)?;
                    let extra = u32::from(OFFSET_EXTRA_BITS[slot]);
                    OFFSET_BASE[slot] + bits.read(extra)
                } else if rd.decode(&mut h.lz_rep_states[0], &mut probs.lz_rep[0]) == 0 {
                    take_rep(&mut h.lz_reps, 0)
                } else if rd.decode(&mut h.lz_rep_states[1], &mut probs.lz_rep[1]) == 0 {
                    take_rep(&mut h.lz_reps, 1)
                } else {
                    take_rep(&mut h.lz_reps, 2)
                };
                if h.lz_pending != 0 {
                    push_rep(&mut h.lz_reps, h.lz_pending);
                }
                h.lz_pending = offset;

                let length = decode_length(length_code, &mut bits, scratch)?;
                if length > end - pos {
                    return Err(DecodeError::Overrun);
                }
                let offset = offset as usize;
                if offset > pos {
                    return Err(DecodeError::MatchBeforeStart);
                }
                lz_copy(out, pos, offset, length);
                pos += length;
                h.lz_pending_end = pos;
            } else {
                // Delta match.
                if h.delta_pending != 0 && pos != h.delta_pending_end {
                    push_rep(&mut h.delta_reps, h.delta_pending);
                    h.delta_pending = 0;
                }
                let pair = if rd.decode(&mut h.delta_state, &mut probs.delta_is_rep) == 0 {
                    let power = delta_power.decode(&mut bits, scratch)? as u64;
                    let slot = delta_offset.decode(&mut bits, scratch)?;
                    let extra = u32::from(OFFSET_EXTRA_BITS[slot]);
                    let raw = OFFSET_BASE[slot] + bits.read(extra);
                    (power << 32) | u64::from(raw)
                } else if rd.decode(&mut h.delta_rep_states[0], &mut probs.delta_rep[0]) == 0 {
                    take_rep(&mut h.delta_reps, 0)
                } else if rd.decode(&mut h.delta_rep_states[1], &mut probs.delta_rep[1]) == 0 {
                    take_rep(&mut h.delta_reps, 1)
                } else {
                    take_rep(&mut h.delta_reps, 2)
                };
                if h.delta_pending != 0 {
                    push_rep(&mut h.delta_reps, h.delta_pending);
                }
                h.delta_pending = pair;

                let length = decode_length(length_code, &mut bits, scratch)?;
                let power = (pair >> 32) as u32;
                let raw = pair as u32;
                // Powers come from an 8-symbol code, so the shift is at most 7.
                let span = 1u64 << (power & 63);
                let offset = u64::from(raw) << (power & 63);
                // The reference decoder works in 32 bits and rejects overflow.
                if offset > u64::from(u32::MAX) || offset + span > u64::from(u32::MAX) {
                    return Err(DecodeError::InvalidDeltaMatch);
                }
                if offset + span > pos as u64 {
                    return Err(DecodeError::MatchBeforeStart);
                }
                if length > end - pos {
                    return Err(DecodeError::Overrun);
                }
                delta_copy(out, pos, offset as usize, span as usize, length);
                pos += length;
                h.delta_pending_end = pos;
            }
        }
        Ok(())
    }
}

#[inline(always)]
fn decode_length(
    code: &mut AdaptiveCode<LENGTH_TABLE, 64>,
    bits: &mut BitReader<'_>,
    scratch: &mut Scratch,
) -> Result<usize, DecodeError> {
    let slot = code.decode(bits, scratch)?;
    let mut length = LENGTH_BASE[slot];
    let extra = u32::from(LENGTH_EXTRA_BITS[slot]);
    if extra != 0 {
        length += bits.read(extra);
    }
    Ok(length as usize)
}

/// Copies `length` bytes from `offset` bytes back, byte by byte in effect, so
/// an overlapping source repeats the last `offset` bytes. The caller has
/// checked `offset <= pos` and `pos + length <= out.len()`, with `offset >= 1`.
#[inline(always)]
fn lz_copy(out: &mut [u8], pos: usize, offset: usize, length: usize) {
    let src = pos - offset;
    if offset >= 32 && out.len() - pos >= length + 32 {
        // Source and destination windows of 32 bytes do not overlap, and
        // each window's source is already final: fixed-size copies, the
        // last possibly writing past the match (later items overwrite it).
        let mut i = 0;
        loop {
            out.copy_within(src + i..src + i + 32, pos + i);
            i += 32;
            if i >= length {
                break;
            }
        }
    } else if offset >= 8 && length <= 32 && out.len() - pos >= 32 {
        // Short match with room to spare: copy whole 8-byte words, possibly
        // writing a few bytes past the match that later items overwrite. With
        // offset >= 8 every word's source is already final.
        let mut i = 0;
        while i < length {
            out.copy_within(src + i..src + i + 8, pos + i);
            i += 8;
        }
    } else if offset >= length {
        out.copy_within(src..src + length, pos);
    } else if offset == 1 {
        let b = out[src];
        out[pos..pos + length].fill(b);
    } else {
        // Copy whole periods; each copy's source is already written, and the
        // repeating pattern lets the period double each round.
        let mut done = 0;
        let mut period = offset;
        while done < length {
            let n = period.min(length - done);
            out.copy_within(src..src + n, pos + done);
            done += n;
            period = offset + done;
        }
    }
}

/// Delta match: each byte continues the difference between the bytes `span`
/// apart at `offset` back. Bounds were checked by the caller.
fn delta_copy(out: &mut [u8], pos: usize, offset: usize, span: usize, length: usize) {
    for i in pos..pos + length {
        out[i] = out[i - offset]
            .wrapping_add(out[i - span])
            .wrapping_sub(out[i - offset - span]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_sizes() {
        assert!(matches!(
            LzmsDecoder::new(0),
            Err(DecodeError::UnsupportedChunkSize(0))
        ));
        assert!(LzmsDecoder::new(MAX_CHUNK_SIZE + 1).is_err());
        let mut d = LzmsDecoder::new(100).unwrap();
        let mut out = [0u8; 101];
        assert!(matches!(
            d.decompress(&[0; 8], &mut out),
            Err(DecodeError::UnsupportedChunkSize(101))
        ));
        assert_eq!(
            d.decompress(&[0; 3], &mut out[..10]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            d.decompress(&[0; 5], &mut out[..10]),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut d = LzmsDecoder::new(1 << 16).unwrap();
        let mut seed = 0x1234_5678_9abc_def0u64;
        for n in 0..300usize {
            let len = (4 + (n * 37) % 600) & !1;
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let mut out = vec![0u8; (n * 211) % (1 << 16)];
            let _ = d.decompress(&input, &mut out);
        }
    }

    #[test]
    fn copy_matches_bytewise_copy() {
        // Every path: long and short, overlapping or not, near the end.
        for offset in 1..48 {
            for length in 1..80 {
                for slack in [0usize, 3, 7, 8, 31, 32, 40] {
                    let pos = 50;
                    let size = pos + length + slack;
                    let mut out: Vec<u8> = (0..size as u32).map(|i| (i * 7 + 3) as u8).collect();
                    let mut want = out.clone();
                    for i in pos..pos + length {
                        want[i] = want[i - offset];
                    }
                    lz_copy(&mut out, pos, offset, length);
                    assert!(
                        out[..pos + length] == want[..pos + length],
                        "{offset} {length} {slack}"
                    );
                }
            }
        }
    }

    #[test]
    fn overlapping_copy_repeats_pattern() {
        let mut out = *b"abc.............";
        lz_copy(&mut out, 3, 3, 13);
        assert_eq!(&out, b"abcabcabcabcabca");
    }
}
