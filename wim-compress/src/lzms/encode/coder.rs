//! The entropy-coding side of the encoder: both output streams sharing one
//! buffer, the adaptive bit probabilities and the adaptive Huffman codes, and
//! the real (decoder-mirroring) item encoder.
//!
//! The range coder writes 16-bit words forwards from the start of the output
//! and the Huffman/verbatim bit stream writes 16-bit words backwards from the
//! end. Neither ever writes into the other's words: when they would meet, the
//! coder records an overflow and drops further output, and the chunk is
//! reported as not fitting. At the end the backward stream is moved down to
//! follow the forward one.

use super::super::constants::*;
use crate::huffman_build::{canonical_codewords, LengthBuilder};

/// Costs are in 1/64 bits.
pub(super) const COST_SHIFT: u32 = 6;

/// Longest match length whose cost is looked up in a table.
pub(super) const MAX_FAST_LENGTH: usize = 255;

/// Cost of a binary decision, indexed by how many of the last 64 bits with
/// this probability entry were the same as the bit being coded.
#[derive(Clone, Copy)]
pub(super) struct BitCosts([u32; 65]);

impl BitCosts {
    pub(super) fn new() -> Self {
        let mut t = [0u32; 65];
        for (i, c) in t.iter_mut().enumerate() {
            let p = (i as u32).clamp(1, PROB_WINDOW - 1);
            let bits = -(f64::from(p) / f64::from(PROB_WINDOW)).log2();
            *c = (bits * f64::from(1u32 << COST_SHIFT)).round() as u32;
        }
        BitCosts(t)
    }

    /// The costs of a 0 and a 1 bit with `zeros` zeros in the window.
    #[inline(always)]
    fn pair(&self, zeros: u32) -> [u16; 2] {
        let z = (zeros as usize).min(64);
        [self.0[z] as u16, self.0[64 - z] as u16]
    }
}

#[derive(Clone, Copy)]
pub(super) struct Prob {
    recent: u64,
    zeros: u32,
    /// Cost of coding a 0 and a 1 with this entry now, kept up to date by
    /// the encoder: the parser reads these far more often than bits are
    /// coded. (Set by `Probs::init_costs`; at most 6 bits, so 16 bits fit.)
    cost: [u16; 2],
}

impl Prob {
    const INITIAL: Prob = Prob {
        recent: INITIAL_RECENT_BITS,
        zeros: INITIAL_ZERO_COUNT,
        cost: [0; 2],
    };
}

#[derive(Clone)]
pub(super) struct Probs {
    pub(super) main: [Prob; NUM_MAIN_STATES],
    pub(super) is_delta: [Prob; NUM_MATCH_STATES],
    pub(super) lz_is_rep: [Prob; NUM_LZ_STATES],
    pub(super) lz_rep: [[Prob; NUM_LZ_REP_STATES]; NUM_REP_DECISIONS],
    pub(super) delta_is_rep: [Prob; NUM_DELTA_STATES],
    pub(super) delta_rep: [[Prob; NUM_DELTA_REP_STATES]; NUM_REP_DECISIONS],
}

impl Probs {
    pub(super) const INITIAL_PROBS: Probs = Probs {
        main: [Prob::INITIAL; NUM_MAIN_STATES],
        is_delta: [Prob::INITIAL; NUM_MATCH_STATES],
        lz_is_rep: [Prob::INITIAL; NUM_LZ_STATES],
        lz_rep: [[Prob::INITIAL; NUM_LZ_REP_STATES]; NUM_REP_DECISIONS],
        delta_is_rep: [Prob::INITIAL; NUM_DELTA_STATES],
        delta_rep: [[Prob::INITIAL; NUM_DELTA_REP_STATES]; NUM_REP_DECISIONS],
    };

    /// Fills in the costs of every entry (after a reset).
    pub(super) fn init_costs(&mut self, costs: &BitCosts) {
        let all = self
            .main
            .iter_mut()
            .chain(self.is_delta.iter_mut())
            .chain(self.lz_is_rep.iter_mut())
            .chain(self.lz_rep.iter_mut().flatten())
            .chain(self.delta_is_rep.iter_mut())
            .chain(self.delta_rep.iter_mut().flatten());
        for p in all {
            p.cost = costs.pair(p.zeros);
        }
    }
}

/// Cost of coding `bit` with the entry at `state` of `probs`.
#[inline(always)]
pub(super) fn bit_cost<const N: usize>(probs: &[Prob; N], state: u8, bit: u32) -> u32 {
    u32::from(probs[state as usize & (N - 1)].cost[(bit & 1) as usize])
}

/// Both output streams over the caller's buffer.
pub(super) struct Output<'a> {
    buf: &'a mut [u8],
    /// Word index of the next forward word.
    fwd: usize,
    /// Word index one past the next backward word.
    bwd: usize,
    /// Set once either stream ran into the other.
    pub(super) overflow: bool,
    /// To keep the costs in the probability entries current.
    costs: BitCosts,
    // Range coder.
    low: u64,
    range: u32,
    cache: u16,
    cache_size: u32,
    /// The very first unit the carry logic produces is a placeholder and is
    /// not part of the stream.
    first: bool,
    // Bit stream.
    bitbuf: u64,
    bitcount: u32,
}

