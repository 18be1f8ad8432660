//! Turning a parsed block (literal runs and matches with real offsets) into
//! LZX symbols, Huffman codes and bits.
//!
//! Parsers hand over matches with their real offsets; this module decides
//! how each offset is coded: as one of the three recent offsets when it is
//! in the queue, explicitly otherwise. Parsers that track the queue use
//! [`queue_update`], so their view and the coded stream always agree.

use super::super::constants::*;
use super::bitout::BitWriter;
use crate::huffman_build::{canonical_codewords, LengthBuilder};

/// Longest match LZX can code.
pub(super) const MAX_MATCH_LEN: usize = 257;

/// Main code lengths the encoder allows (the format's limit).
const MAIN_LEN_LIMIT: u32 = MAX_MAIN_CODEWORD_LEN;
const LEN_LEN_LIMIT: u32 = MAX_LEN_CODEWORD_LEN;
const ALIGNED_LEN_LIMIT: u32 = MAX_ALIGNED_CODEWORD_LEN;
/// Kept short: the pretree is tiny and short codes decode faster.
const PRE_LEN_LIMIT: u32 = 7;

/// Lowest offset slot whose low three extra bits an aligned block codes with
/// the aligned code.
pub(super) const MIN_ALIGNED_SLOT: usize = 8;

/// A run of literals followed by a match (`len == 0`: no match, the run
/// ends the block).
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Seq {
    pub(super) lit_run: u32,
    pub(super) len: u32,
    pub(super) offset: u32,
}

/// The recent-offsets queue R0, R1, R2.
pub(super) type Queue = [u32; NUM_RECENT_OFFSETS];

pub(super) const INITIAL_QUEUE: Queue = [1, 1, 1];

/// Updates the queue for a match at `offset` exactly as the decoder will,
/// returning the offset slot the match is coded with if it is a recent
/// offset (0..=2), or 3 for an explicit offset.
#[inline(always)]
pub(super) fn queue_update(q: &mut Queue, offset: u32) -> usize {
    if offset == q[0] {
        0
    } else if offset == q[1] {
        q.swap(0, 1);
        1
    } else if offset == q[2] {
        q.swap(0, 2);
        2
    } else {
        q[2] = q[1];
        q[1] = q[0];
        q[0] = offset;
        3
    }
}

/// [`slot_base`] of every slot, computed once.
const SLOT_BASE: [u32; MAX_OFFSET_SLOTS + 1] = {
    let mut t = [0u32; MAX_OFFSET_SLOTS + 1];
    let mut s = 0;
    while s <= MAX_OFFSET_SLOTS {
        t[s] = slot_base(s);
        s += 1;
    }
    t
};

/// Offset slot of a formatted offset (real offset + 2).
#[inline(always)]
pub(super) fn offset_slot(formatted: u32) -> usize {
    if formatted < 4 {
        formatted as usize
    } else if formatted < 262_144 {
        let b = 31 - formatted.leading_zeros();
        (2 * b + ((formatted >> (b - 1)) & 1)) as usize
    } else {
        36 + ((formatted - 262_144) >> 17) as usize
    }
}

/// Largest real offset the main alphabet for `num_slots` offset slots codes.
pub(super) fn max_offset(num_slots: usize) -> u32 {
    slot_base(num_slots) - 3
}

/// One match as symbols.
#[derive(Clone, Copy, Default)]
struct CodedMatch {
    main_sym: u16,
    /// Length symbol, or `u16::MAX` when the length header says it all.
    len_sym: u16,
    /// Extra offset bits value and count.
    extra: u32,
    extra_bits: u8,
}

