//! The LZX chunk decoder.

use super::bits::Bits;
use super::constants::*;
use super::e8::undo_e8_translation;
use super::{MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};
use crate::huffman::DecodeTable;
use crate::lz::copy_match;
use crate::DecodeError;

/// Longest match LZX can code.
const MAX_MATCH_LEN: usize = 257;

/// How far past the end of the input a block may start before the chunk is
/// judged truncated.
const MAX_OVERREAD: usize = 64 * 1024;

/// A reusable LZX chunk decoder.
pub struct LzxDecoder {
    max_chunk_size: usize,
    window_order: u32,
    num_main_syms: usize,
    main: DecodeTable,
    len: DecodeTable,
    aligned: DecodeTable,
    pre: DecodeTable,
    // Code lengths persist from block to block within a chunk (each new code
    // is coded as deltas against the previous one) and have slack for the
    // overrun a run-length code can cause.
    main_lens: Box<[u8; MAX_MAIN_SYMS + LENS_OVERRUN]>,
    len_lens: [u8; NUM_LEN_SYMS + LENS_OVERRUN],
    aligned_lens: [u8; NUM_ALIGNED_SYMS],
    pre_lens: [u8; NUM_PRE_SYMS],
    slots: SlotTables,
}

/// For each offset slot, `(offset base) << 5 | extra-bit count`, where the
/// offset base is the slot's smallest formatted offset minus 2 (the real
/// offset it codes with zero extra bits). One load gives both fields.
/// Slots 0..=2 (the recent offsets) never use their entries.
struct SlotTables {
    packed: [u32; MAX_OFFSET_SLOTS],
}

const SLOT_EXTRA_BITS: u32 = 5;

/// Where the last symbol reads of a block with a 16-bit (main, length) and a
/// 7-bit (aligned) lookahead started. The reference decoder fills its bit
/// buffer lazily, one unit at a time, just before each read; the furthest
/// unit it has loaded decides where a following uncompressed block's header
/// starts (see `decompress`).
#[derive(Default)]
struct Lookahead {
    sym16: usize,
    sym7: usize,
}

