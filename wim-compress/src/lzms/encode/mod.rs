//! The LZMS encoder.
//!
//! A chunk is copied, run through the forward x86 translation, and parsed
//! with a near-optimal parser (see `parse`) fed by a suffix-array match
//! finder over the whole chunk (see `lcpit`; chunks over 64 MiB use binary
//! trees instead) and, from level 35 up, a delta match finder. Items are
//! encoded as soon as each stretch of the parse is settled, so the parser
//! always prices with the probabilities and Huffman codes the decoder will
//! have at that point (give or take one stretch).
//!
//! Everything is allocated in [`LzmsEncoder::new`]; compressing a chunk
//! allocates nothing. See [`LzmsEncoder::memory_usage`] for the footprint.

mod coder;
mod lcpit;
mod mf;
mod parse;
#[cfg(test)]
mod tests;
mod x86;

use super::constants::num_offset_slots;
use crate::error::{check_level, EncodeError};
use crate::incompressible;
use coder::Output;
use mf::{DeltaFinder, DeltaMatch, LzFinder, Match};
use parse::{Coder, Item, Nodes, Params, Parse, NUM_OPTIM};

/// Room for the matches found at one position: at most one per length.
const MAX_MATCHES: usize = coder::MAX_FAST_LENGTH + 8;

/// A reusable Lzms compressor for chunks up to a maximum size at one level.
pub struct LzmsEncoder {
    max_chunk_size: usize,
    level: u32,
    params: Params,
    /// The chunk being compressed, after the x86 translation.
    buf: Vec<u8>,
    x86_last_use: Vec<i32>,
    /// The decoder's inverse translation, to give `compress_in_place`'s
    /// caller its bytes back.
    x86_undo: super::x86::X86Filter,
    mf: LzFinder,
    df: DeltaFinder,
    coder: Box<Coder>,
    nodes: Nodes,
    items: Vec<Item>,
    matches: Vec<Match>,
    dmatches: Vec<DeltaMatch>,
    /// The repeat table of the incompressibility check (empty for chunks
    /// over `incompressible::MAX_CHUNK`, which are not checked).
    repeats: Vec<u32>,
}

/// Search depth of the binary trees at `level`.
fn search_depth(level: u32) -> u32 {
    // Deeper searches rarely pay at the default level (measured); the
    // highest levels still get them.
    match level {
        0..=9 => 8,
        10..=29 => 16,
        30..=69 => 32,
        _ => level,
    }
}

/// Chunks up to this size (the usual LZMS chunk) skip the delta search from
/// a shorter LZ match on, and do not record the positions skipped.
const SHORT_DELTA_SKIP_MAX: usize = 1 << 17;

fn params(level: u32, max_chunk_size: usize) -> Params {
    Params {
        // Same scale as the reference: 63 at the default level.
        nice: ((level as usize * 63) / 50).clamp(4, coder::MAX_FAST_LENGTH),
        use_delta: level >= 35,
        // Searching delta matches where an LZ match of this length starts
        // costs far more time than it gains: at the default level, skipping
        // them from 8 on saves about a sixth of the time for under 0.05% of
        // the size. In 128 KiB chunks, skipping from 6 on and leaving those
        // positions out of the delta finder saves another 8% for 0.04% (from
        // 5 on, 0.22%). Larger chunks gain more from delta matches and the
        // search is a smaller share of their time: the same saved nothing
        // for 0.02% in 64 MiB chunks (mixed files, measured). The highest
        // levels search more.
        delta_skip_len: if level <= 50 && max_chunk_size <= SHORT_DELTA_SKIP_MAX {
            6
        } else {
            (level as usize * 8 / 50).clamp(8, 32)
        },
        record_delta_skipped: max_chunk_size > SHORT_DELTA_SKIP_MAX,
        try_match_lit_rep0: level >= 45,
        try_lit_rep0: level >= 60,
        try_rep_lit_rep0: level >= 60,
    }
}

impl LzmsEncoder {
    /// A compressor for chunks of at most `max_chunk_size` bytes at `level`
    /// (1..=100, wimlib's scale; 0 = default 50).
    pub fn new(max_chunk_size: usize, level: u32) -> Result<Self, EncodeError> {
        let level = check_level(level)?;
        if max_chunk_size == 0 || max_chunk_size > super::MAX_CHUNK_SIZE {
            return Err(EncodeError::UnsupportedChunkSize(max_chunk_size));
        }
        let params = params(level, max_chunk_size);
        let depth = search_depth(level);
        Ok(Self {
            max_chunk_size,
            level,
            params,
            buf: vec![0; max_chunk_size],
            x86_last_use: vec![0; 65536],
            x86_undo: super::x86::X86Filter::new(),
            mf: LzFinder::new(max_chunk_size, level, depth, params.nice),
            df: DeltaFinder::new(),
            coder: Box::new(Coder::new()),
            nodes: Nodes::new(),
            items: Vec::with_capacity(3 * NUM_OPTIM + 8),
            matches: vec![Match::default(); MAX_MATCHES],
            dmatches: vec![DeltaMatch::default(); mf::POWERS as usize],
            repeats: if max_chunk_size <= incompressible::MAX_CHUNK {
                vec![0; 1 << incompressible::TABLE_BITS]
            } else {
                Vec::new()
            },
        })
    }