/// Huffman state of one chunk: codes persist from block to block since each
/// block's code lengths are sent as deltas against the previous ones.
pub(super) struct Coder {
    num_main_syms: usize,
    window_order: u32,
    /// Recent offsets at the start of the next block.
    pub(super) queue: Queue,
    prev_main: [u8; MAX_MAIN_SYMS],
    prev_len: [u8; NUM_LEN_SYMS],
    pub(super) main_freq: [u32; MAX_MAIN_SYMS],
    pub(super) len_freq: [u32; NUM_LEN_SYMS],
    pub(super) aligned_freq: [u32; NUM_ALIGNED_SYMS],
    pub(super) main_lens: [u8; MAX_MAIN_SYMS],
    pub(super) len_lens: [u8; NUM_LEN_SYMS],
    pub(super) aligned_lens: [u8; NUM_ALIGNED_SYMS],
    main_codes: [u32; MAX_MAIN_SYMS],
    len_codes: [u32; NUM_LEN_SYMS],
    aligned_codes: [u32; NUM_ALIGNED_SYMS],
    coded: Vec<CodedMatch>,
    builder: LengthBuilder,
    /// Pretree items of one code description: symbol | extra << 8.
    pre_items: Vec<u16>,
}

impl Coder {
    pub(super) fn new(num_main_syms: usize, window_order: u32, max_block: usize) -> Self {
        Self {
            num_main_syms,
            window_order,
            queue: INITIAL_QUEUE,
            prev_main: [0; MAX_MAIN_SYMS],
            prev_len: [0; NUM_LEN_SYMS],
            main_freq: [0; MAX_MAIN_SYMS],
            len_freq: [0; NUM_LEN_SYMS],
            aligned_freq: [0; NUM_ALIGNED_SYMS],
            main_lens: [0; MAX_MAIN_SYMS],
            len_lens: [0; NUM_LEN_SYMS],
            aligned_lens: [0; NUM_ALIGNED_SYMS],
            main_codes: [0; MAX_MAIN_SYMS],
            len_codes: [0; NUM_LEN_SYMS],
            aligned_codes: [0; NUM_ALIGNED_SYMS],
            coded: Vec::with_capacity(max_block / 2 + 2),
            builder: LengthBuilder::new(),
            pre_items: Vec::with_capacity(MAX_MAIN_SYMS + NUM_LEN_SYMS),
        }
    }

    /// Bytes held besides the struct itself.
    pub(super) fn heap_bytes(max_block: usize) -> usize {
        (max_block / 2 + 2) * std::mem::size_of::<CodedMatch>()
            + (MAX_MAIN_SYMS + NUM_LEN_SYMS) * 2
            + 16 * 1024
    }

    /// Starts a new chunk.
    pub(super) fn reset(&mut self) {
        self.queue = INITIAL_QUEUE;
        self.prev_main.fill(0);
        self.prev_len.fill(0);
    }

    /// Counts the symbols of a block (`data` starts at the block) starting
    /// from `queue`, remembering the coded matches; returns the final queue.
    pub(super) fn tally(&mut self, data: &[u8], seqs: &[Seq], mut queue: Queue) -> Queue {
        self.main_freq.fill(0);
        self.len_freq.fill(0);
        self.aligned_freq.fill(0);
        self.coded.clear();
        let mut pos = 0usize;
        for s in seqs {
            let run = s.lit_run as usize;
            if let Some(lits) = data.get(pos..pos + run) {
                for &b in lits {
                    self.main_freq[usize::from(b)] += 1;
                }
            }
            pos += run;
            if s.len == 0 {
                continue;
            }
            pos += s.len as usize;
            let code = queue_update(&mut queue, s.offset);
            let (slot, extra, extra_bits) = if code < 3 {
                (code, 0, 0)
            } else {
                let f = s.offset + 2;
                let slot = offset_slot(f);
                (slot, f - SLOT_BASE[slot], extra_bits(slot))
            };
            let len_hdr = (s.len as usize - MIN_MATCH_LEN).min(NUM_PRIMARY_LENS);
            let main_sym = NUM_CHARS + slot * NUM_LEN_HEADERS + len_hdr;
            let len_sym = if len_hdr == NUM_PRIMARY_LENS {
                let l = s.len as usize - MIN_MATCH_LEN - NUM_PRIMARY_LENS;
                self.len_freq[l.min(NUM_LEN_SYMS - 1)] += 1;
                l as u16
            } else {
                u16::MAX
            };
            if let Some(f) = self.main_freq.get_mut(main_sym) {
                *f += 1;
            }
            if slot >= MIN_ALIGNED_SLOT {
                self.aligned_freq[(extra & 7) as usize] += 1;
            }
            self.coded.push(CodedMatch {
                main_sym: main_sym as u16,
                len_sym,
                extra,
                extra_bits: extra_bits as u8,
            });
        }
        queue
    }