impl LzxDecoder {
    /// A decoder for chunks of at most `max_chunk_size` bytes, which must be
    /// the resource's chunk size (32 KiB to 2 MiB).
    pub fn new(max_chunk_size: usize) -> Result<Self, DecodeError> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&max_chunk_size) {
            return Err(DecodeError::UnsupportedChunkSize(max_chunk_size));
        }
        let window_order = window_order(max_chunk_size);
        let num_main_syms = NUM_CHARS + num_offset_slots(window_order) * NUM_LEN_HEADERS;
        let mut slots = SlotTables {
            packed: [0; MAX_OFFSET_SLOTS],
        };
        for slot in 0..MAX_OFFSET_SLOTS {
            let offset_base = slot_base(slot).saturating_sub(2);
            slots.packed[slot] = (offset_base << SLOT_EXTRA_BITS) | extra_bits(slot);
        }
        Ok(Self {
            max_chunk_size,
            window_order,
            num_main_syms,
            main: DecodeTable::new(MAIN_TABLE_BITS, MAX_MAIN_CODEWORD_LEN),
            len: DecodeTable::new(LEN_TABLE_BITS, MAX_LEN_CODEWORD_LEN),
            aligned: DecodeTable::new(ALIGNED_TABLE_BITS, MAX_ALIGNED_CODEWORD_LEN),
            pre: DecodeTable::new(PRE_TABLE_BITS, MAX_PRE_CODEWORD_LEN),
            main_lens: Box::new([0; MAX_MAIN_SYMS + LENS_OVERRUN]),
            len_lens: [0; NUM_LEN_SYMS + LENS_OVERRUN],
            aligned_lens: [0; NUM_ALIGNED_SYMS],
            pre_lens: [0; NUM_PRE_SYMS],
            slots,
        })
    }

    /// Decodes one chunk into `output`, whose length is the uncompressed size.
    pub fn decompress(&mut self, input: &[u8], output: &mut [u8]) -> Result<(), DecodeError> {
        if output.len() > self.max_chunk_size {
            return Err(DecodeError::UnsupportedChunkSize(output.len()));
        }
        self.main_lens.fill(0);
        self.len_lens.fill(0);
        let mut recent = [1u32; NUM_RECENT_OFFSETS];
        let mut bits = Bits::new(0);
        // Furthest bit the reference decoder's lazily filled reader has looked
        // ahead to; it decides where an uncompressed block's header starts.
        let mut lookahead_end = 0usize;
        let mut may_have_e8 = false;
        let mut out_pos = 0usize;

        while out_pos < output.len() {
            // Past the end the stream reads as zeros, which a valid stream
            // needs only for lookahead; far past it the data is garbage, and
            // stopping keeps the virtual position from growing without bound.
            if bits.pos > input.len() + MAX_OVERREAD {
                return Err(DecodeError::Truncated);
            }
            let block_type = bits.read(3, input);
            let explicit_size = bits.read(1, input) == 0;
            let mut block_size = DEFAULT_BLOCK_SIZE;
            if explicit_size {
                block_size = bits.read(16, input) as usize;
                if self.window_order >= 16 {
                    block_size = (block_size << 8) | bits.read(8, input) as usize;
                }
            }
            match block_type {
                BLOCKTYPE_VERBATIM | BLOCKTYPE_ALIGNED => {
                    let aligned = block_type == BLOCKTYPE_ALIGNED;
                    if aligned {
                        for len in self.aligned_lens.iter_mut() {
                            *len = bits.read(3, input) as u8;
                        }
                    }
                    self.read_main_and_len_codes(&mut bits, input)?;
                    check_block_size(block_size, output.len() - out_pos)?;
                    self.main.build(&self.main_lens[..self.num_main_syms])?;
                    self.len.build(&self.len_lens[..NUM_LEN_SYMS])?;
                    let block_end = out_pos + block_size;
                    let mut la = Lookahead::default();
                    out_pos = if aligned {
                        self.aligned.build(&self.aligned_lens)?;
                        self.decode_block::<true>(
                            input,
                            output,
                            &mut bits,
                            out_pos,
                            block_end,
                            &mut recent,
                            &mut la,
                        )?
                    } else {
                        self.decode_block::<false>(
                            input,
                            output,
                            &mut bits,
                            out_pos,
                            block_end,
                            &mut recent,
                            &mut la,
                        )?
                    };
                    lookahead_end = lookahead_end
                        .max(la.sym16 + 16)
                        .max(la.sym7 + 7)
                        .max(bits.position());
                    may_have_e8 |= self.main_lens[0xE8] != 0;
                }
                BLOCKTYPE_UNCOMPRESSED => {
                    // The header is aligned to the unit after the furthest one
                    // the reference reader has loaded: it looks ahead 1 bit
                    // here, and every header field ends where it looked to.
                    let ahead = lookahead_end.max(bits.position() + 1);
                    let start = ahead.div_ceil(16) * 2;
                    let header = input.get(start..start + 12).ok_or(DecodeError::Truncated)?;
                    for (r, b) in recent.iter_mut().zip(header.chunks_exact(4)) {
                        *r = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    }
                    if recent.contains(&0) {
                        // An offset of zero cannot refer to earlier output.
                        return Err(DecodeError::MatchBeforeStart);
                    }
                    check_block_size(block_size, output.len() - out_pos)?;
                    let data_start = start + 12;
                    let data = input
                        .get(data_start..data_start + block_size)
                        .ok_or(DecodeError::Truncated)?;
                    output[out_pos..out_pos + block_size].copy_from_slice(data);
                    out_pos += block_size;
                    // An odd-sized block is padded to keep units 16-bit aligned.
                    let resume = (data_start + block_size + (block_size & 1)).min(input.len());
                    bits = Bits::new(resume);
                    lookahead_end = resume * 8;
                    may_have_e8 = true;
                }
                other => return Err(DecodeError::InvalidBlockType(other as u8)),
            }
        }

        if may_have_e8 {
            undo_e8_translation(output);
        }
        Ok(())
    }

    fn read_main_and_len_codes(
        &mut self,
        bits: &mut Bits,
        input: &[u8],
    ) -> Result<(), DecodeError> {
        let num_main = self.num_main_syms;
        read_lens(
            bits,
            input,
            &mut self.pre,
            &mut self.pre_lens,
            &mut self.main_lens[..],
            0,
            NUM_CHARS,
        )?;
        read_lens(
            bits,
            input,
            &mut self.pre,
            &mut self.pre_lens,
            &mut self.main_lens[..],
            NUM_CHARS,
            num_main,
        )?;
        read_lens(
            bits,
            input,
            &mut self.pre,
            &mut self.pre_lens,
            &mut self.len_lens[..],
            0,
            NUM_LEN_SYMS,
        )
    }

    /// Decodes the literals and matches of a verbatim or aligned block.
    ///
    /// The bulk runs without bookkeeping while no single symbol can finish
    /// the block; the last stretch records where symbol reads started, which
    /// an uncompressed block that follows needs (see `decompress`).
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn decode_block<const ALIGNED: bool>(
        &self,
        input: &[u8],
        output: &mut [u8],
        bits: &mut Bits,
        out_pos: usize,
        block_end: usize,
        recent: &mut [u32; NUM_RECENT_OFFSETS],
        la: &mut Lookahead,
    ) -> Result<usize, DecodeError> {
        let bulk_end = block_end.saturating_sub(MAX_MATCH_LEN);
        let pos = self.decode_symbols::<ALIGNED, false>(
            input, output, bits, out_pos, bulk_end, block_end, recent, la,
        )?;
        self.decode_symbols::<ALIGNED, true>(
            input, output, bits, pos, block_end, block_end, recent, la,
        )
    }

    /// Decodes symbols while the output position is below `limit`. No match
    /// may run past `block_end`; copies may scribble past it inside `out`, where
    /// later output overwrites them.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn decode_symbols<const ALIGNED: bool, const TRACK: bool>(
        &self,
        input: &[u8],
        out: &mut [u8],
        bits: &mut Bits,
        mut pos: usize,
        limit: usize,
        block_end: usize,
        recent: &mut [u32; NUM_RECENT_OFFSETS],
        la: &mut Lookahead,
    ) -> Result<usize, DecodeError> {
        let mut b = *bits;
        let [mut r0, mut r1, mut r2] = *recent;
        // Lets the compiler drop the bounds check on literal stores.
        let limit = limit.min(out.len());
        b.refill(input);
        while pos < limit {
            // At least 16 bits are buffered here, so the lookup need not wait
            // for the refill, and the refill (which only adds bits below
            // `count`) runs alongside it instead of on the critical path.
            if TRACK {
                la.sym16 = b.position();
            }
            let (mut sym, len) = self.main.lookup_top_const::<MAIN_TABLE_BITS>(b.buf);
            b.refill(input);
            b.consume(len);
            if sym < NUM_CHARS as u16 {
                out[pos] = sym as u8;
                pos += 1;
                // At least 32 bits remain: a second symbol needs no refill
                // if it is a literal; a match refills before its length.
                if pos >= limit {
                    break;
                }
                if TRACK {
                    la.sym16 = b.position();
                }
                let (sym2, len2) = self.main.lookup_top_const::<MAIN_TABLE_BITS>(b.buf);
                b.consume(len2);
                if sym2 < NUM_CHARS as u16 {
                    out[pos] = sym2 as u8;
                    pos += 1;
                    continue;
                }
                b.refill(input);
                sym = sym2;
            }
            // The main table decodes only symbols below `num_main_syms`, or
            // `INVALID_SYMBOL`, which is above every symbol count.
            let m = sym as usize - NUM_CHARS;
            if m >= MAX_MAIN_SYMS - NUM_CHARS {
                return Err(DecodeError::InvalidSymbol);
            }
            let slot = m / NUM_LEN_HEADERS;
            let mut match_len = m % NUM_LEN_HEADERS;
            if match_len == NUM_PRIMARY_LENS {
                if TRACK {
                    la.sym16 = b.position();
                }
                let (lsym, llen) = self.len.lookup_top_const::<LEN_TABLE_BITS>(b.buf);
                if lsym as usize >= NUM_LEN_SYMS {
                    return Err(DecodeError::InvalidSymbol);
                }
                b.consume(llen);
                match_len += lsym as usize;
            }
            match_len += MIN_MATCH_LEN;

            let offset = if slot < NUM_RECENT_OFFSETS {
                // Using R1 or R2 swaps it with R0 (not a true LRU queue).
                // Scalars rather than an indexed array keep them in registers.
                match slot {
                    0 => r0,
                    1 => {
                        std::mem::swap(&mut r0, &mut r1);
                        r0
                    }
                    _ => {
                        std::mem::swap(&mut r0, &mut r2);
                        r0
                    }
                }
            } else {
                let packed = self.slots.packed[slot];
                let extra = packed & ((1 << SLOT_EXTRA_BITS) - 1);
                let base = packed >> SLOT_EXTRA_BITS;
                // Formatted offsets 0..=2 are the recent-offset slots, so the
                // real offset is the formatted one minus 2, folded into `base`.
                let offset = if ALIGNED && extra >= NUM_ALIGNED_BITS {
                    // Up to 14 verbatim bits and a 7-bit aligned codeword.
                    if b.count < 21 {
                        b.refill(input);
                    }
                    let high = b.take(extra - NUM_ALIGNED_BITS);
                    if TRACK {
                        la.sym7 = b.position();
                    }
                    let (asym, alen) = self.aligned.lookup_top_const::<ALIGNED_TABLE_BITS>(b.buf);
                    if asym as usize >= NUM_ALIGNED_SYMS {
                        return Err(DecodeError::InvalidSymbol);
                    }
                    b.consume(alen);
                    base + (high << NUM_ALIGNED_BITS) + u32::from(asym)
                } else {
                    if b.count < extra {
                        b.refill(input);
                    }
                    base + b.take(extra)
                };
                r2 = r1;
                r1 = r0;
                r0 = offset;
                offset
            };

            let offset = offset as usize;
            if offset > pos {
                return Err(DecodeError::MatchBeforeStart);
            }
            // Outside the tracked tail, `pos + MAX_MATCH_LEN <= block_end`.
            if TRACK && match_len > block_end - pos {
                return Err(DecodeError::Overrun);
            }
            debug_assert!(match_len <= block_end - pos);
            copy_match_fast(out, pos, offset, match_len);
            pos += match_len;
            b.refill(input);
        }
        *bits = b;
        *recent = [r0, r1, r2];
        Ok(pos)
    }
}

