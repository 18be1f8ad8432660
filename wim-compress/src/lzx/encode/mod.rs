//! The LZX encoder (WIM variant).
//!
//! Each chunk is E8-translated into an internal copy, parsed into literals
//! and matches, cut into blocks where the statistics of the data change, and
//! each block is written as a verbatim or aligned-offset block with its own
//! Huffman codes.
//!
//! Levels follow wimlib's scale. Up to level 34 the parser is lazy (hash
//! chains, search depth 3 * level, nice length 4 * level); from 35 on it is
//! near-optimal (binary trees, search depth 0.48 * level, nice length
//! 0.96 * level, and 1 to 4 cost-model passes per block: a second from
//! level 45, a third from 70, a fourth at 100).

mod bitout;
mod block;
mod e8;
mod lazy;
mod optimal;
mod split;
#[cfg(test)]
mod tests;

use super::constants::{num_offset_slots, window_order, NUM_CHARS, NUM_LEN_HEADERS};
use crate::error::{check_level, EncodeError};
use crate::matchfinder::HashChains;
use bitout::BitWriter;
use block::{max_offset, Coder, Seq, MAX_MATCH_LEN};
use lazy::{LazyParams, LAZY_OVERRUN};
use optimal::{OptParams, Optimal};
use split::{SplitStats, SOFT_MAX_BLOCK_SIZE};

/// Highest level that uses the lazy parser.
const MAX_LAZY_LEVEL: u32 = 34;

enum Parser {
    Lazy(HashChains, LazyParams),
    Optimal(Box<Optimal>, OptParams),
}

/// A reusable Lzx compressor for chunks up to a maximum size at one level.
pub struct LzxEncoder {
    max_chunk_size: usize,
    #[allow(dead_code)]
    level: u32,
    /// The E8-translated copy of the chunk being compressed.
    buf: Vec<u8>,
    coder: Box<Coder>,
    seqs: Vec<Seq>,
    split: SplitStats,
    parser: Parser,
}

fn max_block(max_chunk_size: usize) -> usize {
    max_chunk_size.min(SOFT_MAX_BLOCK_SIZE + LAZY_OVERRUN + MAX_MATCH_LEN)
}

impl LzxEncoder {
    /// A compressor for chunks of at most `max_chunk_size` bytes at `level`
    /// (1..=100, wimlib's scale; 0 = default 50).
    pub fn new(max_chunk_size: usize, level: u32) -> Result<Self, EncodeError> {
        let level = check_level(level)?;
        if max_chunk_size == 0 || max_chunk_size > super::MAX_CHUNK_SIZE {
            return Err(EncodeError::UnsupportedChunkSize(max_chunk_size));
        }
        let order = window_order(max_chunk_size);
        let num_slots = num_offset_slots(order);
        let num_main_syms = NUM_CHARS + num_slots * NUM_LEN_HEADERS;
        let max_off = max_offset(num_slots);
        let parser = if level <= MAX_LAZY_LEVEL {
            Parser::Lazy(
                HashChains::new(max_chunk_size),
                LazyParams {
                    depth: (60 * level / 20).max(2),
                    nice: (80 * level / 20).min(MAX_MATCH_LEN as u32),
                    max_offset: max_off,
                },
            )
        } else {
            let passes =
                1 + u32::from(level >= 45) + u32::from(level >= 70) + u32::from(level >= 100);
            Parser::Optimal(
                Box::new(Optimal::new(max_chunk_size)),
                OptParams {
                    depth: (24 * level / 50).max(1),
                    nice: (48 * level / 50).min(MAX_MATCH_LEN as u32),
                    passes,
                    max_offset: max_off,
                    num_main_syms,
                },
            )
        };
        let mb = max_block(max_chunk_size);
        Ok(Self {
            max_chunk_size,
            level,
            buf: Vec::with_capacity(max_chunk_size),
            coder: Box::new(Coder::new(num_main_syms, order, mb)),
            seqs: Vec::with_capacity(mb / 2 + 2),
            split: SplitStats::default(),
            parser,
        })
    }

    /// Upper bound of the bytes a compressor for these settings holds: the
    /// chunk copy, the match finder, the Huffman state and, at the
    /// near-optimal levels, one block's match cache and path nodes (blocks
    /// are at most 100,000 bytes). With the current finders: about 0.85 MB
    /// (32 KiB chunks) to 14.7 MB (2 MiB) at levels 1..=34, and 3.3 MB to
    /// 30 MB at levels 35..=100.
    pub fn memory_usage(max_chunk_size: usize, level: u32) -> usize {
        let level = check_level(level).unwrap_or(crate::DEFAULT_LEVEL);
        let max_chunk_size = max_chunk_size.clamp(1, super::MAX_CHUNK_SIZE);
        let mb = max_block(max_chunk_size);
        let common = std::mem::size_of::<Self>()
            + max_chunk_size
            + std::mem::size_of::<Coder>()
            + Coder::heap_bytes(mb)
            + (mb / 2 + 2) * std::mem::size_of::<Seq>();
        let parser = if level <= MAX_LAZY_LEVEL {
            HashChains::memory_usage(max_chunk_size)
        } else {
            Optimal::memory_usage(max_chunk_size)
        };
        common + parser
    }

    /// Compresses `input` (at most the chunk size) into `output`, returning
    /// the compressed length, or `None` when the result would not fit in
    /// `output` (callers pass `input.len() - 1` bytes and store the chunk raw).
    /// Given less room than `input`, the near-optimal levels also say `None`
    /// for a chunk that looks incompressible (its literals alone near its
    /// size), without parsing it in full: storing it raw costs about 2% of
    /// the chunk at most.
    pub fn compress(&mut self, input: &[u8], output: &mut [u8]) -> Option<usize> {
        if input.len() > self.max_chunk_size {
            return None;
        }
        if input.is_empty() {
            return Some(0);
        }
        self.buf.clear();
        self.buf.extend_from_slice(input);
        e8::apply_e8_translation(&mut self.buf);
        self.coder.reset();
        let mut w = BitWriter::new(output);
        let data = &self.buf[..];
        match &mut self.parser {
            Parser::Lazy(hc, p) => lazy::compress_lazy(
                hc,
                data,
                &mut w,
                &mut self.coder,
                &mut self.seqs,
                &mut self.split,
                p,
            ),
            Parser::Optimal(opt, p) => opt.compress(
                data,
                &mut w,
                &mut self.coder,
                &mut self.seqs,
                &mut self.split,
                p,
            ),
        }
        w.finish()
    }
}

/// Length of the common prefix of `data[a..]` and `data[b..]`, knowing the
/// first `len` bytes match, up to `max` (with `a + max <= data.len()`).
#[inline(always)]
fn extend(data: &[u8], a: usize, b: usize, mut len: usize, max: usize) -> usize {
    while len + 8 <= max {
        let (Some(x), Some(y)) = (
            data.get(a + len..).and_then(|s| s.first_chunk::<8>()),
            data.get(b + len..).and_then(|s| s.first_chunk::<8>()),
        ) else {
            break;
        };
        let d = u64::from_le_bytes(*x) ^ u64::from_le_bytes(*y);
        if d != 0 {
            return len + (d.trailing_zeros() / 8) as usize;
        }
        len += 8;
    }
    while len < max && a + len < data.len() && data[a + len] == data[b + len] {
        len += 1;
    }
    len
}