    /// Builds code lengths from the tallied frequencies.
    pub(super) fn build_lens(&mut self) {
        let n = self.num_main_syms;
        self.builder.build(
            &self.main_freq[..n],
            &mut self.main_lens[..n],
            MAIN_LEN_LIMIT,
        );
        self.builder
            .build(&self.len_freq, &mut self.len_lens, LEN_LEN_LIMIT);
        self.builder.build(
            &self.aligned_freq,
            &mut self.aligned_lens,
            ALIGNED_LEN_LIMIT,
        );
    }

    /// Codes one block of `data` (the chunk's bytes from the block start on)
    /// and writes it. The block's length is the sum of its sequences.
    pub(super) fn flush(&mut self, w: &mut BitWriter, data: &[u8], seqs: &[Seq]) {
        let block_size: usize = seqs
            .iter()
            .map(|s| s.lit_run as usize + s.len as usize)
            .sum();
        if block_size == 0 {
            return;
        }
        let queue = self.queue;
        self.queue = self.tally(data, seqs, queue);
        self.build_lens();

        // Aligned block when the aligned code pays for its 24-bit description.
        let mut verbatim_cost = 0u64;
        let mut aligned_cost = (NUM_ALIGNED_SYMS * 3) as u64;
        for (&f, &l) in self.aligned_freq.iter().zip(&self.aligned_lens) {
            verbatim_cost += 3 * u64::from(f);
            aligned_cost += u64::from(l) * u64::from(f);
        }
        let aligned = aligned_cost < verbatim_cost;

        let n = self.num_main_syms;
        canonical_codewords(&self.main_lens[..n], &mut self.main_codes[..n]);
        canonical_codewords(&self.len_lens, &mut self.len_codes);
        canonical_codewords(&self.aligned_lens, &mut self.aligned_codes);

        // Header.
        w.put(
            if aligned {
                BLOCKTYPE_ALIGNED
            } else {
                BLOCKTYPE_VERBATIM
            },
            3,
        );
        if block_size == DEFAULT_BLOCK_SIZE {
            w.put(1, 1);
        } else {
            w.put(0, 1);
            if self.window_order >= 16 {
                w.put(block_size as u32 & 0xFF_FFFF, 24);
            } else {
                w.put(block_size as u32 & 0xFFFF, 16);
            }
        }
        if aligned {
            for &l in &self.aligned_lens {
                w.put(u32::from(l), 3);
            }
        }
        // Code descriptions, as deltas against the previous block's.
        let (main_lens, prev_main) = (self.main_lens, self.prev_main);
        self.write_lens(w, &main_lens[..NUM_CHARS], &prev_main[..NUM_CHARS]);
        self.write_lens(w, &main_lens[NUM_CHARS..n], &prev_main[NUM_CHARS..n]);
        let (len_lens, prev_len) = (self.len_lens, self.prev_len);
        self.write_lens(w, &len_lens, &prev_len);
        self.prev_main[..n].copy_from_slice(&main_lens[..n]);
        self.prev_len = len_lens;

        if w.overflowed() {
            return;
        }
        self.write_symbols(w, data, seqs, aligned);
    }