/// Copies a validated match (`1 <= offset <= pos`, `pos + len <= out.len()`).
///
/// With room after the match, whole 16- or 8-byte words are copied and may
/// run past its end; a later write replaces those bytes. Short periodic
/// matches expand their pattern to a word first.
#[inline(always)]
fn copy_match_fast(out: &mut [u8], pos: usize, offset: usize, len: usize) {
    if pos + len + 16 > out.len() {
        return copy_match(out, pos, offset, len);
    }
    let mut src = pos - offset;
    let mut dst = pos;
    let end = pos + len;
    if offset >= 16 {
        while dst < end {
            let mut w = [0u8; 16];
            w.copy_from_slice(&out[src..src + 16]);
            out[dst..dst + 16].copy_from_slice(&w);
            src += 16;
            dst += 16;
        }
    } else if offset >= 8 {
        while dst < end {
            let mut w = [0u8; 8];
            w.copy_from_slice(&out[src..src + 8]);
            out[dst..dst + 8].copy_from_slice(&w);
            src += 8;
            dst += 8;
        }
    } else if offset == 1 {
        let w = [out[src]; 16];
        while dst < end {
            out[dst..dst + 16].copy_from_slice(&w);
            dst += 16;
        }
    } else {
        // Period 2..=7: the first 8 bytes one by one, then 8-byte words from
        // the smallest multiple of the period that is at least 8 back.
        for k in 0..8 {
            out[dst + k] = out[src + k];
        }
        let step = offset * 8usize.div_ceil(offset);
        dst += 8;
        src = dst - step;
        while dst < end {
            let mut w = [0u8; 8];
            w.copy_from_slice(&out[src..src + 8]);
            out[dst..dst + 8].copy_from_slice(&w);
            src += 8;
            dst += 8;
        }
    }
}

