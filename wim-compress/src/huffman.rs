//! Canonical Huffman decode tables shared by the three codecs.
//!
//! A table is indexed by the next `max_len` bits of the stream (most significant
//! bit first). Codewords of up to `table_bits` bits resolve in the primary table;
//! longer ones go through a fixed-size subtable keyed by the remaining bits.
//! Codes may be incomplete: unused codewords decode to [`INVALID_SYMBOL`] with a
//! length of zero, which callers reject when they range-check the symbol.

use crate::DecodeError;

/// Symbol value returned for a codeword the code does not define: above every
/// codec's symbol count, so callers' range checks reject it.
pub const INVALID_SYMBOL: u16 = 1023;

// Entries are 16 bits so that a table stays small in L1 beside the chunk being
// decoded: `symbol << 5 | length` for a codeword, or SUBTABLE | subtable number.
const SUBTABLE: u16 = 0x8000;
const LEN_BITS: u32 = 5;
const INVALID_ENTRY: u16 = INVALID_SYMBOL << LEN_BITS;
/// Most symbols a code may have (symbols must fit beside the length).
const MAX_SYMBOLS: usize = INVALID_SYMBOL as usize;
/// The primary table is a fixed array so that masked indices need no bounds check.
const PRIMARY_MAX_BITS: u32 = 12;

/// A reusable decode table for codes of up to `max_len` (at most 16) bits.
pub struct DecodeTable {
    primary: Box<[u16; 1 << PRIMARY_MAX_BITS]>,
    subtables: Vec<u16>,
    table_bits: u32,
    max_len: u32,
    // Scratch reused across rebuilds so that rebuilding allocates nothing.
    sorted: Vec<u16>,
}

impl DecodeTable {
    /// A table for codes whose codewords are at most `max_len` bits, resolving
    /// codewords of up to `table_bits` bits with one lookup.
    pub fn new(table_bits: u32, max_len: u32) -> Self {
        assert!(
            (1..=PRIMARY_MAX_BITS).contains(&table_bits) && table_bits <= max_len && max_len <= 16
        );
        Self {
            primary: Box::new([INVALID_ENTRY; 1 << PRIMARY_MAX_BITS]),
            subtables: Vec::new(),
            table_bits,
            max_len,
            sorted: Vec::new(),
        }
    }

    /// Longest codeword this table accepts; callers must have this many bits
    /// available (zero-padded past the end of input) before [`Self::lookup`].
    #[inline(always)]
    pub fn max_len(&self) -> u32 {
        self.max_len
    }