    fn write_symbols(&self, w: &mut BitWriter, data: &[u8], seqs: &[Seq], aligned: bool) {
        let mut pos = 0usize;
        let mut coded = self.coded.iter();
        for s in seqs {
            let run = s.lit_run as usize;
            if let Some(lits) = data.get(pos..pos + run) {
                for &b in lits {
                    let b = usize::from(b);
                    w.put(self.main_codes[b], u32::from(self.main_lens[b]));
                }
            }
            pos += run;
            if s.len == 0 {
                continue;
            }
            pos += s.len as usize;
            let Some(m) = coded.next() else {
                return;
            };
            let sym = usize::from(m.main_sym);
            w.put(self.main_codes[sym], u32::from(self.main_lens[sym]));
            if m.len_sym != u16::MAX {
                let l = usize::from(m.len_sym);
                w.put(self.len_codes[l], u32::from(self.len_lens[l]));
            }
            let bits = u32::from(m.extra_bits);
            if aligned && bits >= NUM_ALIGNED_BITS {
                w.put(m.extra >> NUM_ALIGNED_BITS, bits - NUM_ALIGNED_BITS);
                let a = (m.extra & 7) as usize;
                w.put(self.aligned_codes[a], u32::from(self.aligned_lens[a]));
            } else if bits > 0 {
                w.put(m.extra, bits);
            }
            if w.overflowed() {
                return;
            }
        }
    }

    /// Writes a pretree and the lengths `new` as deltas against `prev`.
    fn write_lens(&mut self, w: &mut BitWriter, new: &[u8], prev: &[u8]) {
        let items = &mut self.pre_items;
        items.clear();
        let delta = |p: u8, v: u8| -> u16 { (u16::from(p) + 17 - u16::from(v)) % 17 };
        let n = new.len().min(prev.len());
        let mut i = 0usize;
        while i < n {
            let v = new[i];
            let mut run = 1;
            while i + run < n && new[i + run] == v {
                run += 1;
            }
            if v == 0 && run >= 4 {
                while run >= 20 {
                    let k = run.min(51);
                    items.push(18 | ((k - 20) as u16) << 8);
                    run -= k;
                    i += k;
                }
                if run >= 4 {
                    items.push(17 | ((run - 4) as u16) << 8);
                    i += run;
                    run = 0;
                }
            } else if v != 0 && run >= 4 {
                while run >= 4 {
                    let k = run.min(5);
                    items.push(19 | ((k - 4) as u16) << 8);
                    items.push(delta(prev[i], v));
                    run -= k;
                    i += k;
                }
            }
            for _ in 0..run {
                items.push(delta(prev[i], new[i]));
                i += 1;
            }
        }
        // A symbol-19 item is followed by a plain delta item, counted too.
        let mut freq = [0u32; NUM_PRE_SYMS];
        for &it in items.iter() {
            freq[usize::from(it & 0xFF)] += 1;
        }
        let mut lens = [0u8; NUM_PRE_SYMS];
        self.builder.build(&freq, &mut lens, PRE_LEN_LIMIT);
        let mut codes = [0u32; NUM_PRE_SYMS];
        canonical_codewords(&lens, &mut codes);
        for &l in &lens {
            w.put(u32::from(l), 4);
        }
        for &it in items.iter() {
            let sym = usize::from(it & 0xFF);
            w.put(codes[sym], u32::from(lens[sym]));
            let extra = u32::from(it >> 8);
            match sym {
                17 => w.put(extra, 4),
                18 => w.put(extra, 5),
                19 => w.put(extra, 1),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_agree_with_the_table() {
        for slot in 0..MAX_OFFSET_SLOTS {
            let lo = slot_base(slot);
            let hi = slot_base(slot + 1) - 1;
            assert_eq!(offset_slot(lo), slot, "base of {slot}");
            assert_eq!(offset_slot(hi), slot, "end of {slot}");
        }
    }
}
