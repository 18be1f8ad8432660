use super::{MAX_CHUNK_SIZE, MAX_CODEWORD_LEN, MIN_MATCH_LEN, NUM_SYMBOLS};
use crate::huffman::DecodeTable;
use crate::lz::copy_match;
use crate::DecodeError;

const TABLE_BITS: u32 = 11;

/// A reusable XPRESS (Huffman) chunk decoder.
pub struct XpressDecoder {
    table: DecodeTable,
    lens: [u8; NUM_SYMBOLS],
    max_chunk_size: usize,
}

impl XpressDecoder {
    /// A decoder for chunks of at most `max_chunk_size` bytes (at most 64 KiB:
    /// one chunk is one XPRESS block with one Huffman code).
    pub fn new(max_chunk_size: usize) -> Result<Self, DecodeError> {
        if max_chunk_size == 0 || max_chunk_size > MAX_CHUNK_SIZE {
            return Err(DecodeError::UnsupportedChunkSize(max_chunk_size));
        }
        Ok(Self {
            table: DecodeTable::new(TABLE_BITS, MAX_CODEWORD_LEN),
            lens: [0; NUM_SYMBOLS],
            max_chunk_size,
        })
    }

    /// Decodes one chunk into `output`, whose length is the uncompressed size.
    pub fn decompress(&mut self, input: &[u8], output: &mut [u8]) -> Result<(), DecodeError> {
        if output.len() > self.max_chunk_size {
            return Err(DecodeError::UnsupportedChunkSize(output.len()));
        }
        if output.is_empty() {
            return Ok(());
        }
        let header = input.get(..NUM_SYMBOLS / 2).ok_or(DecodeError::Truncated)?;
        for (pair, &byte) in self.lens.chunks_exact_mut(2).zip(header) {
            pair[0] = byte & 0xf;
            pair[1] = byte >> 4;
        }
        self.table.build(&self.lens)?;
        decode_symbols(&self.table, input, NUM_SYMBOLS / 2, output)
    }
}

// The format's bit reader keeps at least 16 bits loaded after every read and
// loads one 16-bit word at a time; that lazy discipline fixes where in the byte
// stream the interleaved match-length bytes sit. Loading lazily is slow, so the
// loop below loads eagerly (`buf`, `avail`, `pos` in locals) and works out the
// lazy reader's position only when a length byte is read, which is rare.

/// Tops `buf` up to more than 32 valid bits: enough for a codeword and an offset.
/// Past the end of the input the stream reads as zeros (a valid final word may
/// rely on that); `pos` keeps counting so that positions stay consistent.
#[inline(always)]
fn refill(input: &[u8], pos: &mut usize, buf: &mut u64, avail: &mut u32) {
    if *avail > 32 {
        return;
    }
    if let Some(b) = input.get(*pos..*pos + 4) {
        // Two little-endian 16-bit words, the first one more significant.
        let pair = u32::from_le_bytes([b[2], b[3], b[0], b[1]]);
        *buf |= u64::from(pair) << (32 - *avail);
        *avail += 32;
        *pos += 4;
    } else {
        while *avail <= 32 {
            let word = input
                .get(*pos..*pos + 2)
                .map_or(0, |w| u16::from_le_bytes([w[0], w[1]]));
            *buf |= u64::from(word) << (48 - *avail);
            *avail += 16;
            *pos += 2;
        }
    }
}

/// Where the lazy reader stood when it and the eager one last agreed: its next
/// byte and its count of unconsumed bits.
#[derive(Clone, Copy)]
struct Sync {
    pos: usize,
    avail: u32,
}

/// Reads a long match's length bytes (one byte, and a u16 if that byte is 255)
/// from where the lazy reader is, and restarts the eager reader after them.
/// Returns the length and the new reader state (pos, buf, avail, sync).
#[cold]
#[inline(never)]
fn read_long_length(
    input: &[u8],
    pos: usize,
    buf: u64,
    avail: u32,
    sync: Sync,
) -> Result<(usize, usize, u64, u32, Sync), DecodeError> {
    // Bits consumed since the sync point, then the fewest whole words the lazy
    // reader must have loaded to keep 16 or more bits after reads of at most 16.
    let consumed = u64::from(sync.avail) + 8 * (pos - sync.pos) as u64 - u64::from(avail);
    let words = (consumed + 16)
        .saturating_sub(u64::from(sync.avail))
        .div_ceil(16);
    let lazy_avail = (u64::from(sync.avail) + 16 * words - consumed) as u32;
    let mut at = sync.pos + 2 * words as usize;
    let buf = buf & !(u64::MAX >> lazy_avail);
    let byte = *input.get(at).ok_or(DecodeError::Truncated)?;
    at += 1;
    let mut length = 0xf + usize::from(byte);
    if length == 0xf + 0xff {
        let w = input.get(at..at + 2).ok_or(DecodeError::Truncated)?;
        at += 2;
        length = usize::from(u16::from_le_bytes([w[0], w[1]]));
    }
    Ok((
        length,
        at,
        buf,
        lazy_avail,
        Sync {
            pos: at,
            avail: lazy_avail,
        },
    ))
}

fn decode_symbols(
    table: &DecodeTable,
    input: &[u8],
    start: usize,
    out: &mut [u8],
) -> Result<(), DecodeError> {
    let (mut pos, mut buf, mut avail) = (start, 0u64, 0u32);
    refill(input, &mut pos, &mut buf, &mut avail);
    // The format starts with two words loaded.
    let mut sync = Sync {
        pos: start + 4,
        avail: 32,
    };
    let mut out_pos = 0usize;
    let end = out.len();
    while out_pos < end {
        refill(input, &mut pos, &mut buf, &mut avail);
        let (mut sym, mut len) = table.lookup_top_const::<TABLE_BITS>(buf);
        buf <<= len;
        avail -= len;
        if sym < 256 {
            out[out_pos] = sym as u8;
            out_pos += 1;
            // A codeword takes at most 15 of the 33+ bits a refill leaves, so a
            // second symbol decodes without another refill.
            if out_pos == end {
                break;
            }
            (sym, len) = table.lookup_top_const::<TABLE_BITS>(buf);
            buf <<= len;
            avail -= len;
            if sym < 256 {
                out[out_pos] = sym as u8;
                out_pos += 1;
                continue;
            }
            refill(input, &mut pos, &mut buf, &mut avail);
        }
        // An undefined codeword decodes as INVALID_SYMBOL, far above the 512 symbols.
        if usize::from(sym) >= NUM_SYMBOLS {
            return Err(DecodeError::InvalidSymbol);
        }
        let header = usize::from(sym - 256);
        let log2_offset = (header >> 4) as u32;
        let mut length = header & 0xf;
        // The length bytes sit before any word loaded after the codeword was read.
        if length == 0xf {
            (length, pos, buf, avail, sync) = read_long_length(input, pos, buf, avail, sync)?;
            refill(input, &mut pos, &mut buf, &mut avail);
        }
        let offset = (1usize << log2_offset) | ((buf >> 32) >> (32 - log2_offset)) as usize;
        buf <<= log2_offset;
        avail -= log2_offset;
        length += MIN_MATCH_LEN;
        if offset > out_pos {
            return Err(DecodeError::MatchBeforeStart);
        }
        if length > end - out_pos {
            return Err(DecodeError::Overrun);
        }
        copy_match(out, out_pos, offset, length);
        out_pos += length;
    }
    Ok(())
}
