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
pub(crate) const SUBTABLE: u16 = 0x8000;
pub(crate) const LEN_BITS: u32 = 5;
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

/// Fills `run` with `entry`. Every run of a primary table is a power of two
/// long and starts at a multiple of its length, so the common lengths get
/// fixed-size stores instead of a call to a general fill.
#[inline(always)]
fn fill_run(run: &mut [u16], entry: u16) {
    match run.len() {
        1 => run[0] = entry,
        2 => run.copy_from_slice(&[entry; 2]),
        4 => run.copy_from_slice(&[entry; 4]),
        8 => run.copy_from_slice(&[entry; 8]),
        16 => run.copy_from_slice(&[entry; 16]),
        _ => run.fill(entry),
    }
}

/// Builds a decode table into caller-owned storage (the LZMS decoder keeps
/// its tables inline in its state, and rebuilds them often enough that the
/// faster histogram and fills below pay; the other codecs keep
/// [`DecodeTable::build`]): `primary` holds
/// `1 << table_bits` entries, `subtables` and `sorted` are scratch that this
/// resizes. The entry format is the one [`DecodeTable`] uses, so a table built
/// here is read with [`SUBTABLE`] and [`LEN_BITS`].
pub(crate) fn build_table(
    primary: &mut [u16],
    subtables: &mut Vec<u16>,
    sorted: &mut Vec<u16>,
    table_bits: u32,
    max_len: u32,
    lens: &[u8],
) -> Result<(), DecodeError> {
    let tb = table_bits;
    if lens.len() > MAX_SYMBOLS || primary.len() != 1usize << tb || tb > max_len || max_len > 16 {
        return Err(DecodeError::InvalidCodeLengths);
    }
    let max_len_u = max_len as usize;
    // Two interleaved histograms: runs of equal lengths are the norm, and a
    // single counter would make every increment wait for the previous one.
    // Masked indices stay in range; lengths too long are rejected below.
    let mut counts2 = [[0u32; 32]; 2];
    let mut pairs = lens.chunks_exact(2);
    for pair in &mut pairs {
        counts2[0][usize::from(pair[0] & 31)] += 1;
        counts2[1][usize::from(pair[1] & 31)] += 1;
    }
    for &len in pairs.remainder() {
        counts2[0][usize::from(len & 31)] += 1;
    }
    // A separate maximum (a cheap vector reduction) keeps the range check
    // out of the histogram loop.
    if usize::from(lens.iter().fold(0u8, |m, &l| m.max(l))) > max_len_u {
        return Err(DecodeError::InvalidCodeLengths);
    }
    let mut counts = [0u32; 17];
    for len in 1..=max_len_u {
        counts[len] = counts2[0][len] + counts2[1][len];
    }
    // Kraft inequality: an over-subscribed code cannot be decoded.
    let mut left: i64 = 1;
    for &count in &counts[1..=max_len_u] {
        left = (left << 1) - i64::from(count);
        if left < 0 {
            return Err(DecodeError::InvalidCodeLengths);
        }
    }
    let complete = left == 0;

    // Symbols sorted by (length, symbol): the canonical order.
    let mut offsets = [0u32; 18];
    for len in 1..=max_len_u {
        offsets[len + 1] = offsets[len] + counts[len];
    }
    let used = offsets[max_len_u + 1] as usize;
    sorted.clear();
    sorted.resize(used, 0);
    for (sym, &len) in lens.iter().enumerate() {
        if len != 0 {
            let slot = &mut offsets[usize::from(len)];
            if let Some(e) = sorted.get_mut(*slot as usize) {
                *e = sym as u16;
            }
            *slot += 1;
        }
    }

    // A complete code writes every entry below; only gaps need marking invalid.
    if !complete {
        primary.fill(INVALID_ENTRY);
    }
    subtables.clear();
    let sub_bits = max_len - tb;
    let sub_len = 1usize << sub_bits;

    let mut code: u32 = 0;
    let mut i = 0usize;
    // Codewords that fit the primary table, one length at a time so that
    // each length's runs have one size.
    for len in 1..=tb {
        let n = counts[len as usize] as usize;
        let run = 1usize << (tb - len);
        let start = (code as usize) << (tb - len);
        let Some(dest) = primary.get_mut(start..start + n * run) else {
            return Err(DecodeError::InvalidCodeLengths);
        };
        let Some(syms) = sorted.get(i..i + n) else {
            return Err(DecodeError::InvalidCodeLengths);
        };
        for (chunk, &sym) in dest.chunks_exact_mut(run).zip(syms) {
            fill_run(chunk, (sym << LEN_BITS) | len as u16);
        }
        i += n;
        code = (code + n as u32) << 1;
    }
    let mut last_prefix = u32::MAX;
    let mut sub_base = 0usize;
    for len in tb + 1..=max_len {
        for _ in 0..counts[len as usize] {
            let entry = (sorted[i] << LEN_BITS) | len as u16;
            i += 1;
            let prefix = code >> (len - tb);
            if prefix != last_prefix {
                // Canonical order keeps every codeword sharing a prefix together.
                last_prefix = prefix;
                sub_base = subtables.len();
                subtables.resize(sub_base + sub_len, INVALID_ENTRY);
                primary[prefix as usize] = SUBTABLE | (sub_base >> sub_bits) as u16;
            }
            let low = code & ((1 << (len - tb)) - 1);
            let start = sub_base + ((low << (max_len - len)) as usize);
            subtables[start..start + (1usize << (max_len - len))].fill(entry);
            code += 1;
        }
        code <<= 1;
    }
    Ok(())
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
    fn build_table_matches_decode_table() {
        use crate::huffman_build::LengthBuilder;
        let mut builder = LengthBuilder::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for n in 2..400usize {
            let freqs: Vec<u32> = (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % 3000) as u32 >> (seed % 13)
                })
                .collect();
            let mut lens = vec![0u8; n];
            builder.build(&freqs, &mut lens, 15);
            for tb in [8u32, 10] {
                let mut table = DecodeTable::new(tb, 15);
                table.build(&lens).unwrap();
                let mut primary = vec![0u16; 1 << tb];
                let (mut sub, mut sorted) = (Vec::new(), Vec::new());
                build_table(&mut primary, &mut sub, &mut sorted, tb, 15, &lens).unwrap();
                assert!(primary[..] == table.primary[..1 << tb], "n = {n}");
                assert!(sub == table.subtables, "n = {n}");
            }
        }
        let mut primary = vec![0u16; 8];
        let (mut sub, mut sorted) = (Vec::new(), Vec::new());
        assert!(build_table(&mut primary, &mut sub, &mut sorted, 3, 8, &[1, 1, 1]).is_err());
        assert!(build_table(&mut primary, &mut sub, &mut sorted, 3, 8, &[9, 1]).is_err());
        assert!(build_table(&mut primary, &mut sub, &mut sorted, 3, 8, &[40, 1]).is_err());
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