    /// Upper bound of the bytes a compressor for these settings holds:
    /// about 9.25 bytes per byte of `max_chunk_size` (a copy of the chunk,
    /// the suffix array and a per-position array of 4 bytes each, and two
    /// bits of suffix sorting flags), and about 1.5 MiB of fixed tables. For
    /// 64 MiB chunks that is about 593 MiB (the reference needs about 13
    /// bytes per byte there); for 128 KiB chunks, about 2 MiB. Above 64 MiB
    /// the binary-tree finder takes its place, with two 4-byte links per
    /// byte and hash tables of about one entry per 4 bytes (at most 16 MiB):
    /// about 9.1 bytes per byte in all at 128 MiB.
    pub fn memory_usage(max_chunk_size: usize, level: u32) -> usize {
        use std::mem::size_of;
        let n = max_chunk_size;
        // An invalid level gets no compressor; count it as the largest.
        let level = check_level(level).unwrap_or(100);
        n + LzFinder::memory_usage(n, level)
            + DeltaFinder::memory_usage()
            + 4 * 65536 * 2
            + Nodes::memory_usage()
            + (3 * NUM_OPTIM + 8) * size_of::<Item>()
            + MAX_MATCHES * size_of::<Match>()
            + size_of::<Coder>()
            // Probabilities, code tables, slot tables.
            + 16 * 1024
            + 5 * 9 * super::constants::MAX_NUM_OFFSET_SYMS
            + 2 * (0xE4A5 + 2048 + 32768)
            + size_of::<Self>()
    }

    /// The level this compressor was created with.
    pub fn level(&self) -> u32 {
        self.level
    }

    /// Compresses `input` (at most the chunk size) into `output`, returning
    /// the compressed length, or `None` when the result would not fit in
    /// `output` (callers pass `input.len() - 1` bytes and store the chunk raw).
    /// With `output` shorter than a chunk of up to 1 MiB, `None` also comes
    /// early for a chunk that looks incompressible (bytes, differences and
    /// repeats all random-looking); on 130 chunks of compressed files every
    /// chunk so judged came out of the full parse at 100% of its size or more.
    pub fn compress(&mut self, input: &[u8], output: &mut [u8]) -> Option<usize> {
        let n = input.len();
        if n > self.max_chunk_size || output.len() < 4 {
            return None;
        }
        let mut buf = std::mem::take(&mut self.buf);
        let data = &mut buf[..n];
        data.copy_from_slice(input);
        x86::forward(data, &mut self.x86_last_use);
        let r = self.encode(data, output);
        self.buf = buf;
        r
    }

    /// [`compress`](Self::compress) without the copy of the chunk: the x86
    /// translation is applied to `data` in place and undone afterwards, so
    /// `data` holds its original bytes again on return. The copy is a whole
    /// byte per byte of the footprint, which matters for 64 MiB solid chunks
    /// compressed several at a time (the copy buffer is never touched, so
    /// its pages are never made resident).
    pub fn compress_in_place(&mut self, data: &mut [u8], output: &mut [u8]) -> Option<usize> {
        let n = data.len();
        if n > self.max_chunk_size || output.len() < 4 {
            return None;
        }
        x86::forward(data, &mut self.x86_last_use);
        let r = self.encode(data, output);
        self.x86_undo.undo(data);
        r
    }

    /// Parses and encodes `data` (already x86-translated).
    fn encode(&mut self, data: &[u8], output: &mut [u8]) -> Option<usize> {
        let n = data.len();
        // Already-compressed content is given up on before the parse when
        // the caller could not use an output as large as the chunk anyway.
        if output.len() < n
            && !self.repeats.is_empty()
            && incompressible::looks_incompressible(data, &mut self.repeats, incompressible::LZMS)
        {
            return None;
        }
        self.mf.reset(data);

        if self.params.use_delta {
            self.df.reset();
        }
        let mut params = self.params;
        // Delta pairs pack positions into 28 bits.
        if n > 1 << mf::DELTA_POS_BITS {
            params.use_delta = false;
        }
        self.coder.reset(num_offset_slots(n));
        let mut out = Output::new(output);
        Parse {
            nodes: &mut self.nodes,
            items: &mut self.items,
            matches: &mut self.matches,
            dmatches: &mut self.dmatches,
            coder: &mut self.coder,
            out: &mut out,
            mf: &mut self.mf,
            df: &mut self.df,
            data,
            params,
        }
        .run();
        self.mf.release();
        out.finish()
    }
}
