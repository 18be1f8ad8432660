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

/// The bit reader keeps at least 16 bits loaded after every refill, loading one
/// word at a time. That discipline is part of the format: it fixes where in the
/// byte stream the interleaved length bytes sit.
struct Bits<'a> {
    input: &'a [u8],
    pos: usize,
    buf: u64,
    avail: u32,
}

impl<'a> Bits<'a> {
    fn new(input: &'a [u8], pos: usize) -> Self {
        let mut bits = Bits { input, pos, buf: 0, avail: 0 };
        bits.load_word();
        bits.load_word();
        bits
    }

    /// Loads the next word below the buffered bits; past the end of the input
    /// the stream reads as zeros, which a valid final word may rely on.
    #[inline(always)]
    fn load_word(&mut self) {
        let word = match self.input.get(self.pos..self.pos + 2) {
            Some(w) => u16::from_le_bytes([w[0], w[1]]),
            None => 0,
        };
        self.buf |= u64::from(word) << (48 - self.avail);
        self.avail += 16;
        self.pos += 2;
    }

    #[inline(always)]
    fn peek(&self, n: u32) -> u32 {
        // n is at most 16 and `avail` at least 16, so the top n bits are loaded.
        ((self.buf >> 32) >> (32 - n)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.avail -= n;
        if self.avail < 16 {
            self.load_word();
        }
    }

    #[inline(always)]
    fn read_byte(&mut self) -> Result<u8, DecodeError> {
        let byte = *self.input.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(byte)
    }

    #[inline(always)]
    fn read_u16(&mut self) -> Result<u16, DecodeError> {
        let word = self.input.get(self.pos..self.pos + 2).ok_or(DecodeError::Truncated)?;
        self.pos += 2;
        Ok(u16::from_le_bytes([word[0], word[1]]))
    }
}

fn decode_symbols(table: &DecodeTable, input: &[u8], start: usize, out: &mut [u8]) -> Result<(), DecodeError> {
    let mut bits = Bits::new(input, start);
    let mut pos = 0usize;
    let end = out.len();
    while pos < end {
        let (sym, len) = table.lookup(bits.peek(MAX_CODEWORD_LEN));
        if len == 0 {
            return Err(DecodeError::InvalidSymbol);
        }
        bits.consume(len);
        if sym < 256 {
            out[pos] = sym as u8;
            pos += 1;
            continue;
        }
        let header = usize::from(sym - 256);
        let log2_offset = (header >> 4) as u32;
        let mut length = header & 0xf;
        // The length bytes come before the word that refilling after the offset
        // bits would load, so read them first.
        if length == 0xf {
            length += usize::from(bits.read_byte()?);
            if length == 0xf + 0xff {
                length = usize::from(bits.read_u16()?);
            }
        }
        let offset = (1usize << log2_offset) | bits.peek(log2_offset) as usize;
        bits.consume(log2_offset);
        length += MIN_MATCH_LEN;
        if offset > pos {
            return Err(DecodeError::MatchBeforeStart);
        }
        if length > end - pos {
            return Err(DecodeError::Overrun);
        }
        copy_match(out, pos, offset, length);
        pos += length;
    }
    Ok(())
}