impl<'a> Output<'a> {
    pub(super) fn new(buf: &'a mut [u8]) -> Self {
        let words = buf.len() / 2;
        Output {
            buf,
            fwd: 0,
            bwd: words,
            overflow: false,
            costs: BitCosts::new(),
            low: 0,
            range: u32::MAX,
            cache: 0,
            cache_size: 1,
            first: true,
            bitbuf: 0,
            bitcount: 0,
        }
    }

    #[inline(always)]
    fn put_fwd(&mut self, w: u16) {
        if self.first {
            self.first = false;
            return;
        }
        if self.fwd < self.bwd {
            let i = 2 * self.fwd;
            if let Some(d) = self.buf.get_mut(i..i + 2) {
                d.copy_from_slice(&w.to_le_bytes());
            }
            self.fwd += 1;
        } else {
            self.overflow = true;
        }
    }

    #[inline(always)]
    fn put_bwd(&mut self, w: u16) {
        if self.bwd > self.fwd {
            self.bwd -= 1;
            let i = 2 * self.bwd;
            if let Some(d) = self.buf.get_mut(i..i + 2) {
                d.copy_from_slice(&w.to_le_bytes());
            }
        } else {
            self.overflow = true;
        }
    }

    fn shift_low(&mut self) {
        if (self.low as u32) < 0xFFFF_0000 || (self.low >> 32) != 0 {
            let carry = (self.low >> 32) as u16;
            let mut w = self.cache;
            loop {
                self.put_fwd(w.wrapping_add(carry));
                w = 0xFFFF;
                self.cache_size -= 1;
                if self.cache_size == 0 {
                    break;
                }
            }
            self.cache = (self.low >> 16) as u16;
        }
        self.cache_size += 1;
        self.low = (self.low & 0xFFFF) << 16;
    }

    /// Range-codes `bit` whose chance of being 0 is `prob`/64.
    #[inline(always)]
    fn encode_bit(&mut self, bit: u32, prob: u32) {
        if self.range <= 0xFFFF {
            self.range <<= 16;
            self.shift_low();
        }
        let bound = (self.range >> PROB_BITS) * prob;
        if bit == 0 {
            self.range = bound;
        } else {
            self.low += u64::from(bound);
            self.range -= bound;
        }
    }

    /// Codes `bit` with the adaptive entry picked by `state`, updating both.
    #[inline(always)]
    pub(super) fn encode<const N: usize>(
        &mut self,
        bit: u32,
        state: &mut u8,
        probs: &mut [Prob; N],
    ) {
        let entry = &mut probs[*state as usize & (N - 1)];
        let prob = entry.zeros.clamp(1, PROB_WINDOW - 1);
        *state = (((*state as usize) << 1 | bit as usize) & (N - 1)) as u8;
        let leaving = (entry.recent >> 63) as u32;
        entry.zeros = entry.zeros + leaving - bit;
        entry.recent = (entry.recent << 1) | u64::from(bit);
        entry.cost = self.costs.pair(entry.zeros);
        self.encode_bit(bit, prob);
    }

    /// Appends the low `n` (<= 32) bits of `bits` to the backward stream.
    #[inline(always)]
    pub(super) fn write_bits(&mut self, bits: u32, n: u32) {
        if n == 0 {
            return;
        }
        self.bitbuf = (self.bitbuf << n) | u64::from(bits);
        self.bitcount += n;
        while self.bitcount >= 16 {
            self.bitcount -= 16;
            self.put_bwd((self.bitbuf >> self.bitcount) as u16);
        }
    }

    /// Flushes both streams, joins them, and returns the total size, or
    /// `None` if they did not fit.
    pub(super) fn finish(mut self) -> Option<usize> {
        if self.bitcount > 0 {
            let w = (self.bitbuf << (16 - self.bitcount)) as u16;
            self.bitcount = 0;
            self.put_bwd(w);
        }
        // Three shifts push out the pending unit and both halves of `low`,
        // which is every unit our decoder and wimlib's read; 7-Zip's decoder
        // reads one unit more, so write a fourth as the reference encoder does.
        for _ in 0..4 {
            self.shift_low();
        }
        if self.overflow {
            return None;
        }
        let words = self.buf.len() / 2;
        let back = words - self.bwd;
        self.buf.copy_within(2 * self.bwd..2 * words, 2 * self.fwd);
        let total = 2 * (self.fwd + back);
        // The decoder needs at least the two words it loads first.
        if total < 4 {
            return None;
        }
        Some(total)
    }
}

