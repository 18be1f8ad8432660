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

/// The format's bit reader keeps at least 16 bits loaded after every read and
/// loads one 16-bit word at a time; that lazy discipline fixes where in the byte
/// stream the interleaved match-length bytes sit. Loading lazily is slow, so this
/// reader loads eagerly and works out the lazy reader's position only when a
/// length byte is read (rarely): with reads of at most 16 bits, the lazy reader
/// has loaded exactly the fewest words that leave it 16 or more bits.
struct Bits<'a> {
    input: &'a [u8],
    /// Next byte to load into `buf` (may run past the end: past the end reads as zeros).
    pos: usize,
    /// Unconsumed bits, most significant first; `avail` of them are valid.
    buf: u64,
    avail: u32,
    /// Where the lazy reader stood at the last sync: its next word and its
    /// unconsumed bit count, and how many bits this reader had loaded then.
    sync_pos: usize,
    sync_avail: u32,
    loaded_since_sync: u64,
}

impl<'a> Bits<'a> {
    fn new(input: &'a [u8], pos: usize) -> Self {
        let mut bits = Bits {
            input,
            pos,
            buf: 0,
            avail: 0,
            sync_pos: pos + 4,
            sync_avail: 32,
            loaded_since_sync: 0,
        };
        bits.refill();
        // The format starts with two words loaded.
        bits.loaded_since_sync = u64::from(bits.avail) - 32;
        bits
    }

    /// Tops the buffer up to at least 33 bits: enough for a codeword and an offset.
    #[inline(always)]
    fn refill(&mut self) {
        if self.avail > 32 {
            return;
        }
        if let Some(b) = self.input.get(self.pos..self.pos + 4) {
            // Two little-endian 16-bit words, the first one more significant.
            let pair = u32::from_le_bytes([b[2], b[3], b[0], b[1]]);
            self.buf |= u64::from(pair) << (32 - self.avail);
            self.avail += 32;
            self.pos += 4;
            self.loaded_since_sync += 32;
        } else {
            self.refill_slow();
        }
    }

    #[cold]
    fn refill_slow(&mut self) {
        while self.avail <= 32 {
            let word = match self.input.get(self.pos..self.pos + 2) {
                Some(w) => u16::from_le_bytes([w[0], w[1]]),
                None => 0,
            };
            self.buf |= u64::from(word) << (48 - self.avail);
            self.avail += 16;
            self.pos += 2;
            self.loaded_since_sync += 16;
        }
    }

    #[inline(always)]
    fn peek(&self, n: u32) -> u32 {
        ((self.buf >> 32) >> (32 - n)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.avail -= n;
    }

    /// Moves the byte cursor to where the lazy reader would be, dropping the
    /// words loaded ahead of it, so that bytes can be read from there.
    fn sync_to_lazy_reader(&mut self) {
        let consumed = u64::from(self.sync_avail) + self.loaded_since_sync - u64::from(self.avail);
        let deficit = (consumed + 16).saturating_sub(u64::from(self.sync_avail));
        let words = deficit.div_ceil(16);
        let lazy_avail = (u64::from(self.sync_avail) + 16 * words - consumed) as u32;
        self.pos = self.sync_pos + 2 * words as usize;
        self.avail = lazy_avail;
        self.buf &= !(u64::MAX >> lazy_avail);
    }

    /// Reads the length bytes of a long match: one byte, and if it is 255 a u16.
    #[cold]
    fn read_long_length(&mut self) -> Result<usize, DecodeError> {
        self.sync_to_lazy_reader();
        let byte = *self.input.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        let mut length = 0xf + usize::from(byte);
        if length == 0xf + 0xff {
            let w = self
                .input
                .get(self.pos..self.pos + 2)
                .ok_or(DecodeError::Truncated)?;
            self.pos += 2;
            length = usize::from(u16::from_le_bytes([w[0], w[1]]));
        }
        self.sync_pos = self.pos;
        self.sync_avail = self.avail;
        self.loaded_since_sync = 0;
        Ok(length)
    }
}

fn decode_symbols(
    table: &DecodeTable,
    input: &[u8],
    start: usize,
    out: &mut [u8],
) -> Result<(), DecodeError> {
    let mut bits = Bits::new(input, start);
    let mut pos = 0usize;
    let end = out.len();
    while pos < end {
        bits.refill();
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
        // The length bytes sit before any word loaded after the codeword was read.
        if length == 0xf {
            length = bits.read_long_length()?;
            bits.refill();
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