fn check_block_size(block_size: usize, remaining: usize) -> Result<(), DecodeError> {
    if block_size == 0 {
        Err(DecodeError::EmptyBlock)
    } else if block_size > remaining {
        Err(DecodeError::Overrun)
    } else {
        Ok(())
    }
}

/// Reads a pretree and then the code lengths `lens[start..end]` as deltas
/// against their previous values. A run may write past `end` into the slack.
fn read_lens(
    bits: &mut Bits,
    input: &[u8],
    pre: &mut DecodeTable,
    pre_lens: &mut [u8; NUM_PRE_SYMS],
    lens: &mut [u8],
    start: usize,
    end: usize,
) -> Result<(), DecodeError> {
    for len in pre_lens.iter_mut() {
        *len = bits.read(4, input) as u8;
    }
    pre.build(pre_lens)?;
    let mut i = start;
    while i < end {
        // One refill covers a symbol, 5 run bits and a second symbol.
        bits.refill(input);
        let (sym, len) = pre.lookup_top_const::<PRE_TABLE_BITS>(bits.buf);
        if sym as usize >= NUM_PRE_SYMS {
            return Err(DecodeError::InvalidSymbol);
        }
        bits.consume(len);
        let prev = u32::from(lens.get(i).copied().unwrap_or(0));
        let (run, value) = match sym {
            0..=16 => (1, (prev + 17 - u32::from(sym)) % 17),
            17 => (4 + bits.take(4) as usize, 0),
            18 => (20 + bits.take(5) as usize, 0),
            _ => {
                let run = 4 + bits.take(1) as usize;
                let (sym2, len2) = pre.lookup_top_const::<PRE_TABLE_BITS>(bits.buf);
                if sym2 > 17 {
                    return Err(DecodeError::InvalidSymbol);
                }
                bits.consume(len2);
                (run, (prev + 17 - u32::from(sym2)) % 17)
            }
        };
        let stop = (i + run).min(lens.len());
        if let Some(dst) = lens.get_mut(i..stop) {
            dst.fill(value as u8);
        }
        i += run;
    }
    Ok(())
}