/// An adaptive Huffman code as the encoder keeps it.
pub(super) struct Code {
    pub(super) lens: Vec<u8>,
    codes: Vec<u32>,
    freqs: Vec<u32>,
    num_syms: usize,
    rebuild_freq: u32,
    until_rebuild: u32,
}

impl Code {
    pub(super) fn new(max_syms: usize, rebuild_freq: u32) -> Self {
        Code {
            lens: vec![0; max_syms],
            codes: vec![0; max_syms],
            freqs: vec![0; max_syms],
            num_syms: 0,
            rebuild_freq,
            until_rebuild: rebuild_freq,
        }
    }

    pub(super) fn reset(&mut self, num_syms: usize, builder: &mut LengthBuilder) {
        let n = num_syms.min(self.freqs.len());
        self.num_syms = n;
        self.freqs[..n].fill(1);
        // Unused symbols (beyond num_syms) keep length 0; costs never look at them.
        self.lens.fill(0);
        self.build(builder);
    }

    fn build(&mut self, builder: &mut LengthBuilder) {
        let n = self.num_syms;
        builder.build(&self.freqs[..n], &mut self.lens[..n], MAX_CODEWORD_LEN);
        canonical_codewords(&self.lens[..n], &mut self.codes[..n]);
        self.until_rebuild = self.rebuild_freq;
    }

    /// Writes `sym`'s codeword and counts it; returns true if the code was
    /// rebuilt.
    #[inline(always)]
    pub(super) fn encode(
        &mut self,
        sym: usize,
        out: &mut Output<'_>,
        builder: &mut LengthBuilder,
    ) -> bool {
        let (Some(&code), Some(&len)) = (self.codes.get(sym), self.lens.get(sym)) else {
            out.overflow = true;
            return false;
        };
        out.write_bits(code, u32::from(len));
        self.freqs[sym] += 1;
        self.until_rebuild -= 1;
        if self.until_rebuild == 0 {
            self.build(builder);
            for f in &mut self.freqs[..self.num_syms] {
                *f = (*f >> 1) + 1;
            }
            return true;
        }
        false
    }
}

/// Offset to offset slot in a few table lookups.
pub(super) struct SlotTables {
    /// Offsets below `SMALL_LIMIT`, one entry each.
    small: Vec<u16>,
    /// Larger offsets, per 2048: the slot of the first offset of the group.
    mid: Vec<u16>,
    /// Still larger offsets, per 65536.
    large: Vec<u16>,
    /// Length slots of lengths up to MAX_FAST_LENGTH.
    length: [u8; MAX_FAST_LENGTH + 1],
}

const SMALL_LIMIT: u32 = 0xE4A5;
const MID_LIMIT: u32 = SMALL_LIMIT + 0x3D_0000;

fn slot_of(bases: &[u32], v: u32) -> usize {
    // Largest slot whose base is <= v.
    bases.partition_point(|&b| b <= v).saturating_sub(1)
}

impl SlotTables {
    pub(super) fn new() -> Self {
        let bases = &OFFSET_BASE[..MAX_NUM_OFFSET_SYMS];
        let small = (0..SMALL_LIMIT).map(|o| slot_of(bases, o) as u16).collect();
        let mid = (0..(MID_LIMIT - SMALL_LIMIT) >> 11)
            .map(|i| slot_of(bases, SMALL_LIMIT + (i << 11)) as u16)
            .collect();
        let large = (0..=((1u32 << 31) - MID_LIMIT) >> 16)
            .map(|i| slot_of(bases, MID_LIMIT + (i << 16)) as u16)
            .collect();
        let mut length = [0u8; MAX_FAST_LENGTH + 1];
        for (l, s) in length.iter_mut().enumerate() {
            *s = slot_of(&LENGTH_BASE[..NUM_LENGTH_SYMS], l as u32) as u8;
        }
        SlotTables {
            small,
            mid,
            large,
            length,
        }
    }

    /// Offset slot of `offset` (>= 1).
    #[inline(always)]
    pub(super) fn offset_slot(&self, offset: u32) -> usize {
        let mut slot = if offset < SMALL_LIMIT {
            return self.small.get(offset as usize).map_or(0, |&s| s as usize);
        } else if offset < MID_LIMIT {
            self.mid
                .get(((offset - SMALL_LIMIT) >> 11) as usize)
                .map_or(0, |&s| s as usize)
        } else {
            self.large
                .get(((offset - MID_LIMIT) >> 16) as usize)
                .map_or(0, |&s| s as usize)
        };
        // Groups need not start on slot boundaries; step to the right slot.
        while slot + 1 < MAX_NUM_OFFSET_SYMS && OFFSET_BASE[slot + 1] <= offset {
            slot += 1;
        }
        slot
    }

    #[inline(always)]
    pub(super) fn length_slot(&self, len: u32) -> usize {
        match self.length.get(len as usize) {
            Some(&s) => s as usize,
            None => slot_of(&LENGTH_BASE[..NUM_LENGTH_SYMS], len),
        }
    }
}