    /// Rebuilds the table for a code given by its codeword lengths (0 = unused).
    pub fn build(&mut self, lens: &[u8]) -> Result<(), DecodeError> {
        if lens.len() > MAX_SYMBOLS {
            return Err(DecodeError::InvalidCodeLengths);
        }
        let max_len = self.max_len as usize;
        let mut counts = [0u32; 17];
        for &len in lens {
            if len as usize > max_len {
                return Err(DecodeError::InvalidCodeLengths);
            }
            counts[len as usize] += 1;
        }
        counts[0] = 0;
        // Kraft inequality: an over-subscribed code cannot be decoded.
        let mut left: i64 = 1;
        for &count in &counts[1..=max_len] {
            left = (left << 1) - i64::from(count);
            if left < 0 {
                return Err(DecodeError::InvalidCodeLengths);
            }
        }
        let complete = left == 0;

        // Symbols sorted by (length, symbol): the canonical order.
        let mut offsets = [0u32; 18];
        for len in 1..=max_len {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let used = offsets[max_len + 1] as usize;
        self.sorted.clear();
        self.sorted.resize(used, 0);
        for (sym, &len) in lens.iter().enumerate() {
            if len != 0 {
                let slot = &mut offsets[len as usize];
                self.sorted[*slot as usize] = sym as u16;
                *slot += 1;
            }
        }

        let tb = self.table_bits;
        // A complete code writes every entry below; only gaps need marking invalid.
        if !complete {
            self.primary[..1usize << tb].fill(INVALID_ENTRY);
        }
        self.subtables.clear();
        let sub_bits = self.max_len - tb;
        let sub_len = 1usize << sub_bits;

        let mut code: u32 = 0;
        let mut i = 0usize;
        let mut last_prefix = u32::MAX;
        let mut sub_base = 0usize;
        for len in 1..=self.max_len {
            for _ in 0..counts[len as usize] {
                let entry = (self.sorted[i] << LEN_BITS) | len as u16;
                i += 1;
                if len <= tb {
                    let start = (code << (tb - len)) as usize;
                    self.primary[start..start + (1usize << (tb - len))].fill(entry);
                } else {
                    let prefix = code >> (len - tb);
                    if prefix != last_prefix {
                        // Canonical order keeps every codeword sharing a prefix together.
                        last_prefix = prefix;
                        sub_base = self.subtables.len();
                        self.subtables.resize(sub_base + sub_len, INVALID_ENTRY);
                        self.primary[prefix as usize] = SUBTABLE | (sub_base >> sub_bits) as u16;
                    }
                    let low = code & ((1 << (len - tb)) - 1);
                    let start = sub_base + ((low << (self.max_len - len)) as usize);
                    self.subtables[start..start + (1usize << (self.max_len - len))].fill(entry);
                }
                code += 1;
            }
            code <<= 1;
        }
        Ok(())
    }

    /// Decodes one symbol from a bit buffer whose next bits are its most
    /// significant ones (at least `max_len` of them valid or zero padding).
    /// Same result as [`Self::lookup`], one shift fewer on the hot path.
    #[inline(always)]
    pub fn lookup_top(&self, bits: u64) -> (u16, u32) {
        let index = (bits >> (64 - self.table_bits)) as usize & ((1 << PRIMARY_MAX_BITS) - 1);
        let mut entry = self.primary[index];
        if entry & SUBTABLE != 0 {
            entry = self.lookup_long(entry, (bits >> (64 - self.max_len)) as u32);
        }
        (entry >> LEN_BITS, u32::from(entry & ((1 << LEN_BITS) - 1)))
    }

    /// [`Self::lookup_top`] for a table built with `table_bits == TB`, known
    /// at compile time so that the index needs no shift by a loaded count.
    #[inline(always)]
    pub fn lookup_top_const<const TB: u32>(&self, bits: u64) -> (u16, u32) {
        debug_assert_eq!(TB, self.table_bits);
        let index = (bits >> (64 - TB)) as usize & ((1 << PRIMARY_MAX_BITS) - 1);
        let mut entry = self.primary[index];
        if entry & SUBTABLE != 0 {
            entry = self.lookup_long(entry, (bits >> (64 - self.max_len)) as u32);
        }
        (entry >> LEN_BITS, u32::from(entry & ((1 << LEN_BITS) - 1)))
    }

    /// Decodes one symbol from `window`, the next `max_len` bits of the stream
    /// right-aligned. Returns `(symbol, codeword length)`; an undefined codeword
    /// gives `(INVALID_SYMBOL, 0)`.
    #[inline(always)]
    pub fn lookup(&self, window: u32) -> (u16, u32) {
        let index =
            (window >> (self.max_len - self.table_bits)) as usize & ((1 << PRIMARY_MAX_BITS) - 1);
        let mut entry = self.primary[index];
        if entry & SUBTABLE != 0 {
            entry = self.lookup_long(entry, window);
        }
        (entry >> LEN_BITS, u32::from(entry & ((1 << LEN_BITS) - 1)))
    }

    #[cold]
    #[inline(never)]
    fn lookup_long(&self, entry: u16, window: u32) -> u16 {
        let sub_bits = self.max_len - self.table_bits;
        let base = usize::from(entry & !SUBTABLE) << sub_bits;
        let low = (window & ((1 << sub_bits) - 1)) as usize;
        self.subtables
            .get(base + low)
            .copied()
            .unwrap_or(INVALID_ENTRY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(table: &DecodeTable, bits: &str) -> Vec<u16> {
        let bits: Vec<u32> = bits.bytes().map(|b| u32::from(b - b'0')).collect();
        let mut pos = 0;
        let mut out = Vec::new();
        while pos < bits.len() {
            let mut window = 0;
            for k in 0..table.max_len() as usize {
                window = (window << 1) | bits.get(pos + k).copied().unwrap_or(0);
            }
            let (sym, len) = table.lookup(window);
            assert_ne!(len, 0);
            out.push(sym);
            pos += len as usize;
        }
        out
    }

    #[test]
    fn canonical_codes_short_and_long() {
        // Lengths: A=1, B=2, C=3, D=5, E=5 and 4 filler symbols of length 6 to complete the code.
        // Canonical codes: A 0, B 10, C 110, D 11100, E 11101, F.. 111100..111111.
        let lens = [1u8, 2, 3, 5, 5, 6, 6, 6, 6];
        let mut table = DecodeTable::new(2, 6);
        table.build(&lens).unwrap();
        assert_eq!(
            decode_all(&table, "0101101110011101111111"),
            vec![0, 1, 2, 3, 4, 8]
        );
    }

    #[test]
    fn over_subscribed_code_is_rejected() {
        let mut table = DecodeTable::new(4, 8);
        assert_eq!(
            table.build(&[1, 1, 1]),
            Err(DecodeError::InvalidCodeLengths)
        );
        assert_eq!(table.build(&[9]), Err(DecodeError::InvalidCodeLengths));
    }

    #[test]
    fn incomplete_code_decodes_invalid() {
        let mut table = DecodeTable::new(3, 8);
        table.build(&[1, 0, 0]).unwrap();
        assert_eq!(table.lookup(0b0000_0000), (0, 1));
        assert_eq!(table.lookup(0b1000_0000), (INVALID_SYMBOL, 0));
        let mut table = DecodeTable::new(3, 8);
        table.build(&[1, 8]).unwrap();
        assert_eq!(table.lookup(0b1000_0000), (1, 8));
        assert_eq!(table.lookup(0b1000_0001), (INVALID_SYMBOL, 0));
    }
}
